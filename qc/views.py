"""QA pages: release queue, batch record review by exception, the signing dialog,
QC result entry and review, deviations, QC specifications and their change control
(SPEC §3, §7; issue 12).

Forms are plain HTML forms with the CSRF token; each POST hands its form to
:func:`lims.web.forms.submit` (parsed by the API's marshmallow schema, one service
called; a refusal shows the page again with the reasons and the refusal's status).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, render_template, request, url_for

from batches import services as batch_services
from batches.change_control import (
    approve_change,
    describe_change,
    list_changes,
    reject_change,
    withdraw_change,
)
from batches.change_rules import ChangeKind, ChangeStatus
from batches.culture import step_state
from batches.schemas import ChangeApprovalSchema, ChangeRejectionSchema, ChangeWithdrawalSchema
from lims import clock
from lims.auth import User, current_actor_user, role_required
from lims.auth.models import Role
from lims.hashing import content_digest
from lims.web.forms import Done, submit
from qc import services, signing_acts
from qc.evaluation import OUTCOMES, Comparator, CriterionKind
from qc.models import Evaluation
from qc.review_exceptions import DeviationFacts, ResultFacts, StepFacts, review_exceptions
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
    SpecRevisionSchema,
    SpecTestInSchema,
)

bp = Blueprint("qc", __name__, template_folder="templates")

WRITERS = ("technician", "qa")


# -- release queue ---------------------------------------------------------------------------


def _queue_rows(user) -> list[dict[str, Any]]:
    """Batches awaiting QA: in QC review, or suspended (re-release or recall, with why)."""
    return [{"batch": b, "unmet": services.release_readiness(b, user),
             "suspensions": batch_services.open_suspensions(b)}
            for b in services.release_queue()]


def release_panel(user) -> str | None:
    """Dashboard panel for QA: batches awaiting release."""
    if user.role != Role.qa:
        return None
    return render_template("qc/_release_panel.html", rows=_queue_rows(user))


@bp.route("/qc/release-queue")
@role_required("qa", "admin")
def release_queue():
    return render_template("qc/release_queue.html", rows=_queue_rows(current_actor_user()))


# -- batch record review ---------------------------------------------------------------------


def _exceptions(results, steps, deviations) -> list[dict[str, str]]:
    """What needs a look first (SPEC §3 review by exception, :mod:`qc.review_exceptions`)."""
    items = review_exceptions(
        [ResultFacts(r.id, r.test, r.reported, r.spec_test.criterion_text, r.analyst.username,
                     failed=r.evaluation == Evaluation.failed, corrected=r.corrected,
                     corrected_by=r.corrected_by.username if r.corrected_by else None,
                     reviewed=r.reviewed_at is not None) for r in results],
        [StepFacts(row["step"].id, row["step"].type, overdue=row["state"] == "overdue",
                   due_at=row["step"].due_at, late_entry=row["step"].late_entry,
                   corrected=row["step"].corrected) for row in steps],
        [DeviationFacts(d.id, d.description, d.is_open, d.disposition) for d in deviations])
    return [{"kind": item.kind, "text": item.text,
             "url": url_for("qc.deviation_page", deviation_id=item.about_id)
             if item.about == "deviation" else f"#{item.about}-{item.about_id}"}
            for item in items]


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
        exceptions=_exceptions(results, steps, deviations), spec=spec,
        info=services.batch_release_info(batch), errors=errors or {}, form=request.form,
        unmet=services.release_readiness(batch, user) if user.role == Role.qa else [],
        digest=content_digest(content), acts=signing_acts, user=user,
        quarantine=batch_services.quarantine_reasons(batch)), status


@bp.route("/qc/batches/<int:batch_id>/review")
def batch_review(batch_id: int):
    return _review_page(batch_id)


def _review_url(batch_id: int) -> str:
    return url_for("qc.batch_review", batch_id=batch_id)


@bp.route("/qc/batches/<int:batch_id>/qc-results", methods=["POST"])
@role_required(*WRITERS)
def enter_result(batch_id: int):
    return submit(ResultCreateSchema(), lambda data, user: services.enter_result(
                      batch_services.get_batch(batch_id), data, user),
                  done=lambda result: Done(
                      f"{result.test} {result.reported}: {result.evaluation}.",
                      _review_url(batch_id),
                      "success" if result.evaluation == Evaluation.passed else "warning"),
                  page=partial(_review_page, batch_id))


@bp.route("/qc/qc-results/<int:result_id>/review", methods=["POST"])
@role_required(*WRITERS)
def review_result(result_id: int):
    result = services.get_result(result_id)
    return submit(None, lambda _data, user: services.review_result(result, user),
                  done=Done(f"{result.test} reviewed.", _review_url(result.batch_id)),
                  page=partial(_review_page, result.batch_id))


@bp.route("/qc/qc-results/<int:result_id>/correct", methods=["POST"])
@role_required(*WRITERS)
def correct_result(result_id: int):
    result = services.get_result(result_id)

    def correct(data: dict[str, Any], user: User):
        reason = data.pop("reason")
        return services.correct_result(result, data, reason, user)

    return submit(ResultCorrectionSchema(), correct,
                  done=lambda _: Done(f"{result.test} corrected: {result.evaluation}; it needs "
                                      "a new review.", _review_url(result.batch_id)),
                  page=partial(_review_page, result.batch_id))


# -- signing ---------------------------------------------------------------------------------


def _released_message(batch) -> str:
    signature = batch.release_signature
    return f"Batch {batch.batch_number} released: " \
        f"{signature.manifestation if signature else 'unsigned'}."


@bp.route("/qc/batches/<int:batch_id>/release", methods=["POST"])
@role_required("qa")
def release(batch_id: int):
    return submit(ReleaseSchema(), lambda data, user: services.release_batch(
                      batch_services.get_batch(batch_id), data["password"], data["meaning"], user,
                      username=data.get("username")),
                  done=lambda batch: Done(_released_message(batch), _review_url(batch_id)),
                  page=partial(_review_page, batch_id))


@bp.route("/qc/batches/<int:batch_id>/reject", methods=["POST"])
@role_required("qa")
def reject(batch_id: int):
    return submit(RejectSchema(), lambda data, user: services.reject_batch(
                      batch_services.get_batch(batch_id), data["password"], data["reason"], user,
                      data["meaning"], username=data.get("username")),
                  done=lambda batch: Done(f"Batch {batch.batch_number} rejected; its doses must "
                                          "now be disposed.", _review_url(batch_id)),
                  page=partial(_review_page, batch_id))


@bp.route("/qc/batches/<int:batch_id>/exceptional-release", methods=["POST"])
@role_required("qa")
def exceptional_release(batch_id: int):
    return submit(ExceptionalRequestSchema(), lambda data, user: (
                      services.request_exceptional_release(batch_services.get_batch(batch_id),
                                                           data, user)),
                  done=Done("Exceptional release signed (1st of 2): a second QA officer must "
                            "sign.", _review_url(batch_id)),
                  page=partial(_review_page, batch_id))


@bp.route("/qc/batches/<int:batch_id>/exceptional-release/approve", methods=["POST"])
@role_required("qa")
def approve_exceptional_release(batch_id: int):
    return submit(ExceptionalApproveSchema(), lambda data, user: (
                      services.approve_exceptional_release(batch_services.get_batch(batch_id),
                                                           data["password"], data["meaning"],
                                                           user, username=data.get("username"))),
                  done=Done("Released for urgent medical need (2 of 2 signatures).",
                            _review_url(batch_id)),
                  page=partial(_review_page, batch_id))


# -- deviations ------------------------------------------------------------------------------


@bp.route("/qc/deviations")
def deviation_list():
    show = request.args.get("show", "open")
    return render_template("qc/deviations.html", show=show, deviations=services.list_deviations(
        open_only=None if show == "all" else True))


def _deviation_url(deviation_id: int) -> str:
    return url_for("qc.deviation_page", deviation_id=deviation_id)


@bp.route("/qc/batches/<int:batch_id>/deviations", methods=["POST"])
@role_required(*WRITERS)
def open_deviation(batch_id: int):
    batch = batch_services.get_batch(batch_id)
    return submit(DeviationCreateSchema(), lambda data, user: services.open_deviation(
                      batch, data["description"], user),
                  done=lambda deviation: Done(f"Deviation DEV-{deviation.id} opened.",
                                              _deviation_url(deviation.id)),
                  page=partial(_review_page, batch_id))


def _deviation_page(deviation_id: int, status: int = 200, errors: dict | None = None):
    return render_template("qc/deviation.html",
                           deviation=services.get_deviation(deviation_id),
                           errors=errors or {}, form=request.form, user=current_actor_user(),
                           act=signing_acts.DEVIATION_CLOSURE), status


@bp.route("/qc/deviations/<int:deviation_id>")
def deviation_page(deviation_id: int):
    return _deviation_page(deviation_id)


@bp.route("/qc/deviations/<int:deviation_id>/investigation", methods=["POST"])
@role_required(*WRITERS)
def investigation(deviation_id: int):
    return submit(InvestigationSchema(), lambda data, user: services.record_investigation(
                      services.get_deviation(deviation_id), data["investigation"], user),
                  done=Done("Investigation recorded.", _deviation_url(deviation_id)),
                  page=partial(_deviation_page, deviation_id))


@bp.route("/qc/deviations/<int:deviation_id>/close", methods=["POST"])
@role_required("qa")
def close_deviation(deviation_id: int):
    return submit(DeviationCloseSchema(), lambda data, user: services.close_deviation(
                      services.get_deviation(deviation_id), data["disposition"],
                      data["password"], data["meaning"], user, username=data.get("username")),
                  done=Done(f"DEV-{deviation_id} closed.", _deviation_url(deviation_id)),
                  page=partial(_deviation_page, deviation_id))


# -- specifications and their change control (issue 12) -------------------------------------

SPEC_FORM_COLUMNS = tuple(name for name in ("test", "name", "kind", "comparator", "limit_value",
                                            "unit", "expected_outcome", "timing")
                          if name in SpecTestInSchema().fields)
"""The columns of the proposal form's table of tests (``timing`` where specifications
have it)."""
BLANK_ROWS = 3


@bp.route("/qc/specifications")
def specification_list():
    specs = services.list_specifications()
    current: dict[tuple[int, str], Any] = {}
    for spec in specs:
        current[(spec.product_id, spec.stage)] = spec
    open_changes = {(c.product_id, c.stage): c for c in list_changes(
        ChangeKind.qc_specification, status=ChangeStatus.proposed, limit=500)[0]}
    return render_template("qc/specifications.html", current=list(current.values()),
                           earlier=[s for s in specs if s not in current.values()],
                           open_changes=open_changes, user=current_actor_user())


def _spec_tests_form(rows: int) -> list[dict[str, Any]]:
    """The posted table of tests (``tests-<row>-<column>``) as the schema's input: rows
    without a test code are left out, blank cells are absent, limits are numbers."""
    tests = []
    for index in range(rows):
        row = {name: request.form.get(f"tests-{index}-{name}", "").strip()
               for name in SPEC_FORM_COLUMNS}
        if not row["test"]:
            continue
        test: dict[str, Any] = {k: v for k, v in row.items() if v}
        if "limit_value" in test:
            try:
                test["limit_value"] = float(test["limit_value"])
            except ValueError:
                pass
        tests.append(test)
    return tests


def _propose_page(spec_id: int, status: int = 200, errors: dict | None = None):
    spec = services.get_specification(spec_id)
    return render_template("qc/spec_propose.html", spec=spec, columns=SPEC_FORM_COLUMNS,
                           rows=len(spec.tests) + BLANK_ROWS, form=request.form,
                           posted=request.method == "POST", errors=errors or {},
                           kinds=[k.value for k in CriterionKind],
                           comparators=[c.value for c in Comparator], outcomes=OUTCOMES), status


def _spec_change_url(change_id: int) -> str:
    return url_for("qc.spec_change", change_id=change_id)


@bp.route("/qc/specifications/<int:spec_id>/propose", methods=["GET", "POST"])
@role_required("admin", "qa")
def propose_spec_change(spec_id: int):
    """Propose a new version of the specification (admin or QA): every test it will have."""
    spec = services.get_specification(spec_id)
    values = {"reason": request.form.get("reason", "").strip(),
              "tests": _spec_tests_form(len(spec.tests) + BLANK_ROWS)}
    return submit(SpecRevisionSchema(), lambda data, user: services.revise_specification(
                      spec, data["tests"], data["reason"], user),
                  values=values,
                  done=lambda change: Done(
                      f"Change #{change.id} proposed: {spec.product.code} {spec.stage} "
                      f"specification version {change.base_version} stays in force until a QA "
                      "officer approves it.", _spec_change_url(change.id)),
                  page=partial(_propose_page, spec_id))


def _spec_change_page(change_id: int, status: int = 200, errors: dict | None = None):
    change = services.get_spec_change(change_id)
    return render_template(
        "qc/spec_change.html", view=describe_change(services.SPECIFICATION, change),
        user=current_actor_user(), errors=errors or {},
        urls={"approve": url_for("qc.approve_spec_change", change_id=change_id),
              "reject": url_for("qc.reject_spec_change", change_id=change_id),
              "withdraw": url_for("qc.withdraw_spec_change", change_id=change_id)}), status


@bp.route("/qc/specification-changes/<int:change_id>")
def spec_change(change_id: int):
    return _spec_change_page(change_id)


@bp.route("/qc/specification-changes/<int:change_id>/approve", methods=["POST"])
@role_required("qa")
def approve_spec_change(change_id: int):
    return submit(ChangeApprovalSchema(), lambda data, user: approve_change(
                      services.SPECIFICATION, services.get_spec_change(change_id),
                      data["password"], data["meaning"], user, username=data.get("username"),
                      shown_digest=data.get("digest")),
                  done=lambda change: Done(
                      f"Change #{change.id} approved: {change.product.code} {change.stage} "
                      f"specification version {change.result_version} is in force.",
                      _spec_change_url(change_id)),
                  page=partial(_spec_change_page, change_id))


@bp.route("/qc/specification-changes/<int:change_id>/reject", methods=["POST"])
@role_required("qa")
def reject_spec_change(change_id: int):
    return submit(ChangeRejectionSchema(), lambda data, user: reject_change(
                      services.SPECIFICATION, services.get_spec_change(change_id),
                      data["password"], data["meaning"], data["reason"], user,
                      username=data.get("username")),
                  done=Done(f"Change #{change_id} rejected.", _spec_change_url(change_id)),
                  page=partial(_spec_change_page, change_id))


@bp.route("/qc/specification-changes/<int:change_id>/withdraw", methods=["POST"])
@role_required("admin", "qa")
def withdraw_spec_change(change_id: int):
    return submit(ChangeWithdrawalSchema(), lambda data, user: withdraw_change(
                      services.get_spec_change(change_id), data["reason"], user),
                  done=Done(f"Change #{change_id} withdrawn.", _spec_change_url(change_id)),
                  page=partial(_spec_change_page, change_id))
