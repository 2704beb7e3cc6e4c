"""The batch state graph of SPEC §3, without an app."""

from __future__ import annotations

import pytest

from batches.lifecycle import (
    ACTIVE,
    TRANSITIONS,
    Action,
    BatchStatus,
    TransitionRefused,
    allowed_actions,
    next_status,
    step_action,
    step_refusals,
)

S, A = BatchStatus, Action


@pytest.mark.parametrize(("current", "action", "target"), [
    (S.registered, A.start_culture, S.in_culture),
    (S.in_culture, A.harvest, S.harvested),
    (S.harvested, A.formulate, S.qc_review),
    (S.qc_review, A.release, S.released),
    (S.qc_review, A.reject, S.rejected),
    (S.in_culture, A.hold, S.on_hold),
    (S.on_hold, A.reject, S.rejected),
])
def test_allowed_moves(current, action, target):
    assert next_status(current, action) is target


@pytest.mark.parametrize(("current", "action"), [
    (S.registered, A.harvest), (S.registered, A.release), (S.in_culture, A.formulate),
    (S.harvested, A.release), (S.released, A.hold), (S.rejected, A.start_culture),
    (S.released, A.reject), (S.on_hold, A.hold), (S.on_hold, A.release),
])
def test_refused_moves_say_why(current, action):
    with pytest.raises(TransitionRefused) as refused:
        next_status(current, action)
    assert refused.value.reasons and current.replace("_", " ") in refused.value.reasons[0]


def test_every_active_state_can_be_held_and_resumed_to_itself():
    for state in ACTIVE:
        assert next_status(state, A.hold) is S.on_hold
        assert next_status(S.on_hold, A.resume, before_hold=state) is state


def test_resume_needs_a_hold_and_a_known_previous_state():
    with pytest.raises(TransitionRefused):
        next_status(S.in_culture, A.resume, before_hold=S.registered)
    with pytest.raises(TransitionRefused):
        next_status(S.on_hold, A.resume, before_hold=None)
    with pytest.raises(TransitionRefused):
        next_status(S.on_hold, A.resume, before_hold=S.released)


def test_final_states_allow_nothing():
    assert allowed_actions(S.rejected) == set()
    assert allowed_actions(S.recalled) == set()
    assert A.resume in allowed_actions(S.on_hold)
    assert all(origin not in (S.recalled, S.rejected) for origin, _ in TRANSITIONS)


def test_a_release_can_be_suspended_re_released_or_recalled():
    """SPEC §3b: released ↕ release_suspended → recalled."""
    assert allowed_actions(S.released) == {A.suspend, A.recall}
    assert next_status(S.released, A.suspend) is S.release_suspended
    assert next_status(S.release_suspended, A.release) is S.released
    assert next_status(S.release_suspended, A.recall) is S.recalled
    assert next_status(S.released, A.recall) is S.recalled
    for refused in (A.hold, A.reject, A.suspend):
        with pytest.raises(TransitionRefused):
            next_status(S.release_suspended, refused)
    with pytest.raises(TransitionRefused):
        next_status(S.qc_review, A.recall)


def test_steps_fit_states():
    assert step_refusals("seeding", S.registered) == []
    assert step_refusals("media_change", S.in_culture) == []
    assert step_refusals("media_change", S.registered)
    assert step_refusals("harvest", S.harvested)
    assert step_refusals("cryopreservation", S.harvested) == []
    assert step_refusals("feeding", S.on_hold, before_hold=S.in_culture) == []
    assert "on hold" in step_refusals("passage", S.on_hold, before_hold=S.in_culture)[0]
    assert step_action("seeding", S.registered) is A.start_culture
    assert step_action("seeding", S.in_culture) is None
    assert step_action("harvest", S.in_culture) is A.harvest
