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

FIRST_EVENT = "stored"
FINAL_EVENTS = frozenset({"administered", "disposed"})

NEXT_EVENTS: dict[str, frozenset[str]] = {
    "stored": frozenset({"retrieved"}),
    "retrieved": frozenset({"stored", "shipped", "thawed", "administered"}),
    "shipped": frozenset({"delivered", "received"}),
    "delivered": frozenset({"received", "stored", "thawed", "administered"}),
    "received": frozenset({"stored", "thawed", "administered"}),
    "thawed": frozenset({"administered"}),
    "administered": frozenset(),
    "disposed": frozenset(),
}
"""Allowed next events after each event (``disposed`` is added for every non-final state)."""

HANDOFF_EVENTS = ("retrieved", "shipped", "delivered", "received", "stored", "thawed", "disposed")
"""Events recorded through the custody endpoint (administration has its own)."""

RELEASE_NEEDED = frozenset({"shipped", "administered"})
"""Events a dose may only undergo once its batch is released."""

DOSE_STATUS_AFTER = {"shipped": "shipped", "delivered": "delivered", "received": "delivered",
                     "administered": "administered", "disposed": "disposed"}
"""The dose status an event moves the dose to; other events leave the status as it is."""


def allowed_next(last_event: str | None) -> frozenset[str]:
    """Events allowed after ``last_event`` (``None``: the dose has no event yet)."""
    if last_event is None:
        return frozenset({FIRST_EVENT})
    allowed = NEXT_EVENTS.get(last_event, frozenset())
    if last_event not in FINAL_EVENTS:
        allowed = allowed | {"disposed"}
    return allowed


def event_refusals(event: str, last_event: str | None, *, batch_status: str) -> list[str]:
    """Every reason why ``event`` may not follow ``last_event`` now (empty: allowed).

    SPEC §3/§5: a rejected batch's doses can only be disposed; a dose leaves the
    facility (``shipped``) or is administered only once its batch is released.
    """
    reasons: list[str] = []
    if batch_status == "rejected" and event != "disposed":
        reasons.append("the batch is rejected: its doses can only be disposed")
    elif event in RELEASE_NEEDED and batch_status != "released":
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
