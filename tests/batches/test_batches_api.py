"""Batch registration rules, quarantine, hold and resume, release/rejection moves (SPEC §3)."""

from __future__ import annotations

import pytest

from batches.models import Batch
from tests.fixtures.records import audit_entries, count_rows
from tests.fixtures.users import TEST_PASSWORD


def test_autologous_batch_is_registered(app, lab):
    batch = lab.batch("MSC", "autologous")
    assert batch["status"] == "registered" and batch["product"] == "MSC"
    assert batch["batch_number"].startswith("MSC-") and batch["quarantined"] is False
    assert batch["template_version"] == 1
    [entry] = audit_entries(app, "batch", batch["id"])
    assert entry["action"] == "create" and entry["changes"]["status"] == [None, "registered"]
    listed = lab.client.get("/api/v1/batches?status=registered", headers=lab.tech).json
    assert [b["id"] for b in listed] == [batch["id"]]
    assert lab.client.get("/api/v1/batches?status=bogus", headers=lab.tech).status_code == 400


def _register(lab, collection, recipient, origin="autologous", product="MSC", status=409):
    return lab.post("/batches", {"collection_id": collection["id"], "product": product,
                                 "origin": origin, "recipient_id": recipient["id"]},
                    status=status)


@pytest.mark.parametrize(("screening", "reason"), [
    (None, "is unscreened"), (["pregnancy_or_breastfeeding"], "is contraindicated")])
def test_recipient_must_be_cleared(app, lab, screening, reason):
    patient = lab.patient(contraindications=screening)
    refused = _register(lab, lab.collection(patient), patient)
    assert any(reason in r for r in refused.json["details"]["reasons"])
    assert count_rows(app, Batch) == 0


def test_autologous_recipient_must_be_the_collection_subject(app, lab):
    patient, other = lab.patient(), lab.patient()
    refused = _register(lab, lab.collection(patient), other)
    assert "collection's own subject" in refused.json["details"]["reasons"][0]
    assert count_rows(app, Batch) == 0


def test_every_unmet_condition_is_listed(lab):
    patient, other = lab.patient(), lab.patient(contraindications=["clotting_disorder"])
    reasons = _register(lab, lab.collection(patient), other).json["details"]["reasons"]
    assert len(reasons) == 2


def test_ineligible_donor_is_refused(app, lab):
    donor = lab.donor("ineligible")
    refused = _register(lab, lab.collection(donor, "apheresis"), lab.patient(), "allogeneic")
    assert "ineligible" in refused.json["details"]["reasons"][0]


def test_allogeneic_needs_a_donor_collection(lab):
    patient = lab.patient()
    refused = _register(lab, lab.collection(patient), lab.patient(), "allogeneic", "NK")
    assert "needs a donor's collection" in refused.json["details"]["reasons"][0]


def test_incomplete_donor_batch_is_registered_quarantined_until_eligible(lab):
    donor = lab.donor("incomplete")
    batch = _register(lab, lab.collection(donor, "apheresis"), lab.patient(), "allogeneic",
                      "NK", status=201).json
    assert batch["status"] == "registered" and batch["quarantined"] is True
    assert "incomplete" in batch["quarantine_reasons"][0]
    from tests.fixtures.lab import NEGATIVE, ago

    lab.post(f"/subjects/{donor['id']}/donor-screening",
             {"specimen_collected_at": ago(days=1), "markers": NEGATIVE}, status=200)
    lab.post(f"/subjects/{donor['id']}/donor-eligibility",
             {"password": TEST_PASSWORD, "meaning": "approval"}, headers=lab.qa, status=200)
    again = lab.client.get(f"/api/v1/batches/{batch['id']}", headers=lab.tech).json
    assert again["quarantined"] is False and again["quarantine_reasons"] == []


def test_eligible_donor_batch_is_not_quarantined(lab):
    batch = lab.batch("NK", "allogeneic")
    assert batch["quarantined"] is False and batch["origin"] == "allogeneic"


def test_one_batch_per_product_and_collection(lab):
    patient = lab.patient()
    collection = lab.collection(patient)
    _register(lab, collection, patient, status=201)
    refused = _register(lab, collection, patient)
    assert "already has" in refused.json["details"]["reasons"][0]
    _register(lab, collection, patient, product="NK", status=201)


