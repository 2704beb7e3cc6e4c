"""Files leaving the system as HTTP responses, for the API and the pages alike (SPEC §5,
§6, §8): each loads its record, calls one service (which audits the download) and
answers the file with its name, shown in the browser (``inline``) or saved
(``attachment``), never cached (``no-store``).

The API's routes (``labels/api.py``, bearer token, documented in OpenAPI) and the pages'
routes (``labels/views.py``, web session) are one-liners over these functions.
"""

from __future__ import annotations

import json

from flask import Response

from batches import services as batches
from labels import audit_bundle, services
from lims.auth.models import User

PDF = "application/pdf"
ZPL = "application/vnd.zebra-zpl"
JSON = "application/json"


def download(data: bytes | str, mimetype: str, filename: str, *,
             attachment: bool = False) -> Response:
    """``data`` as a file named ``filename``; never cached (it may hold patient data)."""
    response = Response(data, mimetype=mimetype)
    disposition = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def dose_label(dose_id: int, output: str = "pdf", dpi: int = 203) -> Response:
    """The dose label as PDF or ZPL (SPEC §6)."""
    dose = batches.get_dose(dose_id)
    return download(services.dose_label_document(dose, output, dpi),
                    PDF if output == "pdf" else ZPL, f"{dose.code}.{output}")


def batch_label_sheet(batch_id: int) -> Response:
    batch = batches.get_batch(batch_id)
    return download(services.batch_label_sheet(batch), PDF, f"{batch.batch_number}-labels.pdf")


def vessel_label(batch_id: int, vessel: str | None) -> Response:
    batch = batches.get_batch(batch_id)
    return download(services.vessel_label_document(batch, "pdf", vessel), PDF,
                    f"{batch.batch_number}-vessel.pdf")


def collection_label(collection_id: int) -> Response:
    collection = batches.get_collection(collection_id)
    return download(services.collection_label_document(collection, "pdf"), PDF,
                    f"{collection.din}.pdf")


def custody_report(dose_id: int) -> Response:
    dose = batches.get_dose(dose_id)
    return download(services.custody_report(dose), PDF, f"{dose.code}-custody.pdf")


def batch_record(batch_id: int) -> Response:
    batch = batches.get_batch(batch_id)
    return download(services.batch_record(batch), PDF, f"{batch.batch_number}-batch-record.pdf")


def certificate_of_analysis(batch_id: int) -> Response:
    batch = batches.get_batch(batch_id)
    return download(services.certificate_of_analysis(batch), PDF,
                    f"{batch.batch_number}-coa.pdf")


def batch_audit_bundle(batch_id: int, user: User) -> Response:
    """The batch's self-checking audit bundle (SPEC §8), saved as a JSON file."""
    batch = batches.get_batch(batch_id)
    bundle = audit_bundle.audit_bundle(batch, user)
    return download(json.dumps(bundle, ensure_ascii=False, indent=1), JSON,
                    f"{batch.batch_number}-audit-bundle.json", attachment=True)
