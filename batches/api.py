"""API: subjects, screening, collections, batches, culture steps, doses, templates (SPEC §7).

Technicians and QA write GMP data; QA signs donor eligibility and resumes held
batches; admins edit products; admins and QA propose changes of process templates, which
a second QA officer approves with an e-signature (issue 12). Every route needs a token.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from batches import services
from batches.change_rules import ChangeKind
from batches.lookback import lookback_from
from batches.models import Product
from batches.schemas import (
    DECISION_REFUSED,
    LOCKED,
    AdministrationSchema,
    BatchCreateSchema,
    BatchQuerySchema,
    BatchSchema,
    ChangeApprovalSchema,
    ChangeQuerySchema,
    ChangeRejectionSchema,
    ChangeWithdrawalSchema,
    CollectionCreateSchema,
    CollectionSchema,
    CustodyEventCreateSchema,
    CustodyEventSchema,
    DonorScreeningHistorySchema,
    DonorScreeningSchema,
    DoseSchema,
    DueStepSchema,
    EligibilitySchema,
    FormulationSchema,
    HistoryQuerySchema,
    LookbackSchema,
    MarkerCorrectionCreateSchema,
    MarkerCorrectionSchema,
    ProductSchema,
    ProductUpdateSchema,
    ReasonSchema,
    RecipientScreeningSchema,
    StepCorrectionSchema,
    StepCreateSchema,
    StepSchema,
    SubjectCreateSchema,
    SubjectQuerySchema,
    SubjectSchema,
    TemplateChangeCreateSchema,
    TemplateChangeSchema,
    TemplateRevisionSchema,
    TemplateSchema,
)
from lims.auth import current_actor_user, role_required
from lims.db import db
from lims.errors import NotFound
from lims.extensions import ApiBlueprint
from lims.paging import NEXT_PAGE_HEADER, next_page_link

blp = ApiBlueprint("api_batches", __name__, url_prefix="/api/v1",
                   description="Subjects, screening, collections, batches, culture steps, doses")

WRITERS = ("technician", "qa")


# -- subjects and screening ---------------------------------------------------------------


@blp.route("/subjects", methods=["POST"], endpoint="create_subject")
@role_required(*WRITERS)
@blp.arguments(SubjectCreateSchema)
@blp.response(201, SubjectSchema)
@blp.alt_response(409, description="The code is taken")
def create_subject(data):
    """Register a patient or donor by pseudonymised code (SPEC §2 Subject)."""
    return services.register_subject(data, current_actor_user())


@blp.route("/subjects", methods=["GET"], endpoint="list_subjects")
@blp.arguments(SubjectQuerySchema, location="query")
@blp.response(200, SubjectSchema(many=True))
def list_subjects(query):
    """Subjects, optionally by kind or code fragment."""
    return services.list_subjects(**query)


@blp.route("/subjects/<int:subject_id>", methods=["GET"], endpoint="get_subject")
@blp.response(200, SubjectSchema)
def get_subject(subject_id):
    """A subject with its recipient and donor status and latest screenings."""
    return services.get_subject(subject_id)


@blp.route("/subjects/<int:subject_id>/recipient-screening", methods=["POST"],
           endpoint="screen_recipient")
@blp.alt_response(409, description="Recipient screening is for patients")
@role_required(*WRITERS)
@blp.arguments(RecipientScreeningSchema)
@blp.response(200, SubjectSchema)
def screen_recipient(data, subject_id):
    """Record the contraindications present (SPEC §2): any → contraindicated, none → cleared."""
    subject = services.get_subject(subject_id)
    services.screen_recipient(subject, data["contraindications"], current_actor_user())
    return subject


@blp.route("/subjects/<int:subject_id>/donor-screening", methods=["POST"],
           endpoint="screen_donor")
@blp.alt_response(409, description="The screening does not fit the subject; details.reasons")
@role_required(*WRITERS)
@blp.arguments(DonorScreeningSchema)
@blp.response(200, SubjectSchema)
def screen_donor(data, subject_id):
    """Record a donor specimen's markers (SPEC §2): any reactive marker but CMV → ineligible
    (a reactive CMV is recorded and labelled, 21 CFR 1271.85(b)(2)). For a patient: their
    own optional infectious-disease testing for autologous use (21 CFR 1271.90(c)) — no
    eligibility, nothing blocked; a reactive marker (CMV included) puts the biohazard legend
    and the reactive warning on their autologous dose labels and flags segregated storage."""
    subject = services.get_subject(subject_id)
    services.screen_donor(subject, data["specimen_collected_at"], data["markers"],
                          current_actor_user(), data["specimen_source"])
    return subject


@blp.route("/subjects/<int:subject_id>/donor-eligibility", methods=["POST"],
           endpoint="sign_donor_eligibility")
@role_required("qa")
@blp.arguments(EligibilitySchema)
@blp.response(200, SubjectSchema)
@blp.alt_response(409, description="A marker is pending, or reactive and disqualifying")
def sign_donor_eligibility(data, subject_id):
    """QA signs the donor eligible (e-signature, meaning approval); 409 while a marker is
    pending or a disqualifying one is reactive (CMV reactive is not disqualifying)."""
    subject = services.get_subject(subject_id)
    services.determine_eligibility(subject, data["password"], data["meaning"],
                                   current_actor_user(), username=data.get("username"))
    return subject


@blp.route("/subjects/<int:subject_id>/donor-screenings", methods=["GET"],
           endpoint="donor_screenings")
@blp.arguments(HistoryQuerySchema, location="query")
@blp.response(200, DonorScreeningHistorySchema(many=True))
def donor_screenings(query, subject_id):
    """The donor's screening history, oldest first, with every marker correction (SPEC §2:
    results are a history). Paged: ``?limit=&after=<last id>``, ``Link: rel="next"``."""
    subject = services.get_subject(subject_id)
    rows = services.donor_screenings(subject, query["after"], query["limit"])
    headers = {}
    if len(rows) == query["limit"]:
        following = url_for("api_batches.donor_screenings", subject_id=subject_id,
                            limit=query["limit"], after=rows[-1].id)
        headers["Link"] = f'<{following}>; rel="next"'
    return rows, 200, headers


@blp.route("/donor-screenings/<int:screening_id>/corrections", methods=["POST"],
           endpoint="correct_donor_markers")
@role_required(*WRITERS)
@blp.arguments(MarkerCorrectionCreateSchema)
@blp.response(201, MarkerCorrectionSchema)
@blp.alt_response(409, description="A correction awaits verification, or the screening was "
                                   "superseded; details.reasons")
def correct_donor_markers(data, screening_id):
    """Correct recorded markers with a reason (SPEC §2); it counts once a second person
    verifies it."""
    return services.correct_donor_markers(services.get_donor_screening(screening_id),
                                          data["markers"], data["reason"],
                                          current_actor_user())


@blp.route("/donor-marker-corrections/<int:correction_id>/verify", methods=["POST"],
           endpoint="verify_marker_correction")
@role_required(*WRITERS)
@blp.response(200, MarkerCorrectionSchema)
@blp.alt_response(409, description="Already verified, entered by the caller, or the "
                                   "screening changed meanwhile")
def verify_marker_correction(correction_id):
    """A second person verifies a marker correction: the markers change (audited), the
    donor's status is recomputed, released batches are suspended (SPEC §2, §3b)."""
    return services.verify_marker_correction(services.get_marker_correction(correction_id),
                                             current_actor_user())


