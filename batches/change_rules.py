"""Change control of the lab's controlled data, as pure rules: no Flask, no database.

SPEC §1 (admins keep products and specifications), §2 (process templates and QC
specifications are data, versioned), §8 (e-signatures, four eyes); issue 12: "changes to
QC specifications and process templates become change-controlled".

* A **change** is a proposed new version of one controlled document — the QC
  specification of a (product, stage), or the process template of a product — with its
  whole content and a reason. It is ``proposed`` (no effect on anything) until a QA
  officer signs its approval; then it is ``approved`` and the new version is in force
  from the signing time. A QA officer may instead reject it (signed, with a reason), or
  its proposer withdraws it (with a reason).
* :func:`approval_refusals` — the approver is QA, not the proposer (four eyes), the change
  is still open, the version in force is still the one it was proposed against (else it
  is stale), and what the approver was shown is what is on record.
* :func:`template_changes` — what a template change does against the version in force,
  each item marked :attr:`Effect.weakens` when it loosens control (a scheduled step no
  longer scheduled, a longer interval or grace, a higher or no maximum passage).
  The QC specification's counterpart is ``qc.spec_diff.spec_changes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    """The documents under change control."""

    qc_specification = "qc_specification"
    process_template = "process_template"


class ChangeStatus(StrEnum):
    proposed = "proposed"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


class Effect(StrEnum):
    """What one item of a change does to control: tightens it, weakens it, or neither."""

    tightens = "tightens"
    weakens = "weakens"
    neutral = "neutral"


@dataclass(frozen=True)
class Change:
    """One difference between the version in force and the proposed one, in words."""

    item: str
    change: str
    before: str | None
    after: str | None
    effect: Effect = Effect.neutral

    @property
    def weakens(self) -> bool:
        return self.effect == Effect.weakens

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.item, "change": self.change, "before": self.before,
                "after": self.after, "effect": self.effect.value, "weakens": self.weakens}


# -- who may decide, and when -----------------------------------------------------------------


def approval_refusals(*, status: str, proposer_id: int, signer_id: int,
                      base_version: int | None, version_in_force: int | None,
                      shown_digest: str | None, digest: str) -> list[str]:
    """Every reason a QA officer's signed approval of the change is refused (409)."""
    reasons = []
    if status != ChangeStatus.proposed:
        reasons.append(f"the change is {status}, no longer open")
    if signer_id == proposer_id:
        reasons.append("you proposed this change: another QA officer must approve it "
                       "(four eyes)")
    if status == ChangeStatus.proposed and version_in_force != base_version:
        reasons.append(f"the change was proposed against {_version(base_version)} but "
                       f"{_version(version_in_force)} is in force now: withdraw it and "
                       "propose again against the version in force")
    if shown_digest is not None and shown_digest != digest:
        reasons.append("what you were shown is not the change on record now (or the version "
                       "in force changed): look at the change again before signing")
    return reasons


def rejection_refusals(*, status: str, proposer_id: int, signer_id: int) -> list[str]:
    """Every reason a QA officer's signed rejection of the change is refused (409)."""
    reasons = []
    if status != ChangeStatus.proposed:
        reasons.append(f"the change is {status}, no longer open")
    if signer_id == proposer_id:
        reasons.append("you proposed this change: withdraw it instead of rejecting it")
    return reasons


def withdrawal_refusals(*, status: str, proposer_id: int, user_id: int) -> list[str]:
    """Every reason a withdrawal is refused (409): only the proposer withdraws an open change
    (anyone else asks QA to reject it)."""
    reasons = []
    if status != ChangeStatus.proposed:
        reasons.append(f"the change is {status}, no longer open")
    if user_id != proposer_id:
        reasons.append("only the proposer can withdraw a change; QA can reject it")
    return reasons


def _version(number: int | None) -> str:
    return "no version" if number is None else f"version {number}"


# -- what a process template change does ------------------------------------------------------


def _passage(value: int | None) -> str:
    return "none" if value is None else f"P{value}"


def _rule_text(rule: dict[str, Any]) -> str:
    return f"every {rule['interval_hours']} h (grace {rule['grace_hours']} h)"


def _rules_by_pair(rules: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(r["after_step"]), str(r["next_step"])): r for r in rules}


def template_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Change]:
    """What the proposed template content ``new`` changes against ``old`` (None: no version
    in force yet), item by item; loosened control is :attr:`Effect.weakens`.

    Content: ``{"name", "max_passage", "rules": [{after_step, next_step, interval_hours,
    grace_hours}]}``; rules are keyed by (after_step, next_step), unique in a template.
    """
    old = old or {"name": None, "max_passage": None, "rules": []}
    changes: list[Change] = []
    if old.get("name") != new.get("name"):
        changes.append(Change("name", "renamed", old.get("name"), new.get("name")))
    before, after = old.get("max_passage"), new.get("max_passage")
    if before != after:
        if after is None or (before is not None and after > before):
            changes.append(Change("maximum passage", "maximum passage loosened",
                                  _passage(before), _passage(after), Effect.weakens))
        else:
            changes.append(Change("maximum passage", "maximum passage tightened",
                                  _passage(before), _passage(after), Effect.tightens))
    old_rules, new_rules = _rules_by_pair(old.get("rules", [])), _rules_by_pair(new["rules"])
    for pair in sorted(old_rules.keys() | new_rules.keys()):
        item = f"{pair[1]} after {pair[0]}"
        was, now = old_rules.get(pair), new_rules.get(pair)
        if now is None:
            assert was is not None
            changes.append(Change(item, "rule removed: the step is no longer scheduled",
                                  _rule_text(was), None, Effect.weakens))
        elif was is None:
            changes.append(Change(item, "rule added", None, _rule_text(now), Effect.tightens))
        else:
            changes += _rule_changes(item, was, now)
    return changes


def _rule_changes(item: str, was: dict[str, Any], now: dict[str, Any]) -> list[Change]:
    changes = []
    for key, label in (("interval_hours", "interval"), ("grace_hours", "grace")):
        if was[key] == now[key]:
            continue
        longer = now[key] > was[key]
        changes.append(Change(item, f"{label} {'lengthened' if longer else 'shortened'}",
                              f"{was[key]} h", f"{now[key]} h",
                              Effect.weakens if longer else Effect.tightens))
    return changes
