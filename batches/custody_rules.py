"""The custody state graph of a dose (SPEC §5), as pure data and functions.

No Flask, no database: the services in :mod:`batches.custody` and
:mod:`batches.administration` read the records and ask these functions.
docs/CUSTODY.md explains the graph in the lab's words.

A dose's custody state is its last custody event. Formulation records the
first one (``stored`` at the processing facility); from there::

    stored    → retrieved
    retrieved → stored | shipped | thawed | administered
    shipped   → delivered | received
    delivered → received | stored | thawed | administered
    received  → stored | thawed | administered
    thawed    → administered
    disposed  ← from any state but administered and disposed
    administered, disposed: final

``administered`` is reached only through the bedside identity check
(:mod:`batches.administration`), never as a plain custody event; ``collected``
belongs to collections only.

A **cryopreserved** dose is ``thawed`` before it is administered (SPEC §2, §5): for
it, ``administered`` follows ``thawed`` only; a fresh dose is never thawed.

While a batch's release is **suspended** (SPEC §3b) its doses are not shipped,
delivered, thawed or administered; they may be received (a dose on its way must be
taken in), stored, retrieved and disposed. A **recalled** batch's doses are never
delivered, thawed or administered, and are shipped only back to the processing
facility (the return leg of the recall).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from batches.lifecycle import BatchStatus
from batches.states import CustodyEventType, DoseStatus

E = CustodyEventType

FIRST_EVENT = E.stored
FINAL_EVENTS = frozenset({E.administered, E.disposed})

NEXT_EVENTS: dict[str, frozenset[CustodyEventType]] = {
    E.stored: frozenset({E.retrieved}),
    E.retrieved: frozenset({E.stored, E.shipped, E.thawed, E.administered}),
    E.shipped: frozenset({E.delivered, E.received}),
    E.delivered: frozenset({E.received, E.stored, E.thawed, E.administered}),
    E.received: frozenset({E.stored, E.thawed, E.administered}),
    E.thawed: frozenset({E.administered}),
    E.administered: frozenset(),
    E.disposed: frozenset(),
}
"""Allowed next events after each event (``disposed`` is added for every non-final state)."""

HANDOFF_EVENTS = (E.retrieved, E.shipped, E.delivered, E.received, E.stored, E.thawed,
                  E.disposed)
"""Events recorded through the custody endpoint (administration has its own)."""

RELEASE_NEEDED = frozenset({E.shipped, E.administered})
"""Events a dose may only undergo once its batch is released."""

BLOCKED_WHEN_SUSPENDED = frozenset({"shipped", "delivered", "thawed", "administered"})
"""Events refused while the batch's release is suspended (SPEC §3b)."""

BLOCKED_WHEN_RECALLED = frozenset({"delivered", "thawed", "administered"})
"""Events refused for a recalled batch's doses (``shipped`` only back to the facility)."""

DOSE_STATUS_AFTER: dict[str, DoseStatus] = {
    E.shipped: DoseStatus.shipped, E.delivered: DoseStatus.delivered,
    E.received: DoseStatus.delivered, E.administered: DoseStatus.administered,
    E.disposed: DoseStatus.disposed}
"""The dose status an event moves the dose to; other events leave the status as it is."""


def allowed_next(last_event: str | None) -> frozenset[CustodyEventType]:
    """Events allowed after ``last_event`` (``None``: the dose has no event yet)."""
    if last_event is None:
        return frozenset({FIRST_EVENT})
    allowed = NEXT_EVENTS.get(last_event, frozenset())
    if last_event not in FINAL_EVENTS:
        allowed = allowed | {E.disposed}
    return allowed


def event_refusals(event: str, last_event: str | None, *, batch_status: str,
                   cryopreserved: bool = False, to_facility: bool = False,
                   why: str = "") -> list[str]:
    """Every reason why ``event`` may not follow ``last_event`` now (empty: allowed).

    SPEC §3/§5: a rejected batch's doses can only be disposed; a dose leaves the
    facility (``shipped``) or is administered only once its batch is released; a
    cryopreserved dose is thawed before administration and a fresh one never.
    SPEC §3b: a suspended release blocks :data:`BLOCKED_WHEN_SUSPENDED`, a recall
    :data:`BLOCKED_WHEN_RECALLED` and every shipment but the one back to the facility
    (``to_facility``). ``why`` says what suspended or recalled the batch.
    """
    reasons: list[str] = []
    because = f" ({why})" if why else ""
    if batch_status == BatchStatus.rejected and event != E.disposed:
        reasons.append("the batch is rejected: its doses can only be disposed")
    elif batch_status == BatchStatus.release_suspended and event in BLOCKED_WHEN_SUSPENDED:
        reasons.append(f"the batch's release is suspended{because}: no dose is {event} "
                       "until QA re-releases it")
    elif batch_status == BatchStatus.recalled and (event in BLOCKED_WHEN_RECALLED
                                         or (event == E.shipped and not to_facility)):
        reasons.append(f"the batch is recalled{because}: its doses are never {event}"
                       + (" except back to the processing facility" if event == E.shipped
                          else ""))
    elif event in RELEASE_NEEDED and batch_status not in (BatchStatus.released,
                                                          BatchStatus.recalled):
        reasons.append(f"the batch is {batch_status.replace('_', ' ')}, not released: "
                       f"a dose is {event} only after release")
    if event == E.thawed and not cryopreserved:
        reasons.append("the dose is a fresh product: it is not thawed")
    if event == E.administered and cryopreserved and last_event != E.thawed \
            and last_event not in FINAL_EVENTS:
        reasons.append("the dose is cryopreserved: it is thawed before it is administered")
    if event not in allowed_next(last_event):
        if last_event in FINAL_EVENTS:
            reasons.append(f"the dose is already {last_event}; nothing can follow")
        else:
            after = ", ".join(sorted(allowed_next(last_event))) or "nothing"
            reasons.append(f"{event} cannot follow {last_event or 'nothing'} "
                           f"(allowed next: {after})")
    return reasons


@dataclass(frozen=True)
class ChainLink:
    """One event of a chain as :func:`chain_breaks` needs it."""

    event: str
    occurred_at: datetime
    confirmed_by_scan: bool


def chain_breaks(links: Sequence[ChainLink], *, cryopreserved: bool = False) -> list[str]:
    """Why a dose's custody chain is broken (empty: unbroken) — SPEC §5.

    Unbroken means: it starts with ``stored`` at formulation; each later event
    is allowed after the one before; times never go backwards; every handoff
    after formulation was confirmed by scanning the dose label; and a
    cryopreserved dose was thawed right before it was administered (a fresh one
    is never thawed).
    """
    if not links:
        return ["no custody event recorded"]
    breaks: list[str] = []
    if links[0].event != FIRST_EVENT:
        breaks.append(f"the chain starts with {links[0].event}, not {FIRST_EVENT}")
    for number, (before, after) in enumerate(zip(links, links[1:], strict=False), start=2):
        if after.event not in allowed_next(before.event):
            breaks.append(f"event {number} ({after.event}) cannot follow {before.event}")
        if after.occurred_at < before.occurred_at:
            breaks.append(f"event {number} ({after.event}) is earlier than the one before")
        if not after.confirmed_by_scan:
            breaks.append(f"event {number} ({after.event}) was not confirmed by a scan")
        if after.event == E.administered and cryopreserved and before.event != E.thawed:
            breaks.append(f"event {number} (administered): the cryopreserved dose was not "
                          "thawed before administration")
        if after.event == E.thawed and not cryopreserved:
            breaks.append(f"event {number} (thawed): a fresh dose is never thawed")
    return breaks
