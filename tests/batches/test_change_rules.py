"""Change control rules (pure, issue 12): who may decide, and what a template change does."""

from __future__ import annotations

from batches.change_rules import (
    Effect,
    approval_refusals,
    rejection_refusals,
    template_changes,
    withdrawal_refusals,
)

RULE = {"after_step": "seeding", "next_step": "media_change", "interval_hours": 72,
        "grace_hours": 12}
TEMPLATE = {"name": "MSC", "max_passage": 5, "rules": [RULE]}


def approval(**overrides) -> list[str]:
    facts = {"status": "proposed", "proposer_id": 1, "signer_id": 2, "base_version": 1,
             "version_in_force": 1, "shown_digest": None, "digest": "d"}
    return approval_refusals(**{**facts, **overrides})


def test_an_open_fresh_change_approved_by_someone_else_is_allowed():
    assert approval() == []
    assert approval(shown_digest="d") == []


def test_every_unmet_condition_is_listed():
    reasons = approval(status="proposed", signer_id=1, version_in_force=2, shown_digest="x")
    assert len(reasons) == 3
    assert "four eyes" in reasons[0] and "version 2 is in force" in reasons[1]
    assert "look at the change again" in reasons[2]
    assert approval(status="rejected") == ["the change is rejected, no longer open"]


def test_rejection_and_withdrawal_refusals():
    assert rejection_refusals(status="proposed", proposer_id=1, signer_id=2) == []
    assert "withdraw it instead" in rejection_refusals(status="proposed", proposer_id=1,
                                                       signer_id=1)[0]
    assert withdrawal_refusals(status="proposed", proposer_id=1, user_id=1) == []
    assert len(withdrawal_refusals(status="approved", proposer_id=1, user_id=2)) == 2


def _effects(new: dict) -> list[tuple[str, str, Effect]]:
    return [(c.item, c.change, c.effect) for c in template_changes(TEMPLATE, new)]


def test_maximum_passage():
    assert _effects({**TEMPLATE, "max_passage": 6})[0][2] == Effect.weakens
    assert _effects({**TEMPLATE, "max_passage": None})[0][2] == Effect.weakens
    assert _effects({**TEMPLATE, "max_passage": 4})[0][2] == Effect.tightens
    assert template_changes({**TEMPLATE, "max_passage": None},
                            TEMPLATE)[0].effect == Effect.tightens


def test_rules():
    assert _effects({**TEMPLATE, "rules": []}) == [
        ("media_change after seeding", "rule removed: the step is no longer scheduled",
         Effect.weakens)]
    assert _effects({**TEMPLATE, "rules": [{**RULE, "interval_hours": 96, "grace_hours": 6}]}) == [
        ("media_change after seeding", "interval lengthened", Effect.weakens),
        ("media_change after seeding", "grace shortened", Effect.tightens)]
    added = {**RULE, "after_step": "passage"}
    assert _effects({**TEMPLATE, "rules": [RULE, added]}) == [
        ("media_change after passage", "rule added", Effect.tightens)]
    assert template_changes(TEMPLATE, dict(TEMPLATE)) == []
