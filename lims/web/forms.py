"""The web form layer: every page's form is parsed by the API's marshmallow schema and
handled by one flow, :func:`submit`.

A POST view checks the role, then hands over::

    @bp.route("/batches/<int:batch_id>/hold", methods=["POST"])
    @role_required(*WRITERS)
    def hold(batch_id: int):
        return submit(ReasonSchema(), lambda data, user: services.hold_batch(
                          services.get_batch(batch_id), data["reason"], user),
                      done=Done("The batch is on hold.", url_for(...)),
                      page=partial(_batch_page, batch_id))

``submit`` parses the form (blank fields count as absent, ``datetime-local`` values are the
lab's wall-clock time), calls the one service, flashes and redirects; or shows the page
again with the field errors (400) or with the refusal and its status (a
:class:`~lims.errors.DomainError`'s message, reasons and fields, flashed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import marshmallow as ma
from flask import flash, redirect, request
from flask.typing import ResponseReturnValue
from marshmallow import fields

from lims import clock
from lims.auth import User, current_actor_user, role_required
from lims.config import lab_timezone
from lims.errors import DomainError

T = TypeVar("T")

Errors = dict[str, Any]
Page = Callable[[int, Errors], ResponseReturnValue]
"""Renders the form's page again: ``page(status, errors)``."""


# -- parsing ----------------------------------------------------------------------------------


def local_iso(value: str) -> str:
    """A ``datetime-local`` value (no offset) is the lab's wall-clock time."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=lab_timezone())
    return parsed.isoformat()


def _convert(field: fields.Field, value: str) -> Any:
    try:
        if isinstance(field, fields.Integer):
            return int(value)
        if isinstance(field, fields.Float):
            return float(value)
    except ValueError:
        return value
    if isinstance(field, fields.AwareDateTime):
        return local_iso(value)
    return value


def form_values(schema: ma.Schema, *, only: set[str] | None = None) -> dict[str, Any]:
    """The posted form as the schema's input: lists from repeated fields, nested objects
    from ``name.key`` fields, numbers as numbers; blank fields are left out."""
    raw: dict[str, Any] = {}
    for name, field in schema.fields.items():
        if only is not None and name not in only:
            continue
        if isinstance(field, fields.List):
            raw[name] = [v for v in request.form.getlist(name) if v.strip()]
            continue
        if isinstance(field, fields.Nested):
            nested = {k: request.form[f"{name}.{k}"] for k in field.schema.fields
                      if request.form.get(f"{name}.{k}", "").strip()}
            raw[name] = nested
            continue
        value = request.form.get(name, "").strip()
        if value:
            raw[name] = _convert(field, value)
    return raw


def parse_form(schema: ma.Schema, *, only: set[str] | None = None,
               overrides: dict[str, Any] | None = None,
               values: dict[str, Any] | None = None) -> tuple[dict[str, Any], Errors]:
    """Form → ``(data, errors)`` through the API's schema; blank fields count as absent.

    ``values`` replaces the posted form (a form laid out unlike the schema, e.g. rows of a
    table); ``overrides`` are set over the form's values (e.g. a scanned code resolved).
    """
    raw = form_values(schema, only=only) if values is None else dict(values)
    raw.update(overrides or {})
    try:
        return schema.load(raw), {}
    except ma.ValidationError as invalid:
        return {}, invalid.messages  # type: ignore[return-value]


def now_local_input() -> str:
    """Now, as the value of a ``datetime-local`` input (the lab's wall clock, to the minute)."""
    return clock.utcnow().astimezone(lab_timezone()).strftime("%Y-%m-%dT%H:%M")


def require_role(*roles: str) -> None:
    """The role check of a page whose GET is open to all and whose POST writes GMP data."""
    role_required(*roles)(lambda: None)()


# -- refusals ---------------------------------------------------------------------------------


def flash_refusal(refusal: DomainError, *, with_fields: bool = True) -> int:
    """Flash a refusal's message, each unmet condition and each refused field; its status."""
    flash(refusal.message, "error")
    for reason in refusal.details.get("reasons", []):
        flash(reason, "error")
    if with_fields:
        for field, problem in refusal.details.get("fields", {}).items():
            flash(f"{field}: {problem}", "error")
    return refusal.status


def refuse_on_error_page(refusal: DomainError) -> NoReturn:
    """``on_refusal`` of a form with no page of its own: the error page shows the refusal."""
    raise refusal


class InvalidForm(Exception):
    """Raised by a :func:`submit` action when a parsed value proves invalid (a scanned code
    that names nothing): the page is shown again with these field errors, 400."""

    def __init__(self, errors: Errors) -> None:
        super().__init__(errors)
        self.errors = errors


# -- the one submit flow ----------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """What a successful submit says, and where it goes next."""

    message: str
    url: str
    category: str = "success"


def submit(schema: ma.Schema | None, action: Callable[[dict[str, Any], User], T], *,
           done: Done | Callable[[T], Done], page: Page,
           roles: tuple[str, ...] = (),
           on_refusal: Callable[[DomainError], ResponseReturnValue] | None = None,
           overrides: dict[str, Any] | None = None,
           values: dict[str, Any] | None = None) -> ResponseReturnValue:
    """Parse the form with ``schema`` (none: the form has no fields), call ``action`` (one
    service) with the data and the acting user, flash ``done``'s message and redirect to its
    URL (``done`` may be a function of what the action returned).

    Invalid fields: ``page(400, errors)``. A refusal (``DomainError``): flashed, then
    ``page(refusal.status, fields)`` with the refused fields (a wrong password shown in the
    signing dialog) — or ``on_refusal(refusal)`` where the page shows the
    refusal itself (the bedside mismatch) or has no page of its own.

    A page that shows its own form (one URL for GET and POST) answers GET with
    ``page(200, {})``, open to every role; ``roles`` are those that may post.
    """
    if request.method != "POST":
        return page(200, {})
    if roles:
        require_role(*roles)
    data: dict[str, Any] = {}
    if schema is not None:
        data, errors = parse_form(schema, overrides=overrides, values=values)
        if errors:
            return page(400, errors)
    try:
        result = action(data, current_actor_user())
    except InvalidForm as invalid:
        return page(400, invalid.errors)
    except DomainError as refusal:
        if on_refusal is not None:
            return on_refusal(refusal)
        return page(flash_refusal(refusal), dict(refusal.details.get("fields", {})))
    outcome = done if isinstance(done, Done) else done(result)
    flash(outcome.message, outcome.category)
    return redirect(outcome.url)
