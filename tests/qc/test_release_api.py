"""Release by QA (SPEC §3): a refusal per condition, the happy path, segregation of duties,
signatures bound to the batch record."""

from __future__ import annotations

from sqlalchemy import select

from tests.fixtures.records import KEPT_WRONG_PASSWORD, audit_entries
from tests.fixtures.users import TEST_PASSWORD


def _conditions(response) -> set[int]:
    return {u["condition"] for u in response.json["details"]["unmet"]}


def test_full_happy_path_releases_with_signature(qlab, client, app):
    batch = qlab.ready()
    response = qlab.release(batch)
    body = response.json
    assert body["status"] == "released"
    assert body["signature"]["meaning"] == "approval"
    assert body["signature"]["signer"] and body["signature"]["signed_at"]
    assert body["valid"] is True and body["urgent_medical_need"] is False
    got = client.get(f"/api/v1/batches/{batch['id']}", headers=qlab.tech).json
    assert got["status"] == "released"
    doses = [client.get(f"/api/v1/doses/{d}", headers=qlab.tech).json for d in
             _dose_ids(app, batch["id"])]
    assert {d["status"] for d in doses} == {"released"}
    signatures = [e for e in _audit_signatures(app) if e["changes"]["entity_id"][1] ==
                  str(batch["id"])]
    assert signatures and signatures[-1]["changes"]["meaning"][1] == "approval"


def _dose_ids(app, batch_id):
    from batches.models import Dose
    from lims.db import db

    with app.app_context():
        return list(db.session.scalars(select(Dose.id).where(Dose.batch_id == batch_id)))


def _audit_signatures(app):
    import json

    from lims.audit import AuditEntry
    from lims.db import db

    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == "signature").order_by(AuditEntry.seq))
        return [{"changes": json.loads(r.changes), "actor": r.actor_username} for r in rows]


def test_condition_1_missing_failed_and_unreviewed_results_are_named(qlab):
    batch = qlab.in_review()
    qlab.result(batch, "viability", value=50.0, unit="%")  # fail
    unreviewed = qlab.result(batch, "endotoxin")
    assert unreviewed["evaluation"] == "pass"
    response = qlab.release(batch, status=409)
    reasons = response.json["details"]["reasons"]
    assert "release test sterility has no result" in reasons
    assert "release test viability failed its specification" in reasons
    assert "release test endotoxin is not reviewed by a second person" in reasons
    assert 1 in _conditions(response)


def test_condition_2_open_deviation_and_overdue_alert(qlab, app):
    batch = qlab.ready()
    qlab.post(f"/batches/{batch['id']}/deviations", {"description": "incubator door open"})
    from batches.alerts import BatchAlert
    from lims.alerts.services import Cause, raise_alert
    from lims.db import db

    with app.app_context():
        raise_alert(BatchAlert.overdue_step, Cause("culture_step", "999", "media change overdue",
                                                  batch_id=batch["id"]))
        db.session.commit()
    response = qlab.release(batch, status=409)
    assert _conditions(response) == {2}
    reasons = " | ".join(response.json["details"]["reasons"])
    assert "incubator door open" in reasons and "overdue-step alert open" in reasons


def test_condition_3_donor_not_eligible(qlab):
    donor = qlab.donor("incomplete")
    batch = qlab.ready(origin="allogeneic", donor=donor)
    response = qlab.release(batch, status=409)
    assert _conditions(response) == {3}
    assert "donor not eligible" in response.json["details"]["reasons"][0]


def test_condition_4_recipient_not_cleared(qlab, app):
    batch = qlab.ready()
    from batches.models import Batch
    from lims.db import db

    with app.app_context():
        db.session.get(Batch, batch["id"]).recipient.recipient_status = "contraindicated"
        db.session.commit()
    response = qlab.release(batch, status=409)
    assert _conditions(response) == {4}
    assert "not cleared" in response.json["details"]["reasons"][0]


def test_condition_5_custody_chain_broken(qlab, app):
    batch = qlab.ready()
    from batches.models import CustodyEvent, Dose
    from lims.db import db

    with app.app_context():
        dose = db.session.scalar(select(Dose).where(Dose.batch_id == batch["id"]))
        event = db.session.scalar(select(CustodyEvent).where(CustodyEvent.dose_id == dose.id))
        event.event = "shipped"
        db.session.commit()
    response = qlab.release(batch, status=409)
    assert _conditions(response) == {5}
    assert "starts with shipped, not stored" in response.json["details"]["reasons"][0]


def test_condition_5_no_doses_and_state(qlab):
    batch = qlab.harvested()
    for test in ("sterility",):
        qlab.review(qlab.result(batch, test))
    response = qlab.release(batch, status=409)
    assert {0, 1, 5} <= _conditions(response)
    assert "no doses are formulated" in response.json["details"]["reasons"]


def test_condition_6_qa_who_entered_a_result_cannot_release(qlab, api_headers):
    batch = qlab.in_review()
    qlab.all_results(batch, skip=("sterility",))
    qlab.review(qlab.result(batch, "sterility", headers=qlab.signer))
    response = qlab.release(batch, status=409)
    assert _conditions(response) == {6}
    assert "entered the sterility QC result" in response.json["details"]["reasons"][0]


