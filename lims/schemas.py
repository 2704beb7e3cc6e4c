"""Shared marshmallow pieces: strict schemas, bounded strings, plausible dates, the error
body."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate


class StrictSchema(ma.Schema):
    """Unknown fields are refused (400 naming them), never silently dropped."""

    class Meta:
        unknown = ma.RAISE


def text(max_length: int, *, required: bool = True, min_length: int = 1, **kwargs) -> fields.String:
    return fields.String(required=required, validate=validate.Length(min_length, max_length),
                         **kwargs)


# -- plausible dates (SPEC §8 "bad input": implausible values are a 400 naming the field) ------

EARLIEST_BIRTH = date(1900, 1, 1)
"""No patient or donor was born before 1900."""
MAX_LATE_ENTRY = timedelta(days=3653)
"""How long after the fact a lab event (collection, specimen, step, handoff, sample) may be
entered: ten years. Earlier is a typing error (a collection in year 1, a specimen decades ago)."""
ISBT128_YEARS = range(2000, 2100)
"""The years an ISBT 128 date (``cyyjjjhhmm``, c = 0) can carry, in the lab's time zone."""


def _lab_zone() -> tzinfo:
    from flask import has_app_context

    if not has_app_context():
        return UTC
    from lims.config import lab_timezone

    return lab_timezone()


class Moment(fields.AwareDateTime):
    """An ISO 8601 time with its offset (naive times are refused) that a UTC timestamp can
    hold: ``0001-01-01T00:00+14:00`` is valid ISO 8601 but lies before year 1 in UTC."""

    default_error_messages = {"unrepresentable": "is outside the range of storable times"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment.astimezone(UTC)
            moment.astimezone(_lab_zone())
        except (OverflowError, ValueError) as error:
            raise self.make_error("unrepresentable") from error
        self.check(moment)
        return moment

    def check(self, moment: datetime) -> None:
        """Further plausibility rules of a kind of time."""


class RecordedTime(Moment):
    """When something happened in the lab: at most :data:`MAX_LATE_ENTRY` ago. (A time in
    the future is refused by the services, which know "now" and say so.)"""

    def check(self, moment: datetime) -> None:
        from lims import clock

        earliest = clock.utcnow() - MAX_LATE_ENTRY
        if moment < earliest:
            raise ma.ValidationError(f"must not lie more than ten years back "
                                     f"(before {earliest:%Y-%m-%d})")


class LabelExpiry(Moment):
    """An expiry printed on an ISBT 128 label: a year from 2000 to 2099 on the lab's clock."""

    def check(self, moment: datetime) -> None:
        if moment.astimezone(_lab_zone()).year not in ISBT128_YEARS:
            raise ma.ValidationError(
                f"ISBT 128 labels carry expiry dates from {ISBT128_YEARS.start} to "
                f"{ISBT128_YEARS.stop - 1} only")


class BirthDate(fields.Date):
    """A date of birth: not before :data:`EARLIEST_BIRTH`. (A birth date in the future is
    refused by the services.)"""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        born = super()._deserialize(value, attr, data, **kwargs)
        if born < EARLIEST_BIRTH:
            raise ma.ValidationError(f"must not be before {EARLIEST_BIRTH.isoformat()}")
        return born


class CorrectionSchema(StrictSchema):
    """A correction of recorded values: a reason, and at least one value to correct."""

    reason = text(1000)

    @ma.validates_schema
    def something_to_correct(self, data: dict, **_kwargs) -> None:
        if not set(data) - {"reason"}:
            raise ma.ValidationError("name at least one value to correct", "body")


class ErrorSchema(ma.Schema):
    error = fields.String(metadata={"description": "machine-readable error code"})
    message = fields.String(metadata={"description": "what went wrong, for people"})
    details = fields.Dict(metadata={"description": "fields (400) or reasons (409)"})


NUL = "\x00"


def fields_with_nul(value, path: str = "") -> list[str]:
    """Where a NUL character hides in request data (keys and string values, nested).

    No text field of a GMP record may hold one, and PostgreSQL refuses it outright
    (a 500 if it reached the database), so every input is checked at the boundary.
    """
    if isinstance(value, str):
        return [path or "body"] if NUL in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            found += [name] if NUL in str(key) else fields_with_nul(item, name)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += fields_with_nul(item, f"{path}[{index}]" if path else f"[{index}]")
    return found
