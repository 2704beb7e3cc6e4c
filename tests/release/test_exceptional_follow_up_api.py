"""SPEC §3: exceptional release — the list of incomplete items given to the physician is
recorded; when the pending results arrive, the physician's notification is recorded; a
positive one starts the post-release failure flow (SPEC §3b).

Finding of issue 11: "After an exceptional (urgent) release, a positive sterility result
and a reactive donor marker arrived; nothing happened; a dose was administered."""

from __future__ import annotations

from tests.fixtures.lab import NEGATIVE, iso, now
from tests.fixtures.records import KEPT_IDENTITY_MISMATCH
from tests.fixtures.users import TEST_PASSWORD

REQUEST = {"password": TEST_PASSWORD, "physician_name": "Dr. A. Urgent",
           "physician_request": "Patient in critical condition; no alternative therapy."}


def _urgent(rlab, api_headers):
    """An allogeneic NK batch released exceptionally: sterility and donor screening pending."""
    donor = rlab.donor("incomplete")
    batch = rlab.in_review("NK", origin="allogeneic", donor=donor)
    rlab.all_results(batch, "NK", skip=("sterility",))
    first = rlab.post(f"/batches/{batch['id']}/exceptional-release", REQUEST,
                      headers=rlab.signer, status=201).json
    told = first["exceptional_release"]["pending_items"]
    assert sorted(told) == sorted(["sterility result pending",
                                   f"donor {donor['code']} screening incomplete"])
    released = rlab.post(f"/batches/{batch['id']}/exceptional-release/approve",
                         {"password": TEST_PASSWORD}, headers=api_headers("qa"),
                         status=200).json
    assert released["status"] == "released" and released["urgent_medical_need"]
    assert released["exceptional_release"]["pending_items"] == told
    return batch, donor


def test_pending_results_arriving_are_recorded_for_the_physician(rlab, api_headers):
    batch, donor = _urgent(rlab, api_headers)
    rlab.result(batch, "sterility")
    rlab.post(f"/subjects/{donor['id']}/donor-screening",
              {"specimen_collected_at": iso(now()), "markers": NEGATIVE}, status=200)
    rlab.post(f"/subjects/{donor['id']}/donor-eligibility",
              {"password": TEST_PASSWORD, "meaning": "approval"}, headers=api_headers("qa"),
              status=200)
    info = rlab.get(f"/batches/{batch['id']}/release")
    assert info["status"] == "released" and info["holds"], "expected results do not suspend"
    follow_ups = {f["item"]: f for f in info["exceptional_release"]["follow_ups"]}
    assert set(follow_ups) == {"sterility", "donor_screening"}
    assert not any(f["failed"] or f["physician_notified"] for f in follow_ups.values())

    path = f"/exceptional-release-follow-ups/{follow_ups['sterility']['id']}/physician-notification"
    body = {"physician_name": "Dr. A. Urgent", "method": "phone"}
    rlab.post(path, body, headers=rlab.tech, status=403)
    rlab.post(path, {**body, "method": "pigeon"}, headers=rlab.qa, status=400)
    notified = rlab.post(path, body, headers=rlab.qa, status=200).json
    assert notified["physician_notified"] and notified["notified_by"]
    rlab.post(path, body, headers=rlab.qa, status=409)


def test_a_positive_pending_sterility_is_a_post_release_failure(rlab, api_headers):
    batch, _donor = _urgent(rlab, api_headers)
    dose = rlab.dose(rlab.doses(batch)[0])
    failed = rlab.result(batch, "sterility", outcome="positive")
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"
    alert = rlab.alerts(batch, "post_release_failure")[0]
    assert alert["entity_id"] == str(failed["id"]) and alert["severity"] == 0
    info = rlab.get(f"/batches/{batch['id']}/release")
    assert info["exceptional_release"]["follow_ups"][0]["failed"] is True
    assert info["urgent_medical_need"] is False or info["released"] is False
    rlab.custody(dose, "retrieved")
    refused = rlab.administer(dose, status=409, audited=KEPT_IDENTITY_MISMATCH).json
    assert refused["error"] == "identity_mismatch"


def test_a_reactive_pending_donor_marker_is_a_post_release_failure(rlab, api_headers):
    batch, donor = _urgent(rlab, api_headers)
    rlab.post(f"/subjects/{donor['id']}/donor-screening",
              {"specimen_collected_at": iso(now()),
               "markers": {**NEGATIVE, "hbsag": "reactive"}}, status=200)
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"
    kinds = {a["kind"] for a in rlab.alerts(batch)}
    assert {"post_release_failure", "lookback", "release_suspended"} <= kinds
    follow_up = rlab.get(f"/batches/{batch['id']}/release")["exceptional_release"]["follow_ups"]
    assert follow_up[0]["item"] == "donor_screening" and follow_up[0]["failed"] is True


def test_the_second_signature_is_refused_when_what_is_pending_changed(rlab, api_headers):
    donor = rlab.donor("incomplete")
    batch = rlab.in_review("MSC", origin="allogeneic", donor=donor)
    rlab.all_results(batch, "MSC", skip=("sterility",))
    rlab.post(f"/batches/{batch['id']}/exceptional-release", REQUEST, headers=rlab.signer,
              status=201)
    rlab.post(f"/subjects/{donor['id']}/donor-screening",
              {"specimen_collected_at": iso(now()),
               "markers": {**NEGATIVE, "syphilis": "reactive"}}, status=200)
    refused = rlab.post(f"/batches/{batch['id']}/exceptional-release/approve",
                        {"password": TEST_PASSWORD}, headers=api_headers("qa"),
                        status=409).json
    assert any("what is pending changed since the physician was told" in r
               for r in refused["details"]["reasons"]), refused
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "qc_review"


def test_a_suspended_batch_waits_in_the_release_queue(rlab):
    batch, _ = rlab.released()
    rlab.correct(rlab.results(batch)["cd3"], value=2.0, unit="%")
    queue = {e["id"]: e for e in rlab.get("/release-queue", headers=rlab.signer)}
    assert queue[batch["id"]]["status"] == "release_suspended"
    assert queue[batch["id"]]["unmet"]
    info = rlab.get(f"/batches/{batch['id']}/release", headers=rlab.signer)
    assert info["unmet"] and info["suspended_because"]
