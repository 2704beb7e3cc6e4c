"""API: QC specifications, results and review, deviations, release and rejection (SPEC §7).

Technicians and QA enter, review and correct results and open deviations; QA closes
deviations and signs release, rejection and exceptional release; admins and QA propose
changes of specifications, which a second QA officer approves with an e-signature (issue
12). Every route needs a token.
"""

from __future__ import annotations

from typing import Any

from batches import services as batch_services
from batches.change_control import (
    approve_change,
    describe_change,
    list_changes,
    reject_change,
    withdraw_change,
)
from batches.change_rules import ChangeKind
from batches.lifecycle import BatchStatus
from batches.lookback import lookback_from
from batches.schemas import (
    DECISION_REFUSED,
    LOCKED,
    ChangeApprovalSchema,
    ChangeRejectionSchema,
    ChangeWithdrawalSchema,
    LookbackSchema,
)
from lims.auth import current_actor_user, role_required
from lims.auth.models import Role
from lims.extensions import ApiBlueprint
from lims.paging import NEXT_PAGE_HEADER, next_page_link
from qc import services
from qc.schemas import (
    AcknowledgementSchema,
    DeviationCloseSchema,
    DeviationCreateSchema,
    DeviationQuerySchema,
    DeviationSchema,
    DispositionSchema,
    EmptySchema,
    ExceptionalApproveSchema,
    ExceptionalRequestSchema,
    FollowUpSchema,
    InvestigationSchema,
    NotificationCreateSchema,
    NotificationSchema,
    PhysicianNotificationSchema,
    QcResultSchema,
    QueueEntrySchema,
    RecallCloseSchema,
    RecallRecordSchema,
    RecallSchema,
    RejectSchema,
    ReleaseInfoSchema,
    ReleaseSchema,
    ResultCorrectionSchema,
    ResultCreateSchema,
    SpecChangeCreateSchema,
    SpecChangeQuerySchema,
    SpecChangeSchema,
    SpecificationSchema,
    SpecQuerySchema,
    SpecRevisionSchema,
)

blp = ApiBlueprint("api_qc", __name__, url_prefix="/api/v1",
                   description="QC specifications, results, deviations, release and rejection")

WRITERS = ("technician", "qa")


def release_info(batch, user=None) -> dict[str, Any]:
    """:func:`qc.services.batch_release_info` plus the deciding signature and, for QA,
    what still stands between the batch and a release signed by the caller."""
    info = services.batch_release_info(batch)
    info["signature"] = info["signatures"][-1] if info["signatures"] else None
    info["unmet"] = ([u.as_dict() for u in services.release_readiness(batch, user)]
                     if user is not None and batch.status in (BatchStatus.qc_review,
                                                              BatchStatus.release_suspended)
                     else [])
    return info


# -- specifications ---------------------------------------------------------------------------


@blp.route("/qc-specifications", methods=["GET"], endpoint="list_specifications")
@blp.arguments(SpecQuerySchema, location="query")
@blp.response(200, SpecificationSchema(many=True))
def list_specifications(query):
    """Specifications by product and stage, every version (``current=true``: the latest)."""
    return services.list_specifications(query.get("product"), query["current"])


@blp.route("/qc-specifications/<int:spec_id>", methods=["GET"], endpoint="get_specification")
@blp.response(200, SpecificationSchema)
def get_specification(spec_id):
    return services.get_specification(spec_id)


@blp.route("/qc-specifications/<int:spec_id>/revise", methods=["POST"],
           endpoint="revise_specification")
@blp.alt_response(409, description="The specification already has an open change; "
                                   "details.reasons")
@role_required("admin", "qa")
@blp.arguments(SpecRevisionSchema)
@blp.response(202, SpecChangeSchema)
def revise_specification(data, spec_id):
    """Propose a new version of the specification's (product, stage) (admin or QA; issue 12):
    answered with the change, ``proposed`` — nothing changes until a QA officer other than
    the proposer signs its approval (``POST /qc-specification-changes/{id}/approve``)."""
    change = services.revise_specification(services.get_specification(spec_id), data["tests"],
                                           data["reason"], current_actor_user())
    return describe_change(services.SPECIFICATION, change)


# -- change control of specifications (issue 12) ---------------------------------------------


