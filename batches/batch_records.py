"""Batches: registration rules, quarantine, hold and resume, and the release and
rejection moves that ``qc`` calls (SPEC §3).

Registration refuses (409, every reason listed): an unscreened or
contraindicated recipient, a recipient who is not a patient, an ineligible
donor, an autologous batch whose recipient is not the collection's subject, an
allogeneic batch from a patient's (not a donor's) collection, and a second batch
of the same product from one collection (DIN + product code must identify a
dose uniquely). An allogeneic batch from a donor whose screening is incomplete
(or not yet recorded) is registered but stays quarantined (derived, see
:func:`quarantine_reasons`) until the donor is found eligible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from batches import lifecycle
from batches.alerts import BatchAlert
from batches.common import get_or_404, next_number
from batches.lifecycle import Action, BatchStatus, TransitionRefused
from batches.models import (
    Batch,
    Collection,
    DonorStatus,
    DoseStatus,
    Origin,
    ProcessTemplate,
    Product,
    RecipientStatus,
    ReleaseSuspension,
    StepStatus,
    Subject,
    SubjectKind,
    SuspensionCause,
    SuspensionEnd,
)
from batches.screening import (
    AutologousTesting,
    autologous_testing,
    latest_donor_screening,
    specimen_refusal,
)
from lims import clock
from lims.alerts.services import Cause, raise_alert
from lims.audit.context import user_is_actor
from lims.auth.models import Role, Signature, User
from lims.db import db
from lims.errors import BadRequest, Conflict, Forbidden


def find_product(code: str) -> Product:
    product = db.session.scalar(select(Product).where(Product.code == code,
                                                      Product.active.is_(True)))
    if product is None:
        known = list(db.session.scalars(select(Product.code).where(Product.active.is_(True))))
        raise BadRequest(f"Unknown product {code!r}.",
                         details={"fields": {"product": [f"one of {sorted(known)}"]}})
    return product


def active_template(product: Product) -> ProcessTemplate:
    template = db.session.scalar(select(ProcessTemplate).where(
        ProcessTemplate.product_id == product.id, ProcessTemplate.active.is_(True))
        .order_by(ProcessTemplate.version.desc()).limit(1))
    if template is None:
        raise Conflict(f"Product {product.code} has no active process template.",
                       [f"no active process template for {product.code}"])
    return template


def _registration_refusals(collection: Collection, origin: Origin, recipient: Subject,
                           product: Product) -> list[str]:
    reasons: list[str] = []
    donor = collection.subject
    if recipient.kind != SubjectKind.patient:
        reasons.append(f"the recipient {recipient.code} is a {recipient.kind}, not a patient")
    elif recipient.recipient_status == RecipientStatus.unscreened:
        reasons.append(f"the recipient {recipient.code} is unscreened")
    elif recipient.recipient_status == RecipientStatus.contraindicated:
        reasons.append(f"the recipient {recipient.code} is contraindicated")
    if origin is Origin.autologous:
        if recipient.id != donor.id:
            reasons.append(f"an autologous batch's recipient must be the collection's own "
                           f"subject ({donor.code}), not {recipient.code}")
    else:
        if donor.kind != SubjectKind.donor:
            reasons.append(f"an allogeneic batch needs a donor's collection; {donor.code} "
                           f"is a {donor.kind}")
        elif donor.donor_status == DonorStatus.ineligible:
            reasons.append(f"the donor {donor.code} is ineligible")
        if recipient.id == donor.id:
            reasons.append("an allogeneic batch's recipient cannot be its own donor")
    duplicate = db.session.scalar(select(Batch.batch_number).where(
        Batch.collection_id == collection.id, Batch.product_id == product.id))
    if duplicate:
        reasons.append(f"collection {collection.din} already has the {product.code} batch "
                       f"{duplicate}")
    return reasons


@user_is_actor
def register_batch(data: dict[str, Any], user: User) -> Batch:
    """Register a batch (SPEC §3 registration rules); 409 lists every unmet condition."""
    collection = get_or_404(Collection, data["collection_id"], "collection")
    recipient = get_or_404(Subject, data["recipient_id"], "subject")
    product = find_product(data["product"])
    origin = Origin(data["origin"])
    reasons = _registration_refusals(collection, origin, recipient, product)
    if reasons:
        raise Conflict("The batch cannot be registered.", reasons)
    template = active_template(product)
    year = clock.utcnow().year
    number = next_number(f"BATCH {product.code} {year}")
    batch = Batch(batch_number=f"{product.code}-{year}-{number:05d}",
                  collection_id=collection.id, product_id=product.id, template_id=template.id,
                  origin=origin, recipient_id=recipient.id,
                  status=BatchStatus.registered, registered_by_id=user.id,
                  recipient_weight_kg=data.get("recipient_weight_kg"),
                  prescribed_cells_per_kg_min=data.get("prescribed_cells_per_kg_min"),
                  prescribed_cells_per_kg_max=data.get("prescribed_cells_per_kg_max"))
    db.session.add(batch)
    db.session.flush()
    return batch


def quarantine_reasons(batch: Batch) -> list[str]:
    """Why the batch is visibly quarantined (SPEC §2: products from ineligible or
    incomplete donors); empty for autologous batches and eligible donors."""
    if batch.origin != Origin.allogeneic:
        return []
    donor = batch.collection.subject
    status = donor.donor_status or DonorStatus.unscreened
    if status != DonorStatus.eligible:
        return [f"donor {donor.code} is {status}"]
    screening = latest_donor_screening(donor)
    if screening is None:
        return [f"donor {donor.code} has no screening"]
    refusal = specimen_refusal(screening, batch.collection)
    if refusal:
        return [f"donor {donor.code}'s eligible specimen does not cover collection "
                f"{batch.collection.din}: {refusal}"]
    return []


def batch_autologous_testing(batch: Batch) -> AutologousTesting | None:
    """The patient's own infectious-disease testing behind an autologous batch (SPEC §2,
    21 CFR 1271.90(c)); ``None`` for an allogeneic batch. Shown, never blocking."""
    if batch.origin != Origin.autologous:
        return None
    return autologous_testing(batch.collection.subject)


SEGREGATED_STORAGE_NOTE = "store segregated: reactive autologous product ({markers})"


def segregated_storage_note(batch: Batch) -> str | None:
    """SPEC §2: a reactive autologous result flags segregated storage — the note the batch and
    dose pages and API show; ``None`` when the product need not be stored apart."""
    return storage_note_of(batch_autologous_testing(batch))


def storage_note_of(testing: AutologousTesting | None) -> str | None:
    """:func:`segregated_storage_note` of testing already read."""
    if testing is None or not testing.segregated_storage:
        return None
    return SEGREGATED_STORAGE_NOTE.format(markers=", ".join(testing.reactive_markers))


def is_quarantined(batch: Batch) -> bool:
    return bool(quarantine_reasons(batch))


def get_batch(batch_id: int) -> Batch:
    return get_or_404(Batch, batch_id, "batch")


def find_by_number(number: str) -> Batch | None:
    return db.session.scalar(select(Batch).where(Batch.batch_number == number))


def list_batches(status: str | None = None, limit: int = 500) -> list[Batch]:
    query = select(Batch)
    if status:
        query = query.where(Batch.status == status)
    return list(db.session.scalars(query.order_by(Batch.id.desc()).limit(limit)))


def lock(batch: Batch) -> Batch:
    """Take the batch's row lock (PostgreSQL ``SELECT … FOR UPDATE``) and re-read it, before
    changing the batch, its steps or its doses.

    Concurrent writers to one batch then queue here, all in the same order, instead of
    both filling the same pending step (the later silently overwriting the earlier) or
    deadlocking against each other on the audit trail's head row. SQLite already
    serialises writers with ``BEGIN IMMEDIATE``.
    """
    db.session.refresh(batch, with_for_update=True)
    return batch


def move(batch: Batch, action: Action) -> BatchStatus:
    """Apply a life-cycle move to the batch; 409 with the reasons when the graph refuses it."""
    try:
        target = lifecycle.next_status(batch.status, action,
                                       before_hold=batch.status_before_hold)
    except TransitionRefused as refused:
        raise Conflict(f"Batch {batch.batch_number}: {refused}", refused.reasons) from None
    batch.status = target
    return target


@user_is_actor
def hold_batch(batch: Batch, reason: str, user: User) -> Batch:
    """Put an active batch on hold with a reason (SPEC §3); it resumes to where it was."""
    from lims.audit import reason as audit_reason

    lock(batch)
    before = batch.status
    with audit_reason(reason):
        move(batch, Action.hold)
        batch.status_before_hold = before
        batch.hold_reason = reason
        db.session.flush()
    return batch


@user_is_actor
def resume_batch(batch: Batch, reason: str, user: User) -> Batch:
    """QA resumes a held batch to its pre-hold status, with a reason (SPEC §3)."""
    if user.role != Role.qa:
        raise Forbidden("Only QA can resume a batch on hold.",
                        details={"required_roles": ["qa"], "role": user.role})
    from lims.audit import reason as audit_reason

    lock(batch)
    with audit_reason(reason):
        move(batch, Action.resume)
        batch.status_before_hold = None
        batch.hold_reason = None
        db.session.flush()
    return batch


def mark_released(batch: Batch, signature: Signature) -> Batch:
    """The release move, called by ``qc`` once every release condition is met and QA
    has signed (SPEC §3 Release): from QC review, or from a suspended release (a
    re-release, SPEC §3b, which ends the open suspensions). Quarantined doses are
    released; doses already given, disposed or on their way keep their status."""
    lock(batch)
    move(batch, Action.release)
    batch.release_signature_id = signature.id
    for dose in batch.doses:
        if dose.status == DoseStatus.quarantined:
            dose.status = DoseStatus.released
    _end_suspensions(batch, SuspensionEnd.re_released, signature)
    db.session.flush()
    return batch


ReleaseCheck = Callable[[Batch], list[str]]
_RELEASE_CHECKS = "batches_release_checks"


def add_release_check(app: Flask, check: ReleaseCheck) -> None:
    """Register ``check(batch) -> reasons``: why a *released* batch's release does not hold
    now (empty: it holds). ``qc`` registers the signature check (the signed record is
    unchanged); custody and the bedside refuse a dose whose release does not hold, a
    second line behind :func:`suspend_release` (``batches`` never imports ``qc``)."""
    app.extensions.setdefault(_RELEASE_CHECKS, []).append(check)


def release_problems(batch: Batch) -> list[str]:
    """Why the batch's release does not hold at this moment (empty: it holds)."""
    if batch.status != BatchStatus.released:
        return [f"the batch {batch.batch_number} is {batch.status.replace('_', ' ')}, "
                "not released"]
    problems: list[str] = []
    for check in current_app.extensions.get(_RELEASE_CHECKS, []):
        problems += check(batch)
    return problems


