"""Which kinds of alert exist, and how each is handled: an extension point (SPEC §2 Alert).

The core keeps one generic alert table and knows no kind by name. Each feature
package registers its kinds in its ``init_app`` (``batches.alerts``, ``qc.alerts``)
with :func:`register_alert_kind`: how urgent the kind is, and how an alert of
that kind ends —

* ``Closing.cause_gone``: a *state* alert (a step overdue, results missing). The
  scheduler's sweep resolves it when its cause is gone; people acknowledge it.
* ``Closing.investigation``: an *event* alert (an identity mismatch, a release
  suspended, a post-release failure, a look-back). Nothing resolves it by itself:
  a person of ``closing_roles`` closes it with a written investigation, never
  the person who caused it (SPEC §3b, last bullet). Acknowledging it only says
  it was seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask import Flask, current_app

_KEY = "lims_alert_kinds"


class Closing(StrEnum):
    cause_gone = "cause_gone"
    investigation = "investigation"


@dataclass(frozen=True)
class AlertKindSpec:
    """One kind of alert. ``severity``: 0 is the most urgent; lists sort by it."""

    name: str
    severity: int
    closing: Closing = Closing.cause_gone
    closing_roles: frozenset[str] = frozenset()
    label: str = ""

    @property
    def closed_by_investigation(self) -> bool:
        return self.closing is Closing.investigation


def register_alert_kind(app: Flask, spec: AlertKindSpec) -> None:
    """Make ``spec.name`` a kind alerts may have (once per app; a clash is a programming
    error)."""
    kinds: dict[str, AlertKindSpec] = app.extensions.setdefault(_KEY, {})
    known = kinds.get(spec.name)
    if known is not None and known != spec:
        raise ValueError(f"alert kind {spec.name!r} is registered twice, differently")
    if spec.closed_by_investigation and not spec.closing_roles:
        raise ValueError(f"alert kind {spec.name!r} is closed by investigation: name who "
                         "may close it")
    kinds[spec.name] = spec


def alert_kinds(app: Flask | None = None) -> dict[str, AlertKindSpec]:
    """Every registered kind, by name."""
    return (app or current_app).extensions.get(_KEY, {})


def alert_kind(name: str) -> AlertKindSpec:
    """The spec of a registered kind; an unknown kind is a programming error."""
    spec = alert_kinds().get(str(name))
    if spec is None:
        raise ValueError(f"unknown alert kind {name!r}: register it with "
                         "lims.alerts.registry.register_alert_kind")
    return spec
