"""Scan lookup: any scanned text → its collection, batch or dose (SPEC §7)."""

from __future__ import annotations

import pytest

from tests.fixtures.records import audit_entries


@pytest.fixture
def formulated(lab):
    batch = lab.harvested("MSC")
    doses = lab.post(f"/batches/{batch['id']}/doses",
                     {"count": 2, "cells_per_dose": 1_000_000, "volume_ml": 5.0}).json
    dose = lab.client.get(f"/api/v1/doses/{doses[1]['id']}", headers=lab.tech).json
    return batch, dose


def _lookup(lab, code):
    return lab.client.get("/api/v1/lookup", query_string={"code": code}, headers=lab.tech)


def test_every_label_text_resolves(lab, formulated):
    batch, dose = formulated
    expected = {
        dose["barcodes"]["din"]: ("collection", batch["collection_id"]),
        "]C0" + dose["barcodes"]["din"]: ("collection", batch["collection_id"]),
        batch["din"]: ("collection", batch["collection_id"]),
        batch["din"] + lab.client.get(f"/api/v1/collections/{batch['collection_id']}",
                                      headers=lab.tech).json["check_character"]:
            ("collection", batch["collection_id"]),
        "&/" + dose["chain_of_identity"]: ("collection", batch["collection_id"]),
        dose["barcodes"]["matrix"]: ("dose", dose["id"]),
        "]d1" + dose["barcodes"]["matrix"] + "\n": ("dose", dose["id"]),
        dose["code"]: ("dose", dose["id"]),
        batch["batch_number"]: ("batch", batch["id"]),
        batch["batch_number"].lower(): ("batch", batch["id"]),
    }
    for code, (kind, ident) in expected.items():
        response = _lookup(lab, code)
        assert response.status_code == 200, code
        assert (response.json["type"], response.json["id"]) == (kind, ident), code


@pytest.mark.parametrize("code", ["=<S9001100", "&>0263652359", "nothing", "=Z999926999999"
                                  "00", "x" * 500])
def test_unknown_or_ambiguous_codes_are_404(lab, formulated, code):
    assert _lookup(lab, code).status_code == 404


def test_wrong_check_character_does_not_resolve(lab, formulated):
    batch, _ = formulated
    collection = lab.client.get(f"/api/v1/collections/{batch['collection_id']}",
                                headers=lab.tech).json
    wrong = "0" if collection["check_character"] != "0" else "1"
    assert _lookup(lab, batch["din"] + wrong).status_code == 404


def test_the_scan_box_jumps_to_the_scanned_item(app, client, lab, formulated, login_as):
    batch, dose = formulated
    login_as("technician")
    to_dose = client.get("/scan", query_string={"code": dose["barcodes"]["matrix"]})
    assert to_dose.status_code == 302 and to_dose.headers["Location"] == f"/doses/{dose['id']}"
    to_collection = client.get("/scan", query_string={"code": dose["barcodes"]["din"]})
    assert to_collection.headers["Location"] == f"/collections/{batch['collection_id']}"
    to_batch = client.get("/scan", query_string={"code": batch["batch_number"]})
    assert to_batch.headers["Location"] == f"/batches/{batch['id']}"
    page = client.get(to_dose.headers["Location"])
    assert page.status_code == 200 and dose["code"].encode() in page.data
    assert audit_entries(app, "dose", dose["id"])