def open_suspensions(batch: Batch) -> list[ReleaseSuspension]:
    """Why the batch's release is suspended now (empty unless ``release_suspended``)."""
    return list(db.session.scalars(select(ReleaseSuspension).where(
        ReleaseSuspension.batch_id == batch.id, ReleaseSuspension.ended_at.is_(None))
        .order_by(ReleaseSuspension.id)))


def suspensions(batch: Batch) -> list[ReleaseSuspension]:
    """Every suspension of the batch's release, oldest first (ended ones included)."""
    return list(db.session.scalars(select(ReleaseSuspension).where(
        ReleaseSuspension.batch_id == batch.id).order_by(ReleaseSuspension.id)))


def suspend_release(batch: Batch, cause: SuspensionCause, description: str,
                    user: User | None, *, entity: tuple[str, Any] | None = None
                    ) -> ReleaseSuspension | None:
    """A release stays true, or stops the product (SPEC §3b): something the release
    signature covers changed after release, so the release is suspended at once.

    A released batch becomes ``release_suspended`` and its released doses
    ``quarantined``: none can be shipped, delivered, thawed or administered
    (:mod:`batches.custody_rules`), labels printed from now on carry the quarantine
    statement, and a ``release_suspended`` alert opens for QA (who caused it is
    recorded: they may not close it). A batch already suspended records the further
    cause (shown with the batch and on the re-release screen) without a new alert.
    Any other batch (not yet released, recalled, rejected) is left as it is: returns
    ``None``. QA then re-releases (:func:`mark_released`) or recalls.
    """
    db.session.flush()
    lock(batch)
    if batch.status not in (BatchStatus.released, BatchStatus.release_suspended):
        return None
    newly = batch.status == BatchStatus.released
    if newly:
        move(batch, Action.suspend)
        for dose in batch.doses:
            if dose.status == DoseStatus.released:
                dose.status = DoseStatus.quarantined
    suspension = ReleaseSuspension(
        batch_id=batch.id, cause=SuspensionCause(cause), description=description[:2000],
        entity_type=entity[0] if entity else None,
        entity_id=str(entity[1]) if entity else None, suspended_at=clock.utcnow(),
        caused_by_id=user.id if user is not None else None)
    db.session.add(suspension)
    db.session.flush()
    if newly:
        raise_alert(BatchAlert.release_suspended, Cause(
            "batch", str(batch.id),
            f"Release of {batch.batch_number} suspended: {description}", batch_id=batch.id,
            caused_by_id=user.id if user is not None else None))
    return suspension


