"""SPEC §3b recall: QA-signed with a reason; every dose not yet administered blocked; the
record lists each dose's last location and holder; site notifications, dispositions (with
their custody events) and physician notifications recorded; closed by QA's signature once
every dose is accounted for.

Finding of issue 11: "A released batch cannot be recalled at all (reject → 409)"."""

from __future__ import annotations

from batches.models import Batch, CustodyEvent
from qc.models import Recall, RecallNotification
from tests.fixtures.records import KEPT_IDENTITY_MISMATCH, KEPT_REFUSED_SCAN, audit_entries
from tests.fixtures.release import count
from tests.fixtures.users import TEST_PASSWORD

FACILITY = "Demo Cell Therapy Facility"


def _three_doses_out(rlab):
    """A released NK batch: dose A given at Ward 5, dose B stored at Ward 5, dose C still
    stored at the facility."""
    batch = rlab.harvested("NK")
    rlab.post(f"/batches/{batch['id']}/doses",
              {"count": 3, "cells_per_dose": 10_000_000, "volume_ml": 10.0})
    rlab.all_results(batch, "NK")
    rlab.release(batch)
    a, b, c = (rlab.dose(d) for d in rlab.doses(batch))
    for dose in (a, b):
        rlab.custody(dose, "retrieved")
        rlab.custody(dose, "shipped", location="Courier")
        rlab.custody(dose, "received", location="Ward 5", to_person="Nurse Ward")
    rlab.administer(a, location="Ward 5")
    rlab.custody(b, "stored", location="Ward 5", to_person="Nurse Ward")
    return rlab.get(f"/batches/{batch['id']}"), a, b, c


def _recall(rlab, batch, headers=None, status=200, **body):
    return rlab.sign(f"/batches/{batch['id']}/recall", headers=headers, status=status,
                     **{"reason": "donor look-back: HCV NAT reactive", **body})


def test_only_qa_recalls_only_a_released_or_suspended_batch(rlab, app, admin):
    batch, *_ = _three_doses_out(rlab)
    _recall(rlab, batch, headers=rlab.tech, status=403)
    _recall(rlab, batch, headers=admin, status=403)
    _recall(rlab, batch, status=401, password="wrong-password-1")
    _recall(rlab, batch, status=400, reason="")
    in_review = rlab.in_review("NK")
    refused = _recall(rlab, in_review, status=409).json
    assert "only a released or suspended batch" in refused["details"]["reasons"][0]
    assert count(app, Recall) == 0
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "released"
    assert rlab.client.get(f"/api/v1/batches/{batch['id']}/recall",
                           headers=rlab.tech).status_code == 404

    suspended, _ = rlab.released()
    rlab.correct(rlab.results(suspended)["viability"], value=80.0, unit="%")
    assert _recall(rlab, suspended).json["status"] == "recalled"
    _recall(rlab, suspended, status=409)


def test_recall_blocks_every_dose_and_lists_where_each_is(rlab, app):
    batch, a, b, c = _three_doses_out(rlab)
    record = _recall(rlab, batch).json
    assert record["status"] == "recalled" and record["state"] == "open"
    doses = {d["code"]: d for d in record["doses"]}
    assert set(doses[a["code"]]) >= {"id", "code", "status", "location", "holder"}
    assert doses[a["code"]]["status"] == "administered" and doses[a["code"]]["administered"]
    assert (doses[b["code"]]["location"], doses[b["code"]]["holder"]) == ("Ward 5",
                                                                          "Nurse Ward")
    assert doses[c["code"]]["location"] == FACILITY and doses[c["code"]]["site"] is None
    assert record["sites"] == ["Ward 5"]
    assert record["signature"]["meaning"] == "approval"
    assert len(record["missing"]) == 4, record["missing"]
    entries = audit_entries(app, "batch", batch["id"])
    assert entries[-1]["changes"]["status"] == ["released", "recalled"]
    assert entries[-1]["reason"] == "donor look-back: HCV NAT reactive"

    before = count(app, CustodyEvent)
    refused = rlab.administer(rlab.dose(b), status=409, audited=KEPT_IDENTITY_MISMATCH).json
    assert any("recalled" in r for r in refused["details"]["reasons"])
    rlab.custody(c, "retrieved")
    assert "back to the processing facility" in " ".join(
        rlab.custody(c, "shipped", location="Ward 7", status=409).json["details"]["reasons"])
    assert count(app, CustodyEvent) == before + 1  # only the retrieval