@blp.route("/qc-specification-changes", methods=["GET"], endpoint="list_spec_changes")
@blp.arguments(SpecChangeQuerySchema, location="query")
@blp.response(200, SpecChangeSchema(many=True), headers=NEXT_PAGE_HEADER)
def list_spec_changes(query):
    """Changes of QC specifications, oldest first, each with what it changes (paged:
    ``?limit=&after=``, ``Link: rel="next"``)."""
    rows, more = list_changes(ChangeKind.qc_specification, product=query.get("product"),
                              stage=query.get("stage"), status=query.get("status"),
                              after=query["after"], limit=query["limit"])
    return ([describe_change(services.SPECIFICATION, c) for c in rows], 200,
            next_page_link(rows, query["limit"], more))


@blp.route("/qc-specification-changes", methods=["POST"], endpoint="propose_spec_change")
@blp.alt_response(409, description="The specification already has an open change; "
                                   "details.reasons")
@role_required("admin", "qa")
@blp.arguments(SpecChangeCreateSchema)
@blp.response(201, SpecChangeSchema)
def propose_spec_change(data):
    """Propose a new version of a (product, stage) specification — every test it will have —
    with a reason (admin or QA). In force only once a QA officer signs its approval."""
    change = services.propose_spec_change(batch_services.find_product(data["product"]),
                                          data["stage"], data["tests"], data["reason"],
                                          current_actor_user())
    return describe_change(services.SPECIFICATION, change)


@blp.route("/qc-specification-changes/<int:change_id>", methods=["GET"],
           endpoint="get_spec_change")
@blp.response(200, SpecChangeSchema)
def get_spec_change(change_id):
    """The change, what it does against the version it was proposed against (weakening items
    flagged: a release test removed, a limit loosened…), and the digest a decision signs."""
    return describe_change(services.SPECIFICATION, services.get_spec_change(change_id))


@blp.route("/qc-specification-changes/<int:change_id>/approve", methods=["POST"],
           endpoint="approve_spec_change")
@blp.alt_response(409, description=DECISION_REFUSED)
@blp.alt_response(423, description=LOCKED)
@role_required("qa")
@blp.arguments(ChangeApprovalSchema)
@blp.response(200, SpecChangeSchema)
def approve_spec_change(data, change_id):
    """A QA officer other than the proposer signs the approval: the new version is in force
    from the signing time; batches registered earlier keep theirs."""
    change = approve_change(services.SPECIFICATION, services.get_spec_change(change_id),
                            data["password"], data["meaning"], current_actor_user(),
                            username=data.get("username"), shown_digest=data.get("digest"))
    return describe_change(services.SPECIFICATION, change)


@blp.route("/qc-specification-changes/<int:change_id>/reject", methods=["POST"],
           endpoint="reject_spec_change")
@blp.alt_response(409, description=DECISION_REFUSED)
@blp.alt_response(423, description=LOCKED)
@role_required("qa")
@blp.arguments(ChangeRejectionSchema)
@blp.response(200, SpecChangeSchema)
def reject_spec_change(data, change_id):
    """A QA officer other than the proposer signs a rejection, with a reason."""
    change = reject_change(services.SPECIFICATION, services.get_spec_change(change_id),
                           data["password"], data["meaning"], data["reason"],
                           current_actor_user(), username=data.get("username"))
    return describe_change(services.SPECIFICATION, change)


@blp.route("/qc-specification-changes/<int:change_id>/withdraw", methods=["POST"],
           endpoint="withdraw_spec_change")
@blp.alt_response(409, description="Not open, or not the caller's own change; details.reasons")
@role_required("admin", "qa")
@blp.arguments(ChangeWithdrawalSchema)
@blp.response(200, SpecChangeSchema)
def withdraw_spec_change(data, change_id):
    """The proposer withdraws an open change, with a reason."""
    change = withdraw_change(services.get_spec_change(change_id), data["reason"],
                             current_actor_user())
    return describe_change(services.SPECIFICATION, change)


@blp.route("/batches/<int:batch_id>/qc-specification", methods=["GET"],
           endpoint="batch_specification")
@blp.response(200, SpecificationSchema)
def batch_specification(batch_id):
    """The release specification the batch is judged by (in force at its registration)."""
    from lims.errors import NotFound

    spec = services.spec_for_batch(batch_services.get_batch(batch_id))
    if spec is None:
        raise NotFound("No release specification is in force for this batch.")
    return spec


