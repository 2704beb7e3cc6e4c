"""Recall of a released batch (SPEC §3b): QA-signed, every dose accounted for, closed by a
QA signature.

* :func:`recall_batch` — QA, password, meaning ``approval``, a reason; from
  ``released`` or ``release_suspended``. The batch becomes ``recalled`` for good:
  no dose not yet administered may be shipped (except back to the facility),
  delivered, thawed or given. The recall record keeps each dose as the recall
  found it: status, last custody location and holder, and the *site* holding it
  (or where it was given) when it had left the processing facility.
* :func:`record_disposition` — each dose not administered is ``returned`` (a
  ``received`` custody event at the processing facility, after its return
  shipment) or ``disposed`` (a ``disposed`` custody event, with the reason),
  confirmed by scanning its label. A custody event recorded through the custody
  screens after the recall (the return received, a disposal) is linked instead of
  recording a second one.
* :func:`record_notification` — each site is notified (who, how, when) and
  acknowledges; the treating physician of each dose already administered is
  notified (SPEC: "doses already administered need a recorded notification").
* :func:`close_recall` — QA's signature once every dose is accounted for and every
  site has acknowledged; otherwise 409 listing what is missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from batches import services as batch_services
from batches.common import refuse_future
from batches.custody import facility_name, last_event, record_custody_event
from batches.lifecycle import BatchStatus
from batches.models import Batch, CustodyEvent, CustodyEventType, Dose, DoseStatus
from lims import clock
from lims.audit import reason as audit_reason
from lims.audit.context import user_is_actor
from lims.auth.models import Role, User
from lims.auth.services import sign
from lims.auth.signing import meanings_for
from lims.db import db
from lims.errors import Conflict, Forbidden, NotFound
from qc import signing_acts
from qc.models import (
    Disposition,
    NotificationKind,
    Recall,
    RecallDose,
    RecallNotification,
    RecallStatus,
)

RECALL_STATEMENT = "Recalled"
CLOSE_STATEMENT = "Recall closed: every dose accounted for"

RECALL_ACT = signing_acts.RECALL
CLOSE_ACT = signing_acts.RECALL_CLOSURE


def _require_qa(user: User, what: str) -> None:
    if user.role != Role.qa:
        raise Forbidden(f"Only QA can {what}.", details={"required_roles": ["qa"],
                                                         "role": user.role})


def get_recall(batch: Batch) -> Recall:
    recall = db.session.scalar(select(Recall).where(Recall.batch_id == batch.id))
    if recall is None:
        raise NotFound(f"Batch {batch.batch_number} is not recalled.",
                       details={"id": batch.id, "type": "recall"})
    return recall


def get_notification(notification_id: int) -> RecallNotification:
    notification = db.session.get(RecallNotification, notification_id)
    if notification is None:
        raise NotFound(f"No recall notification {notification_id}.",
                       details={"id": notification_id, "type": "recall notification"})
    return notification


def _whereabouts(dose: Dose) -> tuple[str | None, str | None, str | None]:
    """(location, holder, site): the dose's last custody place and holder, and that place
    as a site to notify when the dose had left the processing facility."""
    last = last_event(dose)
    left = db.session.scalar(select(CustodyEvent.id).where(
        CustodyEvent.dose_id == dose.id, CustodyEvent.event == CustodyEventType.shipped)
        .limit(1)) is not None
    location = last.to_location if last else None
    outside = left and location is not None and location.strip() != facility_name()
    return location, (last.to_person if last else None), (location if outside else None)


def recall_content(batch: Batch, reason: str) -> dict[str, Any]:
    """What the recall signature binds: the batch, the reason, the doses as found."""
    return {"batch": batch.id, "batch_number": batch.batch_number, "reason": reason,
            "doses": [{"id": d.id, "code": d.code, "status": d.status,
                       "where": _whereabouts(d)} for d in batch.doses]}


@user_is_actor
def recall_batch(batch: Batch, password: str, meaning: str, reason: str, user: User, *,
                 username: str | None = None) -> Recall:
    """QA recalls a released or suspended batch with an e-signature and a reason (SPEC §3b);
    ``username``: the signer's user id (at the first signing of a session)."""
    _require_qa(user, "recall a batch")
    reason = reason.strip()
    signature = sign(user, password, meaning, "batch", batch.id, recall_content(batch, reason),
                     allowed=meanings_for(RECALL_ACT), username=username,
                     statement=f"{RECALL_STATEMENT}: batch {batch.batch_number}: {reason}")
    if batch.status not in (BatchStatus.released, BatchStatus.release_suspended):
        raise Conflict(f"Batch {batch.batch_number} cannot be recalled.",
                       [f"the batch is {batch.status.replace('_', ' ')}: only a released or "
                        "suspended batch is recalled"])
    recall = Recall(batch_id=batch.id, status=RecallStatus.open, reason=reason,
                    recalled_at=signature.signed_at, signature_id=signature.id)
    db.session.add(recall)
    db.session.flush()
    for dose in batch.doses:
        location, holder, site = _whereabouts(dose)
        last = last_event(dose)
        disposed = dose.status == DoseStatus.disposed
        db.session.add(RecallDose(
            recall_id=recall.id, dose_id=dose.id, status_at_recall=dose.status,
            location=location, holder=holder, site=site,
            administered=dose.status == DoseStatus.administered,
            disposition=Disposition.disposed if disposed else None,
            disposition_at=last.occurred_at if disposed and last else None,
            custody_event_id=last.id if disposed and last else None))
    with audit_reason(reason):
        batch_services.mark_recalled(batch, signature)
    db.session.refresh(recall)
    return recall


