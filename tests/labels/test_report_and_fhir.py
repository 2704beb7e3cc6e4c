"""The chain-of-custody report (read back as text) and the FHIR R5 export (validated by
fhir.resources) — SPEC §5, §6."""

from __future__ import annotations

import json

import pypdfium2 as pdfium
from fhir.resources.biologicallyderivedproduct import BiologicallyDerivedProduct
from fhir.resources.biologicallyderivedproductdispense import BiologicallyDerivedProductDispense

from batches import isbt128
from labels import fhir
from tests.batches.dose_helpers import custody, dose_json, formulated, release
from tests.fixtures.database import tamper


def _text(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    return [" ".join(page.get_textpage().get_text_range().split()) for page in pdf]


def _administered(app, lab):
    batch, [dose, _] = formulated(lab)
    release(app, batch["id"])
    dose = dose_json(lab, dose["id"])
    custody(lab, dose, "retrieved", location="LN2 tank 2", temperature_c=-190.0)
    custody(lab, dose, "shipped", location="Courier: ColdChain Ltd", temperature_c=-160.0)
    custody(lab, dose, "received", location="Ward 5", temperature_c=-150.0)
    custody(lab, dose, "thawed", location="Ward 5", temperature_c=37.0)
    patient = lab.client.get(f"/api/v1/subjects/{batch['recipient_id']}", headers=lab.tech).json
    lab.post(f"/doses/{dose['id']}/administer",
             {"patient_code": patient["code"], "patient_date_of_birth": patient["date_of_birth"],
              "scanned_code": dose["barcodes"]["matrix"], "location": "Ward 5, bed 2"},
             status=200)
    return batch, dose, patient


def test_custody_report_shows_identity_timeline_signature_and_verdict(app, lab):
    batch, dose, patient = _administered(app, lab)
    response = lab.client.get(f"/api/v1/doses/{dose['id']}/custody-report.pdf", headers=lab.tech)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = _text(response.data)
    text = " ".join(pages)
    assert f"{isbt128.format_din(batch['din'])} [{dose['check_character']}]" in text
    assert patient["code"] in text and patient["date_of_birth"] in text
    assert "S90011A0" in text and batch["batch_number"] in text
    for event in ("collected", "stored", "retrieved", "shipped", "received", "thawed",
                  "administered"):
        assert event in text, event
    for where in ("LN2 tank 2", "Courier: ColdChain Ltd", "Ward 5, bed 2"):
        assert where in text
    assert "-190 °C" in text and "37 °C" in text
    assert "Quinn Assurance" in text and "approval" in text  # the release signature
    assert "Chain unbroken: yes" in text
    assert f"Page 1 of {len(pages)}" in pages[0] and "Generated" in text


def test_custody_report_says_when_the_chain_is_broken(app, lab):
    _batch, [dose, _] = formulated(lab)
    dose = dose_json(lab, dose["id"])
    custody(lab, dose, "retrieved")
    tamper(app, f"UPDATE custody_event SET scanned_code = NULL WHERE dose_id = {dose['id']} "
                "AND event = 'retrieved'")
    text = " ".join(_text(lab.client.get(f"/api/v1/doses/{dose['id']}/custody-report.pdf",
                                         headers=lab.tech).data))
    assert "Chain unbroken: no" in text and "not confirmed by a scan" in text
    assert "Not released" in text


def test_fhir_product_is_valid_r5_with_isbt128_systems(app, lab):
    batch, [dose, _] = formulated(lab)
    dose = dose_json(lab, dose["id"])
    response = lab.client.get(f"/api/v1/doses/{dose['id']}/fhir", headers=lab.tech)
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    body = json.loads(response.data)
    product = BiologicallyDerivedProduct.model_validate(body)
    assert product.productCode.coding[0].system == fhir.PRODUCT_DESCRIPTION_CODE
    assert product.productCode.coding[0].code == "S9001"
    assert product.biologicalSourceEvent.system == fhir.DONATION_IDENTIFICATION_NUMBER
    assert product.biologicalSourceEvent.value == batch["din"]
    assert product.division == "A0" and product.productStatus.code == "unavailable"
    assert dose["code"] in [i.value for i in product.identifier]
    [collection_type] = [p for p in product.property
                         if p.type.coding and p.type.coding[0].code == "collectiontype"]
    assert collection_type.valueCodeableConcept.coding[0].code == "1"
    assert collection_type.valueCodeableConcept.coding[0].system == fhir.COLLECTION_TYPE
    lab.client.get(f"/api/v1/doses/{dose['id']}/fhir-dispense", headers=lab.tech)
    missing = lab.client.get(f"/api/v1/doses/{dose['id']}/fhir-dispense", headers=lab.tech)
    assert missing.status_code == 404


def test_fhir_dispense_after_administration(app, lab):
    _batch, dose, patient = _administered(app, lab)
    product = BiologicallyDerivedProduct.model_validate_json(lab.client.get(
        f"/api/v1/doses/{dose['id']}/fhir", headers=lab.tech).data)
    assert product.productStatus.code == "unavailable"
    response = lab.client.get(f"/api/v1/doses/{dose['id']}/fhir-dispense", headers=lab.tech)
    assert response.status_code == 200
    dispense = BiologicallyDerivedProductDispense.model_validate_json(response.data)
    assert dispense.status == "issued"
    assert dispense.product.reference == f"BiologicallyDerivedProduct/{product.id}"
    assert dispense.patient.identifier.value == patient["code"]
    assert dispense.originRelationshipType.coding[0].code == "autologous"
    assert dispense.location.display == "Ward 5, bed 2"
    assert dispense.whenHandedOver is not None
