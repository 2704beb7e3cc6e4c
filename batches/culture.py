"""Culture steps on process templates (SPEC §2 Culture step, Process template; §3; §7).

* Logging a step fills the matching pending step (or adds an unscheduled one),
  then schedules the next steps from the batch's template rules
  (``after_step → next_step`` in ``interval_hours``, late after ``grace_hours``):
  an already pending step of that type is moved to the new due time. A harvest
  cancels every pending step left.
* The first seeding moves a registered batch to ``in_culture``; a harvest moves
  it to ``harvested`` (:mod:`batches.lifecycle` says which steps fit which state).
* A passage beyond the template's maximum passage is refused (409), and passage
  numbers only go up.
* ``performed_at`` defaults to now, may be in the past (a *late entry* when
  recorded more than 30 minutes later; flagged and audited) but never in the
  future (2 minutes of clock skew allowed), nor before the collection.
* A performed step's values change only as a correction with a reason: the
  audit trail keeps the old value, and the step is marked ``corrected``. A
  correction after release suspends the release (SPEC §3b).
* Templates are data, versioned and change-controlled (:mod:`batches.change_control`):
  an admin or QA officer proposes a new version with a reason; it is the active version
  only once a QA officer other than the proposer signs its approval; running batches
  keep theirs, and the previous version is kept (retired).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from batches.batch_records import active_template, lock, move, suspend_release
from batches.change_control import Controlled, get_change, propose
from batches.change_rules import Change, ChangeKind, template_changes
from batches.common import facility_tz, get_or_404, is_late_entry, refuse_future
from batches.lifecycle import BatchStatus, step_action, step_refusals
from batches.models import (
    Batch,
    ChangeProposal,
    CultureStep,
    ProcessTemplate,
    Product,
    StepStatus,
    StepType,
    SuspensionCause,
    TemplateRule,
)
from lims import clock
from lims.audit import reason as audit_reason
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db
from lims.errors import BadRequest, Conflict

MEASURED = ("cell_count", "viability_pct", "confluence_pct", "media_lot", "incubator", "notes")
CLOSING_STEPS = frozenset({StepType.harvest})
STEP_WORK_STATES = (BatchStatus.in_culture, BatchStatus.on_hold, BatchStatus.registered)
"""Batch states whose pending steps are still work to do (leaving them ends the work)."""


# -- process templates -----------------------------------------------------------------


def list_templates(include_inactive: bool = False) -> list[ProcessTemplate]:
    query = select(ProcessTemplate)
    if not include_inactive:
        query = query.where(ProcessTemplate.active.is_(True))
    return list(db.session.scalars(query.order_by(ProcessTemplate.product_id,
                                                  ProcessTemplate.version)))


def get_template(template_id: int) -> ProcessTemplate:
    return get_or_404(ProcessTemplate, template_id, "process template")


def template_content(template: ProcessTemplate) -> dict[str, Any]:
    """A template version as change control holds it: name, maximum passage, rules."""
    return {"name": template.name, "max_passage": template.max_passage,
            "rules": [{"after_step": r.after_step.value, "next_step": r.next_step.value,
                       "interval_hours": r.interval_hours, "grace_hours": r.grace_hours}
                      for r in template.rules]}


def _template_in_force(product_id: int, _stage: str | None = None) -> int | None:
    return db.session.scalar(select(ProcessTemplate.version).where(
        ProcessTemplate.product_id == product_id, ProcessTemplate.active.is_(True))
        .order_by(ProcessTemplate.version.desc()).limit(1))


def _template_version(product_id: int, _stage: str | None, version: int
                      ) -> dict[str, Any] | None:
    template = find_template_version(product_id, version)
    return template_content(template) if template is not None else None


def _diff_templates(old: dict[str, Any] | None, new: dict[str, Any],
                    _stage: str | None) -> list[Change]:
    return template_changes(old, new)


def _put_template_in_force(change: ChangeProposal, effective_from: datetime) -> int:
    """The approved template content becomes the product's active version (batches keep the
    version they were registered with); the previous version is retired, not deleted."""
    content = change.content_data
    for current in db.session.scalars(select(ProcessTemplate).where(
            ProcessTemplate.product_id == change.product_id, ProcessTemplate.active.is_(True))):
        current.active = False
    db.session.flush()
    latest = db.session.scalar(select(func.max(ProcessTemplate.version)).where(
        ProcessTemplate.product_id == change.product_id)) or 0
    revised = ProcessTemplate(product_id=change.product_id, version=latest + 1,
                              name=content["name"], max_passage=content["max_passage"],
                              active=True, created_at=effective_from)
    db.session.add(revised)
    db.session.flush()
    for rule in content["rules"]:
        db.session.add(TemplateRule(template_id=revised.id, **rule))
    db.session.flush()
    return revised.version


TEMPLATE = Controlled(kind=ChangeKind.process_template, label="process template",
                      version_in_force=_template_in_force, version_content=_template_version,
                      diff=_diff_templates, put_in_force=_put_template_in_force)
"""Process templates under change control (:mod:`batches.change_control`)."""


@user_is_actor
def propose_template_change(product: Product, data: dict[str, Any], reason: str,
                            user: User) -> ChangeProposal:
    """An admin or QA officer proposes a new version of the product's process template (issue
    12): ``name``, ``max_passage`` and ``rules`` given replace those of the active version,
    the others are kept. Nothing changes until a QA officer signs the approval."""
    current = active_template(product)
    content = template_content(current)
    if data.get("name") is not None:
        content["name"] = data["name"].strip()
    if "max_passage" in data:
        content["max_passage"] = data["max_passage"]
    if data.get("rules") is not None:
        content["rules"] = [{"after_step": str(r["after_step"]), "next_step": str(r["next_step"]),
                             "interval_hours": r["interval_hours"],
                             "grace_hours": r["grace_hours"]} for r in data["rules"]]
    pairs = [(r["after_step"], r["next_step"]) for r in content["rules"]]
    if len(set(pairs)) != len(pairs):
        raise BadRequest("A rule appears twice (the same step after the same step).",
                         details={"fields": {"rules": ["duplicate after_step → next_step"]}})
    return propose(TEMPLATE, product, None, content, reason, user)


@user_is_actor
def revise_template(template: ProcessTemplate, data: dict[str, Any], reason: str,
                    user: User) -> ChangeProposal:
    """Revising a template is proposing a change of it (issue 12): see
    :func:`propose_template_change`. Only the active version can be revised."""
    if not template.active:
        raise Conflict("Only the active version of a template can be revised.",
                       [f"template {template.id} is version {template.version}, retired"])
    return propose_template_change(template.product, data, reason, user)


def find_template_version(product_id: int, version: int) -> ProcessTemplate | None:
    return db.session.scalar(select(ProcessTemplate).where(
        ProcessTemplate.product_id == product_id, ProcessTemplate.version == version))


def get_template_change(change_id: int) -> ChangeProposal:
    return get_change(TEMPLATE, change_id)


def list_products() -> list[Product]:
    return list(db.session.scalars(select(Product).order_by(Product.code)))


@user_is_actor
def update_product(product: Product, data: dict[str, Any], reason: str, user: User) -> Product:
    """An admin edits a product's data (ISBT 128 description code, storage, shelf life)."""
    with audit_reason(reason):
        for key, value in data.items():
            setattr(product, key, value)
        db.session.flush()
    return product