# -- results ----------------------------------------------------------------------------------


@blp.route("/batches/<int:batch_id>/qc-results", methods=["POST"], endpoint="enter_result")
@blp.alt_response(409, description="The batch takes no new results in its state")
@role_required(*WRITERS)
@blp.arguments(ResultCreateSchema)
@blp.response(201, QcResultSchema)
@blp.alt_response(400, description="Does not fit the specification (e.g. unit mismatch)")
def enter_result(data, batch_id):
    """Enter a QC result; the server evaluates pass/fail; a fail opens a deviation."""
    return services.enter_result(batch_services.get_batch(batch_id), data,
                                 current_actor_user())


@blp.route("/batches/<int:batch_id>/qc-results", methods=["GET"], endpoint="list_results")
@blp.response(200, QcResultSchema(many=True))
def list_results(batch_id):
    return services.list_results(batch_services.get_batch(batch_id), with_deviations=True)


@blp.route("/qc-results/<int:result_id>", methods=["GET"], endpoint="get_result")
@blp.response(200, QcResultSchema)
def get_result(result_id):
    return services.get_result(result_id)


@blp.route("/qc-results/<int:result_id>/review", methods=["POST"], endpoint="review_result")
@role_required(*WRITERS)
@blp.arguments(EmptySchema(partial=True), required=False)
@blp.response(200, QcResultSchema)
@blp.alt_response(409, description="The analyst cannot review their own result")
def review_result(_data, result_id):
    """Second-person review: anyone but the analyst (409 for the analyst)."""
    return services.review_result(services.get_result(result_id), current_actor_user())


@blp.route("/qc-results/<int:result_id>/correct", methods=["POST"], endpoint="correct_result")
@role_required(*WRITERS)
@blp.arguments(ResultCorrectionSchema)
@blp.response(200, QcResultSchema)
def correct_result(data, result_id):
    """Correct a result with a reason: re-evaluated, needs a new review, audited."""
    reason = data.pop("reason")
    return services.correct_result(services.get_result(result_id), data, reason,
                                   current_actor_user())


# -- deviations -------------------------------------------------------------------------------


@blp.route("/batches/<int:batch_id>/deviations", methods=["GET"], endpoint="batch_deviations")
@blp.arguments(DeviationQuerySchema, location="query")
@blp.response(200, DeviationSchema(many=True))
def batch_deviations(query, batch_id):
    """The batch's deviations, open first."""
    return services.list_deviations(batch_services.get_batch(batch_id), query.get("open"))


@blp.route("/batches/<int:batch_id>/deviations", methods=["POST"], endpoint="open_deviation")
@role_required(*WRITERS)
@blp.arguments(DeviationCreateSchema)
@blp.response(201, DeviationSchema)
def open_deviation(data, batch_id):
    """Open a deviation by hand (kind ``other``)."""
    return services.open_deviation(batch_services.get_batch(batch_id), data["description"],
                                   current_actor_user())


@blp.route("/deviations", methods=["GET"], endpoint="list_deviations")
@blp.arguments(DeviationQuerySchema, location="query")
@blp.response(200, DeviationSchema(many=True))
def list_deviations(query):
    return services.list_deviations(open_only=query.get("open"))


@blp.route("/deviations/<int:deviation_id>", methods=["GET"], endpoint="get_deviation")
@blp.response(200, DeviationSchema)
def get_deviation(deviation_id):
    return services.get_deviation(deviation_id)


@blp.route("/deviations/<int:deviation_id>/investigation", methods=["POST"],
           endpoint="record_investigation")
@blp.alt_response(409, description="The deviation is closed")
@role_required(*WRITERS)
@blp.arguments(InvestigationSchema)
@blp.response(200, DeviationSchema)
def record_investigation(data, deviation_id):
    """Write the investigation of an open deviation (every change audited)."""
    return services.record_investigation(services.get_deviation(deviation_id),
                                         data["investigation"], current_actor_user())


@blp.route("/deviations/<int:deviation_id>/close", methods=["POST"], endpoint="close_deviation")
@blp.alt_response(409, description="The deviation is already closed")
@role_required("qa")
@blp.arguments(DeviationCloseSchema)
@blp.response(200, DeviationSchema)
def close_deviation(data, deviation_id):
    """QA closes a deviation with a disposition and an e-signature."""
    return services.close_deviation(services.get_deviation(deviation_id), data["disposition"],
                                    data["password"], data["meaning"], current_actor_user(),
                                    username=data.get("username"))


