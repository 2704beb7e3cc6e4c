"""Custody handoffs confirmed by scanning the dose label (SPEC §5, §7)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from batches.custody_rules import ChainLink, allowed_next, chain_breaks, event_refusals
from batches.models import CustodyEvent
from tests.batches.dose_helpers import custody, dose_json, formulated, reject, release
from tests.fixtures.lab import iso, now
from tests.fixtures.records import KEPT_REFUSED_SCAN, audit_entries, count_rows

# -- the pure graph ------------------------------------------------------------------------


def test_graph_allows_the_usual_route_and_disposal_until_administered():
    route = ["stored", "retrieved", "shipped", "delivered", "received", "thawed", "administered"]
    for before, after in zip(route, route[1:], strict=False):
        assert after in allowed_next(before), (before, after)
    assert allowed_next(None) == {"stored"}
    for state in route[:-1]:
        assert "disposed" in allowed_next(state)
    assert allowed_next("administered") == set() and allowed_next("disposed") == set()


@pytest.mark.parametrize(("event", "last", "status", "needle"), [
    ("shipped", "stored", "released", "cannot follow stored"),
    ("shipped", "retrieved", "qc_review", "not released"),
    ("retrieved", "stored", "rejected", "only be disposed"),
    ("disposed", "administered", "released", "already administered"),
])
def test_graph_refusals(event, last, status, needle):
    reasons = event_refusals(event, last, batch_status=status)
    assert any(needle in r for r in reasons), reasons


def test_chain_breaks_names_each_problem():
    t = now()
    ok = [ChainLink("stored", t, True), ChainLink("retrieved", t, True)]
    assert chain_breaks(ok) == []
    broken = chain_breaks([ChainLink("retrieved", t, True), ChainLink("thawed", t, False),
                           ChainLink("administered", t - timedelta(hours=1), True)])
    assert any("starts with retrieved" in b for b in broken)
    assert any("not confirmed by a scan" in b for b in broken)
    assert any("earlier than the one before" in b for b in broken)
    assert chain_breaks([]) == ["no custody event recorded"]


# -- the API ---------------------------------------------------------------------------------


def test_handoffs_follow_the_graph_and_build_the_timeline(app, lab):
    batch, [dose, _] = formulated(lab)
    release(app, batch["id"])
    dose = dose_json(lab, dose["id"])
    first = custody(lab, dose, "retrieved", temperature_c=-180.5).json
    assert first["event"] == "retrieved" and first["temperature_c"] == -180.5
    assert first["from_location"] == app.config["FACILITY_NAME"]
    assert first["to_location"] == "Cell processing lab"
    assert first["scanned_code"] == dose["barcodes"]["matrix"]
    assert first["late_entry"] is False
    custody(lab, dose, "shipped", location="Courier van 3", temperature_c=-150.0)
    assert dose_json(lab, dose["id"])["status"] == "shipped"
    custody(lab, dose, "received", location="Ward 5 clinic", temperature_c=-149.0)
    assert dose_json(lab, dose["id"])["status"] == "delivered"
    timeline = lab.client.get(f"/api/v1/doses/{dose['id']}/custody", headers=lab.tech).json
    assert [e["event"] for e in timeline] == ["stored", "retrieved", "shipped", "received"]
    assert timeline[2]["from_location"] == "Cell processing lab"
    audit = audit_entries(app, "custody_event", first["id"])
    assert audit[0]["action"] == "create" and audit[0]["changes"]["event"] == [None, "retrieved"]


def test_an_event_out_of_sequence_is_refused(app, lab):
    batch, [dose, _] = formulated(lab)
    refused = custody(lab, dose, "thawed", status=409).json
    assert any("cannot follow stored" in r for r in refused["details"]["reasons"])
    custody(lab, dose, "retrieved")
    refused = custody(lab, dose, "shipped", status=409).json
    assert any("not released" in r for r in refused["details"]["reasons"])
    assert count_rows(app, CustodyEvent) == 1 + 2 + 1


@pytest.mark.parametrize("what", ["din", "other_dose", "product", "expiry", "garbage"])
def test_a_wrong_item_scan_is_refused_and_kept_in_the_audit_trail(app, lab, what):
    _batch, [dose, other] = formulated(lab)
    scanned = {"din": dose["barcodes"]["din"], "other_dose": other["barcodes"]["matrix"],
               "product": dose["barcodes"]["product"], "expiry": dose["barcodes"]["expiry"],
               "garbage": "hello"}[what]
    refused = custody(lab, dose, "retrieved", status=409, scanned_code=scanned,
                      audited=KEPT_REFUSED_SCAN).json
    assert refused["error"] == "wrong_item"
    reason = refused["details"]["reasons"][0]
    if what == "other_dose":
        assert other["code"] in reason
    if what == "din":
        assert "identifies the collection, not a dose" in reason
    assert count_rows(app, CustodyEvent) == 1 + 2  # nothing recorded
    [entry] = [e for e in audit_entries(app, "dose", dose["id"]) if e["action"] == "scan_refused"]
    assert entry["changes"]["scanned_code"] == [None, scanned]
    assert entry["changes"]["action"] == [None, "retrieved"]


def test_scanner_prefix_and_enter_are_accepted(lab):
    _batch, [dose, _] = formulated(lab)
    custody(lab, dose, "retrieved", scanned_code="]d1" + dose["barcodes"]["matrix"] + "\r\n")


def test_an_outdated_label_is_refused(lab):
    _batch, [dose, _] = formulated(lab)
    matrix = dose["barcodes"]["matrix"].replace(dose["barcodes"]["expiry"], "&>0991231200")
    refused = custody(lab, dose, "retrieved", status=409, scanned_code=matrix,
                      audited=KEPT_REFUSED_SCAN).json
    assert "outdated" in refused["details"]["reasons"][0]


def test_times_late_entries_and_the_future(app, lab, clock):
    _batch, [dose, _] = formulated(lab)
    custody(lab, dose, "retrieved", status=400, occurred_at=iso(now() + timedelta(hours=1)))
    refused = custody(lab, dose, "retrieved", status=409,
                      occurred_at=iso(now() - timedelta(days=3))).json
    assert any("before the dose's last custody event" in r for r in refused["details"]["reasons"])
    clock.advance(hours=2)
    late = custody(lab, dose, "retrieved", occurred_at=iso(now() - timedelta(hours=1))).json
    assert late["late_entry"] is True
    on_time = custody(lab, dose, "stored").json
    assert on_time["late_entry"] is False


def test_rejected_batch_doses_can_only_be_disposed(app, lab):
    batch, [dose, _] = formulated(lab)
    reject(app, batch["id"])
    refused = custody(lab, dose, "retrieved", status=409).json
    assert any("only be disposed" in r for r in refused["details"]["reasons"])
    custody(lab, dose, "disposed", status=400)  # a disposal needs a reason
    custody(lab, dose, "disposed", notes="batch rejected: sterility failure")
    assert dose_json(lab, dose["id"])["status"] == "disposed"
    refused = custody(lab, dose, "disposed", status=409, notes="again").json
    assert any("already disposed" in r for r in refused["details"]["reasons"])


def test_bad_input_is_400_with_the_fields_named(lab):
    _batch, [dose, _] = formulated(lab)
    response = lab.post(f"/doses/{dose['id']}/custody",
                        {"event": "administered", "location": "", "temperature_c": "cold"},
                        status=400).json
    assert {"event", "location", "temperature_c", "scanned_code"} <= \
        set(response["details"]["fields"])
    assert "administer" in str(response["details"]["fields"]["event"])
    lab.post("/doses/9999/custody", {"event": "retrieved", "location": "x",
                                     "scanned_code": "y"}, status=404)


def test_technicians_and_qa_record_custody_admins_do_not(lab, admin, qa):
    _batch, [dose, _] = formulated(lab)
    body = {"event": "retrieved", "location": "Lab", "scanned_code": dose["barcodes"]["matrix"]}
    assert lab.post(f"/doses/{dose['id']}/custody", body, headers=admin, status=403)
    lab.post(f"/doses/{dose['id']}/custody", body, headers=qa, status=201)
    assert lab.client.get(f"/api/v1/doses/{dose['id']}/custody", headers=admin).status_code \
        == 200
    assert lab.client.get(f"/api/v1/doses/{dose['id']}/custody").status_code == 401