# -- steps -----------------------------------------------------------------------------


def current_passage(batch: Batch) -> int:
    value = db.session.scalar(select(func.max(CultureStep.passage)).where(
        CultureStep.batch_id == batch.id, CultureStep.status == StepStatus.done))
    return value or 0


def _passage_refusals(batch: Batch, number: int) -> list[str]:
    reasons = []
    maximum = batch.template.max_passage
    if maximum is not None and number > maximum:
        reasons.append(f"passage P{number} is beyond the template's maximum P{maximum}")
    last = current_passage(batch)
    if number <= last:
        reasons.append(f"passage numbers only go up: the batch is already at P{last}")
    return reasons


def _check_time(batch: Batch, performed_at: datetime, field: str = "performed_at") -> None:
    refuse_future(performed_at, field)
    if performed_at < batch.collection.collected_at:
        collected = f"{batch.collection.collected_at:%Y-%m-%d %H:%M} UTC"
        raise BadRequest(f"{field} is before the collection.", details={"fields": {
            field: [f"must not be before the collection ({collected})"]}})


@user_is_actor
def log_step(batch: Batch, data: dict[str, Any], user: User) -> CultureStep:
    """Log a performed culture step (SPEC §2, §3, §7); schedules the next due steps."""
    step_type = StepType(data["type"])
    lock(batch)
    now = clock.utcnow()
    performed_at = data.get("performed_at") or now
    _check_time(batch, performed_at)
    if data.get("passage") is not None and step_type is not StepType.passage:
        raise BadRequest("A passage number belongs to passage steps only.",
                         details={"fields": {"passage": ["only for type passage"]}})
    reasons = step_refusals(step_type, batch.status, before_hold=batch.status_before_hold)
    passage = None
    if step_type is StepType.passage:
        passage = data.get("passage") or current_passage(batch) + 1
        reasons += _passage_refusals(batch, passage)
    if reasons:
        raise Conflict(f"The {step_type.value.replace('_', ' ')} step cannot be logged.", reasons)

    step = db.session.scalar(select(CultureStep).where(
        CultureStep.batch_id == batch.id, CultureStep.type == step_type,
        CultureStep.status == StepStatus.pending).order_by(CultureStep.due_at).limit(1))
    if step is None:
        step = CultureStep(batch_id=batch.id, type=step_type)
        db.session.add(step)
    step.status = StepStatus.done
    step.performed_at = performed_at
    step.performed_by_id = user.id
    step.recorded_at = now
    step.late_entry = is_late_entry(performed_at, now)
    step.passage = passage
    for key in MEASURED:
        if data.get(key) is not None:
            setattr(step, key, data[key])
    action = step_action(step_type, batch.status)
    if action is not None:
        move(batch, action)
    db.session.flush()
    _schedule_after(batch, step, performed_at)
    db.session.flush()
    return step


