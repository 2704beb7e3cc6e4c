"""The release conditions of SPEC §3, as pure functions of plain facts: no Flask, no database.

:func:`unmet_conditions` returns every unmet condition at once, each tagged with
its number in SPEC §3 (1–6; 7, the signature itself, is checked by the signing
service: password re-entered, meaning ``approval``). ``qc.release`` gathers the
facts from the database and turns the list into a 409.

An **exceptional release** (urgent medical need) may waive exactly two things
(SPEC §3): a *missing* sterility result (not a failed one) and a donor whose
screening is still *incomplete* (not ineligible). Everything else still holds.

A **re-release** (SPEC §3b) starts from ``release_suspended`` and checks every
condition again; a follow-up test resulted by then must have passed and been
reviewed, and the post-release alerts of the batch must be closed (condition 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from batches.custody_rules import ChainLink, chain_breaks
from batches.lifecycle import BatchStatus
from batches.states import Origin, RecipientStatus
from qc.evaluation import Evaluation

WAIVABLE_STERILITY = "sterility"
RELEASABLE_FROM = ("qc_review", "release_suspended")
"""A first release is signed in QC review; a re-release when the release is suspended."""


@dataclass(frozen=True)
class Unmet:
    condition: int  # SPEC §3 release item number; 0 = the batch's state
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"condition": self.condition, "reason": self.reason}


@dataclass(frozen=True)
class ResultFact:
    """The result that counts for a test: the latest one entered (see docs/QC.md)."""

    test: str
    evaluation: Evaluation
    reviewed: bool


@dataclass(frozen=True)
class CustodyFact:
    event: str
    occurred_at: datetime
    confirmed_by_scan: bool = True


@dataclass(frozen=True)
class DoseFact:
    code: str
    formulated_at: datetime
    events: Sequence[CustodyFact]  # in recording order
    cryopreserved: bool = False


@dataclass(frozen=True)
class ReleaseFacts:
    batch_status: BatchStatus
    origin: Origin
    release_tests: Sequence[str] | None  # None: no release specification in force
    results: dict[str, ResultFact]
    open_deviations: Sequence[str]  # "DEV-12 (out of spec …)"
    open_overdue_alerts: Sequence[str]
    donor_code: str
    donor_quarantine: Sequence[str]  # why the donor is not (validly) eligible; empty: eligible
    donor_incomplete: bool  # the donor's screening is incomplete (pending markers), not reactive
    recipient_code: str
    recipient_is_donor: bool
    recipient_status: RecipientStatus | None
    doses: Sequence[DoseFact]
    signer: str
    signer_performed: Sequence[str] = field(default_factory=tuple)  # what the signer did
    follow_up_results: dict[str, ResultFact] = field(default_factory=dict)
    open_post_release_alerts: Sequence[str] = field(default_factory=tuple)


def custody_chain_problems(dose: DoseFact) -> list[str]:
    """Why a dose's custody chain is not unbroken *so far* (empty: it is), SPEC §3 item 5.

    The chain rule is the custody package's one rule (:func:`batches.custody_rules.chain_breaks`:
    starts with ``stored``, allowed successions, time never going back, handoffs
    confirmed by scan); release adds that the first event is not earlier than the
    dose's formulation.
    """
    events = list(dose.events)
    if not events:
        return [f"dose {dose.code} has no custody event"]
    problems = [f"dose {dose.code}: {problem}" for problem in chain_breaks(
        [ChainLink(e.event, e.occurred_at, e.confirmed_by_scan) for e in events],
        cryopreserved=dose.cryopreserved)]
    if events[0].occurred_at < dose.formulated_at:
        problems.append(f"dose {dose.code}'s first custody event is before its formulation")
    return problems


def unmet_conditions(facts: ReleaseFacts, *, exceptional: bool = False) -> list[Unmet]:
    """Every unmet release condition of SPEC §3 (empty: the batch may be signed)."""
    unmet: list[Unmet] = []
    if facts.batch_status not in RELEASABLE_FROM:
        unmet.append(Unmet(0, f"the batch is {facts.batch_status.replace('_', ' ')}, "
                              "not in QC review"))
    unmet += _qc(facts, exceptional)
    unmet += [Unmet(2, f"deviation {d} is open") for d in facts.open_deviations]
    unmet += [Unmet(2, f"overdue-step alert open: {a}") for a in facts.open_overdue_alerts]
    unmet += [Unmet(2, f"post-release alert open (QA closes it with an investigation): {a}")
              for a in facts.open_post_release_alerts]
    if facts.origin == Origin.allogeneic:
        if facts.donor_quarantine and not (exceptional and facts.donor_incomplete):
            unmet += [Unmet(3, f"donor not eligible: {r}") for r in facts.donor_quarantine]
    elif not facts.recipient_is_donor:
        unmet.append(Unmet(3, f"autologous batch: the recipient {facts.recipient_code} is not "
                              f"the donor {facts.donor_code}"))
    if facts.recipient_status != RecipientStatus.cleared:
        unmet.append(Unmet(4, f"the recipient {facts.recipient_code} is "
                              f"{facts.recipient_status or 'not screened'}, not cleared"))
    if not facts.doses:
        unmet.append(Unmet(5, "no doses are formulated"))
    for dose in facts.doses:
        unmet += [Unmet(5, problem) for problem in custody_chain_problems(dose)]
    unmet += [Unmet(6, f"segregation of duties: the signer {facts.signer} {what}")
              for what in facts.signer_performed]
    return unmet


def _qc(facts: ReleaseFacts, exceptional: bool) -> list[Unmet]:
    if facts.release_tests is None:
        return [Unmet(1, "no release specification is in force for the product")]
    unmet = []
    for test in facts.release_tests:
        result = facts.results.get(test)
        if result is None:
            if not (exceptional and test == WAIVABLE_STERILITY):
                unmet.append(Unmet(1, f"release test {test} has no result"))
            continue
        if result.evaluation != Evaluation.passed:
            unmet.append(Unmet(1, f"release test {test} failed its specification"))
        if not result.reviewed:
            unmet.append(Unmet(1, f"release test {test} is not reviewed by a second person"))
    for test, result in sorted(facts.follow_up_results.items()):
        if result.evaluation != "pass":
            unmet.append(Unmet(1, f"follow-up test {test} failed its specification"))
        if not result.reviewed:
            unmet.append(Unmet(1, f"follow-up test {test} is not reviewed by a second person"))
    return unmet


def waived_item_codes(facts: ReleaseFacts) -> dict[str, str]:
    """What an exceptional release would release without, by item (``sterility``,
    ``donor_screening``) with the text given to the physician (empty: nothing pending)."""
    items: dict[str, str] = {}
    if facts.release_tests is not None and WAIVABLE_STERILITY in facts.release_tests \
            and WAIVABLE_STERILITY not in facts.results:
        items["sterility"] = pending_text("sterility", facts.donor_code)
    if facts.origin == "allogeneic" and facts.donor_quarantine and facts.donor_incomplete:
        items["donor_screening"] = pending_text("donor_screening", facts.donor_code)
    return items


def pending_text(item: str, donor_code: str) -> str:
    """How a pending item reads in the list given to the physician."""
    return {"sterility": "sterility result pending",
            "donor_screening": f"donor {donor_code} screening incomplete"}[item]


def waived_items(facts: ReleaseFacts) -> list[str]:
    """What an exceptional release would release without (empty: nothing is pending)."""
    return list(waived_item_codes(facts).values())
