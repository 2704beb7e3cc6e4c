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


def event_refusals(event: str, last_event: str | None, *, batch_status: str) -> list[str]:
    """Every reason why ``event`` may not follow ``last_event`` now (empty: allowed).

    SPEC §3/§5: a rejected batch's doses can only be disposed; a dose leaves the
    facility (``shipped``) or is administered only once its batch is released.
    """
    reasons: list[str] = []
    if batch_status == BatchStatus.rejected and event != E.disposed:
        reasons.append("the batch is rejected: its doses can only be disposed")
    elif event in RELEASE_NEEDED and batch_status != BatchStatus.released:
        reasons.append(f"the batch is {batch_status.replace('_', ' ')}, not released: "
                       f"a dose is {event} only after release")
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


def chain_breaks(links: Sequence[ChainLink]) -> list[str]:
    """Why a dose's custody chain is broken (empty: unbroken) — SPEC §5.

    Unbroken means: it starts with ``stored`` at formulation; each later event
    is allowed after the one before; times never go backwards; and every
    handoff after formulation was confirmed by scanning the dose label.
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
    return breaks
