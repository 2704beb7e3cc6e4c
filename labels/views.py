"""Label pages for the bench terminal (SPEC §6, §7): open PDFs in the browser, send a
label to the printer (with a reason for a reprint), the chain-of-custody report.

The same services as the API; the web session authenticates (the API needs a token).
Buttons appear on the batches pages through ``labels/_*_actions.html`` partials.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for
from flask.typing import ResponseReturnValue

from batches import services as batches
from labels import downloads, services
from lims.auth import current_actor_user, role_required
from lims.errors import DomainError
from lims.web.forms import Done, flash_refusal, submit

bp = Blueprint("labels", __name__, template_folder="templates")

WRITERS = ("technician", "qa")


@bp.app_template_global("label_prints")
def label_prints(dose) -> list:
    return services.list_prints(dose)


@bp.route("/doses/<int:dose_id>/label.pdf")
def dose_label_pdf(dose_id: int) -> Response:
    return downloads.dose_label(dose_id, "pdf")


@bp.route("/batches/<int:batch_id>/labels.pdf")
def batch_labels_pdf(batch_id: int) -> Response:
    return downloads.batch_label_sheet(batch_id)


@bp.route("/batches/<int:batch_id>/vessel-label.pdf")
def vessel_label_pdf(batch_id: int) -> Response:
    return downloads.vessel_label(batch_id, request.args.get("vessel", "").strip()[:40] or None)


@bp.route("/collections/<int:collection_id>/label.pdf")
def collection_label_pdf(collection_id: int) -> Response:
    return downloads.collection_label(collection_id)


@bp.route("/doses/<int:dose_id>/custody-report.pdf")
def custody_report_pdf(dose_id: int) -> Response:
    return downloads.custody_report(dose_id)


@bp.route("/batches/<int:batch_id>/batch-record.pdf")
@role_required("technician", "qa")
def batch_record_pdf(batch_id: int) -> Response:
    return downloads.batch_record(batch_id)


@bp.route("/batches/<int:batch_id>/coa.pdf")
@role_required("technician", "qa")
def coa_pdf(batch_id: int) -> Response:
    return downloads.certificate_of_analysis(batch_id)


@bp.route("/batches/<int:batch_id>/audit-bundle.json")
@role_required("qa", "admin")
def audit_bundle_json(batch_id: int) -> Response:
    return downloads.batch_audit_bundle(batch_id, current_actor_user())


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
