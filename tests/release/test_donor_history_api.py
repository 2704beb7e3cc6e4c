"""SPEC §2: donor results are a history, never overwritten; a change is a correction with a
reason, verified by a second person; four eyes on the eligibility signature.

Findings of issue 11: a reactive marker erased by a second all-negative screening of the
same specimen; the same QA officer recording the markers and signing the eligibility."""

from __future__ import annotations

from batches.models import DonorMarkerCorrection, DonorScreening
from tests.fixtures.lab import NEGATIVE, iso, now
from tests.fixtures.records import audit_entries
from tests.fixtures.release import count
from tests.fixtures.users import TEST_PASSWORD


def _screen(rlab, donor, markers, when, headers=None, status=200):
    return rlab.post(f"/subjects/{donor['id']}/donor-screening",
                     {"specimen_collected_at": iso(when), "markers": markers},
                     headers=headers, status=status)


def _sign(rlab, donor, headers, status=200):
    return rlab.post(f"/subjects/{donor['id']}/donor-eligibility",
                     {"password": TEST_PASSWORD, "meaning": "approval"}, headers=headers,
                     status=status)


def test_a_reactive_result_is_never_replaced_by_a_new_screening(rlab, app, api_headers):
    donor = rlab.donor(None)
    specimen = now()
    _screen(rlab, donor, {**NEGATIVE, "hiv_1": "reactive"}, specimen)
    rows = count(app, DonorScreening)
    refused = _screen(rlab, donor, NEGATIVE, specimen, status=409).json
    assert refused["error"] == "correction_required"
    assert refused["details"]["reasons"] == ["hiv_1: recorded reactive, now negative"]
    assert count(app, DonorScreening) == rows
    assert rlab.get(f"/subjects/{donor['id']}")["donor_status"] == "ineligible"
    _sign(rlab, donor, api_headers("qa"), status=409)


def test_pending_results_of_the_same_specimen_may_arrive(rlab, api_headers):
    donor = rlab.donor(None)
    specimen = now()
    _screen(rlab, donor, {**NEGATIVE, "cmv": "pending"}, specimen)
    subject = _screen(rlab, donor, NEGATIVE, specimen).json
    assert subject["donor_status"] == "incomplete"
    history = rlab.get(f"/subjects/{donor['id']}/donor-screenings")
    assert [h["markers"]["cmv"] for h in history] == ["pending", "negative"]
    page = rlab.client.get(f"/api/v1/subjects/{donor['id']}/donor-screenings?limit=1",
                           headers=rlab.tech)
    assert len(page.json) == 1 and 'rel="next"' in page.headers["Link"]
    following = page.headers["Link"].split(">")[0].lstrip("<")
    assert rlab.client.get(following, headers=rlab.tech).json[0]["id"] == history[1]["id"]
    _sign(rlab, donor, api_headers("qa"))


def test_a_correction_counts_once_a_second_person_verifies_it(rlab, app, api_headers):
    donor = rlab.donor(None)
    _screen(rlab, donor, {**NEGATIVE, "hiv_1": "reactive"}, now())
    screening = rlab.get(f"/subjects/{donor['id']}/donor-screenings")[-1]
    path = f"/donor-screenings/{screening['id']}/corrections"
    rlab.post(path, {"markers": {"hiv_1": "negative"}}, status=400)  # no reason
    rlab.post(path, {"markers": {}, "reason": "x"}, status=400)
    rlab.post(path, {"markers": {"hiv_1": "reactive"}, "reason": "same"}, status=400)
    correction = rlab.post(path, {"markers": {"hiv_1": "negative"},
                                  "reason": "confirmatory Western blot negative"}).json
    assert correction["status"] == "pending"
    assert correction["changes"] == {"hiv_1": {"recorded": "reactive", "corrected": "negative"}}
    rlab.post(path, {"markers": {"hbsag": "reactive"}, "reason": "another"}, status=409)
    assert rlab.get(f"/subjects/{donor['id']}")["donor_status"] == "ineligible", \
        "a correction does not count until verified"
    verify = f"/donor-marker-corrections/{correction['id']}/verify"
    own = rlab.post(verify, None, status=409).json
    assert "cannot verify" in own["message"] or "cannot verify" in own["details"]["reasons"][0]
    second = api_headers("technician")
    verified = rlab.post(verify, None, headers=second, status=200).json
    assert verified["status"] == "verified" and verified["verified_by"]
    subject = rlab.get(f"/subjects/{donor['id']}")
    assert subject["donor_status"] == "incomplete"
    assert subject["donor_screening"]["markers"]["hiv_1"] == "negative"
    entry = audit_entries(app, "donor_screening", screening["id"])[-1]
    assert entry["changes"]["hiv_1"] == ["reactive", "negative"]
    assert "confirmatory Western blot negative" in entry["reason"]
    rlab.post(verify, None, headers=second, status=409)
    history = rlab.get(f"/subjects/{donor['id']}/donor-screenings")
    assert history[-1]["corrections"][0]["id"] == correction["id"]


def test_four_eyes_on_the_donor_eligibility(rlab, api_headers):
    recorder = api_headers("qa")
    donor = rlab.donor(None)
    _screen(rlab, donor, {**NEGATIVE, "cmv": "pending"}, now(), headers=recorder)
    screening = rlab.get(f"/subjects/{donor['id']}/donor-screenings")[-1]
    corrector = api_headers("qa")
    correction = rlab.post(f"/donor-screenings/{screening['id']}/corrections",
                           {"markers": {"cmv": "negative"}, "reason": "result arrived"},
                           headers=corrector).json
    waiting = _sign(rlab, donor, api_headers("qa"), status=409).json
    assert any("awaits verification" in r for r in waiting["details"]["reasons"])
    rlab.post(f"/donor-marker-corrections/{correction['id']}/verify", None, status=200)
    by_recorder = _sign(rlab, donor, recorder, status=409).json
    assert any("four eyes" in r and "recorded" in r for r in by_recorder["details"]["reasons"])
    by_corrector = _sign(rlab, donor, corrector, status=409).json
    assert any("four eyes" in r and "corrected" in r for r in by_corrector["details"]["reasons"])
    assert rlab.get(f"/subjects/{donor['id']}")["donor_status"] == "incomplete"
    assert _sign(rlab, donor, api_headers("qa")).json["donor_status"] == "eligible"


def test_a_verified_correction_after_release_suspends_and_a_reactive_one_fails(
        rlab, app, api_headers):
    donor = rlab.donor("eligible")
    batch, _ = rlab.released(origin="allogeneic", donor=donor)
    screening = rlab.get(f"/subjects/{donor['id']}/donor-screenings")[-1]
    correction = rlab.post(f"/donor-screenings/{screening['id']}/corrections",
                           {"markers": {"syphilis": "reactive"},
                            "reason": "lab report misfiled"}).json
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "released"
    rlab.post(f"/donor-marker-corrections/{correction['id']}/verify", None,
              headers=api_headers("technician"), status=200)
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"
    assert {a["kind"] for a in rlab.alerts(batch)} == {"release_suspended",
                                                        "post_release_failure", "lookback"}
    assert count(app, DonorMarkerCorrection) == 1
