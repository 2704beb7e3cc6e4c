"""What a QC specification change does, item by item (pure, issue 12)."""

from __future__ import annotations

import pytest

from batches.change_rules import Effect
from qc.spec_diff import spec_changes


def numeric(test: str, comparator: str, limit: float, unit: str = "%", **extra) -> dict:
    return {"test": test, "name": test.upper(), "kind": "numeric", "comparator": comparator,
            "limit_value": limit, "unit": unit, "expected_outcome": None, **extra}


def qualitative(test: str, outcome: str = "negative", **extra) -> dict:
    return {"test": test, "name": test.upper(), "kind": "qualitative", "comparator": None,
            "limit_value": None, "unit": None, "expected_outcome": outcome, **extra}


def effects(old: list[dict], new: list[dict], stage: str = "release") -> list[tuple[str, str]]:
    return [(c.item, c.effect.value) for c in spec_changes({"tests": old}, {"tests": new}, stage)]


@pytest.mark.parametrize(("old", "new", "effect"), [
    (numeric("v", ">=", 70), numeric("v", ">=", 60), "weakens"),
    (numeric("v", ">=", 70), numeric("v", ">=", 80), "tightens"),
    (numeric("v", ">=", 70), numeric("v", ">", 70), "tightens"),
    (numeric("v", ">", 70), numeric("v", ">=", 70), "weakens"),
    (numeric("e", "<", 0.5, "EU/mL"), numeric("e", "<", 1.0, "EU/mL"), "weakens"),
    (numeric("e", "<", 0.5, "EU/mL"), numeric("e", "<=", 0.5, "EU/mL"), "weakens"),
    (numeric("e", "<=", 0.5, "EU/mL"), numeric("e", "<", 0.4, "EU/mL"), "tightens"),
    (numeric("c", "<=", 2), numeric("c", ">=", 2), "weakens"),  # turned the other way
    (numeric("c", "<=", 2), numeric("c", "<=", 2, "‰"), "weakens"),  # unit: not comparable
    (qualitative("s"), qualitative("s", "positive"), "weakens"),
    (qualitative("s"), numeric("s", ">=", 1), "weakens"),  # kind: not comparable
    (qualitative("s", timing="release"), qualitative("s", timing="follow_up"), "weakens"),
    (qualitative("s", timing="follow_up"), qualitative("s", timing="release"), "tightens"),
])
def test_each_criterion_change_has_its_effect(old, new, effect):
    assert effects([old], [new]) == [(old["test"], effect)]


def test_unchanged_tests_say_nothing():
    tests = [numeric("v", ">=", 70), qualitative("s")]
    assert spec_changes({"tests": tests}, {"tests": [dict(t) for t in tests]}, "release") == []


def test_removed_and_added_tests():
    changes = spec_changes({"tests": [qualitative("sterility"), numeric("v", ">=", 70)]},
                           {"tests": [numeric("v", ">=", 70), numeric("cd44", ">=", 90)]},
                           "release")
    assert [(c.item, c.change, c.effect) for c in changes] == [
        ("sterility", "release test removed: no longer a release condition", Effect.weakens),
        ("cd44", "release test added", Effect.tightens)]
    in_process = spec_changes({"tests": [qualitative("m")]}, {"tests": [numeric("v", ">", 1)]},
                              "in_process")
    assert in_process[0].change == "test removed" and in_process[0].weakens


def test_a_first_version_only_adds():
    changes = spec_changes(None, {"tests": [qualitative("s")]}, "release")
    assert [(c.item, c.effect) for c in changes] == [("s", Effect.tightens)]


def test_renaming_and_reordering_are_neutral():
    old = [numeric("a", ">=", 1), numeric("b", ">=", 2)]
    new = [numeric("b", ">=", 2), {**numeric("a", ">=", 1), "name": "Alpha"}]
    changes = spec_changes({"tests": old}, {"tests": new}, "release")
    assert {c.effect for c in changes} == {Effect.neutral}
    assert [c.item for c in changes] == ["a", "order of tests"]