def test_dispositions_notifications_and_closure(rlab, app):
    batch, a, b, c = _three_doses_out(rlab)
    _recall(rlab, batch)

    closing = rlab.sign(f"/batches/{batch['id']}/recall/close", status=409).json
    reasons = " ".join(closing["details"]["reasons"])
    assert a["code"] in reasons and "physician" in reasons
    assert f"dose {b['code']} has no disposition (last at Ward 5, held by Nurse Ward)" in reasons
    assert "site Ward 5 is not notified" in reasons
    assert rlab.get(f"/batches/{batch['id']}/recall")["state"] == "open"

    # C never left: it cannot be received back; it is disposed of where it is.
    path = f"/doses/{c['id']}/recall-disposition"
    refused = rlab.post(path, {"disposition": "returned", "scanned_code": c["barcodes"]["matrix"]},
                        status=409).json
    assert "record its return shipment" in refused["details"]["reasons"][0]
    rlab.post(path, {"disposition": "disposed", "scanned_code": c["barcodes"]["matrix"]},
              status=400)
    rlab.post(path, {"disposition": "disposed", "scanned_code": a["barcodes"]["matrix"],
                     "notes": "recalled"}, status=409, audited=KEPT_REFUSED_SCAN)
    record = rlab.post(path, {"disposition": "disposed", "scanned_code": c["barcodes"]["matrix"],
                              "notes": "recalled: destroyed"}).json
    entry = next(d for d in record["doses"] if d["id"] == c["id"])
    assert entry["disposition"] == "disposed" and entry["custody_event_id"]
    assert rlab.dose(c)["status"] == "disposed"
    rlab.post(path, {"disposition": "disposed", "scanned_code": c["barcodes"]["matrix"],
                     "notes": "twice"}, status=409)

    # B comes back: the site ships it to the facility, the facility receives it.
    rlab.custody(b, "retrieved", location="Ward 5")
    rlab.custody(b, "shipped", location=FACILITY)
    record = rlab.post(f"/doses/{b['id']}/recall-disposition",
                       {"disposition": "returned", "scanned_code": b["barcodes"]["matrix"],
                        "to_person": "QA receiver"}).json
    assert next(d for d in record["doses"] if d["id"] == b["id"])["disposition"] == "returned"
    received = rlab.get(f"/doses/{b['id']}/custody")[-1]
    assert (received["event"], received["to_location"], received["to_person"]) == (
        "received", FACILITY, "QA receiver")
    report = rlab.client.get(f"/api/v1/doses/{b['id']}/custody-report.pdf", headers=rlab.tech)
    assert report.status_code == 200

    # A was given: its physician is told. A disposition is refused for it.
    rlab.post(f"/doses/{a['id']}/recall-disposition",
              {"disposition": "disposed", "scanned_code": a["barcodes"]["matrix"],
               "notes": "x"}, status=409)
    notes = f"/batches/{batch['id']}/recall/notifications"
    rlab.post(notes, {"kind": "physician", "dose_id": b["id"], "recipient": "Dr. P",
                      "method": "phone"}, headers=rlab.qa, status=409)
    rlab.post(notes, {"kind": "physician", "dose_id": a["id"], "recipient": "Dr. P",
                      "method": "phone"}, headers=rlab.tech, status=403)
    rlab.post(notes, {"kind": "physician", "dose_id": a["id"], "recipient": "Dr. P. Treat",
                      "method": "phone"}, headers=rlab.qa)
    rlab.post(notes, {"kind": "site", "site": "Ward 9", "recipient": "Head nurse",
                      "method": "email"}, headers=rlab.qa, status=409)
    site = rlab.post(notes, {"kind": "site", "site": "Ward 5", "recipient": "Head nurse",
                             "method": "email"}, headers=rlab.qa).json
    closing = rlab.sign(f"/batches/{batch['id']}/recall/close", status=409).json
    assert closing["details"]["reasons"] == ["site Ward 5 has not acknowledged the notification"]
    rlab.post(f"/recall-notifications/{site['id']}/acknowledge",
              {"acknowledged_by": "Head nurse Ward 5"}, headers=rlab.qa, status=200)
    rlab.post(f"/recall-notifications/{site['id']}/acknowledge",
              {"acknowledged_by": "again"}, headers=rlab.qa, status=409)

    closed = rlab.sign(f"/batches/{batch['id']}/recall/close", summary="all accounted").json
    assert closed["state"] == "closed" and closed["missing"] == []
    assert closed["closure_signature"]["meaning"] == "approval"
    rlab.post(notes, {"kind": "site", "site": "Ward 5", "recipient": "late", "method": "fax"},
              headers=rlab.qa, status=409)
    assert count(app, RecallNotification) == 2
    with app.app_context():
        from batches.custody import custody_chain_breaks
        from lims.db import db

        for dose in db.session.get(Batch, batch["id"]).doses:
            assert custody_chain_breaks(dose) == [], dose.code


def test_a_disposal_recorded_through_custody_is_linked_not_doubled(rlab, app):
    batch, _a, _b, c = _three_doses_out(rlab)
    _recall(rlab, batch)
    rlab.custody(c, "retrieved")
    rlab.custody(c, "disposed", notes="recalled")
    before = count(app, CustodyEvent)
    record = rlab.post(f"/doses/{c['id']}/recall-disposition",
                       {"disposition": "disposed", "scanned_code": c["barcodes"]["matrix"],
                        "notes": "recalled"}).json
    assert next(d for d in record["doses"] if d["id"] == c["id"])["disposition"] == "disposed"
    assert count(app, CustodyEvent) == before


def test_wrong_password_is_counted_and_nothing_recalled(rlab, app):
    batch, *_ = _three_doses_out(rlab)
    _recall(rlab, batch, status=401, password="not-the-password")
    with app.app_context():
        from lims.db import db

        assert db.session.get(Batch, batch["id"]).status == "released"
    assert count(app, Recall) == 0
    assert TEST_PASSWORD  # the signer's password works afterwards
    _recall(rlab, batch)