# -- release ----------------------------------------------------------------------------------


@blp.route("/release-queue", methods=["GET"], endpoint="release_queue")
@role_required("qa", "admin")
@blp.response(200, QueueEntrySchema(many=True))
def release_queue():
    """Batches in QC review, oldest first, with what stands between each and your release."""
    user = current_actor_user()
    entries = []
    for batch in services.release_queue():
        unmet = [u.as_dict() for u in services.release_readiness(batch, user)]
        entries.append({"id": batch.id, "batch_number": batch.batch_number,
                        "product": batch.product.code, "origin": batch.origin,
                        "status": batch.status, "registered_at": batch.registered_at,
                        "ready": not unmet, "unmet": unmet})
    return entries


@blp.route("/batches/<int:batch_id>/release", methods=["GET"], endpoint="release_info")
@blp.response(200, ReleaseInfoSchema)
def get_release_info(batch_id):
    """Release status, signatures and their validity, urgent flag; for QA, the unmet
    conditions of a release signed by the caller."""
    user = current_actor_user()
    return release_info(batch_services.get_batch(batch_id), user if user.role == Role.qa else None)


@blp.route("/batches/<int:batch_id>/release", methods=["POST"], endpoint="release_batch")
@role_required("qa")
@blp.arguments(ReleaseSchema)
@blp.response(200, ReleaseInfoSchema)
@blp.alt_response(409, description="Every unmet release condition in details.reasons")
def release_batch(data, batch_id):
    """QA releases the batch with an e-signature (SPEC §3): 409 lists every unmet condition."""
    batch = services.release_batch(batch_services.get_batch(batch_id), data["password"],
                                   data["meaning"], current_actor_user(),
                                   username=data.get("username"))
    return release_info(batch)


@blp.route("/batches/<int:batch_id>/reject", methods=["POST"], endpoint="reject_batch")
@blp.alt_response(409, description="The batch cannot be rejected in its state; details.reasons")
@role_required("qa")
@blp.arguments(RejectSchema)
@blp.response(200, ReleaseInfoSchema)
def reject_batch(data, batch_id):
    """QA rejects the batch with an e-signature and a reason; the doses must be disposed."""
    batch = services.reject_batch(batch_services.get_batch(batch_id), data["password"],
                                  data["reason"], current_actor_user(), data["meaning"],
                                  username=data.get("username"))
    return release_info(batch)


@blp.route("/batches/<int:batch_id>/exceptional-release", methods=["POST"],
           endpoint="request_exceptional_release")
@blp.alt_response(409, description="Exceptional release is refused; details.reasons")
@role_required("qa")
@blp.arguments(ExceptionalRequestSchema)
@blp.response(201, ReleaseInfoSchema)
def request_exceptional_release(data, batch_id):
    """Urgent medical need: the physician's request and the first QA signature."""
    batch = batch_services.get_batch(batch_id)
    services.request_exceptional_release(batch, data, current_actor_user())
    return release_info(batch)


@blp.route("/batches/<int:batch_id>/exceptional-release/approve", methods=["POST"],
           endpoint="approve_exceptional_release")
@blp.alt_response(409, description="The second signature is refused; details.reasons")
@role_required("qa")
@blp.arguments(ExceptionalApproveSchema)
@blp.response(200, ReleaseInfoSchema)
def approve_exceptional_release(data, batch_id):
    """The second, different QA signature: the batch is released for urgent medical need."""
    batch = batch_services.get_batch(batch_id)
    services.approve_exceptional_release(batch, data["password"], data["meaning"],
                                         current_actor_user(), username=data.get("username"))
    return release_info(batch)


@blp.route("/exceptional-release-follow-ups/<int:follow_up_id>/physician-notification",
           methods=["POST"], endpoint="notify_physician")
@role_required("qa")
@blp.arguments(PhysicianNotificationSchema)
@blp.response(200, FollowUpSchema)
@blp.alt_response(409, description="The physician is already notified, or the time is "
                                   "before the result arrived")
