"""HL7 FHIR R5 export of a dose (SPEC §6): BiologicallyDerivedProduct and, once the dose
is administered, BiologicallyDerivedProductDispense — as plain JSON dicts.

The ISBT 128 systems follow HL7's own R5 examples (sources in docs/LABELS.md):

* ``productCode``: ``https://www.isbt128.org/uri/ProductDescriptionCode``
  (the 5-character product description code, e.g. ``S9001``);
* ``biologicalSourceEvent`` (the donation): the DIN under
  ``https://www.isbt128.org/uri/DonationIdentificationNumber``;
* collection type: property type ``collectiontype`` of
  ``http://hl7.org/fhir/biologicallyderived-product-property-type-codes``
  with a value in ``https://www.isbt128.org/uri/CollectionType``;
* the processing facility's FIN under ``https://www.isbt128.org/uri/ProcessorFIN``.

The instance identifier (dose code = DIN + product code + division) and the
chain-of-identity identifier use this facility's own systems
(``urn:isbt128-fin:<FIN>:…`` unless ``FHIR_IDENTIFIER_BASE`` is set): HL7's
example uses ICCBBA's "MPHO Unique Identifier", whose construction is in a
licensed ICCBBA document, so we do not claim it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batches.doses import barcode_texts
from batches.models import BatchStatus, CustodyEvent, Dose, DoseStatus, Origin

ISBT = "https://www.isbt128.org/uri/"
PRODUCT_DESCRIPTION_CODE = ISBT + "ProductDescriptionCode"
DONATION_IDENTIFICATION_NUMBER = ISBT + "DonationIdentificationNumber"
COLLECTION_TYPE = ISBT + "CollectionType"
PROCESSOR_FIN = ISBT + "ProcessorFIN"
PROPERTY_TYPES = "http://hl7.org/fhir/biologicallyderived-product-property-type-codes"
PRODUCT_CATEGORY = "http://hl7.org/fhir/product-category"
PRODUCT_STATUS = "http://hl7.org/fhir/biologicallyderived-product-status"
ORIGIN_RELATIONSHIP = \
    "http://hl7.org/fhir/CodeSystem/biologicallyderivedproductdispense-origin-relationship"

COLLECTION_TYPE_DISPLAY = {"1": "For Autologous Use Only", "V": "Volunteer allogeneic",
                           "D": "Directed", "0": "Not specified"}


@dataclass(frozen=True)
class Context:
    fin: str
    facility_name: str
    base: str | None = None

    def system(self, what: str) -> str:
        base = (self.base or f"urn:isbt128-fin:{self.fin}").rstrip("/:")
        return f"{base}/{what}" if "://" in base else f"{base}:{what}"


def _when(value) -> str:
    return value.isoformat()


def biologically_derived_product(dose: Dose, ctx: Context) -> dict[str, Any]:
    """The dose as an R5 BiologicallyDerivedProduct."""
    batch = dose.batch
    collection = batch.collection
    available = batch.status == BatchStatus.released and dose.status in (
        DoseStatus.released, DoseStatus.shipped, DoseStatus.delivered)
    resource: dict[str, Any] = {
        "resourceType": "BiologicallyDerivedProduct",
        "id": f"dose-{dose.id}",
        "productCategory": {"system": PRODUCT_CATEGORY, "code": "cells", "display": "Cells"},
        "productCode": {
            "coding": [{"system": PRODUCT_DESCRIPTION_CODE, "code": dose.description_code,
                        "display": batch.product.name}],
            "text": f"{batch.product.name} ({batch.origin})"},
        "identifier": [
            {"system": ctx.system("dose"), "value": dose.code,
             "type": {"text": "DIN + ISBT 128 product code + division"}},
            {"system": ctx.system("chain-of-identity"), "value": collection.chain_of_identity,
             "type": {"text": "ISBT 128 chain of identity identifier"}},
        ],
        "biologicalSourceEvent": {"system": DONATION_IDENTIFICATION_NUMBER,
                                  "value": collection.din},
        "processingFacility": [{"identifier": {"system": PROCESSOR_FIN, "value": ctx.fin},
                                "display": ctx.facility_name}],
        "division": dose.division,
        "productStatus": {"system": PRODUCT_STATUS,
                          "code": "available" if available else "unavailable"},
        "expirationDate": _when(dose.expires_at),
        "collection": {
            "source": {"identifier": {"system": ctx.system("subject"),
                                      "value": collection.subject.code}},
            "collectedDateTime": _when(collection.collected_at)},
        "property": [
            {"type": {"coding": [{"system": PROPERTY_TYPES, "code": "collectiontype",
                                  "display": "Collection Type"}]},
             "valueCodeableConcept": {"coding": [{
                 "system": COLLECTION_TYPE, "code": dose.collection_type,
                 "display": COLLECTION_TYPE_DISPLAY.get(dose.collection_type)}]}},
            {"type": {"text": "Cell count"},
             "valueQuantity": {"value": dose.cells, "unit": "cells"}},
            {"type": {"text": "Volume"},
             "valueQuantity": {"value": dose.volume_ml, "unit": "mL",
                               "system": "http://unitsofmeasure.org", "code": "mL"}},
            {"type": {"text": "Storage temperature"}, "valueString": dose.storage_temperature},
            {"type": {"text": "ISBT 128 Data Matrix"},
             "valueString": barcode_texts(dose)["matrix"]},
        ],
    }
    return resource


def biologically_derived_product_dispense(dose: Dose, administered: CustodyEvent,
                                          ctx: Context) -> dict[str, Any]:
    """The administration of the dose as an R5 BiologicallyDerivedProductDispense."""
    batch = dose.batch
    recipient = batch.recipient
    origin = "autologous" if batch.origin == Origin.autologous else "allogeneic"
    resource: dict[str, Any] = {
        "resourceType": "BiologicallyDerivedProductDispense",
        "id": f"dose-{dose.id}-dispense",
        "identifier": [{"system": ctx.system("custody-event"), "value": str(administered.id)}],
        "status": "issued",
        "originRelationshipType": {"coding": [{"system": ORIGIN_RELATIONSHIP, "code": origin}]},
        "product": {"reference": f"BiologicallyDerivedProduct/dose-{dose.id}",
                    "identifier": {"system": ctx.system("dose"), "value": dose.code}},
        "patient": {"identifier": {"system": ctx.system("subject"), "value": recipient.code},
                    "display": f"{recipient.code} (born {recipient.date_of_birth.isoformat()})"},
        "performer": [{"actor": {"display": administered.to_person
                                 or administered.recorded_by.full_name}}],
        "location": {"display": administered.to_location or "bedside"},
        "whenHandedOver": _when(administered.occurred_at),
    }
    if administered.notes:
        resource["note"] = [{"text": administered.notes}]
    return resource