@blp.route("/subjects/<int:subject_id>/lookback", methods=["GET"], endpoint="subject_lookback")
@blp.response(200, LookbackSchema)
def subject_lookback(subject_id):
    """Look-back from a donor (or patient): every collection, batch and dose derived from
    them, with status, location and recipient (SPEC §3b)."""
    return lookback_from("subject", subject_id)


@blp.route("/collections/<int:collection_id>/lookback", methods=["GET"],
           endpoint="collection_lookback")
@blp.response(200, LookbackSchema)
def collection_lookback(collection_id):
    """Look-back from a collection: its batches and doses, with status, location and
    recipient (SPEC §3b)."""
    return lookback_from("collection", collection_id)


# -- collections -----------------------------------------------------------------------


@blp.route("/collections", methods=["POST"], endpoint="create_collection")
@blp.alt_response(409, description="A collection rule refused it (donor specimen window, "
                  "DIN sequence); details.reasons")
@blp.alt_response(404, description="The subject does not exist")
@role_required(*WRITERS)
@blp.arguments(CollectionCreateSchema)
@blp.response(201, CollectionSchema)
def create_collection(data):
    """Register a harvest or donation; it gets its DIN (SPEC §2, §6)."""
    return services.register_collection(data, current_actor_user())


@blp.route("/collections", methods=["GET"], endpoint="list_collections")
@blp.response(200, CollectionSchema(many=True))
def list_collections():
    """The latest collections."""
    return services.list_collections()