def _open_recall(batch: Batch) -> Recall:
    recall = db.session.scalar(select(Recall).where(Recall.batch_id == batch.id))
    if recall is None:
        raise Conflict(f"Batch {batch.batch_number} is not recalled.",
                       [f"the batch is {batch.status.replace('_', ' ')}, not recalled: a "
                        "dose's disposition is recorded through custody"])
    if recall.status != RecallStatus.open:
        raise Conflict("The recall is closed.", [f"the recall of {batch.batch_number} is "
                                                 "closed"])
    return recall


def _recall_dose(recall: Recall, dose: Dose) -> RecallDose:
    entry = next((rd for rd in recall.doses if rd.dose_id == dose.id), None)
    if entry is None:  # pragma: no cover — every dose of the batch is listed at recall
        raise NotFound(f"Dose {dose.code} is not in the recall.")
    return entry


def _linkable(dose: Dose, recall: Recall, disposition: Disposition) -> CustodyEvent | None:
    """A custody event already recorded after the recall that is this disposition."""
    last = last_event(dose)
    if last is None or last.recorded_at < recall.recalled_at:
        return None
    if disposition is Disposition.disposed and last.event == CustodyEventType.disposed:
        return last
    if disposition is Disposition.returned and last.event == CustodyEventType.received \
            and (last.to_location or "").strip() == facility_name():
        return last
    return None