def test_condition_6_qa_who_logged_a_step_cannot_release(qlab):
    batch = qlab.batch()
    qlab.step(batch, "seeding", performed_at=_ago(hours=2))
    qlab.post(f"/batches/{batch['id']}/steps", {"type": "harvest", "cell_count": 10**8},
              headers=qlab.signer)
    qlab.post(f"/batches/{batch['id']}/doses",
              {"count": 1, "cells_per_dose": 10**7, "volume_ml": 5.0})
    qlab.all_results(batch)
    response = qlab.release(batch, status=409)
    assert _conditions(response) == {6}
    assert "performed the harvest step" in response.json["details"]["reasons"][0]


def _ago(**delta):
    from tests.fixtures.lab import ago

    return ago(**delta)


def test_condition_7_signature_password_and_meaning(qlab, client, app):
    batch = qlab.ready()
    assert qlab.release(batch, status=400, password="").json["details"]["fields"]["password"]
    assert "meaning" in qlab.release(batch, status=400, meaning="review").json["details"][
        "fields"]
    wrong = qlab.release(batch, status=401, password="wrong-password",
                         audited=KEPT_WRONG_PASSWORD)
    assert wrong.json["error"] == "invalid_credentials"
    from lims.auth.models import User
    from lims.db import db

    with app.app_context():
        counts = [u.failed_logins for u in db.session.scalars(select(User).where(
            User.role == "qa"))]
    assert 1 in counts, "the wrong password counts towards the lockout"
    assert client.get(f"/api/v1/batches/{batch['id']}", headers=qlab.tech).json["status"] \
        == "qc_review"


def test_refusal_lists_every_unmet_condition_at_once(qlab, app):
    donor = qlab.donor("incomplete")
    batch = qlab.harvested(origin="allogeneic", donor=donor)
    qlab.post(f"/batches/{batch['id']}/deviations", {"description": "spill"})
    qlab.result(batch, "viability", headers=qlab.signer)
    response = qlab.release(batch, status=409)
    assert {0, 1, 2, 3, 5, 6} <= _conditions(response)


def test_technicians_and_admins_get_403(qlab, admin):
    batch = qlab.ready()
    assert qlab.release(batch, headers=qlab.tech, status=403).json["error"] == "forbidden"
    qlab.release(batch, headers=admin, status=403)
    qlab.post(f"/batches/{batch['id']}/reject", {"password": TEST_PASSWORD, "reason": "x"},
              headers=qlab.tech, status=403)


def test_changed_result_after_release_invalidates_the_signature(qlab, client):
    batch = qlab.ready()
    qlab.release(batch)
    results = client.get(f"/api/v1/batches/{batch['id']}/qc-results", headers=qlab.tech).json
    viability = next(r for r in results if r["test"] == "viability")
    qlab.post(f"/qc-results/{viability['id']}/correct",
              {"value": 88.0, "unit": "%", "reason": "transcription error"}, status=200)
    info = client.get(f"/api/v1/batches/{batch['id']}/release", headers=qlab.tech).json
    assert info["status"] == "release_suspended"  # SPEC §3b: the change suspends it at once
    assert info["valid"] is False and info["invalidated"] is True
    assert info["signatures"][0]["valid"] is False


def test_rejection_with_signature_and_reason(qlab, client, app):
    batch = qlab.in_review()
    response = qlab.post(f"/batches/{batch['id']}/reject",
                         {"password": TEST_PASSWORD, "reason": "mycoplasma positive"},
                         headers=qlab.signer, status=200).json
    assert response["status"] == "rejected"
    assert response["signature"]["meaning"] == "rejection"
    assert response["rejection_reason"] == "mycoplasma positive"
    assert len(response["doses_awaiting_disposal"]) == 2
    for dose_id in _dose_ids(app, batch["id"]):
        assert client.get(f"/api/v1/doses/{dose_id}", headers=qlab.tech).json["status"] \
            == "rejected"
    again = qlab.release(batch, status=409)
    assert 0 in _conditions(again)
    entries = audit_entries(app, "batch", batch["id"])
    assert entries[-1]["reason"] == "mycoplasma positive"


def test_reject_needs_reason_and_password(qlab):
    batch = qlab.in_review()
    qlab.post(f"/batches/{batch['id']}/reject", {"password": TEST_PASSWORD},
              headers=qlab.signer, status=400)
    qlab.post(f"/batches/{batch['id']}/reject", {"password": "nope-nope", "reason": "x"},
              headers=qlab.signer, status=401, audited=KEPT_WRONG_PASSWORD)


def test_release_queue_lists_batches_in_review(qlab, client):
    ready = qlab.ready()
    waiting = qlab.in_review()
    queue = client.get("/api/v1/release-queue", headers=qlab.signer).json
    by_id = {entry["id"]: entry for entry in queue}
    assert by_id[ready["id"]]["ready"] is True
    assert by_id[waiting["id"]]["ready"] is False and by_id[waiting["id"]]["unmet"]
    assert client.get("/api/v1/release-queue", headers=qlab.tech).status_code == 403
