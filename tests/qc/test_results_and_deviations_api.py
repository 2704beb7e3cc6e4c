"""QC results, second-person review, corrections and deviations through the API."""

from __future__ import annotations

from tests.fixtures.records import KEPT_WRONG_PASSWORD, audit_entries
from tests.fixtures.users import TEST_PASSWORD


def test_entry_is_evaluated_by_the_server(qlab):
    batch = qlab.in_review()
    result = qlab.result(batch, "viability", value=85.5, unit="%", method="trypan blue",
                         instrument="Countess 3")
    assert result["evaluation"] == "pass" and result["criterion"] == ">= 70 %"
    assert result["analyst"] and result["reviewed"] is False and result["deviation_id"] is None
    fail = qlab.result(batch, "sterility", outcome="positive")
    assert fail["evaluation"] == "fail" and fail["deviation_id"]


def test_unit_mismatch_and_unknown_test_are_400(qlab):
    batch = qlab.in_review()
    bad = qlab.result(batch, "endotoxin", status=400, value=0.1, unit="EU/ml")
    assert "unit" in bad["details"]["fields"]
    assert "test" in qlab.result(batch, "cd56_cd3neg", status=400, value=80.0,
                                 unit="%")["details"]["fields"]
    assert "outcome" in qlab.result(batch, "sterility", status=400,
                                    outcome="unclear")["details"]["fields"]
    qlab.result(batch, "viability", status=400, value="90", unit="%")


def test_admin_cannot_enter_results(qlab, admin):
    batch = qlab.in_review()
    qlab.result(batch, "viability", headers=admin, status=403)


def test_second_person_review(qlab, app):
    batch = qlab.in_review()
    result = qlab.result(batch, "viability")
    refused = qlab.review(result, headers=qlab.tech, status=409)
    assert "analyst cannot review their own result" in refused["details"]["reasons"][0]
    reviewed = qlab.review(result, headers=qlab.qa)
    assert reviewed["reviewed"] is True and reviewed["reviewed_by"]
    qlab.review(result, headers=qlab.reviewer, status=409)  # already reviewed
    entries = audit_entries(app, "qc_result", result["id"])
    assert entries[0]["action"] == "create" and "reviewed_by_id" in entries[-1]["changes"]


def test_correction_needs_a_reason_and_is_reevaluated(qlab, app):
    batch = qlab.in_review()
    result = qlab.result(batch, "viability", value=75.0, unit="%")
    qlab.review(result)
    qlab.post(f"/qc-results/{result['id']}/correct", {"value": 65.0, "unit": "%"}, status=400)
    corrected = qlab.post(f"/qc-results/{result['id']}/correct",
                          {"value": 65.0, "reason": "wrong dilution factor"}, status=200).json
    assert corrected["evaluation"] == "fail" and corrected["corrected"] is True
    assert corrected["reviewed"] is False and corrected["deviation_id"]
    entry = audit_entries(app, "qc_result", result["id"])[-1]
    assert entry["reason"] == "wrong dilution factor"
    assert entry["changes"]["value"] == ["75.0", "65.0"]


def test_deviation_life_cycle(qlab, client, app):
    batch = qlab.in_review()
    fail = qlab.result(batch, "mycoplasma", outcome="positive")
    deviations = client.get(f"/api/v1/batches/{batch['id']}/deviations", headers=qlab.tech).json
    assert len(deviations) == 1 and deviations[0]["kind"] == "out_of_spec"
    assert deviations[0]["status"] == "open" and deviations[0]["qc_result_id"] == fail["id"]
    deviation_id = deviations[0]["id"]
    qlab.post(f"/deviations/{deviation_id}/investigation",
              {"investigation": "sample contaminated at sampling; retest negative"}, status=200)
    close = {"disposition": "no product impact; retest accepted", "password": TEST_PASSWORD}
    qlab.post(f"/deviations/{deviation_id}/close", close, headers=qlab.tech, status=403)
    qlab.post(f"/deviations/{deviation_id}/close", {**close, "password": "bad-password"},
              headers=qlab.signer, status=401, audited=KEPT_WRONG_PASSWORD)
    closed = qlab.post(f"/deviations/{deviation_id}/close", close, headers=qlab.signer,
                       status=200).json
    assert closed["status"] == "closed" and closed["closure_signature"]["meaning"] == "approval"
    qlab.post(f"/deviations/{deviation_id}/close", close, headers=qlab.signer, status=409)
    entries = audit_entries(app, "deviation", deviation_id)
    assert [e["action"] for e in entries] == ["create", "update", "update"]
    assert entries[-1]["changes"]["status"] == ["open", "closed"]


def test_overdue_step_deviation_is_idempotent(qlab, app):
    batch = qlab.batch()
    qlab.step(batch, "seeding", performed_at=qlab_ago(hours=90))
    from sqlalchemy import select

    from batches.models import CultureStep
    from lims.db import db
    from qc.services import open_deviation_for_overdue_step

    with app.app_context():
        step = db.session.scalar(select(CultureStep).where(
            CultureStep.batch_id == batch["id"], CultureStep.status == "pending"))
        first, created = open_deviation_for_overdue_step(step)
        again, created_again = open_deviation_for_overdue_step(step)
        db.session.commit()
        assert created and not created_again and first.id == again.id
        assert first.kind == "overdue_step" and first.opened_by_id is None


def qlab_ago(**delta):
    from tests.fixtures.lab import ago

    return ago(**delta)


def test_no_results_on_rejected_batch(qlab):
    batch = qlab.in_review()
    qlab.post(f"/batches/{batch['id']}/reject", {"password": TEST_PASSWORD, "reason": "x"},
              headers=qlab.signer, status=200)
    qlab.result(batch, "viability", status=409)


def test_audit_trail_holds_results_reviews_corrections_deviations_and_signatures(qlab, app):
    import json

    from sqlalchemy import select

    from lims.audit import AuditEntry
    from lims.db import db

    batch = qlab.in_review()
    result = qlab.result(batch, "sterility", outcome="positive")
    qlab.review(result)
    qlab.post(f"/qc-results/{result['id']}/correct",
              {"outcome": "negative", "reason": "plate mix-up"}, status=200)
    deviation = qlab.client.get(f"/api/v1/batches/{batch['id']}/deviations",
                                headers=qlab.tech).json[0]
    qlab.post(f"/deviations/{deviation['id']}/close",
              {"disposition": "mix-up confirmed", "password": TEST_PASSWORD},
              headers=qlab.signer, status=200)
    qlab.post(f"/batches/{batch['id']}/reject", {"password": TEST_PASSWORD, "reason": "late"},
              headers=qlab.signer, status=200)
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        kinds = {(r.entity_type, r.action) for r in rows}
        meanings = [json.loads(r.changes).get("meaning", [None, None])[1] for r in rows
                    if r.entity_type == "signature"]
        correction = [r for r in rows if r.entity_type == "qc_result" and r.reason]
    assert {("qc_result", "create"), ("qc_result", "update"), ("deviation", "create"),
            ("deviation", "update"), ("signature", "create")} <= kinds
    assert "approval" in meanings and "rejection" in meanings
    assert correction and correction[0].reason == "plate mix-up"
    from lims.audit import verify

    with app.app_context():
        assert verify().intact


def test_review_needs_no_body(qlab, client):
    batch = qlab.in_review()
    result = qlab.result(batch, "viability")
    response = client.post(f"/api/v1/qc-results/{result['id']}/review", headers=qlab.reviewer)
    assert response.status_code == 200, response.json
    assert response.json["reviewed"] is True