@user_is_actor
def record_disposition(dose: Dose, data: dict[str, Any], user: User) -> RecallDose:
    """Record what became of a recalled dose (SPEC §3b), with its custody event."""
    recall = _open_recall(dose.batch)
    entry = _recall_dose(recall, dose)
    disposition = Disposition(data["disposition"])
    if entry.administered:
        raise Conflict(f"Dose {dose.code} was administered before the recall.",
                       ["record the notification of the treating physician instead"])
    if entry.disposition is not None:
        raise Conflict(f"Dose {dose.code} is already accounted for.",
                       [f"disposition {entry.disposition} recorded"])
    custody = _linkable(dose, recall, disposition)
    if custody is None:
        last = last_event(dose)
        if disposition is Disposition.returned and (last is None or last.event not in (
                CustodyEventType.shipped, CustodyEventType.delivered)):
            where = f"{last.to_location} ({last.event})" if last else "nowhere"
            raise Conflict(f"Dose {dose.code} cannot be received back yet.", [
                f"the dose is at {where}: record its return shipment to {facility_name()} "
                "first (custody shipped), or dispose of it where it is"])
        event = {"event": CustodyEventType.received.value if disposition is Disposition.returned
                 else CustodyEventType.disposed.value,
                 "location": facility_name() if disposition is Disposition.returned
                 else data.get("location") or (last.to_location if last else facility_name()),
                 **{k: data[k] for k in ("scanned_code", "temperature_c", "occurred_at",
                                         "notes", "to_person") if data.get(k) is not None}}
        custody = record_custody_event(dose, event, user)
    entry.disposition = disposition
    entry.disposition_at = custody.occurred_at
    entry.custody_event_id = custody.id
    entry.recorded_by_id = user.id
    db.session.flush()
    return entry


def recall_sites(recall: Recall) -> list[str]:
    """The sites to notify: where the recalled doses were (or were given) outside the
    processing facility."""
    return sorted({rd.site for rd in recall.doses if rd.site})


@user_is_actor
def record_notification(recall: Recall, data: dict[str, Any], user: User
                        ) -> RecallNotification:
    """Record that a site, or the treating physician of an administered dose, was told of
    the recall: who, how, when (and, when known, who acknowledged it and when)."""
    _require_qa(user, "record recall notifications")
    if recall.status != RecallStatus.open:
        raise Conflict("The recall is closed.", ["the recall is closed"])
    kind = NotificationKind(data["kind"])
    notified_at: datetime = data.get("notified_at") or clock.utcnow()
    refuse_future(notified_at, "notified_at")
    reasons = []
    dose_id = data.get("dose_id")
    site = (data.get("site") or "").strip() or None
    if kind is NotificationKind.site:
        if site is None:
            reasons.append("a site notification names the site")
        elif site not in recall_sites(recall):
            sites = ", ".join(recall_sites(recall)) or "none (no dose left the facility)"
            reasons.append(f"{site} is not a site of this recall; sites: {sites}")
    else:
        entry = next((rd for rd in recall.doses if rd.dose_id == dose_id), None)
        if entry is None:
            reasons.append(f"dose {dose_id} is not a dose of this recall")
        elif not entry.administered:
            reasons.append(f"dose {entry.dose.code} was not administered: record its "
                           "disposition instead")
        else:
            site = site or entry.site
    if data.get("acknowledged_at") is not None and data.get("acknowledged_by") is None:
        reasons.append("an acknowledgement names who acknowledged")
    if reasons:
        raise Conflict("The notification cannot be recorded.", reasons)
    acknowledged_at = data.get("acknowledged_at")
    if data.get("acknowledged_by") and acknowledged_at is None:
        acknowledged_at = clock.utcnow()
    if acknowledged_at is not None:
        refuse_future(acknowledged_at, "acknowledged_at")
    notification = RecallNotification(
        recall_id=recall.id, kind=kind, site=site,
        dose_id=dose_id if kind is NotificationKind.physician else None,
        recipient=data["recipient"].strip(), method=data["method"], notified_at=notified_at,
        recorded_by_id=user.id, acknowledged_at=acknowledged_at,
        acknowledged_by=(data.get("acknowledged_by") or "").strip() or None,
        notes=data.get("notes"))
    db.session.add(notification)
    db.session.flush()
    return notification


@user_is_actor
def acknowledge_notification(notification: RecallNotification, data: dict[str, Any],
                             user: User) -> RecallNotification:
    """Record the site's (or physician's) acknowledgement of a notification."""
    _require_qa(user, "record recall acknowledgements")
    reasons = []
    if notification.recall.status != RecallStatus.open:
        reasons.append("the recall is closed")
    if notification.acknowledged_at is not None:
        reasons.append(f"already acknowledged by {notification.acknowledged_by}")
    if reasons:
        raise Conflict("The acknowledgement cannot be recorded.", reasons)
    acknowledged_at = data.get("acknowledged_at") or clock.utcnow()
    refuse_future(acknowledged_at, "acknowledged_at")
    notification.acknowledged_at = acknowledged_at
    notification.acknowledged_by = data["acknowledged_by"].strip()
    db.session.flush()
    return notification


