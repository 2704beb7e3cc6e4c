"""API: label documents, printing, the chain-of-custody report and FHIR (SPEC §5, §6, §7).

Documents are open to every signed-in role (each download is audited);
sending a label to the printer is for technicians and QA.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Response
from marshmallow import fields, validate

from batches import services as batches
from labels import downloads, services
from lims.auth import current_actor_user, role_required
from lims.extensions import ApiBlueprint
from lims.schemas import StrictSchema, text

blp = ApiBlueprint("api_labels", __name__, url_prefix="/api/v1",
                   description="Labels (PDF, ZPL), printing, custody report, FHIR export")

WRITERS = ("technician", "qa")
RECORD_READERS = ("technician", "qa")
AUDITORS = ("qa", "admin")
FHIR_JSON = "application/fhir+json"


class DpiSchema(StrictSchema):
    dpi = fields.Integer(load_default=203, validate=validate.OneOf([203, 300]))


class VesselSchema(StrictSchema):
    vessel = text(40, required=False, metadata={"description": "e.g. 'Flask 3 / P2'"})


class PrintSchema(StrictSchema):
    reason = text(1000, required=False, metadata={"description": "required for a reprint"})
    dpi = fields.Integer(load_default=203, validate=validate.OneOf([203, 300]))


class LabelPrintSchema(ma.Schema):
    id = fields.Integer()
    dose_id = fields.Integer()
    copy_number = fields.Integer()
    reprint = fields.Boolean()
    reason = fields.String(allow_none=True)
    quarantine = fields.Boolean()
    printer = fields.String()
    dpi = fields.Integer()
    printed_by = fields.Function(lambda p: p.printed_by.username)
    printed_at = fields.DateTime(metadata={"description": "when the job was queued"})
    status = fields.String(metadata={
        "description": "queued (recorded, the printer's answer not recorded: while printing, "
                       "or the outcome was lost; counts as a copy) | sent | failed",
        "enum": ["queued", "sent", "failed"]})
    outcome_at = fields.DateTime(allow_none=True,
                                 metadata={"description": "when the outcome was recorded"})
    problem = fields.String(allow_none=True, metadata={"description": "why it failed"})


@blp.route("/doses/<int:dose_id>/label.pdf", methods=["GET"], endpoint="dose_label_pdf")
@blp.alt_response(409, description="The label cannot be drawn; details.reasons")
@blp.doc(responses={"200": {"description": "the dose label (PDF, label stock size)"}})
def dose_label_pdf(dose_id):
    """The dose label as PDF; QUARANTINE until the batch is released (SPEC §6)."""
    return downloads.dose_label(dose_id, "pdf")


@blp.route("/doses/<int:dose_id>/label.zpl", methods=["GET"], endpoint="dose_label_zpl")
@blp.alt_response(409, description="The label cannot be drawn; details.reasons")
@blp.arguments(DpiSchema, location="query")
@blp.doc(responses={"200": {"description": "the dose label (ZPL II)"}})
def dose_label_zpl(query, dose_id):
    """The dose label as ZPL for Zebra printers at 203 or 300 dpi (SPEC §6)."""
    return downloads.dose_label(dose_id, "zpl", query["dpi"])


@blp.route("/batches/<int:batch_id>/labels.pdf", methods=["GET"], endpoint="batch_labels_pdf")
@blp.alt_response(409, description="The batch has no doses to label")
@blp.doc(responses={"200": {"description": "every dose label of the batch on A4 sheets"}})
def batch_labels_pdf(batch_id):
    return downloads.batch_label_sheet(batch_id)


@blp.route("/batches/<int:batch_id>/vessel-label.pdf", methods=["GET"],
           endpoint="vessel_label_pdf")
@blp.alt_response(409, description="The in-process label cannot be drawn; details.reasons")
@blp.arguments(VesselSchema, location="query")
@blp.doc(responses={"200": {"description": "the culture vessel's in-process label (PDF)"}})
def vessel_label_pdf(query, batch_id):
    """In-process label for a culture vessel of the batch (SPEC §6)."""
    return downloads.vessel_label(batch_id, query.get("vessel"))


@blp.route("/collections/<int:collection_id>/label.pdf", methods=["GET"],
           endpoint="collection_label_pdf")
@blp.doc(responses={"200": {"description": "the collection's in-process label (PDF)"}})
def collection_label_pdf(collection_id):
    """In-process label for the collection container: its DIN (SPEC §6)."""
    return downloads.collection_label(collection_id)


@blp.route("/doses/<int:dose_id>/print", methods=["POST"], endpoint="print_dose_label")
@role_required(*WRITERS)
@blp.arguments(PrintSchema)
@blp.response(201, LabelPrintSchema)
@blp.alt_response(400, description="A reprint without a reason")
@blp.alt_response(409, description="No printer configured, or the dose may not be labelled")
@blp.alt_response(503, description="The printer could not be reached or dropped the job: "
                   "nothing was printed. The print job is kept as failed and audited; "
                   "details: printer, print_id, status")
def print_dose_label(data, dose_id):
    """Send the dose label to the network printer; counted and audited (SPEC §6).

    The job is recorded (queued) before the printer is contacted and its outcome after
    (SPEC §8): 201 with the job once the printer took it (status ``sent``), 503 when it
    failed (the job stays in ``GET /doses/{id}/prints`` as ``failed`` with the problem)."""
    return services.print_dose_label(batches.get_dose(dose_id), current_actor_user(),
                                     reason=data.get("reason"), dpi=data["dpi"])


@blp.route("/doses/<int:dose_id>/prints", methods=["GET"], endpoint="list_prints")
@blp.response(200, LabelPrintSchema(many=True))
def list_prints(dose_id):
    """Every print job of the dose label, failed ones included, first job first."""
    return services.list_prints(batches.get_dose(dose_id))


@blp.route("/doses/<int:dose_id>/custody-report.pdf", methods=["GET"], endpoint="custody_report")
@blp.doc(responses={"200": {"description": "the chain-of-custody report (PDF)"}})
def custody_report(dose_id):
    """Chain-of-custody report: identity, release signature, timeline, verdict (SPEC §5)."""
    return downloads.custody_report(dose_id)


@blp.route("/doses/<int:dose_id>/fhir", methods=["GET"], endpoint="dose_fhir")
@blp.doc(responses={"200": {"description": "FHIR R5 BiologicallyDerivedProduct",
                            "content": {FHIR_JSON: {"schema": {"type": "object"}}}}})
def dose_fhir(dose_id):
    """The dose as an HL7 FHIR R5 BiologicallyDerivedProduct (SPEC §6)."""
    return _fhir(services.dose_fhir(batches.get_dose(dose_id)))


@blp.route("/doses/<int:dose_id>/fhir-dispense", methods=["GET"], endpoint="dose_fhir_dispense")
@blp.doc(responses={"200": {"description": "FHIR R5 BiologicallyDerivedProductDispense",
                            "content": {FHIR_JSON: {"schema": {"type": "object"}}}}})
def dose_fhir_dispense(dose_id):
    """The administration as an R5 BiologicallyDerivedProductDispense; 404 before it."""
    return _fhir(services.dose_dispense_fhir(batches.get_dose(dose_id)))


def _fhir(resource: dict) -> Response:
    import json

    return Response(json.dumps(resource, ensure_ascii=False), mimetype=FHIR_JSON)


@blp.route("/batches/<int:batch_id>/batch-record.pdf", methods=["GET"], endpoint="batch_record_pdf")
@role_required(*RECORD_READERS)
@blp.doc(responses={"200": {"description": "the executed batch record (PDF)"}})
@blp.alt_response(403, description="Not a technician or QA officer")
def batch_record_pdf(batch_id):
    """Batch record: steps, corrections, QC results, deviations, doses, custody, signatures
    with their validity (SPEC §3, §8). Technicians and QA; audited."""
    return downloads.batch_record(batch_id)


@blp.route("/batches/<int:batch_id>/coa.pdf", methods=["GET"], endpoint="coa_pdf")
@role_required(*RECORD_READERS)
@blp.doc(responses={"200": {"description": "the certificate of analysis (PDF)"}})
@blp.alt_response(403, description="Not a technician or QA officer")
def coa_pdf(batch_id):
    """Certificate of analysis: specification vs result per release test, the release
    decision and signatures; "NOT RELEASED" unless released. Technicians and QA; audited."""
    return downloads.certificate_of_analysis(batch_id)


@blp.route("/batches/<int:batch_id>/audit-bundle.json", methods=["GET"],
           endpoint="audit_bundle")
@role_required(*AUDITORS)
@blp.doc(responses={"200": {"description": "the batch's records and audit entries with "
                                           "hashes, the chain head and a bundle digest"}})
@blp.alt_response(403, description="Not QA or admin")
def audit_bundle_json(batch_id):
    """The batch's record as a self-checking JSON bundle (SPEC §8); check it offline with
    ``python -m lims.audit.verify_bundle bundle.json``. QA and admin; audited."""
    return downloads.batch_audit_bundle(batch_id, current_actor_user())