def _pending(batch: Batch) -> list[CultureStep]:
    return list(db.session.scalars(select(CultureStep).where(
        CultureStep.batch_id == batch.id, CultureStep.status == StepStatus.pending)))


def _schedule_after(batch: Batch, done: CultureStep, performed_at: datetime) -> None:
    if done.type in CLOSING_STEPS:
        for step in _pending(batch):
            step.status = StepStatus.cancelled
            step.cancel_reason = f"{done.type} performed"
        return
    pending = {step.type: step for step in _pending(batch)}
    for rule in batch.template.rules:
        if rule.after_step != done.type:
            continue
        due_at = performed_at + timedelta(hours=rule.interval_hours)
        existing = pending.get(rule.next_step)
        if existing is not None:
            if existing.due_at != due_at:
                existing.due_at = due_at
                existing.grace_hours = rule.grace_hours
        else:
            step = CultureStep(batch_id=batch.id, type=rule.next_step,
                               status=StepStatus.pending, due_at=due_at,
                               grace_hours=rule.grace_hours)
            db.session.add(step)
            pending[rule.next_step] = step


@user_is_actor
def correct_step(step: CultureStep, changes: dict[str, Any], reason: str,
                 user: User) -> CultureStep:
    """Correct a performed step's values with a reason (SPEC §8): audited, old value kept."""
    if step.status != StepStatus.done:
        raise Conflict("Only a performed step can be corrected.",
                       [f"step {step.id} is {step.status}"])
    if "performed_at" in changes:
        _check_time(step.batch, changes["performed_at"])
    if changes.get("passage") is not None:
        if step.type != StepType.passage:
            raise BadRequest("A passage number belongs to passage steps only.",
                             details={"fields": {"passage": ["only for type passage"]}})
        maximum = step.batch.template.max_passage
        if maximum is not None and changes["passage"] > maximum:
            raise Conflict("The correction is refused.",
                           [f"passage P{changes['passage']} is beyond the template's "
                            f"maximum P{maximum}"])
    changed = {k: v for k, v in changes.items() if getattr(step, k) != v}
    if not changed:
        raise BadRequest("The correction changes nothing.",
                         details={"fields": {"body": ["no value differs from the record"]}})
    with audit_reason(reason):
        for key, value in changed.items():
            setattr(step, key, value)
        step.corrected = True
        db.session.flush()
        suspend_release(step.batch, SuspensionCause.step_corrected,
                        f"the {step.type.replace('_', ' ')} step #{step.id} was corrected "
                        f"({', '.join(sorted(changed))}: {reason.strip()})", user,
                        entity=("culture_step", step.id))
    return step


def get_step(step_id: int) -> CultureStep:
    return get_or_404(CultureStep, step_id, "culture step")


def list_steps(batch: Batch) -> list[CultureStep]:
    return list(db.session.scalars(select(CultureStep).where(CultureStep.batch_id == batch.id)
                                   .order_by(func.coalesce(CultureStep.performed_at,
                                                           CultureStep.due_at),
                                             CultureStep.id)))


def step_state(step: CultureStep, now: datetime | None = None) -> str:
    """``pending`` | ``done`` | ``overdue`` | ``cancelled`` (overdue: past due_at + grace)."""
    if step.status != StepStatus.pending:
        return step.status
    now = now or clock.utcnow()
    if step.overdue_at is not None and step.overdue_at < now:
        return "overdue"
    return StepStatus.pending


def is_due(step: CultureStep, now: datetime | None = None) -> bool:
    now = now or clock.utcnow()
    # a pending step always has its due_at (CheckConstraint pending_is_due)
    return step.status == StepStatus.pending and step.due_at is not None and step.due_at <= now


def due_steps(until: datetime | None = None) -> list[CultureStep]:
    """Pending steps due by ``until`` (default: the end of today, facility time), any batch
    that is still being worked on, earliest first — the bench's "my work today" list."""
    if until is None:
        tz = facility_tz()
        today = clock.utcnow().astimezone(tz).date()
        until = datetime.combine(today, time(23, 59, 59), tz)
    return list(db.session.scalars(
        select(CultureStep).join(Batch)
        .where(CultureStep.status == StepStatus.pending, CultureStep.due_at <= until,
               Batch.status.in_(STEP_WORK_STATES))
        .order_by(CultureStep.due_at)))


def overdue_steps(now: datetime | None = None) -> list[CultureStep]:
    """Pending steps past due_at + grace of batches still being worked on, earliest first:
    one query on ``ix_culture_step_pending_overdue`` (the sweep uses its own, leaner one)."""
    now = now or clock.utcnow()
    return list(db.session.scalars(
        select(CultureStep).join(Batch)
        .where(CultureStep.status == StepStatus.pending, CultureStep.overdue_at < now,
               Batch.status.in_(STEP_WORK_STATES))
        .order_by(CultureStep.overdue_at)))
