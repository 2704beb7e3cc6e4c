"""Review by exception (SPEC §3) as a pure rule: plain facts in, the items to look at out
(no app, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from qc.review_exceptions import (
    DeviationFacts,
    ResultFacts,
    ReviewItem,
    StepFacts,
    review_exceptions,
)


def result(**overrides) -> ResultFacts:
    facts = {"id": 1, "test": "viability", "reported": "91 %", "criterion": ">= 70 %",
             "analyst": "tech1", "failed": False, "corrected": False, "corrected_by": None,
             "reviewed": True}
    return ResultFacts(**{**facts, **overrides})


def step(**overrides) -> StepFacts:
    facts = {"id": 7, "type": "media_change", "overdue": False,
             "due_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC), "late_entry": False,
             "corrected": False}
    return StepFacts(**{**facts, **overrides})


def deviation(**overrides) -> DeviationFacts:
    facts = {"id": 3, "description": "Sterility positive", "is_open": True,
             "disposition": None}
    return DeviationFacts(**{**facts, **overrides})


def test_an_ordinary_record_has_nothing_to_look_at():
    assert review_exceptions([result()], [step()], []) == []


def test_an_out_of_spec_result_names_the_spec_and_the_analyst():
    [item] = review_exceptions([result(failed=True, reported="65 %")], [], [])
    assert item == ReviewItem("out of spec", "viability 65 % (spec >= 70 %) by tech1",
                              "result", 1)


def test_a_corrected_result_names_who_corrected_it():
    [item] = review_exceptions([result(corrected=True, corrected_by="qa1")], [], [])
    assert item == ReviewItem("corrected", "viability corrected to 91 % by qa1", "result", 1)
    [unknown] = review_exceptions([result(corrected=True)], [], [])
    assert unknown.text == "viability corrected to 91 % by "


def test_an_unreviewed_result_awaits_a_second_person():
    [item] = review_exceptions([result(reviewed=False)], [], [])
    assert item == ReviewItem("not reviewed", "viability 91 % awaits a second-person review",
                              "result", 1)


def test_one_result_can_need_a_look_for_three_reasons_in_a_fixed_order():
    items = review_exceptions([result(failed=True, corrected=True, corrected_by="qa1",
                                      reviewed=False)], [], [])
    assert [i.kind for i in items] == ["out of spec", "corrected", "not reviewed"]


def test_steps_late_recorded_late_or_corrected():
    items = review_exceptions([], [step(overdue=True, late_entry=True, corrected=True)], [])
    assert items == [
        ReviewItem("late step", "media change overdue (due 2026-03-01 09:30 UTC)", "step", 7),
        ReviewItem("late entry", "media change recorded late", "step", 7),
        ReviewItem("corrected", "media change step values corrected", "step", 7),
    ]


def test_open_deviations_come_first_and_closed_ones_last_with_their_disposition():
    items = review_exceptions(
        [result(reviewed=False)], [step(late_entry=True)],
        [deviation(id=3, is_open=False, disposition="Batch rejected"),
         deviation(id=4, description="Late media change")])
    assert [(i.kind, i.about, i.about_id) for i in items] == [
        ("deviation", "deviation", 4), ("not reviewed", "result", 1),
        ("late entry", "step", 7), ("deviation closed", "deviation", 3)]
    assert items[0].text == "DEV-4 open: Late media change"
    assert items[-1].text == "DEV-3: Sterility positive — Batch rejected"


def test_facts_may_be_any_iterable():
    items = review_exceptions(iter([result(reviewed=False)]), iter([]),
                              (d for d in [deviation()]))
    assert [i.kind for i in items] == ["deviation", "not reviewed"]