def notify_physician(data, follow_up_id):
    """Record that the physician was told of a pending result that arrived after an
    exceptional release (SPEC §3): who, how, when."""
    return services.notify_physician(services.get_follow_up(follow_up_id), data,
                                     current_actor_user())


# -- recall (SPEC §3b) ------------------------------------------------------------------------


@blp.route("/batches/<int:batch_id>/recall", methods=["POST"], endpoint="recall_batch")
@role_required("qa")
@blp.arguments(RecallSchema)
@blp.response(200, RecallRecordSchema)
@blp.alt_response(409, description="Only a released or suspended batch is recalled")
def recall_batch(data, batch_id):
    """QA recalls the batch with an e-signature and a reason: every dose not yet
    administered is blocked; the record lists each dose's last location and holder."""
    recall = services.recall_batch(batch_services.get_batch(batch_id), data["password"],
                                   data["meaning"], data["reason"], current_actor_user(),
                                   username=data.get("username"))
    return services.recall_record(recall)


@blp.route("/batches/<int:batch_id>/recall", methods=["GET"], endpoint="get_recall")
@blp.response(200, RecallRecordSchema)
def get_recall(batch_id):
    """The recall record: doses with location and disposition, notifications, sites, what
    is missing before it can be closed, its state."""
    return services.recall_record(services.get_recall(batch_services.get_batch(batch_id)))


@blp.route("/doses/<int:dose_id>/recall-disposition", methods=["POST"],
           endpoint="record_disposition")
@role_required(*WRITERS)
@blp.arguments(DispositionSchema)
@blp.response(201, RecallRecordSchema)
@blp.alt_response(409, description="The dose is not recalled, already accounted for, "
                                   "administered, or cannot be received back yet; or the "
                                   "scan is not this dose's; details.reasons")
def record_disposition(data, dose_id):
    """A recalled dose returned (received back at the facility) or disposed, confirmed by
    scanning its label; the custody event is recorded with it."""
    dose = batch_services.get_dose(dose_id)
    services.record_disposition(dose, data, current_actor_user())
    return services.recall_record(services.get_recall(dose.batch))


@blp.route("/batches/<int:batch_id>/recall/notifications", methods=["POST"],
           endpoint="record_notification")
@role_required("qa")
@blp.arguments(NotificationCreateSchema)
@blp.response(201, NotificationSchema)
@blp.alt_response(409, description="The recall is closed, the site is not one of the "
                                   "recall's, or the dose was not administered")
def record_notification(data, batch_id):
    """Record that a site (or the treating physician of an administered dose) was told of
    the recall: who, how, when, and the acknowledgement when known."""
    recall = services.get_recall(batch_services.get_batch(batch_id))
    return services.record_notification(recall, data, current_actor_user())


@blp.route("/recall-notifications/<int:notification_id>/acknowledge", methods=["POST"],
           endpoint="acknowledge_notification")
@role_required("qa")
@blp.arguments(AcknowledgementSchema)
@blp.response(200, NotificationSchema)
@blp.alt_response(409, description="Already acknowledged, or the recall is closed")
def acknowledge_notification(data, notification_id):
    """Record who at the site acknowledged the recall notification, and when."""
    return services.acknowledge_notification(services.get_notification(notification_id),
                                             data, current_actor_user())


@blp.route("/batches/<int:batch_id>/recall/close", methods=["POST"], endpoint="close_recall")
@role_required("qa")
@blp.arguments(RecallCloseSchema)
@blp.response(200, RecallRecordSchema)
@blp.alt_response(409, description="Something is missing (details.reasons lists it), or "
                                   "the recall is closed")
def close_recall(data, batch_id):
    """QA closes the recall with a signature once every dose is accounted for."""
    recall = services.get_recall(batch_services.get_batch(batch_id))
    services.close_recall(recall, data["password"], data["meaning"], data.get("summary"),
                          current_actor_user(), username=data.get("username"))
    return services.recall_record(recall)


# -- look-back (SPEC §3b) -----------------------------------------------------------------------


@blp.route("/qc-results/<int:result_id>/lookback", methods=["GET"], endpoint="result_lookback")
@blp.response(200, LookbackSchema)
def result_lookback(result_id):
    """Every collection, batch and dose derived from the result's batch, with status,
    location and recipient."""
    return lookback_from("qc_result", result_id)
