"""QC results: entry, evaluation, second-person review, correction (SPEC §2 QC result, §8).

* Technicians and QA enter results (value + unit, or outcome; method, instrument,
  sample time). The server evaluates pass/fail against the batch's specification
  (:mod:`qc.evaluation`); a unit that does not match the specification is a 400.
* A failing result opens an out-of-spec deviation (:mod:`qc.deviations`).
* Review is by a second person: any technician or QA officer other than the
  analyst (and other than whoever last corrected the result); the analyst gets 409.
* A correction needs a reason, keeps the old value in the audit trail, is
  re-evaluated, and needs a fresh review. A correction after release changes the
  signed batch record, so the release signature shows as invalidated.
* Results are entered while the batch is being made or in QC review (or on hold),
  and after release (released, suspended or recalled), flagged ``after_release``:
  follow-up tests (SPEC §2 timing ``follow_up``), an exceptional release's pending
  sterility, or a retest; what each means for the release is :mod:`qc.post_release`
  (a failure after release is a post-release failure). A rejected batch takes no
  new results.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from batches.common import get_or_404, refuse_future
from batches.lifecycle import RELEASED_ONCE, BatchStatus
from batches.models import Batch
from lims import clock
from lims.audit import reason as audit_reason
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db
from lims.errors import BadRequest, Conflict
from qc import deviations, post_release
from qc.evaluation import ResultRefused, evaluate
from qc.models import Evaluation, QcResult
from qc.specifications import criterion, find_spec_test

OPEN_FOR_RESULTS = frozenset({BatchStatus.registered, BatchStatus.in_culture,
                              BatchStatus.harvested, BatchStatus.qc_review,
                              BatchStatus.on_hold})
ENTERED = ("value", "unit", "outcome", "method", "instrument", "sampled_at")


def _evaluate(spec_test, value, unit, outcome) -> Evaluation:
    try:
        return evaluate(criterion(spec_test), value=value, unit=unit, outcome=outcome)
    except ResultRefused as refused:
        raise BadRequest(str(refused), code="result_does_not_fit",
                         details={"fields": refused.fields}) from None


@user_is_actor
def enter_result(batch: Batch, data: dict[str, Any], user: User) -> QcResult:
    """Record a QC result and evaluate it (SPEC §2); a fail opens a deviation. After
    release, :func:`qc.post_release.after_new_result` judges what it means (SPEC §3b)."""
    after_release = BatchStatus(batch.status) in RELEASED_ONCE
    if batch.status not in OPEN_FOR_RESULTS and not after_release:
        raise Conflict("The batch takes no more QC results.",
                       [f"the batch is {batch.status.replace('_', ' ')}"])
    if data.get("sampled_at") is not None:
        refuse_future(data["sampled_at"], "sampled_at")
    spec_test = find_spec_test(batch, data["test"], data.get("stage"))
    unit = data.get("unit")
    unit = unit.strip() if isinstance(unit, str) else unit
    evaluation = _evaluate(spec_test, data.get("value"), unit, data.get("outcome"))
    result = QcResult(
        batch_id=batch.id, spec_test_id=spec_test.id, test=spec_test.test,
        stage=spec_test.specification.stage, value=data.get("value"), unit=unit,
        outcome=data.get("outcome"), evaluation=evaluation, method=data.get("method"),
        instrument=data.get("instrument"), sampled_at=data.get("sampled_at"),
        notes=data.get("notes"), analyst_id=user.id, recorded_at=clock.utcnow(),
        after_release=after_release, corrected=False)
    db.session.add(result)
    db.session.flush()
    if evaluation == Evaluation.failed:
        deviations.open_for_result(result, user)
    if after_release:
        post_release.after_new_result(result, user)
    return result


def get_result(result_id: int) -> QcResult:
    return get_or_404(QcResult, result_id, "QC result")


def list_results(batch: Batch, *, with_deviations: bool = False) -> list[QcResult]:
    """The batch's results in entry order; ``with_deviations`` loads each result's
    deviations in the same go (for the API's ``deviation_id``)."""
    query = select(QcResult).where(QcResult.batch_id == batch.id).order_by(QcResult.id)
    if with_deviations:
        query = query.options(selectinload(QcResult.deviations))
    return list(db.session.scalars(query))


def counting_results(batch: Batch, stage: str = "release") -> dict[str, QcResult]:
    """The result that counts per test: the latest entered (an earlier out-of-spec result
    stays on record and its deviation must be closed before release)."""
    latest: dict[str, QcResult] = {}
    for result in list_results(batch):
        if result.stage == stage:
            latest[result.test] = result
    return latest


@user_is_actor
def review_result(result: QcResult, user: User) -> QcResult:
    """Second-person review (SPEC §2): anyone but the analyst (or the last corrector)."""
    reasons = []
    if result.analyst_id == user.id:
        reasons.append("the analyst cannot review their own result")
    if result.corrected_by_id == user.id:
        reasons.append("whoever corrected the result cannot review it")
    # reviewed_at and reviewed_by are set together (CheckConstraint reviewed_by)
    if result.reviewed_at is not None and result.reviewed_by is not None:
        reasons.append(f"the result was already reviewed by {result.reviewed_by.username}")
    if reasons:
        raise Conflict("The result cannot be reviewed by you.", reasons)
    result.reviewed_by_id = user.id
    result.reviewed_at = clock.utcnow()
    db.session.flush()
    return result


@user_is_actor
def correct_result(result: QcResult, changes: dict[str, Any], reason: str,
                   user: User) -> QcResult:
    """Correct an entered result with a reason (SPEC §8): the old value stays in the audit
    trail, the result is re-evaluated and needs a new review; a fail opens a deviation."""
    if "sampled_at" in changes and changes["sampled_at"] is not None:
        refuse_future(changes["sampled_at"], "sampled_at")
    if "unit" in changes and isinstance(changes["unit"], str):
        changes["unit"] = changes["unit"].strip()
    new = {key: getattr(result, key) for key in ENTERED}
    new.update(changes)
    # Switching between value and outcome: clear the other side.
    if "outcome" in changes and changes["outcome"] is not None:
        new["value"] = new["unit"] = None
    if "value" in changes and changes["value"] is not None:
        new["outcome"] = None
    changed = {k: v for k, v in new.items() if getattr(result, k) != v}
    if not changed:
        raise BadRequest("The correction changes nothing.",
                         details={"fields": {"body": ["no value differs from the record"]}})
    evaluation = _evaluate(result.spec_test, new["value"], new["unit"], new["outcome"])
    with audit_reason(reason):
        for key, value in changed.items():
            setattr(result, key, value)
        result.evaluation = evaluation
        result.corrected = True
        result.corrected_by_id = user.id
        result.reviewed_by_id = None
        result.reviewed_at = None
        db.session.flush()
        if evaluation == Evaluation.failed:
            deviations.open_for_result(result, user)
        post_release.after_result_corrected(result, user, reason.strip())
    return result


def result_lookback_start(result_id: int):
    """Where a look-back from a QC result starts (SPEC §3b, "from a failed test"): its
    batch — registered with :func:`batches.lookback.add_lookback_source`."""
    from batches.lookback import LookbackStart

    result = get_result(result_id)
    return LookbackStart(f"{result.test} result #{result.id} ({result.reported}, "
                         f"{result.evaluation}) of batch {result.batch.batch_number}",
                         batch_ids=[result.batch_id])