@blp.route("/collections/<int:collection_id>", methods=["GET"], endpoint="get_collection")
@blp.response(200, CollectionSchema)
def get_collection(collection_id):
    return services.get_collection(collection_id)


# -- batches ---------------------------------------------------------------------------


@blp.route("/batches", methods=["POST"], endpoint="create_batch")
@blp.alt_response(404, description="The collection or the recipient does not exist")
@role_required(*WRITERS)
@blp.arguments(BatchCreateSchema)
@blp.response(201, BatchSchema)
@blp.alt_response(409, description="A registration rule refused it; details.reasons")
def create_batch(data):
    """Register a batch (SPEC §3): 409 with every reason when a rule refuses it."""
    return services.register_batch(data, current_actor_user())


@blp.route("/batches", methods=["GET"], endpoint="list_batches")
@blp.arguments(BatchQuerySchema, location="query")
@blp.response(200, BatchSchema(many=True))
def list_batches(query):
    """Batches, optionally by status."""
    return services.list_batches(**query)


@blp.route("/batches/<int:batch_id>", methods=["GET"], endpoint="get_batch")
@blp.response(200, BatchSchema)
def get_batch(batch_id):
    """A batch with its status and quarantine."""
    return services.get_batch(batch_id)


@blp.route("/batches/<int:batch_id>/hold", methods=["POST"], endpoint="hold_batch")
@blp.alt_response(409, description="The batch cannot be put on hold in its state")
@role_required(*WRITERS)
@blp.arguments(ReasonSchema)
@blp.response(200, BatchSchema)
def hold_batch(data, batch_id):
    """Put an active batch on hold, with a reason (SPEC §3)."""
    return services.hold_batch(services.get_batch(batch_id), data["reason"],
                               current_actor_user())


@blp.route("/batches/<int:batch_id>/resume", methods=["POST"], endpoint="resume_batch")
@blp.alt_response(409, description="The batch is not on hold")
@role_required("qa")
@blp.arguments(ReasonSchema)
@blp.response(200, BatchSchema)
def resume_batch(data, batch_id):
    """QA resumes a held batch to its status before the hold, with a reason (SPEC §3)."""
    return services.resume_batch(services.get_batch(batch_id), data["reason"],
                                 current_actor_user())


# -- culture steps ---------------------------------------------------------------------


@blp.route("/batches/<int:batch_id>/steps", methods=["POST"], endpoint="log_step")
@role_required(*WRITERS)
@blp.arguments(StepCreateSchema)
@blp.response(201, StepSchema)
@blp.alt_response(409, description="The step does not fit the batch; details.reasons")
def log_step(data, batch_id):
    """Log a performed step; the template schedules the next ones (SPEC §2, §7)."""
    return services.log_step(services.get_batch(batch_id), data, current_actor_user())


@blp.route("/batches/<int:batch_id>/steps", methods=["GET"], endpoint="list_steps")
@blp.response(200, StepSchema(many=True))
def list_steps(batch_id):
    """Done, pending (with due_at), overdue and cancelled steps of a batch."""
    return services.list_steps(services.get_batch(batch_id))


@blp.route("/steps/due", methods=["GET"], endpoint="due_steps")
@blp.response(200, DueStepSchema(many=True))
def due_steps():
    """Pending steps due by the end of today (facility time), earliest first."""
    return services.due_steps()


@blp.route("/steps/<int:step_id>", methods=["GET"], endpoint="get_step")
@blp.response(200, StepSchema)
def get_step(step_id):
    return services.get_step(step_id)


@blp.route("/steps/<int:step_id>", methods=["PATCH"], endpoint="correct_step")
@blp.alt_response(405, description="Not for /steps/due (a read-only listing, not a step id)")
@blp.alt_response(409, description="The step cannot be corrected; details.reasons")
@role_required(*WRITERS)
@blp.arguments(StepCorrectionSchema)
@blp.response(200, StepSchema)
def correct_step(data, step_id):
    """Correct a performed step's values; needs a reason, keeps the old value (SPEC §8)."""
    reason = data.pop("reason")
    return services.correct_step(services.get_step(step_id), data, reason, current_actor_user())