def recall_missing(recall: Recall) -> list[str]:
    """What stands between the recall and its closure: every dose accounted for (a
    disposition, or the physician told of an administered one), every site notified
    and acknowledging."""
    missing = []
    physicians = {n.dose_id for n in recall.notifications if n.kind == NotificationKind.physician}
    for entry in recall.doses:
        where = f"last at {entry.location or 'unknown'}, held by {entry.holder or 'unknown'}"
        if entry.administered:
            if entry.dose_id not in physicians:
                missing.append(f"dose {entry.dose.code} was administered: the treating "
                               f"physician is not notified ({where})")
        elif entry.disposition is None:
            missing.append(f"dose {entry.dose.code} has no disposition ({where})")
    for site in recall_sites(recall):
        told = [n for n in recall.notifications if n.site == site]
        if not told:
            missing.append(f"site {site} is not notified")
        elif not any(n.acknowledged_at is not None for n in told):
            missing.append(f"site {site} has not acknowledged the notification")
    return missing


@user_is_actor
def close_recall(recall: Recall, password: str, meaning: str, summary: str | None,
                 user: User, *, username: str | None = None) -> Recall:
    """QA closes the recall with a signature once every dose is accounted for (SPEC §3b);
    409 listing what is missing otherwise."""
    _require_qa(user, "close a recall")
    content = {"recall": recall.id, "batch": recall.batch_id, "summary": summary,
               "doses": [(rd.dose_id, rd.disposition, rd.custody_event_id)
                         for rd in recall.doses],
               "notifications": [(n.id, n.acknowledged_at) for n in recall.notifications]}
    signature = sign(user, password, meaning, "recall", recall.id, content,
                     allowed=meanings_for(CLOSE_ACT), username=username,
                     statement=f"{CLOSE_STATEMENT}: batch {recall.batch.batch_number}")
    reasons = [] if recall.status == RecallStatus.open else ["the recall is already closed"]
    reasons += recall_missing(recall)
    if reasons:
        raise Conflict("The recall cannot be closed.", reasons)
    recall.status = RecallStatus.closed
    recall.closed_at = signature.signed_at
    recall.closure_signature_id = signature.id
    recall.closing_summary = (summary or "").strip() or None
    db.session.flush()
    return recall


def recall_record(recall: Recall) -> dict[str, Any]:
    """The recall record for the API and the pages."""
    physicians = {n.dose_id for n in recall.notifications if n.kind == NotificationKind.physician}
    return {
        "id": recall.id, "batch_id": recall.batch_id,
        "batch_number": recall.batch.batch_number, "status": recall.batch.status,
        "state": recall.status, "reason": recall.reason, "recalled_at": recall.recalled_at,
        "signature": recall.signature, "closed_at": recall.closed_at,
        "closure_signature": recall.closure_signature,
        "closing_summary": recall.closing_summary,
        "doses": [{"id": rd.dose_id, "code": rd.dose.code, "status": rd.dose.status,
                   "status_at_recall": rd.status_at_recall, "location": rd.location,
                   "holder": rd.holder, "site": rd.site, "administered": rd.administered,
                   "disposition": rd.disposition, "disposition_at": rd.disposition_at,
                   "custody_event_id": rd.custody_event_id,
                   "physician_notified": rd.dose_id in physicians}
                  for rd in recall.doses],
        "sites": recall_sites(recall),
        "notifications": list(recall.notifications),
        "missing": recall_missing(recall) if recall.status == RecallStatus.open else [],
    }
