"""Evaluating a QC result against its acceptance criterion: pure, no Flask, no database.

SPEC §2 "QC result … evaluated pass | fail against the spec by the server".

* A numeric criterion (``viability >= 70 %``) needs a value and the criterion's
  unit, spelled exactly (after trimming spaces): ``EU/mL`` is not ``EU/ml``.
  A unit that differs is refused (:class:`ResultRefused`, a 400 for the API),
  never converted or guessed.
* A qualitative criterion (``sterility: negative``) needs an outcome from
  :data:`OUTCOMES`; a value or a unit is refused.
* Values must be finite and not negative; percentages lie within 0–100.
* The limit itself passes for ``>=`` / ``<=`` and fails for ``>`` / ``<``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

OUTCOMES = ("negative", "positive")
"""Qualitative outcomes (SPEC §7): sterility no growth, mycoplasma not detected and Gram
stain no organisms are ``negative``."""


class CriterionKind(StrEnum):
    numeric = "numeric"
    qualitative = "qualitative"


class Comparator(StrEnum):
    ge = ">="
    gt = ">"
    le = "<="
    lt = "<"


class Evaluation(StrEnum):
    passed = "pass"
    failed = "fail"


COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    Comparator.ge: operator.ge, Comparator.gt: operator.gt,
    Comparator.le: operator.le, Comparator.lt: operator.lt}
PASS, FAIL = Evaluation.passed, Evaluation.failed


@dataclass(frozen=True)
class Criterion:
    """One test's acceptance criterion, as the specification states it."""

    test: str
    kind: str  # a CriterionKind
    comparator: str | None = None  # a Comparator
    limit: float | None = None
    unit: str | None = None
    expected_outcome: str | None = None


class ResultRefused(ValueError):
    """The result does not fit its criterion's form; ``fields`` names what is wrong."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.fields = fields


def evaluate(criterion: Criterion, *, value: float | None = None, unit: str | None = None,
             outcome: str | None = None) -> Evaluation:
    """``"pass"`` or ``"fail"`` for the result; raises :class:`ResultRefused` for input that
    does not fit the criterion (wrong kind of result, unit mismatch, impossible value)."""
    if criterion.kind == CriterionKind.numeric:
        return _numeric(criterion, value, unit, outcome)
    if criterion.kind == CriterionKind.qualitative:
        return _qualitative(criterion, value, unit, outcome)
    raise ValueError(f"unknown criterion kind {criterion.kind!r}")


def _numeric(criterion: Criterion, value: float | None, unit: str | None,
             outcome: str | None) -> Evaluation:
    problems: dict[str, str] = {}
    if outcome is not None:
        problems["outcome"] = f"{criterion.test} is measured: give value and unit, not an outcome"
    if value is None:
        problems["value"] = f"{criterion.test} needs a value"
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems["value"] = "must be a finite number"
    elif value < 0:
        problems["value"] = "must not be negative"
    elif criterion.unit == "%" and value > 100:
        problems["value"] = "a percentage lies within 0–100"
    if unit is None or not unit.strip():
        problems["unit"] = f"{criterion.test} needs its unit ({criterion.unit})"
    elif unit.strip() != criterion.unit:
        problems["unit"] = (f"unit mismatch: the specification states {criterion.unit!r}, "
                            f"not {unit.strip()!r} (units are never converted)")
    if problems:
        raise ResultRefused(f"The {criterion.test} result does not fit its specification.",
                            problems)
    compare = COMPARATORS[criterion.comparator or ""]
    return PASS if compare(float(value), float(criterion.limit)) else FAIL  # type: ignore[arg-type]


def _qualitative(criterion: Criterion, value: float | None, unit: str | None,
                 outcome: str | None) -> Evaluation:
    problems: dict[str, str] = {}
    if value is not None:
        problems["value"] = f"{criterion.test} is qualitative: give an outcome, not a value"
    if unit is not None:
        problems["unit"] = f"{criterion.test} is qualitative: no unit"
    if outcome is None:
        problems["outcome"] = f"{criterion.test} needs an outcome ({' or '.join(OUTCOMES)})"
    elif outcome not in OUTCOMES:
        problems["outcome"] = f"one of {', '.join(OUTCOMES)}"
    if problems:
        raise ResultRefused(f"The {criterion.test} result does not fit its specification.",
                            problems)
    return PASS if outcome == criterion.expected_outcome else FAIL


def describe(criterion: Criterion) -> str:
    """The criterion as people read it: ``>= 70 %``, ``negative``."""
    if criterion.kind == CriterionKind.numeric:
        return f"{criterion.comparator} {criterion.limit:g} {criterion.unit}"
    return str(criterion.expected_outcome)
