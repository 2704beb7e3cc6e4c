"""Formulation into doses, their codes and barcode texts, first custody event (SPEC §2, §6)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from batches import isbt128
from batches.models import CustodyEvent, Dose
from tests.fixtures.lab import iso, now
from tests.fixtures.records import audit_entries, count_rows

FORMULATION = {"count": 3, "cells_per_dose": 20_000_000, "volume_ml": 10.0}


def test_formulation_splits_the_batch_into_coded_doses(app, lab):
    batch = lab.harvested("MSC")
    response = lab.post(f"/batches/{batch['id']}/doses", FORMULATION)
    doses = response.json
    assert [d["division"] for d in doses] == ["A0", "B0", "C0"]
    din = batch["din"]
    assert doses[0]["code"] == f"{din}-S9001" + "1-A0"
    assert {d["status"] for d in doses} == {"quarantined"}
    again = lab.client.get(f"/api/v1/batches/{batch['id']}", headers=lab.tech).json
    assert again["status"] == "qc_review" and again["dose_count"] == 3
    assert audit_entries(app, "batch", batch["id"])[-1]["changes"]["status"] == \
        ["harvested", "qc_review"]
    assert audit_entries(app, "dose", doses[0]["id"])[0]["action"] == "create"
    listed = lab.client.get(f"/api/v1/batches/{batch['id']}/doses", headers=lab.tech).json
    assert [d["id"] for d in listed] == [d["id"] for d in doses]


def test_dose_has_the_contract_fields_and_barcode_texts(app, lab):
    batch = lab.harvested("NK", origin="allogeneic")
    [dose] = lab.post(f"/batches/{batch['id']}/doses", {**FORMULATION, "count": 1}).json
    body = lab.client.get(f"/api/v1/doses/{dose['id']}", headers=lab.tech).json
    assert {"id", "code", "din", "product_code", "division", "status", "expires_at",
            "barcodes"} <= set(body)
    assert body["division"] == "00" and body["din"] == batch["din"]
    assert body["product_code"] == "=<S9002V00"
    barcodes = body["barcodes"]
    assert barcodes["din"] == f"={batch['din']}00"
    assert barcodes["product"] == body["product_code"]
    assert barcodes["expiry"] == isbt128.expiry_text(datetime.fromisoformat(body["expires_at"]))
    assert barcodes["matrix"] == isbt128.dose_matrix_text(barcodes["din"], barcodes["product"],
                                                          barcodes["expiry"])
    parsed = isbt128.parse_scanned(barcodes["matrix"])
    assert parsed["din"] == batch["din"] and parsed["product_code"] == barcodes["product"]
    assert body["storage_temperature"] == "2–8 °C" and body["container"] == "infusion bag"
    [custody] = body["custody"]
    assert custody["event"] == "stored"
    assert custody["to_location"] == app.config["FACILITY_NAME"]
    assert custody["to_person"].startswith("Technician")


def test_formulating_a_batch_not_harvested_is_refused(app, lab):
    batch = lab.batch("MSC")
    lab.step(batch, "seeding")
    refused = lab.post(f"/batches/{batch['id']}/doses", FORMULATION, status=409)
    assert "only a harvested batch" in refused.json["details"]["reasons"][0]
    assert count_rows(app, Dose) == 0


def test_more_cells_than_harvested_is_refused(lab):
    batch = lab.harvested("MSC", cells=50_000_000)
    refused = lab.post(f"/batches/{batch['id']}/doses", FORMULATION, status=409)
    assert "counted at harvest" in refused.json["details"]["reasons"][0]


def test_formulation_happens_once(app, lab):
    batch = lab.harvested("MSC")
    lab.post(f"/batches/{batch['id']}/doses", {**FORMULATION, "count": 2})
    refused = lab.post(f"/batches/{batch['id']}/doses", FORMULATION, status=409)
    reasons = refused.json["details"]["reasons"]
    assert any("already has 2 doses" in r for r in reasons)
    assert count_rows(app, Dose) == 2
    assert count_rows(app, CustodyEvent) == 1 + 2  # collected, then stored for each dose


@pytest.mark.parametrize(("change", "field"), [
    ({"count": 0}, "count"), ({"count": 27}, "count"), ({"count": "3"}, "count"),
    ({"cells_per_dose": 0}, "cells_per_dose"), ({"volume_ml": 0}, "volume_ml"),
    ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ({"expires_at": iso(now() - timedelta(days=1))}, "expires_at"),
    ({"container": "c" * 61}, "container"),
])
def test_bad_formulation_input_is_400_and_writes_nothing(app, lab, change, field):
    batch = lab.harvested("MSC")
    response = lab.post(f"/batches/{batch['id']}/doses", {**FORMULATION, **change}, status=400)
    assert field in response.json["details"]["fields"]
    assert count_rows(app, Dose) == 0
    assert lab.client.get(f"/api/v1/batches/{batch['id']}",
                          headers=lab.tech).json["status"] == "harvested"


def test_unknown_dose_is_404(lab):
    assert lab.client.get("/api/v1/doses/31337", headers=lab.tech).status_code == 404
    lab.post("/batches/31337/doses", FORMULATION, status=404)
