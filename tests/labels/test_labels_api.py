"""Labels from the records, verified by reading them (SPEC §6): every label endpoint is
rendered and decoded with zxing-cpp; what is read must equal the dose's ``barcodes``."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import zxingcpp

from batches import isbt128
from labels.models import LabelPrint
from labels.statements import (
    ADVISE_PATIENT_STATEMENT,
    AUTOLOGOUS_STATEMENT,
    BIOHAZARD_LEGEND,
    NOT_EVALUATED_STATEMENT,
)
from tests.batches.dose_helpers import dose_json, formulated, release
from tests.fixtures.lab import NEGATIVE, iso, now
from tests.fixtures.records import (
    KEPT_FAILED_PRINT,
    assert_nothing_written,
    audit_entries,
    count_rows,
)
from tests.labels.test_printing import LOOPBACK, bound_port, fake_printer
from tests.labels.test_rendering import PDF_SCALE, decode, pdf_pages, render_zpl

QUARANTINE = "QUARANTINE — NOT FOR RELEASE"


def _get(lab, path: str, headers=None, status: int = 200):
    with assert_nothing_written(lab.client.application) if status >= 400 else nullcontext():
        response = lab.client.get(f"/api/v1{path}", headers=headers or lab.tech)
        assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response


def assert_reads_as_dose(decoded: dict[str, zxingcpp.Barcode], barcodes: dict[str, str]):
    assert set(decoded) == set(barcodes.values())
    for key in ("din", "product", "expiry"):
        assert decoded[barcodes[key]].format == zxingcpp.BarcodeFormat.Code128
        assert decoded[barcodes[key]].symbology_identifier == "]C0"
    assert decoded[barcodes["matrix"]].format == zxingcpp.BarcodeFormat.DataMatrix


def _label_text(lab, dose_id: int) -> tuple[dict, str]:
    dose = dose_json(lab, dose_id)
    response = _get(lab, f"/doses/{dose_id}/label.pdf")
    assert response.mimetype == "application/pdf"
    [(image, text)] = pdf_pages(response.data)
    assert_reads_as_dose(decode(image), dose["barcodes"])
    return dose, " ".join(text.split())  # wrapped lines joined


def test_autologous_quarantined_dose_label_pdf(app, lab):
    batch, [dose, _] = formulated(lab)
    dose, text = _label_text(lab, dose["id"])
    assert f"{isbt128.format_din(batch['din'])} {dose['check_character']}" in text
    patient = _get(lab, f"/subjects/{batch['recipient_id']}").json
    for expected in (QUARANTINE, AUTOLOGOUS_STATEMENT, NOT_EVALUATED_STATEMENT,
                     patient["code"],
                     f"DOB {patient['date_of_birth']}", app.config["FACILITY_NAME"],
                     app.config["FACILITY_ADDRESS"], "Mesenchymal"):
        assert expected in text, expected
    # 21 CFR 1271.90(c): an untested autologous product is "not evaluated", no advice warning
    assert ADVISE_PATIENT_STATEMENT not in text and "Advise patient" not in text
    [entry] = [e for e in audit_entries(app, "dose", dose["id"]) if e["action"] ==
               "label_document"]
    assert entry["changes"]["format"] == [None, "pdf"]
    assert entry["changes"]["quarantine"] == [None, True]


def test_released_dose_label_is_final(app, lab):
    batch, [dose, _] = formulated(lab)
    release(app, batch["id"])
    _dose, text = _label_text(lab, dose["id"])
    assert QUARANTINE not in text and AUTOLOGOUS_STATEMENT in text


def test_allogeneic_incomplete_donor_label(app, lab):
    batch, [dose] = formulated(lab, "NK", origin="allogeneic", donor=lab.donor("incomplete"),
                                  count=1)
    del batch
    _dose, text = _label_text(lab, dose["id"])
    assert NOT_EVALUATED_STATEMENT in text and ADVISE_PATIENT_STATEMENT in text
    assert QUARANTINE in text and AUTOLOGOUS_STATEMENT not in text


def test_ineligible_donor_label_names_the_reactive_agents(app, lab):
    donor = lab.donor("eligible")
    _batch, [dose] = formulated(lab, "NK", origin="allogeneic", donor=donor, count=1)
    markers = {**NEGATIVE, "hcv_nat": "reactive", "syphilis": "reactive"}
    lab.post(f"/subjects/{donor['id']}/donor-screening",
             {"specimen_collected_at": iso(now()), "markers": markers}, status=200)
    _dose, text = _label_text(lab, dose["id"])
    assert BIOHAZARD_LEGEND in text and ADVISE_PATIENT_STATEMENT in text
    assert "WARNING: Reactive test results for HCV (NAT)" in text
    assert "WARNING: Reactive test results for syphilis" in text


@pytest.mark.parametrize("dpi", [203, 300])
def test_dose_label_zpl_decodes_to_the_dose_barcodes(app, lab, dpi):
    # zplkit's offline font has no "°" (a Zebra printer's has): an ASCII storage text
    batch = lab.harvested("NK")
    [dose] = lab.post(f"/batches/{batch['id']}/doses",
                      {"count": 1, "cells_per_dose": 10_000_000, "volume_ml": 5.0,
                       "storage_temperature": "2 to 8 C, do not freeze"}).json
    dose = dose_json(lab, dose["id"])
    response = _get(lab, f"/doses/{dose['id']}/label.zpl?dpi={dpi}")
    zpl = response.data
    assert zpl.startswith(b"^XA") and f"^PW{round(100 * dpi / 25.4)}".encode() in zpl
    assert b"QUARANTINE - NOT FOR RELEASE" in zpl
    assert_reads_as_dose(decode(render_zpl(zpl, dpi)), dose["barcodes"])
    _get(lab, f"/doses/{dose['id']}/label.zpl?dpi=600", status=400)


def test_batch_label_sheet_has_every_dose(lab):
    batch, doses = formulated(lab, count=3)
    response = _get(lab, f"/batches/{batch['id']}/labels.pdf")
    decoded = set()  # doses of one batch share the DIN and expiry bar codes
    for image, _text in pdf_pages(response.data, scale=PDF_SCALE * 2):
        decoded |= {result.text for result in zxingcpp.read_barcodes(image)}
    expected = set()
    for dose in doses:
        expected |= set(dose_json(lab, dose["id"])["barcodes"].values())
    assert set(decoded) == expected
    empty = lab.batch("MSC")
    _get(lab, f"/batches/{empty['id']}/labels.pdf", status=409)


def test_in_process_labels(lab):
    batch, _doses = formulated(lab)
    collection = _get(lab, f"/collections/{batch['collection_id']}").json
    [(image, text)] = pdf_pages(_get(lab, f"/collections/{collection['id']}/label.pdf").data)
    [read] = decode(image).values()
    assert read.text == collection["din_barcode"] and read.symbology_identifier == "]C0"
    assert collection["check_character"] in text and "Bone marrow" in text
    [(image, text)] = pdf_pages(_get(
        lab, f"/batches/{batch['id']}/vessel-label.pdf?vessel=Flask%203%20P2").data)
    assert set(decode(image)) == {batch["batch_number"]}
    assert "Flask 3 P2" in text and "IN PROCESS" in text


# -- printing --------------------------------------------------------------------------------


def test_print_and_reprint_are_counted_and_audited(app, lab):
    _batch, [dose, _] = formulated(lab)
    expected = _get(lab, f"/doses/{dose['id']}/label.zpl").data
    with fake_printer() as printer:
        app.config.update(PRINTER_HOST=LOOPBACK, PRINTER_PORT=printer.server_address[1])
        first = lab.post(f"/doses/{dose['id']}/print", {}).json
        job = printer.jobs.get(timeout=5)
        assert job == expected
        assert first["copy_number"] == 1 and first["reprint"] is False
        assert first["quarantine"] is True and first["printer"].startswith(LOOPBACK)
        refused = lab.post(f"/doses/{dose['id']}/print", {}, status=400).json
        assert "reason" in refused["details"]["fields"]
        second = lab.post(f"/doses/{dose['id']}/print", {"reason": "label smudged"}).json
        printer.jobs.get(timeout=5)
    assert second["copy_number"] == 2 and second["reprint"] is True
    assert count_rows(app, LabelPrint) == 2
    listed = _get(lab, f"/doses/{dose['id']}/prints").json
    assert [(p["copy_number"], p["reason"]) for p in listed] == [(1, None), (2, "label smudged")]
    audit = audit_entries(app, "label_print", second["id"])
    assert audit[0]["action"] == "create" and audit[0]["reason"] == "label smudged"
    assert audit[0]["changes"]["copy_number"] == [None, 2]


def test_no_printer_is_409_and_an_unreachable_printer_503(app, lab):
    _batch, [dose, _] = formulated(lab)
    refused = lab.post(f"/doses/{dose['id']}/print", {}, status=409).json
    assert any("no label printer" in r for r in refused["details"]["reasons"])
    with bound_port() as port:
        app.config.update(PRINTER_HOST=LOOPBACK, PRINTER_PORT=port, PRINTER_TIMEOUT=1)
        refused = lab.post(f"/doses/{dose['id']}/print", {}, status=503,
                           audited=KEPT_FAILED_PRINT).json
    assert f"{LOOPBACK}:{port}" in refused["message"] and "refused" in refused["message"]
    # issue 12: the job was recorded before the printer was contacted; it failed, nothing
    # was counted as a copy, and both its states are audited
    [job] = _get(lab, f"/doses/{dose['id']}/prints").json
    assert refused["details"] == {"printer": f"{LOOPBACK}:{port}", "print_id": job["id"],
                                  "status": "failed"}
    assert job["status"] == "failed" and "refused" in job["problem"]
    assert [e["changes"].get("status") for e in audit_entries(app, "label_print", job["id"])] \
        == [[None, "queued"], ["queued", "failed"]]


def test_printing_roles(app, lab, admin, nothing_written):
    _batch, [dose, _] = formulated(lab)
    lab.post(f"/doses/{dose['id']}/print", {}, headers=admin, status=403)
    with nothing_written():
        assert lab.client.post(f"/api/v1/doses/{dose['id']}/print", json={}).status_code == 401
    _get(lab, f"/doses/{dose['id']}/label.pdf", headers=admin)  # documents: every role
