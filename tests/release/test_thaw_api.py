"""SPEC §2, §5: a cryopreserved dose is thawed before administration; thawing sets the
post-thaw expiry (product setting, default 4 h) that replaces the label expiry when
earlier; administering after it is refused; the chain check knows the rule.

Finding of issue 11: a cryopreserved MSC dose went stored → retrieved → administered
without a thaw, and the custody report said "Chain unbroken: yes"."""

from __future__ import annotations

from datetime import datetime, timedelta

import pypdfium2 as pdfium

from batches.custody_rules import ChainLink, chain_breaks
from batches.models import CustodyEvent
from lims.audit import AuditEntry
from tests.fixtures.database import tamper
from tests.fixtures.records import KEPT_ADMINISTRATION_REFUSED, KEPT_IDENTITY_MISMATCH
from tests.fixtures.release import count


def _text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    return " ".join(" ".join(page.get_textpage().get_text_range().split()) for page in pdf)


def test_a_frozen_dose_is_not_given_without_a_thaw(rlab, app):
    batch, doses = rlab.released("MSC")
    dose = rlab.dose(doses[0])
    assert dose["cryopreserved"] is True and dose["thawed_at"] is None
    rlab.custody(dose, "retrieved", location="LN2 tank 2", temperature_c=-190.0)
    before = count(app, CustodyEvent)
    refused = rlab.administer(dose, status=409, audited=KEPT_ADMINISTRATION_REFUSED).json
    assert any("thawed before it is administered" in r for r in refused["details"]["reasons"])
    assert count(app, CustodyEvent) == before
    assert count(app, AuditEntry, AuditEntry.action == "administration_refused") == 1

    thawed = rlab.custody(dose, "thawed", location="Ward 5", temperature_c=37.0).json
    dose = rlab.dose(dose)
    thawed_at = datetime.fromisoformat(thawed["occurred_at"])
    assert datetime.fromisoformat(dose["thawed_at"]) == thawed_at
    assert datetime.fromisoformat(dose["post_thaw_expires_at"]) == thawed_at + timedelta(hours=4)
    assert dose["effective_expires_at"] == dose["post_thaw_expires_at"]
    assert dose["effective_expires_at"] < dose["expires_at"]
    rlab.administer(dose, location="Ward 5")
    report = rlab.client.get(f"/api/v1/doses/{dose['id']}/custody-report.pdf", headers=rlab.tech)
    assert "Chain unbroken: yes" in _text(report.data)


def test_a_fresh_dose_is_never_thawed(rlab, app):
    _batch, doses = rlab.released("NK")
    dose = rlab.dose(doses[0])
    assert dose["cryopreserved"] is False
    rlab.custody(dose, "retrieved")
    refused = rlab.custody(dose, "thawed", status=409).json
    assert "fresh product" in refused["details"]["reasons"][0]
    assert rlab.dose(dose)["thawed_at"] is None


def test_after_the_post_thaw_expiry_the_dose_is_refused(rlab, app, clock):
    _batch, doses = rlab.released("MSC")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    rlab.custody(dose, "thawed", location="Ward 5")
    clock.advance(hours=4, minutes=1)
    refused = rlab.administer(dose, status=409, audited=KEPT_IDENTITY_MISMATCH).json
    assert refused["error"] == "identity_mismatch"
    assert any("post-thaw expiry" in r for r in refused["details"]["reasons"])
    assert rlab.dose(dose)["status"] != "administered"


def test_a_suspended_frozen_dose_is_not_thawed(rlab):
    batch, doses = rlab.released("MSC")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    rlab.correct(rlab.results(batch)["cd90"], value=97.0, unit="%")
    refused = rlab.custody(dose, "thawed", status=409).json
    assert "release is suspended" in refused["details"]["reasons"][0]


def test_the_chain_check_knows_the_thaw_rule(rlab, app):
    _batch, doses = rlab.released("MSC")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    tamper(app, "INSERT INTO custody_event (dose_id, event, to_location, occurred_at, "
                "scanned_code, recorded_by_id, recorded_at, late_entry) SELECT dose_id, "
                "'administered', 'Ward 5', occurred_at, scanned_code, recorded_by_id, "
                f"recorded_at, late_entry FROM custody_event WHERE dose_id = {dose['id']} "
                "AND event = 'retrieved'")
    report = rlab.client.get(f"/api/v1/doses/{dose['id']}/custody-report.pdf", headers=rlab.tech)
    text = _text(report.data)
    assert "Chain unbroken: no" in text and "not thawed before administration" in text

    now = datetime.now().astimezone()
    links = [ChainLink("stored", now, True), ChainLink("retrieved", now, True),
             ChainLink("administered", now, True)]
    assert chain_breaks(links) == []
    assert chain_breaks(links, cryopreserved=True) == [
        "event 3 (administered): the cryopreserved dose was not thawed before administration"]
    thawed = [*links[:2], ChainLink("thawed", now, True), ChainLink("administered", now, True)]
    assert chain_breaks(thawed, cryopreserved=True) == []
    assert chain_breaks(thawed) == ["event 3 (thawed): a fresh dose is never thawed"]


def test_cells_per_kg_and_the_receiver(rlab):
    patient = rlab.patient()
    batch = rlab.batch("NK", recipient=patient, recipient_weight_kg=80.0,
                       prescribed_cells_per_kg_min=1e5, prescribed_cells_per_kg_max=5e5)
    assert batch["recipient_weight_kg"] == 80.0
    rlab.step(batch, "seeding", performed_at=(datetime.now().astimezone()
                                              - timedelta(hours=1)).isoformat())
    rlab.step(batch, "harvest", cell_count=100_000_000)
    dose = rlab.post(f"/batches/{batch['id']}/doses",
                     {"count": 1, "cells_per_dose": 20_000_000, "volume_ml": 5.0}).json[0]
    assert rlab.dose(dose)["cells_per_kg"] == 250_000.0
    rlab.post("/batches", {"collection_id": rlab.collection(patient)["id"], "product": "MSC",
                           "origin": "autologous", "recipient_id": patient["id"],
                           "prescribed_cells_per_kg_min": 5.0,
                           "prescribed_cells_per_kg_max": 1.0}, status=400)
    rlab.custody(rlab.dose(dose), "retrieved")
    assert rlab.get(f"/doses/{dose['id']}/custody")[-1]["to_person"]  # the recording user


def test_the_sweep_warns_of_a_thawed_dose_by_its_post_thaw_expiry(rlab, runner):
    _batch, doses = rlab.released("MSC")
    dose = rlab.dose(doses[0])
    assert runner.invoke(args=["lims", "sweep"]).exit_code == 0
    assert rlab.get("/alerts?kind=dose_expiring&open=true") == []
    rlab.custody(dose, "retrieved")
    rlab.custody(dose, "thawed", location="Ward 5")
    assert runner.invoke(args=["lims", "sweep"]).exit_code == 0
    alerts = rlab.get("/alerts?kind=dose_expiring&open=true")
    assert [a["entity_id"] for a in alerts] == [str(dose["id"])]
    assert "(post-thaw)" in alerts[0]["summary"]
    rlab.administer(rlab.dose(dose), location="Ward 5")
    assert runner.invoke(args=["lims", "sweep"]).exit_code == 0
    assert rlab.get("/alerts?kind=dose_expiring&open=true") == []
