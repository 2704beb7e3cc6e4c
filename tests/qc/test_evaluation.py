"""The pure evaluation of a result against its criterion, and the pure release rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qc.evaluation import Criterion, ResultRefused, describe, evaluate
from qc.release_conditions import CustodyFact, DoseFact, custody_chain_problems

VIABILITY = Criterion("viability", "numeric", ">=", 70, "%")
ENDOTOXIN = Criterion("endotoxin", "numeric", "<", 0.5, "EU/mL")
CD45 = Criterion("cd45", "numeric", "<=", 2, "%")
STERILITY = Criterion("sterility", "qualitative", expected_outcome="negative")


@pytest.mark.parametrize(("criterion", "value", "unit", "expected"), [
    (VIABILITY, 70, "%", "pass"), (VIABILITY, 69.9, "%", "fail"), (VIABILITY, 95, " % ", "pass"),
    (ENDOTOXIN, 0.49, "EU/mL", "pass"), (ENDOTOXIN, 0.5, "EU/mL", "fail"),
    (CD45, 2, "%", "pass"), (CD45, 2.01, "%", "fail"),
])
def test_numeric_limits(criterion, value, unit, expected):
    assert evaluate(criterion, value=value, unit=unit) == expected


@pytest.mark.parametrize(("outcome", "expected"), [("negative", "pass"), ("positive", "fail")])
def test_qualitative(outcome, expected):
    assert evaluate(STERILITY, outcome=outcome) == expected


@pytest.mark.parametrize(("criterion", "kwargs", "field"), [
    (ENDOTOXIN, {"value": 0.1, "unit": "EU/ml"}, "unit"),  # mismatch is refused, not guessed
    (VIABILITY, {"value": 90}, "unit"),
    (VIABILITY, {"unit": "%"}, "value"),
    (VIABILITY, {"value": 101, "unit": "%"}, "value"),
    (VIABILITY, {"value": -1, "unit": "%"}, "value"),
    (VIABILITY, {"value": float("nan"), "unit": "%"}, "value"),
    (VIABILITY, {"value": 90, "unit": "%", "outcome": "negative"}, "outcome"),
    (STERILITY, {"value": 1.0}, "value"),
    (STERILITY, {"outcome": "maybe"}, "outcome"),
    (STERILITY, {}, "outcome"),
])
def test_results_that_do_not_fit_are_refused(criterion, kwargs, field):
    with pytest.raises(ResultRefused) as refused:
        evaluate(criterion, **kwargs)
    assert field in refused.value.fields


def test_describe():
    assert describe(VIABILITY) == ">= 70 %" and describe(STERILITY) == "negative"


T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def test_custody_chain_unbroken_so_far():
    good = DoseFact("D-Aa", T0, [CustodyFact("stored", T0),
                                 CustodyFact("retrieved", T0 + timedelta(hours=1))])
    assert custody_chain_problems(good) == []
    assert custody_chain_problems(DoseFact("D", T0, [])) == ["dose D has no custody event"]
    wrong_first = DoseFact("D", T0, [CustodyFact("shipped", T0)])
    assert "starts with shipped, not stored" in custody_chain_problems(wrong_first)[0]
    early = DoseFact("D", T0, [CustodyFact("stored", T0 - timedelta(minutes=1))])
    assert "before its formulation" in custody_chain_problems(early)[0]
    disordered = DoseFact("D", T0, [CustodyFact("stored", T0 + timedelta(hours=2)),
                                    CustodyFact("retrieved", T0 + timedelta(hours=1))])
    assert "earlier than the one before" in custody_chain_problems(disordered)[0]
    unscanned = DoseFact("D", T0, [CustodyFact("stored", T0),
                                   CustodyFact("retrieved", T0 + timedelta(hours=1), False)])
    assert "not confirmed by a scan" in custody_chain_problems(unscanned)[0]
    skipped = DoseFact("D", T0, [CustodyFact("stored", T0),
                                 CustodyFact("administered", T0 + timedelta(hours=1)),
                                 CustodyFact("shipped", T0 + timedelta(hours=2))])
    assert "(administered) cannot follow stored" in custody_chain_problems(skipped)[0]
