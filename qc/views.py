"""QA pages: release queue, batch record review by exception, the signing dialog,
QC result entry and review, deviations (SPEC §3, §7).

Forms are plain HTML forms with the CSRF token, parsed by the API's marshmallow
schemas (:func:`batches.views.parse_form`); each POST calls one service. A refusal
re-renders the page with the reasons and the refusal's status code.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from batches import services as batch_services
from batches.culture import step_state
from batches.views import _refused, parse_form
from lims import clock
from lims.auth import current_actor_user, role_required
from lims.auth.models import MEANING_STATEMENTS, Meaning
from lims.errors import DomainError
from lims.hashing import content_digest
from qc import services
from qc.models import Evaluation
from qc.schemas import (
    DeviationCloseSchema,
    DeviationCreateSchema,
    ExceptionalApproveSchema,
    ExceptionalRequestSchema,
    InvestigationSchema,
    RejectSchema,
    ReleaseSchema,
    ResultCorrectionSchema,
    ResultCreateSchema,
)

bp = Blueprint("qc", __name__, template_folder="templates")

WRITERS = ("technician", "qa")


# -- release queue ---------------------------------------------------------------------------


def _queue_rows(user) -> list[dict[str, Any]]:
    return [{"batch": b, "unmet": services.release_readiness(b, user)}
            for b in services.release_queue()]


def release_panel(user) -> str | None:
    """Dashboard panel for QA: batches awaiting release."""
    if user.role != "qa":
        return None
    return render_template("qc/_release_panel.html", rows=_queue_rows(user))


@bp.route("/qc/release-queue")
@role_required("qa", "admin")
def release_queue():
    return render_template("qc/release_queue.html", rows=_queue_rows(current_actor_user()))


# -- batch record review ---------------------------------------------------------------------


def _exceptions(batch, results, steps, deviations) -> list[dict[str, str]]:
    """What needs a look first (SPEC §3 review by exception)."""
    items = []
    for d in deviations:
        if d.is_open:
            items.append({"kind": "deviation", "text": f"DEV-{d.id} open: {d.description}",
                          "url": url_for("qc.deviation_page", deviation_id=d.id)})
    for r in results:
        if r.evaluation == Evaluation.failed:
            items.append({"kind": "out of spec", "text": f"{r.test} {r.reported} "
                          f"(spec {r.spec_test.criterion_text}) by {r.analyst.username}",
                          "url": f"#result-{r.id}"})
        if r.corrected:
            items.append({"kind": "corrected", "text": f"{r.test} corrected to {r.reported} "
                          f"by {r.corrected_by.username if r.corrected_by else ''}",
                          "url": f"#result-{r.id}"})
        if r.reviewed_at is None:
            items.append({"kind": "not reviewed", "text": f"{r.test} {r.reported} awaits a "
                          "second-person review", "url": f"#result-{r.id}"})
    for row in steps:
        s = row["step"]
        if row["state"] == "overdue":
            items.append({"kind": "late step", "text": f"{s.type.replace('_', ' ')} overdue "
                          f"(due {s.due_at:%Y-%m-%d %H:%M} UTC)", "url": f"#step-{s.id}"})
        if s.late_entry:
            items.append({"kind": "late entry", "text": f"{s.type.replace('_', ' ')} recorded "
                          "late", "url": f"#step-{s.id}"})
        if s.corrected:
            items.append({"kind": "corrected", "text": f"{s.type.replace('_', ' ')} step "
                          "values corrected", "url": f"#step-{s.id}"})
    for d in deviations:
        if not d.is_open:
            items.append({"kind": "deviation closed", "text": f"DEV-{d.id}: {d.description} — "
                          f"{d.disposition}",
                          "url": url_for("qc.deviation_page", deviation_id=d.id)})
    return items


def _review_page(batch_id: int, status: int = 200, errors: dict | None = None):
    user = current_actor_user()
    batch = batch_services.get_batch(batch_id)
    now = clock.utcnow()
    results = services.list_results(batch)
    steps = [{"step": s, "state": step_state(s, now)} for s in batch_services.list_steps(batch)]
    deviations = services.list_deviations(batch)
    spec = services.spec_for_batch(batch)
    content = services.batch_record_content(batch)
    return render_template(
        "qc/review.html", batch=batch, results=results, steps=steps, deviations=deviations,
        exceptions=_exceptions(batch, results, steps, deviations), spec=spec,
        info=services.batch_release_info(batch), errors=errors or {}, form=request.form,
        unmet=services.release_readiness(batch, user) if user.role == "qa" else [],
        digest=content_digest(content), meanings=list(Meaning),
        meaning_statements=MEANING_STATEMENTS, user=user,
        quarantine=batch_services.quarantine_reasons(batch)), status


@bp.route("/qc/batches/<int:batch_id>/review")
def batch_review(batch_id: int):
    return _review_page(batch_id)


def _back(batch_id: int):
    return redirect(url_for("qc.batch_review", batch_id=batch_id))


@bp.route("/qc/batches/<int:batch_id>/qc-results", methods=["POST"])
@role_required(*WRITERS)
def enter_result(batch_id: int):
    data, errors = parse_form(ResultCreateSchema())
    if errors:
        return _review_page(batch_id, 400, errors)
    try:
        result = services.enter_result(batch_services.get_batch(batch_id), data,
                                       current_actor_user())
    except DomainError as refusal:
        return _review_page(batch_id, _refused(refusal))
    flash(f"{result.test} {result.reported}: {result.evaluation}.",
          "success" if result.evaluation == "pass" else "warning")
    return _back(batch_id)


@bp.route("/qc/qc-results/<int:result_id>/review", methods=["POST"])
@role_required(*WRITERS)
def review_result(result_id: int):
    result = services.get_result(result_id)
    try:
        services.review_result(result, current_actor_user())
    except DomainError as refusal:
        return _review_page(result.batch_id, _refused(refusal))
    flash(f"{result.test} reviewed.", "success")
    return _back(result.batch_id)


@bp.route("/qc/qc-results/<int:result_id>/correct", methods=["POST"])
@role_required(*WRITERS)
def correct_result(result_id: int):
    result = services.get_result(result_id)
    data, errors = parse_form(ResultCorrectionSchema())
    if errors:
        return _review_page(result.batch_id, 400, errors)
    reason = data.pop("reason")
    try:
        services.correct_result(result, data, reason, current_actor_user())
    except DomainError as refusal:
        return _review_page(result.batch_id, _refused(refusal))
    flash(f"{result.test} corrected: {result.evaluation}; it needs a new review.", "success")
    return _back(result.batch_id)


# -- signing ---------------------------------------------------------------------------------


@bp.route("/qc/batches/<int:batch_id>/release", methods=["POST"])
@role_required("qa")
def release(batch_id: int):
    data, errors = parse_form(ReleaseSchema())
    if errors:
        return _review_page(batch_id, 400, errors)
    try:
        batch = services.release_batch(batch_services.get_batch(batch_id), data["password"],
                                       data["meaning"], current_actor_user())
    except DomainError as refusal:
        return _review_page(batch_id, _refused(refusal))
    flash(f"Batch {batch.batch_number} released: {batch.release_signature.manifestation}.",
          "success")
    return _back(batch_id)


@bp.route("/qc/batches/<int:batch_id>/reject", methods=["POST"])
@role_required("qa")
def reject(batch_id: int):
    data, errors = parse_form(RejectSchema())
    if errors:
        return _review_page(batch_id, 400, errors)
    try:
        batch = services.reject_batch(batch_services.get_batch(batch_id), data["password"],
                                      data["reason"], current_actor_user(), data["meaning"])
    except DomainError as refusal:
        return _review_page(batch_id, _refused(refusal))
    flash(f"Batch {batch.batch_number} rejected; its doses must now be disposed.", "success")
    return _back(batch_id)


@bp.route("/qc/batches/<int:batch_id>/exceptional-release", methods=["POST"])
@role_required("qa")
def exceptional_release(batch_id: int):
    data, errors = parse_form(ExceptionalRequestSchema())
    if errors:
        return _review_page(batch_id, 400, errors)
    try:
        services.request_exceptional_release(batch_services.get_batch(batch_id), data,
                                             current_actor_user())
    except DomainError as refusal:
        return _review_page(batch_id, _refused(refusal))
    flash("Exceptional release signed (1st of 2): a second QA officer must sign.", "success")
    return _back(batch_id)


@bp.route("/qc/batches/<int:batch_id>/exceptional-release/approve", methods=["POST"])
@role_required("qa")
def approve_exceptional_release(batch_id: int):
    data, errors = parse_form(ExceptionalApproveSchema())
    if errors:
        return _review_page(batch_id, 400, errors)
    try:
        services.approve_exceptional_release(batch_services.get_batch(batch_id),
                                             data["password"], data["meaning"],
                                             current_actor_user())
    except DomainError as refusal:
        return _review_page(batch_id, _refused(refusal))
    flash("Released for urgent medical need (2 of 2 signatures).", "success")
    return _back(batch_id)


# -- deviations ------------------------------------------------------------------------------


@bp.route("/qc/deviations")
def deviation_list():
    show = request.args.get("show", "open")
    return render_template("qc/deviations.html", show=show, deviations=services.list_deviations(
        open_only=None if show == "all" else True))


@bp.route("/qc/batches/<int:batch_id>/deviations", methods=["POST"])
@role_required(*WRITERS)
def open_deviation(batch_id: int):
    data, errors = parse_form(DeviationCreateSchema())
    if errors:
        return _review_page(batch_id, 400, errors)
    deviation = services.open_deviation(batch_services.get_batch(batch_id), data["description"],
                                        current_actor_user())
    flash(f"Deviation DEV-{deviation.id} opened.", "success")
    return redirect(url_for("qc.deviation_page", deviation_id=deviation.id))


def _deviation_page(deviation_id: int, status: int = 200, errors: dict | None = None):
    return render_template("qc/deviation.html",
                           deviation=services.get_deviation(deviation_id),
                           errors=errors or {}, form=request.form, user=current_actor_user(),
                           meanings=["approval", "responsibility", "review"]), status


@bp.route("/qc/deviations/<int:deviation_id>")
def deviation_page(deviation_id: int):
    return _deviation_page(deviation_id)


@bp.route("/qc/deviations/<int:deviation_id>/investigation", methods=["POST"])
@role_required(*WRITERS)
def investigation(deviation_id: int):
    data, errors = parse_form(InvestigationSchema())
    if errors:
        return _deviation_page(deviation_id, 400, errors)
    try:
        services.record_investigation(services.get_deviation(deviation_id),
                                      data["investigation"], current_actor_user())
    except DomainError as refusal:
        return _deviation_page(deviation_id, _refused(refusal))
    flash("Investigation recorded.", "success")
    return redirect(url_for("qc.deviation_page", deviation_id=deviation_id))


@bp.route("/qc/deviations/<int:deviation_id>/close", methods=["POST"])
@role_required("qa")
def close_deviation(deviation_id: int):
    data, errors = parse_form(DeviationCloseSchema())
    if errors:
        return _deviation_page(deviation_id, 400, errors)
    try:
        services.close_deviation(services.get_deviation(deviation_id), data["disposition"],
                                 data["password"], data["meaning"], current_actor_user())
    except DomainError as refusal:
        return _deviation_page(deviation_id, _refused(refusal))
    flash(f"DEV-{deviation_id} closed.", "success")
    return redirect(url_for("qc.deviation_page", deviation_id=deviation_id))