# -- doses -----------------------------------------------------------------------------


@blp.route("/batches/<int:batch_id>/doses", methods=["POST"], endpoint="formulate")
@role_required(*WRITERS)
@blp.arguments(FormulationSchema)
@blp.response(201, DoseSchema(many=True))
@blp.alt_response(409, description="The batch cannot be formulated; details.reasons")
def formulate(data, batch_id):
    """Split a harvested batch into doses; the batch moves to qc_review (SPEC §2, §3, §6)."""
    return services.formulate(services.get_batch(batch_id), data, current_actor_user())


@blp.route("/batches/<int:batch_id>/doses", methods=["GET"], endpoint="list_doses")
@blp.response(200, DoseSchema(many=True))
def list_doses(batch_id):
    return services.get_batch(batch_id).doses


@blp.route("/doses/<int:dose_id>", methods=["GET"], endpoint="get_dose")
@blp.response(200, DoseSchema)
def get_dose(dose_id):
    """A dose with its identifiers and the exact texts its label encodes (``barcodes``)."""
    return services.get_dose(dose_id)


# -- custody and administration -----------------------------------------------------------


@blp.route("/doses/<int:dose_id>/custody", methods=["POST"], endpoint="record_custody")
@role_required(*WRITERS)
@blp.arguments(CustodyEventCreateSchema)
@blp.response(201, CustodyEventSchema)
@blp.alt_response(409, description="Wrong label scanned (kept in the audit trail) or the "
                                   "event does not follow; details.reasons")
def record_custody(data, dose_id):
    """Record a handoff confirmed by scanning the dose label (SPEC §5, §7)."""
    return services.record_custody_event(services.get_dose(dose_id), data, current_actor_user())


@blp.route("/doses/<int:dose_id>/custody", methods=["GET"], endpoint="custody_timeline")
@blp.response(200, CustodyEventSchema(many=True))
def custody_timeline(dose_id):
    """The dose's custody events, oldest first (its collection's events are on the collection)."""
    return services.custody_events(dose=services.get_dose(dose_id))


@blp.route("/doses/<int:dose_id>/administer", methods=["POST"], endpoint="administer")
@role_required(*WRITERS)
@blp.arguments(AdministrationSchema)
@blp.response(200, DoseSchema)
@blp.alt_response(409, description="Identity mismatch (audited, alerted) or the dose cannot "
                                   "be given yet; details.reasons")
def administer(data, dose_id):
    """Bedside identity check, then record the administration (SPEC §5)."""
    dose = services.get_dose(dose_id)
    services.administer_dose(dose, data, current_actor_user())
    return dose


# -- products and process templates ------------------------------------------------------


@blp.route("/products", methods=["GET"], endpoint="list_products")
@blp.response(200, ProductSchema(many=True))
def list_products():
    return services.list_products()


@blp.route("/products/<code>", methods=["PATCH"], endpoint="update_product")
@role_required("admin")
@blp.arguments(ProductUpdateSchema)
@blp.response(200, ProductSchema)
def update_product(data, code):
    """Edit a product's data (admin), with a reason."""
    product = db.session.scalar(select(Product).where(Product.code == code[:10]))
    if product is None:
        raise NotFound(f"No product {code[:10]!r}.")
    reason = data.pop("reason")
    return services.update_product(product, data, reason, current_actor_user())


@blp.route("/process-templates", methods=["GET"], endpoint="list_templates")
@blp.response(200, TemplateSchema(many=True))
def list_templates():
    """The active process template of each product."""
    return services.list_templates()


@blp.route("/process-templates/<int:template_id>", methods=["GET"], endpoint="get_template")
@blp.response(200, TemplateSchema)
def get_template(template_id):
    return services.get_template(template_id)


@blp.route("/process-templates/<int:template_id>/revisions", methods=["POST"],
           endpoint="revise_template")
@blp.alt_response(409, description="The template is retired, or it already has an open change; "
                                   "details.reasons")
