"""Chain of custody (SPEC §2, §5): first events, handoffs confirmed by scanning, the timeline.

* The chain starts with ``collected`` when a collection is registered and
  ``stored`` at the processing facility (by the formulating technician) when
  a dose is formulated.
* Every later handoff (:func:`record_custody_event`) is confirmed by scanning
  the dose label: the Data Matrix, the one symbol on a dose label that alone
  identifies the dose (the DIN names the collection, the product code and
  expiry name no single item). A scan of anything else is refused (409) and
  the refusal is kept in the audit trail although the request fails.
* The allowed sequences are the pure graph of :mod:`batches.custody_rules`;
  ``occurred_at`` defaults to now, may be earlier (a late entry, flagged),
  never in the future and never before the dose's last event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from batches import isbt128
from batches.common import is_late_entry, refuse_future
from batches.custody_rules import DOSE_STATUS_AFTER, ChainLink, chain_breaks, event_refusals
from batches.lifecycle import BatchStatus
from batches.models import Collection, CustodyEvent, CustodyEventType, Dose, DoseStatus
from lims import audit, clock
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db, keep_despite_error
from lims.errors import BadRequest, Conflict


def record_first_custody(*, event: CustodyEventType, occurred_at: datetime, user: User,
                         to_location: str | None, to_person: str | None,
                         dose: Dose | None = None, collection: Collection | None = None,
                         temperature_c: float | None = None) -> CustodyEvent:
    custody = CustodyEvent(
        dose_id=dose.id if dose else None, collection_id=collection.id if collection else None,
        event=event, to_location=to_location, to_person=to_person,
        occurred_at=occurred_at, temperature_c=temperature_c, recorded_by_id=user.id)
    db.session.add(custody)
    db.session.flush()
    return custody


def custody_events(*, dose: Dose | None = None, collection: Collection | None = None
                   ) -> list[CustodyEvent]:
    query = select(CustodyEvent)
    if dose is not None:
        query = query.where(CustodyEvent.dose_id == dose.id)
    if collection is not None:
        query = query.where(CustodyEvent.collection_id == collection.id)
    return list(db.session.scalars(query.order_by(CustodyEvent.occurred_at, CustodyEvent.id)))


def last_event(dose: Dose) -> CustodyEvent | None:
    return db.session.scalar(select(CustodyEvent).where(CustodyEvent.dose_id == dose.id)
                             .order_by(CustodyEvent.occurred_at.desc(), CustodyEvent.id.desc())
                             .limit(1))


# -- what a scan names -------------------------------------------------------------------


def scan_problem(dose: Dose, scanned: str) -> str | None:
    """Why ``scanned`` does not confirm ``dose`` (``None``: it is this dose's label).

    SPEC §7: anything a scanner reads from a label that alone identifies the
    item counts; on a dose label that is the Data Matrix (DIN + product code +
    expiry). A Data Matrix whose expiry differs from the record is an outdated
    label and is refused too.
    """
    from batches.doses import barcode_texts, find_by_identity

    expected = barcode_texts(dose)
    parsed = isbt128.parse_scanned(scanned)
    kind = parsed["kind"]
    if kind == "compound" and parsed.get("din") and parsed.get("product_code"):
        if parsed["din"] != dose.batch.collection.din or \
                parsed["product_code"] != expected["product"]:
            other = find_by_identity(parsed["din"], parsed["product_code"])
            named = f"dose {other.code}" if other else \
                f"DIN {parsed['din']} {parsed['product_code']}, which is no dose here"
            return f"the scanned label is {named}, not dose {dose.code}"
        expiries = [s["text"] for s in parsed["structures"] if s["kind"] == "expiry"]
        if expiries and expiries[0] != expected["expiry"]:
            return (f"the scanned label's expiry {expiries[0]} differs from the record's "
                    f"{expected['expiry']}: the label is outdated, reprint it")
        return None
    if kind == "din" or (kind == "compound" and parsed.get("din")):
        return ("a DIN alone identifies the collection, not a dose: scan the dose label's "
                "2-D code (Data Matrix)")
    if kind in ("product_code", "expiry", "collection_date", "compound"):
        return (f"a {kind.replace('_', ' ')} alone identifies no dose: scan the dose label's "
                "2-D code (Data Matrix)")
    if kind == "chain_of_identity":
        return "a chain of identity identifier names the collection, not a dose"
    return f"{parsed.get('text') or scanned!r} is not a dose label"


def refuse_wrong_scan(dose: Dose, scanned: str, action: str, user: User) -> None:
    """Refuse (409) a scan that does not name ``dose``, keeping the refusal on record."""
    problem = scan_problem(dose, scanned)
    if problem is None:
        return
    audit.record("scan_refused", "dose", dose.id,
                 {"action": [None, action], "scanned_code": [None, scanned[:500]],
                  "problem": [None, problem], "user": [None, user.username]})
    keep_despite_error()
    raise Conflict("The scanned label is not this dose's; nothing was recorded.", [problem],
                   code="wrong_item")


# -- handoffs ------------------------------------------------------------------------------


@user_is_actor
def record_custody_event(dose: Dose, data: dict[str, Any], user: User) -> CustodyEvent:
    """Record one handoff of a dose, confirmed by scanning its label (SPEC §5, §7).

    Refused (409, with every reason) when the scan is not this dose's label
    (that refusal is audited and kept), when the event may not follow the
    dose's last event (:mod:`batches.custody_rules`), when a rejected batch's
    dose would do anything but be disposed, when a dose would ship before
    release, or when the time lies before the last event. Disposal needs a
    reason (``notes``).
    """
    refuse_wrong_scan(dose, data["scanned_code"], data["event"], user)
    lock_dose(dose)
    now = clock.utcnow()
    occurred_at = data.get("occurred_at") or now
    refuse_future(occurred_at, "occurred_at")
    event = data["event"]
    if event == CustodyEventType.disposed and not (data.get("notes") or "").strip():
        raise BadRequest("Disposing of a dose needs a reason.",
                         details={"fields": {"notes": ["say why the dose is disposed"]}})
    previous = last_event(dose)
    reasons = event_refusals(event, previous.event if previous else None,
                             batch_status=dose.batch.status, cryopreserved=dose.cryopreserved,
                             to_facility=data["location"].strip() == facility_name(),
                             why=release_block_note(dose.batch))
    if previous is not None and occurred_at < previous.occurred_at:
        reasons.append(f"{occurred_at.isoformat()} is before the dose's last custody event "
                       f"({previous.event} at {previous.occurred_at.isoformat()})")
    if event in GUARDED_EVENTS and dose.batch.status == BatchStatus.released:
        from batches.batch_records import release_problems

        reasons += release_problems(dose.batch)
    if event == CustodyEventType.thawed and dose.expires_at <= occurred_at:
        reasons.append(f"the dose expired at {dose.expires_at.isoformat()}: it is not thawed")
    if reasons:
        raise Conflict(f"{event.capitalize()} cannot be recorded for dose {dose.code}.",
                       reasons)
    custody = append_event(dose, event, previous, user, now=now, occurred_at=occurred_at,
                           location=data["location"], scanned_code=data["scanned_code"],
                           temperature_c=data.get("temperature_c"), notes=data.get("notes"),
                           to_person=data.get("to_person"))
    if event == CustodyEventType.thawed:
        hours = dose.batch.product.post_thaw_expiry_hours
        dose.thawed_at = occurred_at
        dose.post_thaw_expires_at = occurred_at + timedelta(hours=hours)
        db.session.flush()
    return custody


GUARDED_EVENTS = frozenset({"shipped", "delivered", "thawed"})
"""Handoffs towards a patient: refused when a released batch's release no longer holds."""


SPENT = (DoseStatus.rejected, DoseStatus.disposed, DoseStatus.administered)


def dose_refusals(dose: Dose, release_reasons: list[str]) -> list[str]:
    """The one rule of what stops a dose from being shipped or given (SPEC §3b, §5):
    ``release_reasons`` — why its batch's release does not hold, as the caller can afford
    to tell — then the dose's own: rejected, disposed or already given; past its
    effective expiry (the post-thaw expiry of a thawed dose included)."""
    reasons = list(release_reasons)
    if dose.status in SPENT:
        reasons.append(f"the dose is {dose.status}")
    expiry = dose.effective_expires_at
    if expiry <= clock.utcnow():
        thawed = " (post-thaw expiry)" if expiry == dose.post_thaw_expires_at else ""
        reasons.append(f"the dose expired at {expiry.isoformat()}{thawed}")
    return reasons


def dose_blocks(dose: Dose) -> list[str]:
    """:func:`dose_refusals` for screens and the API, cheap enough for a list of doses:
    the batch is not released (suspended — with the causes —, recalled…). The signature
    check of a released batch (:func:`batches.batch_records.release_problems`) is left to
    the handoff and the bedside themselves (:func:`batches.administration.giving_refusals`)."""
    reasons = []
    if dose.batch.status != BatchStatus.released:
        note = _block_note(dose.batch)
        reasons.append(f"the batch {dose.batch.batch_number} is "
                       f"{dose.batch.status.replace('_', ' ')}, not released"
                       + (f" ({note})" if note else ""))
    return dose_refusals(dose, reasons)


def _block_note(batch) -> str:
    """:func:`release_block_note`, read once per batch and request (a list of doses)."""
    from flask import g

    notes = g.setdefault("batches_block_notes", {})
    if batch.id not in notes:
        notes[batch.id] = release_block_note(batch)
    return notes[batch.id]


def facility_name() -> str:
    """The processing facility, as custody events name it (formulation stores doses there)."""
    return str(current_app.config["FACILITY_NAME"]).strip()


def release_block_note(batch) -> str:
    """What suspended the batch's release, for refusals (empty unless suspended)."""
    from batches.batch_records import open_suspensions

    if batch.status != BatchStatus.release_suspended:
        return ""
    return "; ".join(s.description for s in open_suspensions(batch))[:1000]


def lock_dose(dose: Dose) -> Dose:
    """Take the dose's row lock (PostgreSQL ``SELECT … FOR UPDATE``) and re-read it before
    reading its last event and appending the next, and before taking the time: two
    handoffs of one dose then queue here, and the later one sees the earlier one, instead
    of both following the same event (a broken chain). SQLite already serialises writers
    with ``BEGIN IMMEDIATE``."""
    db.session.refresh(dose, with_for_update=True)
    return dose


def append_event(dose: Dose, event: str, previous: CustodyEvent | None, user: User, *,
                 now: datetime, occurred_at: datetime, location: str, scanned_code: str,
                 temperature_c: float | None, notes: str | None,
                 to_person: str | None = None) -> CustodyEvent:
    custody = CustodyEvent(
        dose_id=dose.id, event=event,
        from_location=previous.to_location if previous else None,
        from_person=previous.to_person if previous else None,
        to_location=location, to_person=(to_person or "").strip() or user.full_name,
        occurred_at=occurred_at,
        temperature_c=temperature_c, scanned_code=scanned_code.strip()[:500],
        recorded_by_id=user.id, recorded_at=now,
        late_entry=is_late_entry(occurred_at, now), notes=notes)
    db.session.add(custody)
    if event in DOSE_STATUS_AFTER:
        dose.status = DOSE_STATUS_AFTER[event]
    db.session.flush()
    db.session.refresh(dose)
    return custody


def chain_links(events: list[CustodyEvent]) -> list[ChainLink]:
    """A dose's events as the pure chain check needs them; formulation's first event
    is confirmed by formulation itself, later ones by their scan."""
    return [ChainLink(e.event, e.occurred_at, index == 0 or bool(e.scanned_code))
            for index, e in enumerate(events)]


def custody_chain_breaks(dose: Dose) -> list[str]:
    """Why the dose's chain of custody is broken (empty: unbroken), SPEC §5."""
    return chain_breaks(chain_links(custody_events(dose=dose)), cryopreserved=dose.cryopreserved)
