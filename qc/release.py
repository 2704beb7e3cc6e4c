"""Release and rejection of a batch by QA, with Part 11 signatures (SPEC §3, §8).

* :func:`release_batch` — QA only; the signer re-enters the password (a wrong one is
  401 and counts towards the lockout), the meaning is ``approval``; every condition
  of SPEC §3 is checked (:mod:`qc.release_conditions`) and a refusal lists them all
  (409 ``details.reasons``, with ``details.unmet`` numbering each condition).
* The signature is bound to :func:`batch_record_content` as signed; if the record
  changes afterwards (a corrected step or result, a new dose…) the release shows as
  invalidated (:func:`batch_release_info`), and the change suspends it at once
  (:mod:`qc.post_release`, SPEC §3b). QA re-releases a suspended batch with
  :func:`release_batch` (a new signature, every condition checked again) or recalls
  it (:mod:`qc.recall`).
* :func:`reject_batch` — QA, signature (meaning ``rejection``) and a reason; the
  doses become ``rejected`` and must then be disposed (custody ``disposed``).
* Exceptional release for urgent medical need: :func:`request_exceptional_release`
  (physician's request + first QA signature), then :func:`approve_exceptional_release`
  by a second, different QA officer, which releases the batch.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from batches import services as batch_services
from batches.alerts import BatchAlert
from batches.common import refuse_future
from batches.custody import chain_links
from batches.lifecycle import RELEASED_ONCE, BatchStatus
from batches.models import Batch, CultureStep, DonorStatus, Dose, DoseStatus, StepStatus
from lims import clock
from lims.alerts.models import Alert
from lims.audit import Audited, AuditEntry
from lims.audit.context import user_is_actor
from lims.auth.models import Meaning, Role, Signature, User
from lims.auth.services import sign, signature_holds
from lims.auth.signing import meanings_for
from lims.db import db
from lims.errors import Conflict, Forbidden, NotFound
from qc import deviations as deviation_services
from qc import signing_acts
from qc.alerts import QcAlert
from qc.models import (
    ExceptionalFollowUp,
    ExceptionalRelease,
    ExceptionalReleaseStatus,
    QcResult,
    Stage,
    Timing,
)
from qc.release_conditions import (
    CustodyFact,
    DoseFact,
    ReleaseFacts,
    ResultFact,
    Unmet,
    unmet_conditions,
    waived_item_codes,
)
from qc.results import counting_results, list_results
from qc.specifications import spec_for_batch

RELEASABLE_STATES = (BatchStatus.qc_review, BatchStatus.release_suspended)

POST_RELEASE_ALERTS = (BatchAlert.release_suspended.value, BatchAlert.lookback.value,
                       QcAlert.post_release_failure.value)
"""Alerts that must be closed (by QA, with an investigation) before a re-release."""

RELEASE_STATEMENT = "Approved for release"
REJECTION_STATEMENT = "Rejected"
URGENT_STATEMENT = "Approved for release for urgent medical need before completion of testing"


def _require_qa(user: User, what: str) -> None:
    if user.role != Role.qa:
        raise Forbidden(f"Only QA can {what}.", details={"required_roles": ["qa"],
                                                         "role": user.role})


# -- the signed record -----------------------------------------------------------------------


def batch_record_content(batch: Batch, as_of: datetime | None = None) -> dict[str, Any]:
    """The batch record a release or rejection signature is bound to (SPEC §3 item 7, §8).

    The batch's identity and origin, its performed culture steps with their values,
    its QC results with their reviews, and its doses. ``as_of`` (the moment a
    signature took effect) leaves out the results entered after it — the follow-up
    results a release expects (SPEC §2 timing ``follow_up``, an exceptional
    release's pending sterility); a re-release signs them in. Statuses are left out
    (they are what the signature changes), and so are pending/cancelled steps and
    custody handoffs after release.
    """
    steps = db.session.scalars(select(CultureStep).where(
        CultureStep.batch_id == batch.id, CultureStep.status == StepStatus.done)
        .order_by(CultureStep.id))
    results = [r for r in list_results(batch) if as_of is None or r.recorded_at <= as_of]
    return {
        "batch": {"id": batch.id, "batch_number": batch.batch_number,
                  "product": batch.product.code, "origin": batch.origin,
                  "din": batch.collection.din, "collection_id": batch.collection_id,
                  "recipient_id": batch.recipient_id, "template_id": batch.template_id,
                  "registered_at": batch.registered_at},
        "steps": [{"id": s.id, "type": s.type, "performed_at": s.performed_at,
                   "performed_by_id": s.performed_by_id, "passage": s.passage,
                   "cell_count": s.cell_count, "viability_pct": s.viability_pct,
                   "confluence_pct": s.confluence_pct, "media_lot": s.media_lot,
                   "incubator": s.incubator, "notes": s.notes, "corrected": s.corrected}
                  for s in steps],
        "qc_results": [{"id": r.id, "test": r.test, "stage": r.stage, "value": r.value,
                        "unit": r.unit, "outcome": r.outcome, "evaluation": r.evaluation,
                        "method": r.method, "instrument": r.instrument,
                        "sampled_at": r.sampled_at, "analyst_id": r.analyst_id,
                        "corrected": r.corrected, "reviewed_by_id": r.reviewed_by_id,
                        "reviewed_at": r.reviewed_at} for r in results],
        "doses": [{"id": d.id, "code": d.code, "cells": d.cells, "volume_ml": d.volume_ml,
                   "container": d.container, "storage_temperature": d.storage_temperature,
                   "expires_at": d.expires_at} for d in batch.doses],
    }


# -- the facts and the conditions ------------------------------------------------------------


def _open_overdue_alerts(batch: Batch) -> list[str]:
    alerts = db.session.scalars(select(Alert).where(
        Alert.kind == BatchAlert.overdue_step.value, Alert.batch_id == batch.id,
        Alert.resolved_at.is_(None)))
    return [alert.summary for alert in alerts]


def _open_post_release_alerts(batch: Batch) -> list[str]:
    alerts = db.session.scalars(select(Alert).where(
        Alert.kind.in_(POST_RELEASE_ALERTS), Alert.batch_id == batch.id,
        Alert.resolved_at.is_(None)).order_by(Alert.id))
    return [alert.summary for alert in alerts]


def _signer_performed(batch: Batch, user: User) -> list[str]:
    """What ``user`` did on the batch that bars them from signing its release (SPEC §3
    item 6): performed a culture step, entered a QC result, formulated the doses, or
    corrected any of them (:func:`_signer_corrected`)."""
    done = []
    steps = db.session.scalars(select(CultureStep).where(
        CultureStep.batch_id == batch.id, CultureStep.performed_by_id == user.id,
        CultureStep.status == StepStatus.done))
    done += [f"performed the {s.type.replace('_', ' ')} step #{s.id}" for s in steps]
    results = db.session.scalars(select(QcResult).where(
        QcResult.batch_id == batch.id, QcResult.analyst_id == user.id))
    done += [f"entered the {r.test} QC result #{r.id}" for r in results]
    if any(d.formulated_by_id == user.id for d in batch.doses):
        done.append("formulated the doses")
    return done + _signer_corrected(batch, user)


CORRECTED_RECORDS: dict[str, tuple[type[Audited], str]] = {
    "culture_step": (CultureStep, "step"), "qc_result": (QcResult, "QC result"),
    "dose": (Dose, "dose")}


def _signer_corrected(batch: Batch, user: User) -> list[str]:
    """Every correction ``user`` made to a step, result or dose of the batch, read from the
    audit trail (docs/QC.md, "Segregation of duties"): an update with a reason that
    changed a recorded value (a field in the model's ``__audit_corrections__``). The
    trail keeps every corrector, not only the last one a column could hold, and it is
    the record an inspector reads."""
    ids = {
        "culture_step": [str(i) for i in db.session.scalars(
            select(CultureStep.id).where(CultureStep.batch_id == batch.id))],
        "qc_result": [str(i) for i in db.session.scalars(
            select(QcResult.id).where(QcResult.batch_id == batch.id))],
        "dose": [str(d.id) for d in batch.doses]}
    clauses = [(AuditEntry.entity_type == kind) & AuditEntry.entity_id.in_(values)
               for kind, values in ids.items() if values]
    if not clauses:
        return []
    entries = db.session.execute(
        select(AuditEntry.entity_type, AuditEntry.entity_id, AuditEntry.changes)
        .where(AuditEntry.actor_id == user.id, AuditEntry.action == "update",
               AuditEntry.reason.is_not(None), or_(*clauses))
        .order_by(AuditEntry.seq))
    found: dict[tuple[str, str], set[str]] = {}
    for kind, entity_id, changes in entries:
        model, _label = CORRECTED_RECORDS[kind]
        fields = set(json.loads(changes)) & set(model.__audit_corrections__)
        if fields:
            found.setdefault((kind, entity_id), set()).update(fields)
    return [f"corrected {', '.join(sorted(fields))} of the {CORRECTED_RECORDS[kind][1]} "
            f"#{entity_id}" for (kind, entity_id), fields in found.items()]


def release_facts(batch: Batch, signer: User) -> ReleaseFacts:
    spec = spec_for_batch(batch, Stage.release)
    results = counting_results(batch, Stage.release)
    follow_up = {t.test for t in spec.tests if t.timing == Timing.follow_up} if spec else set()
    donor = batch.collection.subject
    quarantine = batch_services.quarantine_reasons(batch)
    doses = [DoseFact(code=d.code, formulated_at=d.formulated_at,
                      events=[CustodyFact(link.event, link.occurred_at, link.confirmed_by_scan)
                              for link in chain_links(list(d.custody_events))],
                      cryopreserved=d.cryopreserved)
             for d in batch.doses]
    return ReleaseFacts(
        batch_status=batch.status, origin=batch.origin,
        release_tests=[t.test for t in spec.tests if t.timing == Timing.release]
        if spec else None,
        results={test: ResultFact(test, r.evaluation, r.reviewed_at is not None)
                 for test, r in results.items() if test not in follow_up},
        follow_up_results={test: ResultFact(test, r.evaluation, r.reviewed_at is not None)
                           for test, r in results.items() if test in follow_up},
        open_post_release_alerts=_open_post_release_alerts(batch),
        open_deviations=[deviation_services.label(d) for d in deviation_services.list_deviations(
            batch, open_only=True)],
        open_overdue_alerts=_open_overdue_alerts(batch),
        donor_code=donor.code, donor_quarantine=quarantine,
        donor_incomplete=donor.donor_status in (DonorStatus.incomplete,
                                                DonorStatus.unscreened, None),
        recipient_code=batch.recipient.code,
        recipient_is_donor=batch.recipient_id == donor.id,
        recipient_status=batch.recipient.recipient_status,
        doses=doses, signer=signer.username, signer_performed=_signer_performed(batch, signer))


def _refuse(unmet: list[Unmet], what: str) -> None:
    if unmet:
        raise Conflict(f"The batch cannot be {what}.", [u.reason for u in unmet],
                       details={"unmet": [u.as_dict() for u in unmet]})


def release_readiness(batch: Batch, user: User) -> list[Unmet]:
    """What stands between the batch and a release signed by ``user`` (for screens)."""
    return unmet_conditions(release_facts(batch, user))


# -- release ------------------------------------------------------------------------------


@user_is_actor
def release_batch(batch: Batch, password: str, meaning: str, user: User, *,
                  username: str | None = None) -> Batch:
    """QA releases a batch with an e-signature (SPEC §3 Release, items 1–7); a suspended
    release is re-released the same way (SPEC §3b: a new signature over the record as it
    now is, every condition checked again)."""
    _require_qa(user, "release a batch")
    content = batch_record_content(batch)
    signature = sign(user, password, meaning, "batch", batch.id, content,
                     allowed=meanings_for(signing_acts.RELEASE), username=username,
                     statement=f"{RELEASE_STATEMENT}: batch {batch.batch_number}")
    _refuse(unmet_conditions(release_facts(batch, user)), "released")
    batch_services.mark_released(batch, signature)
    return batch


@user_is_actor
def reject_batch(batch: Batch, password: str, reason: str, user: User,
                 meaning: str = Meaning.rejection, *, username: str | None = None) -> Batch:
    """QA rejects a batch with an e-signature (meaning ``rejection``) and a reason (SPEC §3).

    The doses become ``rejected`` and must be disposed (custody event ``disposed``);
    a pending exceptional release is cancelled.
    """
    _require_qa(user, "reject a batch")
    content = batch_record_content(batch)
    signature = sign(user, password, meaning, "batch", batch.id, content,
                     allowed=meanings_for(signing_acts.REJECTION), username=username,
                     statement=f"{REJECTION_STATEMENT}: batch {batch.batch_number}: {reason}")
    from lims.audit import reason as audit_reason

    with audit_reason(reason):
        batch_services.mark_rejected(batch, signature, reason.strip())
        pending = _exceptional(batch, ExceptionalReleaseStatus.awaiting_second_signature)
        if pending is not None:
            pending.status = ExceptionalReleaseStatus.cancelled
            pending.cancel_reason = "batch rejected"
        db.session.flush()
    return batch


def doses_awaiting_disposal(batch: Batch) -> list[Dose]:
    """The rule after a rejection: every ``rejected`` dose must be disposed (its custody
    chain ends with ``disposed``, recorded by the custody screens)."""
    return [d for d in batch.doses if d.status == DoseStatus.rejected]


# -- exceptional release ------------------------------------------------------------------


def _exceptional(batch: Batch, status: ExceptionalReleaseStatus | None = None
                 ) -> ExceptionalRelease | None:
    query = select(ExceptionalRelease).where(
        ExceptionalRelease.batch_id == batch.id,
        ExceptionalRelease.status != ExceptionalReleaseStatus.cancelled)
    if status is not None:
        query = query.where(ExceptionalRelease.status == status)
    return db.session.scalar(query.order_by(ExceptionalRelease.id.desc()).limit(1))


@user_is_actor
def request_exceptional_release(batch: Batch, data: dict[str, Any], user: User
                                ) -> ExceptionalRelease:
    """First step of an exceptional release (SPEC §3): the physician's request is recorded
    and a first QA officer signs; a second, different QA officer must then approve.

    Allowed only while the sterility result or the donor screening is pending; every
    other release condition must hold.
    """
    _require_qa(user, "sign an exceptional release")
    content = batch_record_content(batch)
    signature = sign(user, data["password"], data.get("meaning", "approval"), "batch",
                     batch.id, content, allowed=meanings_for(signing_acts.EXCEPTIONAL_REQUEST),
                     username=data.get("username"),
                     statement=f"{URGENT_STATEMENT} (1st of 2): batch {batch.batch_number}; "
                               f"requested by {data['physician_name']}")
    facts = release_facts(batch, user)
    unmet = unmet_conditions(facts, exceptional=True)
    if _exceptional(batch) is not None:
        unmet.insert(0, Unmet(0, "an exceptional release is already requested"))
    waived = list(waived_item_codes(facts).values())
    if not waived:
        unmet.insert(0, Unmet(0, "nothing is pending (sterility result, donor screening): "
                                 "use the standard release"))
    _refuse(unmet, "released exceptionally")
    request = ExceptionalRelease(
        batch_id=batch.id, status=ExceptionalReleaseStatus.awaiting_second_signature,
        physician_name=data["physician_name"].strip(),
        physician_request=data["physician_request"].strip(), pending_items=json.dumps(waived),
        requested_at=clock.utcnow(), first_signature_id=signature.id)
    db.session.add(request)
    db.session.flush()
    return request


@user_is_actor
def approve_exceptional_release(batch: Batch, password: str, meaning: str, user: User, *,
                                username: str | None = None) -> ExceptionalRelease:
    """Second QA signature of an exceptional release; releases the batch (SPEC §3)."""
    _require_qa(user, "sign an exceptional release")
    request = _exceptional(batch, ExceptionalReleaseStatus.awaiting_second_signature)
    content = batch_record_content(batch)
    signature = sign(user, password, meaning, "batch", batch.id, content,
                     allowed=meanings_for(signing_acts.EXCEPTIONAL_APPROVAL), username=username,
                     statement=f"{URGENT_STATEMENT} (2nd of 2): batch {batch.batch_number}")
    unmet: list[Unmet] = []
    facts = release_facts(batch, user)
    if request is None:
        unmet.append(Unmet(0, "no exceptional release awaits a second signature"))
    else:
        if request.first_signature.user_id == user.id:
            unmet.append(Unmet(7, "the second signature must come from a different QA officer"))
        if not signature_holds(request.first_signature, content):
            unmet.append(Unmet(7, "the batch record changed since the first signature"))
        told = json.loads(request.pending_items)
        pending = list(waived_item_codes(facts).values())
        if sorted(told) != sorted(pending):
            unmet.append(Unmet(0, "what is pending changed since the physician was told "
                                  f"({'; '.join(told) or 'nothing'}; now: "
                                  f"{'; '.join(pending) or 'nothing'}): request the "
                                  "exceptional release again"))
    unmet += unmet_conditions(facts, exceptional=True)
    _refuse(unmet, "released exceptionally")
    assert request is not None  # else unmet names it and _refuse has raised
    request.second_signature_id = signature.id
    request.status = ExceptionalReleaseStatus.released
    request.released_at = signature.signed_at
    db.session.flush()
    batch_services.mark_released(batch, signature)
    return request


# -- what labels and reports need -------------------------------------------------------------


def _signature_info(signature: Signature, content: dict[str, Any]) -> dict[str, Any]:
    return {"signer": signature.username, "printed_name": signature.printed_name,
            "meaning": signature.meaning, "signed_at": signature.signed_at,
            "statement": signature.statement, "manifestation": signature.manifestation,
            "valid": signature_holds(signature, content)}


def release_exceptional(batch: Batch) -> ExceptionalRelease | None:
    """The exceptional release the batch's current release rests on (``None`` when the
    batch was released — or re-released — the standard way, or never)."""
    request = _exceptional(batch, ExceptionalReleaseStatus.released)
    if request is not None and batch.release_signature_id == request.second_signature_id:
        return request
    return None


def release_signature_holds(batch: Batch) -> bool:
    """Whether the signatures the batch's current release rests on still hold over the
    record as it was when the release took effect (SPEC §3b, §8)."""
    signature = batch.release_signature
    if signature is None:
        return False
    content = batch_record_content(batch, as_of=signature.signed_at)
    request = release_exceptional(batch)
    signatures = [request.first_signature, signature] if request is not None else [signature]
    return all(signature_holds(s, content) for s in signatures)


def release_check(batch: Batch) -> list[str]:
    """Registered with ``batches`` (:func:`batches.batch_records.add_release_check`): why
    a released batch's release does not hold now — its signed record changed."""
    if batch.status != BatchStatus.released or release_signature_holds(batch):
        return []
    return [f"the record of batch {batch.batch_number} changed after its release signature"]


def batch_release_info(batch: Batch) -> dict[str, Any]:
    """Release status for labels and reports (SPEC §3, §3b, §5, §6).

    ``status`` (the batch's); ``released`` (released *now*: false while the release is
    suspended or recalled, so labels carry the quarantine statement), ``suspended``,
    ``recalled``, ``rejected``, ``signed`` (a release was signed once);
    ``holds`` (released and every signature still holds); ``urgent_medical_need``
    (the current release is an exceptional one); ``signatures`` (printed name, UTC
    time, meaning, whether each still holds for the record as it was when the release
    took effect); ``valid`` (None unless decided; False once the signed record has
    changed: ``invalidated``); ``suspended_because``; the physician's request, what
    was pending and what has arrived since for an exceptional release; the
    rejection reason.
    """
    request = _exceptional(batch)
    current = release_exceptional(batch)
    release = batch.release_signature
    signatures: list[dict[str, Any]] = []
    if request is not None and request.status == ExceptionalReleaseStatus.awaiting_second_signature:
        signatures.append(_signature_info(request.first_signature, batch_record_content(batch)))
    elif release is not None:
        released_content = batch_record_content(batch, as_of=release.signed_at)
        signers = [current.first_signature, release] if current is not None else [release]
        signatures += [_signature_info(s, released_content) for s in signers]
    if batch.rejection_signature is not None:
        signatures.append(_signature_info(batch.rejection_signature, batch_record_content(
            batch, as_of=batch.rejection_signature.signed_at)))
    status = batch.status
    released = status is BatchStatus.released
    rejected = status is BatchStatus.rejected
    signed = status in RELEASED_ONCE
    valid = all(s["valid"] for s in signatures) if (signed or rejected) and signatures \
        else None
    urgent = current is not None
    return {
        "batch_id": batch.id, "batch_number": batch.batch_number, "status": batch.status,
        "released": released, "rejected": rejected, "signed": signed,
        "suspended": status is BatchStatus.release_suspended,
        "recalled": status is BatchStatus.recalled,
        "holds": released and valid is True, "urgent_medical_need": urgent,
        "statement": URGENT_STATEMENT if urgent else (RELEASE_STATEMENT if signed else None),
        "signatures": signatures, "valid": valid, "invalidated": valid is False,
        "suspended_because": [s.description for s in batch_services.open_suspensions(batch)],
        "exceptional_release": None if request is None else {
            "id": request.id, "status": request.status,
            "physician_name": request.physician_name,
            "physician_request": request.physician_request,
            "pending_items": json.loads(request.pending_items),
            "requested_at": request.requested_at, "released_at": request.released_at,
            "follow_ups": list(request.follow_ups)},
        "rejection_reason": batch.rejection_reason,
        "doses_awaiting_disposal": [d.code for d in doses_awaiting_disposal(batch)],
    }


def release_queue() -> list[Batch]:
    """Batches awaiting a QA decision, oldest first: in QC review, and suspended releases
    (re-release or recall, SPEC §3b)."""
    return list(db.session.scalars(select(Batch).where(Batch.status.in_(
        list(RELEASABLE_STATES))).order_by(Batch.registered_at, Batch.id)))


# -- exceptional release: the pending results arrive ------------------------------------------


def get_follow_up(follow_up_id: int) -> ExceptionalFollowUp:
    follow_up = db.session.get(ExceptionalFollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound(f"No exceptional release follow-up {follow_up_id}.",
                       details={"id": follow_up_id, "type": "exceptional release follow-up"})
    return follow_up


@user_is_actor
def notify_physician(follow_up: ExceptionalFollowUp, data: dict[str, Any], user: User
                     ) -> ExceptionalFollowUp:
    """Record that the physician who asked for the exceptional release was told of a
    pending result that has arrived (SPEC §3): who, how, when."""
    _require_qa(user, "record the physician's notification")
    if follow_up.physician_notified_at is not None:
        raise Conflict("The physician is already notified of this result.",
                       [f"notified {follow_up.physician_notified_at.isoformat()} "
                        f"({follow_up.physician_name})"])
    notified_at = data.get("notified_at") or clock.utcnow()
    refuse_future(notified_at, "notified_at")
    if notified_at < follow_up.arrived_at:
        raise Conflict("The notification cannot precede the result.",
                       [f"the result arrived {follow_up.arrived_at.isoformat()}"])
    follow_up.physician_name = data["physician_name"].strip()
    follow_up.method = data["method"]
    follow_up.physician_notified_at = notified_at
    follow_up.notified_by_id = user.id
    follow_up.notes = data.get("notes")
    db.session.flush()
    return follow_up
