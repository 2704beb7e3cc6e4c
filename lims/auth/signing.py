"""Signing acts and the state of the signing session (SPEC §8 electronic signatures).

- A **signing act** (release a batch, close a deviation, …) names the meanings that are
  valid for it. Feature packages register theirs in ``init_app`` with
  :func:`add_signing_act`; a dialog offers only :func:`meanings_for` its act, and the
  signing service is given the same set (``sign(..., allowed=meanings_for(act))``), so
  a dialog can never offer a meaning that is then refused.
- The **signing session** is the continuous period of access the signature belongs to:
  the web session or the API token that authenticated the request (set by
  :mod:`lims.auth.guard`). 21 CFR 11.200(a)(1)(i): the first signing of a session takes
  user id + password, later ones the password. :func:`username_required` tells a dialog
  whether to ask for the user id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app, g, has_app_context

from lims.auth.models import MEANING_STATEMENTS, Meaning

if TYPE_CHECKING:
    from lims.auth.models import ApiToken, LoginSession

SESSION_KEY = "lims_login_session"


@dataclass(frozen=True)
class SigningAct:
    name: str
    label: str
    meanings: tuple[Meaning, ...]

    def as_dict(self) -> dict:
        return {"name": self.name, "label": self.label,
                "meanings": [m.value for m in self.meanings]}


def _acts(app: Flask | None = None) -> dict[str, SigningAct]:
    app = app or current_app
    return app.extensions.setdefault("lims_signing_acts", {})


def add_signing_act(app: Flask, name: str, label: str, meanings: Iterable[Meaning]
                    ) -> SigningAct:
    """Register a signing act and the meanings valid for it (in the fixed list's order)."""
    chosen = tuple(m for m in Meaning if m in set(meanings))
    if not chosen:
        raise ValueError(f"signing act {name!r} needs at least one meaning")
    act = SigningAct(name, label, chosen)
    _acts(app)[name] = act
    return act


def signing_acts() -> list[SigningAct]:
    return sorted(_acts().values(), key=lambda act: act.name)


def meanings_for(act: str) -> set[Meaning]:
    """The meanings valid for ``act`` (a KeyError for an act nobody registered)."""
    return set(_acts()[act].meanings)


def meaning_choices(meanings: set[Meaning] | list[Meaning] | str) -> list[tuple[str, str]]:
    """(value, "value (statement)") for a dialog's select, in the fixed list's order;
    ``meanings`` may be an act's name."""
    allowed = meanings_for(meanings) if isinstance(meanings, str) else set(meanings)
    return [(m.value, f"{m.value} ({MEANING_STATEMENTS[m]})") for m in Meaning if m in allowed]


def current_signing_session() -> LoginSession | ApiToken | None:
    """The web session or API token of this request, if any (None in CLI and jobs)."""
    return g.get(SESSION_KEY) if has_app_context() else None


def set_signing_session(record: LoginSession | ApiToken | None) -> None:
    setattr(g, SESSION_KEY, record)


def username_required() -> bool:
    """True when the next signature of this session must carry the user id too: it is the
    session's first (and the rule is on: setting ``SIGNATURE_USERNAME_AT_FIRST_SIGNING``)."""
    if not current_app.config.get("SIGNATURE_USERNAME_AT_FIRST_SIGNING", True):
        return False
    record = current_signing_session()
    return record is not None and record.first_signed_at is None
