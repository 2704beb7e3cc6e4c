"""Label pages for the bench terminal (SPEC §6, §7): open PDFs in the browser, send a
label to the printer (with a reason for a reprint), the chain-of-custody report.

The same services as the API; the web session authenticates (the API needs a token).
Buttons appear on the batches pages through ``labels/_*_actions.html`` partials.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for
from flask.typing import ResponseReturnValue

from batches import services as batches
from labels import audit_bundle, batch_documents, services
from lims.auth import current_actor_user, role_required
from lims.errors import DomainError
from lims.web.forms import Done, flash_refusal, submit

bp = Blueprint("labels", __name__, template_folder="templates")

WRITERS = ("technician", "qa")


def _pdf(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_global("label_prints")
def label_prints(dose) -> list:
    return services.list_prints(dose)


@bp.route("/doses/<int:dose_id>/label.pdf")
def dose_label_pdf(dose_id: int):
    dose = batches.get_dose(dose_id)
    return _pdf(services.dose_label_document(dose, "pdf"), f"{dose.code}.pdf")


@bp.route("/batches/<int:batch_id>/labels.pdf")
def batch_labels_pdf(batch_id: int):
    batch = batches.get_batch(batch_id)
    return _pdf(services.batch_label_sheet(batch), f"{batch.batch_number}-labels.pdf")


@bp.route("/batches/<int:batch_id>/vessel-label.pdf")
def vessel_label_pdf(batch_id: int):
    batch = batches.get_batch(batch_id)
    vessel = request.args.get("vessel", "").strip()[:40] or None
    return _pdf(services.vessel_label_document(batch, "pdf", vessel),
                f"{batch.batch_number}-vessel.pdf")


@bp.route("/collections/<int:collection_id>/label.pdf")
def collection_label_pdf(collection_id: int):
    collection = batches.get_collection(collection_id)
    return _pdf(services.collection_label_document(collection, "pdf"), f"{collection.din}.pdf")


@bp.route("/doses/<int:dose_id>/custody-report.pdf")
def custody_report_pdf(dose_id: int):
    dose = batches.get_dose(dose_id)
    return _pdf(services.custody_report(dose), f"{dose.code}-custody.pdf")


@bp.route("/batches/<int:batch_id>/batch-record.pdf")
@role_required("technician", "qa")
def batch_record_pdf(batch_id: int):
    batch = batches.get_batch(batch_id)
    return _pdf(batch_documents.batch_record_pdf(batch), f"{batch.batch_number}-batch-record.pdf")


@bp.route("/batches/<int:batch_id>/coa.pdf")
@role_required("technician", "qa")
def coa_pdf(batch_id: int):
    batch = batches.get_batch(batch_id)
    return _pdf(batch_documents.coa_pdf(batch), f"{batch.batch_number}-coa.pdf")


@bp.route("/batches/<int:batch_id>/audit-bundle.json")
@role_required("qa", "admin")
def audit_bundle_json(batch_id: int):
    import json

    batch = batches.get_batch(batch_id)
    bundle = audit_bundle.audit_bundle(batch, current_actor_user())
    response = Response(json.dumps(bundle, ensure_ascii=False, indent=1),
                        mimetype="application/json")
    response.headers["Content-Disposition"] = \
        f'attachment; filename="{batch.batch_number}-audit-bundle.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/doses/<int:dose_id>/print", methods=["POST"])
@role_required(*WRITERS)
def print_dose_label(dose_id: int):
    """"Send to printer": counted and audited; a reprint needs the reason field. Back to the
    dose page either way (a refusal: 303, its message and reasons flashed)."""
    dose = batches.get_dose(dose_id)
    reason = request.form.get("reason", "").strip()[:1000] or None
    back = url_for("batches.dose_page", dose_id=dose_id)

    def refused(refusal: DomainError) -> ResponseReturnValue:
        flash_refusal(refusal, with_fields=False)
        return redirect(back), 303

    return submit(None, lambda _data, user: services.print_dose_label(dose, user, reason=reason),
                  done=lambda printed: Done(f"{'Reprint' if printed.reprint else 'Label'} sent "
                                            f"to {printed.printer} (copy {printed.copy_number}).",
                                            back),
                  page=lambda status, _errors: (redirect(back), status), on_refusal=refused)
