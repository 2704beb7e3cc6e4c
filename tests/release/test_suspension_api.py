"""SPEC §3b: a change after release suspends the release at once; a failure after release
is a post-release failure; QA re-releases (every condition again) or recalls.

Each test starts from a finding of issue 11, reproduced at the API level."""

from __future__ import annotations

from batches.models import CustodyEvent, ReleaseSuspension
from lims.alerts.models import Alert
from qc.models import Deviation
from tests.fixtures.records import KEPT_IDENTITY_MISMATCH, audit_entries
from tests.fixtures.release import count, follow_up_spec


def _ship_refused(rlab, app, dose, batch_id):
    """Shipping a suspended dose is refused with the reason, and nothing is written."""
    before = count(app, CustodyEvent)
    refused = rlab.custody(dose, "shipped", status=409, location="Courier").json
    assert any("release is suspended" in r for r in refused["details"]["reasons"]), refused
    assert count(app, CustodyEvent) == before
    return refused


def test_a_failed_correction_after_release_suspends_and_stops_the_dose(rlab, app):
    """Finding 1: sterility corrected to positive after release; the dose was then shipped,
    administered (200) and labelled without the quarantine statement."""
    batch, doses = rlab.released()
    dose = rlab.dose(doses[0])
    sterility = rlab.results(batch)["sterility"]
    corrected = rlab.correct(sterility, outcome="positive", reason="misread plate").json
    assert corrected["evaluation"] == "fail"

    batch = rlab.get(f"/batches/{batch['id']}")
    assert batch["status"] == "release_suspended"
    assert any("sterility" in why for why in batch["suspended_because"])
    assert {d["status"] for d in rlab.doses(batch)} == {"quarantined"}
    dose = rlab.dose(dose)
    assert dose["quarantined"] and dose["blocked_reasons"]

    _ship_refused(rlab, app, dose, batch["id"])
    rlab.custody(dose, "retrieved")
    before = count(app, CustodyEvent)
    refused = rlab.administer(dose, status=409, audited=KEPT_IDENTITY_MISMATCH).json
    assert refused["error"] == "identity_mismatch"
    assert any("release suspended" in r for r in refused["details"]["reasons"]), refused
    assert count(app, CustodyEvent) == before
    assert rlab.dose(dose)["status"] == "quarantined"

    kinds = {a["kind"]: a for a in rlab.alerts(batch)}
    assert {"release_suspended", "post_release_failure"} <= set(kinds)
    assert kinds["post_release_failure"]["severity"] == 0
    deviations = rlab.get(f"/batches/{batch['id']}/deviations?open=true")
    assert any(d["qc_result_id"] == sterility["id"] for d in deviations)
    info = rlab.get(f"/batches/{batch['id']}/release")
    assert info["released"] is False and info["suspended"] is True and info["holds"] is False
    entries = audit_entries(app, "batch", batch["id"])
    assert entries[-1]["changes"]["status"] == ["released", "release_suspended"]
    assert entries[-1]["reason"] == "misread plate"


def test_labels_printed_after_suspension_carry_the_quarantine_statement(rlab, app):
    from batches.models import Batch
    from labels.content import dose_statements
    from labels.rendering import QUARANTINE_STATEMENT
    from lims.db import db

    batch, _doses = rlab.released()
    with app.app_context():
        assert QUARANTINE_STATEMENT not in dose_statements(db.session.get(Batch, batch["id"]))
    viability = rlab.results(batch)["viability"]
    rlab.correct(viability, value=88.0, unit="%")
    with app.app_context():
        assert QUARANTINE_STATEMENT in dose_statements(db.session.get(Batch, batch["id"]))
    label = rlab.client.get(f"/api/v1/doses/{_doses[0]['id']}/label.zpl", headers=rlab.tech)
    assert label.status_code == 200 and b"QUARANTINE" in label.data


def test_a_passing_correction_suspends_without_a_failure(rlab, app):
    batch, _ = rlab.released()
    rlab.correct(rlab.results(batch)["viability"], value=88.0, unit="%")
    batch = rlab.get(f"/batches/{batch['id']}")
    assert batch["status"] == "release_suspended"
    assert {a["kind"] for a in rlab.alerts(batch)} == {"release_suspended"}
    assert rlab.get(f"/batches/{batch['id']}/deviations?open=true") == []


def test_a_new_release_test_result_after_release_suspends(rlab):
    batch, _ = rlab.released()
    result = rlab.result(batch, "endotoxin", value=0.2, unit="EU/mL")
    assert result["after_release"] is True and result["evaluation"] == "pass"
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"


def test_a_passing_follow_up_does_not_suspend_a_failing_one_is_a_post_release_failure(
        rlab, admin, app):
    follow_up_spec(rlab, admin)
    batch = rlab.in_review("NK")
    rlab.all_results(batch, "NK", skip=("sterility",))
    release = rlab.release(batch).json
    assert release["status"] == "released", "a follow-up test is no release condition"
    passing = rlab.result(batch, "sterility")
    assert passing["after_release"] is True
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "released"
    assert count(app, ReleaseSuspension) == 0

    failing = rlab.result(batch, "sterility", outcome="positive")
    assert failing["evaluation"] == "fail"
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"
    alert = rlab.alerts(batch, "post_release_failure")[0]
    assert alert["entity_type"] == "qc_result" and alert["entity_id"] == str(failing["id"])
    assert count(app, Deviation, Deviation.qc_result_id == failing["id"]) == 1


