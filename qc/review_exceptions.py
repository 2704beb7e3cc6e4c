"""Review by exception (SPEC §3): what in a batch record needs a look first.

A pure rule over plain facts about the record (no Flask, no database): the review page
gathers the facts and renders the items, each pointing at the record it is about.
The order is the order of urgency: open deviations, then each result's problems
(out of specification, corrected, not reviewed), then each step's (late, recorded
late, corrected), then closed deviations with their disposition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ResultFacts:
    id: int
    test: str
    reported: str  # value and unit, or outcome
    criterion: str  # the specification's criterion, as text
    analyst: str
    failed: bool
    corrected: bool
    corrected_by: str | None
    reviewed: bool


@dataclass(frozen=True)
class StepFacts:
    id: int
    type: str
    overdue: bool
    due_at: datetime | None  # UTC
    late_entry: bool
    corrected: bool


@dataclass(frozen=True)
class DeviationFacts:
    id: int
    description: str
    is_open: bool
    disposition: str | None


@dataclass(frozen=True)
class ReviewItem:
    """One thing to look at: ``kind`` (its badge), ``text``, and what it is about
    (``about`` is ``"deviation"``, ``"result"`` or ``"step"``; ``about_id`` its id)."""

    kind: str
    text: str
    about: str
    about_id: int


def review_exceptions(results: Iterable[ResultFacts], steps: Iterable[StepFacts],
                      deviations: Iterable[DeviationFacts]) -> list[ReviewItem]:
    """Everything out of the ordinary in the batch record, most urgent first."""
    deviations = list(deviations)
    items = [ReviewItem("deviation", f"DEV-{d.id} open: {d.description}", "deviation", d.id)
             for d in deviations if d.is_open]
    for r in results:
        items += _result_items(r)
    for s in steps:
        items += _step_items(s)
    items += [ReviewItem("deviation closed", f"DEV-{d.id}: {d.description} — {d.disposition}",
                         "deviation", d.id)
              for d in deviations if not d.is_open]
    return items


def _result_items(r: ResultFacts) -> list[ReviewItem]:
    items = []
    if r.failed:
        items.append(ReviewItem("out of spec", f"{r.test} {r.reported} (spec {r.criterion}) "
                                f"by {r.analyst}", "result", r.id))
    if r.corrected:
        items.append(ReviewItem("corrected", f"{r.test} corrected to {r.reported} "
                                f"by {r.corrected_by or ''}", "result", r.id))
    if not r.reviewed:
        items.append(ReviewItem("not reviewed", f"{r.test} {r.reported} awaits a second-person "
                                "review", "result", r.id))
    return items


def _step_items(s: StepFacts) -> list[ReviewItem]:
    name = s.type.replace("_", " ")
    items = []
    if s.overdue:
        items.append(ReviewItem("late step", f"{name} overdue (due {s.due_at:%Y-%m-%d %H:%M} "
                                "UTC)", "step", s.id))
    if s.late_entry:
        items.append(ReviewItem("late entry", f"{name} recorded late", "step", s.id))
    if s.corrected:
        items.append(ReviewItem("corrected", f"{name} step values corrected", "step", s.id))
    return items