@pytest.mark.parametrize(("change", "status", "field"), [
    ({"product": "CAR-T"}, 400, "product"),
    ({"origin": "xenogeneic"}, 400, "origin"),
    ({"collection_id": 9999}, 404, None),
    ({"recipient_id": 9999}, 404, None),
    ({"collection_id": None}, 400, "collection_id"),
    ({"recipient_id": 1.5}, 400, "recipient_id"),
])
def test_bad_batch_input(app, lab, change, status, field):
    patient = lab.patient()
    body = {"collection_id": lab.collection(patient)["id"], "product": "MSC",
            "origin": "autologous", "recipient_id": patient["id"], **change}
    response = lab.post("/batches", body, status=status)
    if field:
        assert field in response.json["details"]["fields"]
    assert count_rows(app, Batch) == 0


def test_unknown_batch_is_404(lab):
    assert lab.client.get("/api/v1/batches/777", headers=lab.tech).status_code == 404
    assert lab.client.get("/api/v1/batches/777/steps", headers=lab.tech).status_code == 404


# -- hold and resume -------------------------------------------------------------------------


def test_hold_with_a_reason_and_resume_by_qa(app, lab):
    batch = lab.batch()
    lab.step(batch, "seeding")
    held = lab.post(f"/batches/{batch['id']}/hold", {"reason": "incubator alarm"},
                    status=200).json
    assert held["status"] == "on_hold" and held["status_before_hold"] == "in_culture"
    assert held["hold_reason"] == "incubator alarm"
    lab.post(f"/batches/{batch['id']}/resume", {"reason": "checked"}, status=403)
    resumed = lab.post(f"/batches/{batch['id']}/resume", {"reason": "alarm was false"},
                       headers=lab.qa, status=200).json
    assert resumed["status"] == "in_culture" and resumed["hold_reason"] is None
    entries = audit_entries(app, "batch", batch["id"])
    assert entries[-2]["reason"] == "incubator alarm"
    assert entries[-2]["changes"]["status"] == ["in_culture", "on_hold"]
    assert entries[-1]["reason"] == "alarm was false"
    assert entries[-1]["changes"]["status"] == ["on_hold", "in_culture"]


def test_hold_needs_a_reason_and_an_active_batch(lab):
    batch = lab.batch()
    lab.post(f"/batches/{batch['id']}/hold", {}, status=400)
    lab.post(f"/batches/{batch['id']}/hold", {"reason": ""}, status=400)
    lab.post(f"/batches/{batch['id']}/hold", {"reason": "x"}, status=200)
    refused = lab.post(f"/batches/{batch['id']}/hold", {"reason": "again"}, status=409)
    assert "on hold" in refused.json["details"]["reasons"][0]
    lab.post(f"/batches/{batch['id']}/resume", {"reason": "ok"}, headers=lab.qa, status=200)
    refused = lab.post(f"/batches/{batch['id']}/resume", {"reason": "ok"}, headers=lab.qa,
                       status=409)
    assert "not on hold" in refused.json["details"]["reasons"][0]


# -- the moves qc will call ---------------------------------------------------------------------


def _sign(app, batch_id, meaning="approval"):
    from lims.auth.services import find_user, sign

    user = find_user("qa_signer")
    return sign(user, TEST_PASSWORD, meaning, "batch", batch_id, {"batch": batch_id})


def test_mark_released_and_rejected(app, lab, make_user):
    make_user("qa", username="qa_signer")
    ready = lab.harvested()
    lab.post(f"/batches/{ready['id']}/doses", {"count": 2, "cells_per_dose": 1_000_000,
                                              "volume_ml": 10.0})
    early = lab.batch()
    from batches import services
    from lims.db import db
    from lims.errors import Conflict

    with app.app_context():
        batch = services.get_batch(early["id"])
        with pytest.raises(Conflict) as refused:
            services.mark_released(batch, _sign(app, batch.id))
        assert "cannot release" in refused.value.details["reasons"][0]
        db.session.rollback()

        batch = services.get_batch(ready["id"])
        services.mark_released(batch, _sign(app, batch.id))
        db.session.commit()
        assert batch.status == "released"
        assert {d.status for d in batch.doses} == {"released"}

        other = services.get_batch(early["id"])
        services.mark_rejected(other, _sign(app, other.id, "rejection"), "contaminated")
        db.session.commit()
        assert other.status == "rejected" and other.rejection_reason == "contaminated"
    body = lab.client.get(f"/api/v1/batches/{ready['id']}", headers=lab.tech).json
    assert body["release_signature"]["meaning"] == "approval"
    changes = audit_entries(app, "batch", ready["id"])[-1]["changes"]
    assert changes["status"] == ["qc_review", "released"]