def _end_suspensions(batch: Batch, end: SuspensionEnd, signature: Signature | None) -> None:
    now = clock.utcnow()
    for suspension in open_suspensions(batch):
        suspension.ended_at = now
        suspension.ended_by = end
        suspension.end_signature_id = signature.id if signature is not None else None


def mark_recalled(batch: Batch, signature: Signature) -> Batch:
    """The recall move, called by ``qc`` with QA's signature (SPEC §3b): a released or
    suspended batch becomes ``recalled`` for good; its open suspensions end, and doses
    still released go back to quarantine (none may be given)."""
    lock(batch)
    move(batch, Action.recall)
    for dose in batch.doses:
        if dose.status == DoseStatus.released:
            dose.status = DoseStatus.quarantined
    _end_suspensions(batch, SuspensionEnd.recalled, signature)
    db.session.flush()
    return batch


def mark_rejected(batch: Batch, signature: Signature, reason: str) -> Batch:
    """The rejection move, called by ``qc`` with QA's signature and reason (SPEC §3);
    pending culture steps are cancelled and the doses are marked for disposal."""
    lock(batch)
    move(batch, Action.reject)
    batch.status_before_hold = None
    batch.hold_reason = None
    batch.rejection_signature_id = signature.id
    batch.rejection_reason = reason
    for step in batch.steps:
        if step.status == StepStatus.pending:
            step.status = StepStatus.cancelled
            step.cancel_reason = "batch rejected"
    for dose in batch.doses:
        dose.status = DoseStatus.rejected
    db.session.flush()
    return batch