def test_a_deviation_or_a_step_correction_after_release_suspends(rlab):
    batch, _ = rlab.released()
    rlab.post(f"/batches/{batch['id']}/deviations", {"description": "freezer alarm at night"})
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"

    other, _ = rlab.released()
    steps = rlab.get(f"/batches/{other['id']}/steps")
    harvest = next(s for s in steps if s["type"] == "harvest")
    response = rlab.client.patch(f"/api/v1/steps/{harvest['id']}", headers=rlab.tech,
                                 json={"cell_count": 90_000_000, "reason": "recount"})
    assert response.status_code == 200, response.json
    suspended = rlab.get(f"/batches/{other['id']}")
    assert suspended["status"] == "release_suspended"
    assert "harvest step" in suspended["suspended_because"][0]


def test_screening_changes_after_release_suspend(rlab):
    from tests.fixtures.lab import NEGATIVE, iso, now

    donor = rlab.donor("eligible")
    batch, _ = rlab.released(origin="allogeneic", donor=donor)
    rlab.post(f"/subjects/{donor['id']}/donor-screening",
              {"specimen_collected_at": iso(now()), "markers": NEGATIVE}, status=200)
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"

    other, _ = rlab.released()
    rlab.post(f"/subjects/{other['recipient_id']}/recipient-screening",
              {"contraindications": ["pregnancy_or_breastfeeding"]}, status=200)
    assert rlab.get(f"/batches/{other['id']}")["status"] == "release_suspended"


def test_suspended_doses_may_be_taken_in_stored_and_disposed_not_moved_on(rlab, app):
    batch, doses = rlab.released()
    first, second = (rlab.dose(d) for d in doses)
    rlab.custody(first, "retrieved")
    rlab.custody(first, "shipped", location="Courier")
    rlab.correct(rlab.results(batch)["cd3"], value=2.0, unit="%")
    rlab.custody(first, "received", location="Ward 5", to_person="Nurse N. Ward")
    received = rlab.get(f"/doses/{first['id']}/custody")[-1]
    assert received["to_person"] == "Nurse N. Ward"
    rlab.custody(first, "stored", location="Ward 5 fridge")
    rlab.custody(first, "retrieved", location="Ward 5")
    before = count(app, CustodyEvent)
    for event in ("delivered", "administered"):
        if event == "administered":
            rlab.administer(first, status=409, audited=KEPT_IDENTITY_MISMATCH)
        else:
            rlab.custody(first, event, status=409)
    assert count(app, CustodyEvent) == before
    rlab.custody(second, "retrieved")
    _ship_refused(rlab, app, second, batch["id"])
    rlab.custody(second, "disposed", notes="suspended batch, expired in quarantine")


def test_re_release_needs_the_alert_closed_and_every_condition_again(rlab, app, api_headers):
    batch, doses = rlab.released()
    rlab.correct(rlab.results(batch)["viability"], value=88.0, unit="%")
    refused = rlab.release(batch, status=409).json
    conditions = {u["condition"] for u in refused["details"]["unmet"]}
    assert conditions == {1, 2}, refused  # the corrected result needs a new review; alert open
    rlab.review(rlab.results(batch)["viability"])
    alert = rlab.alerts(batch, "release_suspended")[0]
    rlab.close_alert(alert)
    again = rlab.release(batch).json
    assert again["status"] == "released" and again["valid"] is True
    assert {d["status"] for d in rlab.doses(batch)} == {"released"}
    assert len({s["signed_at"] for s in again["signatures"]}) == 1
    suspensions = count(app, ReleaseSuspension, ReleaseSuspension.ended_by == "re_released")
    assert suspensions == 1
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    rlab.administer(dose)


def test_after_a_post_release_failure_re_release_needs_a_passing_retest(rlab, api_headers):
    batch, _ = rlab.released()
    rlab.correct(rlab.results(batch)["sterility"], outcome="positive")
    for alert in rlab.alerts(batch):
        rlab.close_alert(alert)
    refused = rlab.release(batch, status=409).json
    reasons = " ".join(refused["details"]["reasons"])
    assert "sterility failed" in reasons and "deviation" in reasons


def test_the_signed_record_changed_outside_the_services_blocks_administration(rlab, app):
    """Second line: a released batch whose signed record no longer matches (here changed
    in SQL, behind the services' back) is not given."""
    from tests.fixtures.database import tamper

    batch, doses = rlab.released()
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    steps = rlab.get(f"/batches/{batch['id']}/steps")
    harvest = next(s for s in steps if s["type"] == "harvest")
    tamper(app, f"UPDATE culture_step SET cell_count = 1 WHERE id = {harvest['id']}")
    refused = rlab.administer(dose, status=409, audited=KEPT_IDENTITY_MISMATCH).json
    assert any("changed after its release signature" in r
               for r in refused["details"]["reasons"]), refused
    assert rlab.dose(dose)["status"] == "released"
    assert count(app, Alert, Alert.kind == "identity_mismatch") == 1
