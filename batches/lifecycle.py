"""The batch life cycle of SPEC §3 as a pure state graph: no Flask, no database.

```
registered → in_culture → harvested → qc_review → released
      (any active state) → on_hold → back to where it was (QA resumes)
      (any active state) → rejected   (QA, signed)
released → release_suspended   (the signed record changed: SPEC §3b)
release_suspended → released   (QA re-releases: a new signature, every condition again)
released | release_suspended → recalled   (QA, signed, with a reason)
```

Who may do an action, and with what evidence (a signature, a reason), is the
services' business; this module only says which moves the graph allows and
which culture steps fit which state.
"""

from __future__ import annotations

from enum import StrEnum

from batches.states import StepType


class BatchStatus(StrEnum):
    registered = "registered"
    in_culture = "in_culture"
    harvested = "harvested"
    qc_review = "qc_review"
    released = "released"
    rejected = "rejected"
    on_hold = "on_hold"
    release_suspended = "release_suspended"
    recalled = "recalled"


class Action(StrEnum):
    start_culture = "start_culture"  # the first seeding
    harvest = "harvest"  # a harvest step
    formulate = "formulate"  # doses formulated
    release = "release"  # QA, signed
    reject = "reject"  # QA, signed, with a reason
    hold = "hold"  # with a reason
    resume = "resume"  # QA, with a reason; back to the status before the hold
    suspend = "suspend"  # the record behind a release changed (SPEC §3b)
    recall = "recall"  # QA, signed, with a reason (SPEC §3b)


S, A, T = BatchStatus, Action, StepType

ACTIVE = frozenset({S.registered, S.in_culture, S.harvested, S.qc_review})
"""States from which a batch can be put on hold or rejected."""

FINAL = frozenset({S.rejected, S.recalled})
"""States nothing leaves."""

RELEASED_ONCE = frozenset({S.released, S.release_suspended, S.recalled})
"""States of a batch whose release was signed at least once: its doses may be out in
the world, so a change to its record or its donor concerns the clinics (SPEC §3b)."""

TRANSITIONS: dict[tuple[BatchStatus, Action], BatchStatus] = {
    (S.registered, A.start_culture): S.in_culture,
    (S.in_culture, A.harvest): S.harvested,
    (S.harvested, A.formulate): S.qc_review,
    (S.qc_review, A.release): S.released,
    (S.released, A.suspend): S.release_suspended,
    (S.release_suspended, A.release): S.released,
    (S.released, A.recall): S.recalled,
    (S.release_suspended, A.recall): S.recalled,
    **{(state, A.hold): S.on_hold for state in ACTIVE},
    **{(state, A.reject): S.rejected for state in ACTIVE | {S.on_hold}},
}
"""(from, action) → to. ``resume`` is the one move whose target is data: the pre-hold state."""

STEP_STATES: dict[str, frozenset[BatchStatus]] = {
    T.seeding: frozenset({S.registered, S.in_culture}),
    T.media_change: frozenset({S.in_culture}),
    T.feeding: frozenset({S.in_culture}),
    T.passage: frozenset({S.in_culture}),
    T.harvest: frozenset({S.in_culture}),
    T.cryopreservation: frozenset({S.harvested, S.qc_review}),
}
"""In which states each culture step type can be logged."""

MAINTENANCE_ON_HOLD = frozenset({T.media_change, T.feeding})
"""Steps that keep cells alive and may be logged while the batch is on hold
(when it was in culture before the hold); every other step waits for the resume."""

STEP_ACTIONS: dict[tuple[str, BatchStatus], Action] = {
    (T.seeding, S.registered): A.start_culture,
    (T.harvest, S.in_culture): A.harvest,
}
"""Steps that move the batch: the first seeding and the harvest (SPEC §7)."""


class TransitionRefused(Exception):
    """The graph has no such move; ``reasons`` says why, for a 409."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _label(status: str) -> str:
    return status.replace("_", " ")


def next_status(current: str, action: str, *, before_hold: str | None = None) -> BatchStatus:
    """The state after ``action`` from ``current``; raises :class:`TransitionRefused`."""
    state, move = BatchStatus(current), Action(action)
    if move is A.resume:
        if state is not S.on_hold:
            raise TransitionRefused([f"the batch is {_label(state)}, not on hold"])
        if before_hold is None or BatchStatus(before_hold) not in ACTIVE:
            raise TransitionRefused(["the status before the hold is unknown"])
        return BatchStatus(before_hold)
    target = TRANSITIONS.get((state, move))
    if target is None:
        allowed = sorted(a.value for a in allowed_actions(state))
        raise TransitionRefused([
            f"a {_label(state)} batch cannot {_label(move)}"
            + (f" (allowed: {', '.join(allowed)})" if allowed else " (the batch is closed)")])
    return target


def allowed_actions(current: str) -> set[Action]:
    state = BatchStatus(current)
    actions = {move for (origin, move) in TRANSITIONS if origin is state}
    if state is S.on_hold:
        actions.add(A.resume)
    return actions


def step_refusals(step_type: str, current: str, *, before_hold: str | None = None) -> list[str]:
    """Why a step of ``step_type`` cannot be logged on a batch in ``current`` (empty: it can)."""
    state = BatchStatus(current)
    allowed = STEP_STATES[step_type]
    if state is S.on_hold:
        if step_type in MAINTENANCE_ON_HOLD and before_hold == S.in_culture:
            return []
        return [f"the batch is on hold: only {' and '.join(sorted(MAINTENANCE_ON_HOLD))} "
                "can be logged until QA resumes it"]
    if state not in allowed:
        return [f"a {_label(step_type)} step cannot be logged on a {_label(state)} batch "
                f"(only when {' or '.join(sorted(_label(s) for s in allowed))})"]
    return []


def step_action(step_type: str, current: str) -> Action | None:
    """The life-cycle move a step makes from ``current``, if any."""
    return STEP_ACTIONS.get((step_type, BatchStatus(current)))
