"""What a QC specification change does to control: pure, no Flask, no database.

Issue 12: the approval screen shows what a change does against the version in force and
flags, plainly, every change that weakens control, so a QA officer never signs away a
release test unawares. A test is a dict as a change holds it (``test, name, kind,
comparator, limit_value, unit, expected_outcome`` and ``timing`` where specifications
have it). Each item's :class:`~batches.change_rules.Effect`:

* a test removed — **weakens** (of a release specification: no longer a release condition);
  a test added — tightens;
* a numeric limit that accepts a value the old one refused (a lower ``>=`` limit, a higher
  ``<=`` limit, ``>`` → ``>=``) — **weakens**; the reverse tightens;
* a limit whose direction flips, a unit or a kind that changes, an expected outcome that
  changes: the old and new criteria cannot be compared, so the new one may accept what the
  old refused — **weakens**;
* timing ``release`` → ``follow_up`` (resulted only after release) — **weakens**;
  ``follow_up`` → ``release`` tightens;
* a new name or a new order — neutral.
"""

from __future__ import annotations

from typing import Any

from batches.change_rules import Change, Effect
from qc.evaluation import Comparator, CriterionKind

Test = dict[str, Any]

LOWER_BOUNDS = (Comparator.ge.value, Comparator.gt.value)
UPPER_BOUNDS = (Comparator.le.value, Comparator.lt.value)
INCLUSIVE = (Comparator.ge.value, Comparator.le.value)
RELEASE_TIMING = "release"


def criterion_text(test: Test) -> str:
    if test.get("kind") == CriterionKind.numeric:
        return f"{test['comparator']} {test['limit_value']:g} {test['unit']}"
    return str(test.get("expected_outcome"))


def _accepts_more(old: Test, new: Test) -> bool | None:
    """Whether the new numeric criterion accepts values the old one refused (True), only
    refuses more (False), or both are the same bound (None). Same unit and direction."""
    old_limit, new_limit = float(old["limit_value"]), float(new["limit_value"])
    old_in, new_in = old["comparator"] in INCLUSIVE, new["comparator"] in INCLUSIVE
    if old_limit == new_limit:
        return None if old_in == new_in else new_in
    lower = old["comparator"] in LOWER_BOUNDS
    return new_limit < old_limit if lower else new_limit > old_limit


def _direction(test: Test) -> str:
    return "lower" if test["comparator"] in LOWER_BOUNDS else "upper"


def _criterion_change(code: str, old: Test, new: Test) -> Change | None:
    before, after = criterion_text(old), criterion_text(new)
    if old.get("kind") != new.get("kind"):
        return Change(code, "kind of test changed: the criteria cannot be compared",
                      before, after, Effect.weakens)
    if new.get("kind") == CriterionKind.qualitative:
        if old.get("expected_outcome") == new.get("expected_outcome"):
            return None
        return Change(code, "expected outcome changed", before, after, Effect.weakens)
    if old.get("unit") != new.get("unit"):
        return Change(code, f"unit changed ({old.get('unit')} → {new.get('unit')}): the limits "
                      "cannot be compared", before, after, Effect.weakens)
    if _direction(old) != _direction(new):
        return Change(code, "limit turned the other way: the criteria cannot be compared",
                      before, after, Effect.weakens)
    looser = _accepts_more(old, new)
    if looser is None:
        return None
    if looser:
        return Change(code, "limit loosened", before, after, Effect.weakens)
    return Change(code, "limit tightened", before, after, Effect.tightens)


def _timing_change(code: str, old: Test, new: Test) -> Change | None:
    before = old.get("timing", RELEASE_TIMING)
    after = new.get("timing", RELEASE_TIMING)
    if before == after:
        return None
    if after == RELEASE_TIMING:
        return Change(code, "now resulted before release (a release condition)", before, after,
                      Effect.tightens)
    return Change(code, "no longer resulted before release: not a release condition",
                  before, after, Effect.weakens)


def spec_changes(old: dict[str, Any] | None, new: dict[str, Any],
                 stage: str | None) -> list[Change]:
    """What the proposed specification ``new`` (``{"tests": [...]}``) changes against ``old``
    (None: no version in force yet), test by test; see the module for each item's effect."""
    old_tests = {t["test"]: t for t in (old or {"tests": []})["tests"]}
    new_tests = {t["test"]: t for t in new["tests"]}
    what = "release test" if stage == RELEASE_TIMING else "test"
    changes: list[Change] = []
    for code, test in old_tests.items():
        if code not in new_tests:
            consequence = ": no longer a release condition" if stage == RELEASE_TIMING else ""
            changes.append(Change(code, f"{what} removed{consequence}", criterion_text(test),
                                  None, Effect.weakens))
    for code, test in new_tests.items():
        was = old_tests.get(code)
        if was is None:
            changes.append(Change(code, f"{what} added", None, criterion_text(test),
                                  Effect.tightens))
            continue
        for found in (_criterion_change(code, was, test), _timing_change(code, was, test)):
            if found is not None:
                changes.append(found)
        if was.get("name") != test.get("name"):
            changes.append(Change(code, "renamed", was.get("name"), test.get("name")))
    kept_old = [c for c in old_tests if c in new_tests]
    kept_new = [c for c in new_tests if c in old_tests]
    if kept_old != kept_new:
        changes.append(Change("order of tests", "tests listed in another order",
                              ", ".join(kept_old), ", ".join(kept_new)))
    return changes