@role_required("admin", "qa")
@blp.arguments(TemplateRevisionSchema)
@blp.response(202, TemplateChangeSchema)
def revise_template(data, template_id):
    """Propose a new version of a process template (admin or QA; issue 12): answered with the
    change, ``proposed`` — nothing changes until a QA officer other than the proposer signs
    its approval (``POST /process-template-changes/{id}/approve``)."""
    reason = data.pop("reason")
    change = services.revise_template(services.get_template(template_id), data, reason,
                                      current_actor_user())
    return services.describe_change(services.TEMPLATE, change)


# -- change control of process templates (issue 12) ------------------------------------------

@blp.route("/process-template-changes", methods=["GET"], endpoint="list_template_changes")
@blp.arguments(ChangeQuerySchema, location="query")
@blp.response(200, TemplateChangeSchema(many=True), headers=NEXT_PAGE_HEADER)
def list_template_changes(query):
    """Changes of process templates, oldest first, each with what it changes (paged:
    ``?limit=&after=``, ``Link: rel="next"``)."""
    rows, more = services.list_changes(ChangeKind.process_template, product=query.get("product"),
                                       status=query.get("status"), after=query["after"],
                                       limit=query["limit"])
    return ([services.describe_change(services.TEMPLATE, c) for c in rows], 200,
            next_page_link(rows, query["limit"], more))


@blp.route("/process-template-changes", methods=["POST"], endpoint="propose_template_change")
@blp.alt_response(409, description="The template already has an open change, or the product "
                                   "has no active template; details.reasons")
@role_required("admin", "qa")
@blp.arguments(TemplateChangeCreateSchema)
@blp.response(201, TemplateChangeSchema)
def propose_template_change(data):
    """Propose a new version of a product's process template (admin or QA), with a reason;
    fields left out are kept. In force only once a QA officer signs its approval."""
    reason = data.pop("reason")
    product = services.find_product(data.pop("product"))
    change = services.propose_template_change(product, data, reason, current_actor_user())
    return services.describe_change(services.TEMPLATE, change)


@blp.route("/process-template-changes/<int:change_id>", methods=["GET"],
           endpoint="get_template_change")
@blp.response(200, TemplateChangeSchema)
def get_template_change(change_id):
    """The change, what it does against the version it was proposed against (weakening items
    flagged), and the digest a decision signs."""
    return services.describe_change(services.TEMPLATE, services.get_template_change(change_id))


@blp.route("/process-template-changes/<int:change_id>/approve", methods=["POST"],
           endpoint="approve_template_change")
@blp.alt_response(409, description=DECISION_REFUSED)
@blp.alt_response(423, description=LOCKED)
@role_required("qa")
@blp.arguments(ChangeApprovalSchema)
@blp.response(200, TemplateChangeSchema)
def approve_template_change(data, change_id):
    """A QA officer other than the proposer signs the approval: the new version is the
    product's active template from now; running batches keep theirs."""
    change = services.approve_change(
        services.TEMPLATE, services.get_template_change(change_id), data["password"],
        data["meaning"], current_actor_user(), username=data.get("username"),
        shown_digest=data.get("digest"))
    return services.describe_change(services.TEMPLATE, change)


@blp.route("/process-template-changes/<int:change_id>/reject", methods=["POST"],
           endpoint="reject_template_change")
@blp.alt_response(409, description=DECISION_REFUSED)
@blp.alt_response(423, description=LOCKED)
@role_required("qa")
@blp.arguments(ChangeRejectionSchema)
@blp.response(200, TemplateChangeSchema)
def reject_template_change(data, change_id):
    """A QA officer other than the proposer signs a rejection, with a reason."""
    change = services.reject_change(
        services.TEMPLATE, services.get_template_change(change_id), data["password"],
        data["meaning"], data["reason"], current_actor_user(), username=data.get("username"))
    return services.describe_change(services.TEMPLATE, change)


@blp.route("/process-template-changes/<int:change_id>/withdraw", methods=["POST"],
           endpoint="withdraw_template_change")
@blp.alt_response(409, description="Not open, or not the caller's own change; details.reasons")
@role_required("admin", "qa")
@blp.arguments(ChangeWithdrawalSchema)
@blp.response(200, TemplateChangeSchema)
def withdraw_template_change(data, change_id):
    """The proposer withdraws an open change, with a reason."""
    change = services.withdraw_change(services.get_template_change(change_id), data["reason"],
                                      current_actor_user())
    return services.describe_change(services.TEMPLATE, change)
