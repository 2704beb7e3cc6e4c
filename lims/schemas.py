"""Shared marshmallow pieces: strict schemas, bounded strings, the error body."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate


class StrictSchema(ma.Schema):
    """Unknown fields are refused (400 naming them), never silently dropped."""

    class Meta:
        unknown = ma.RAISE


def text(max_length: int, *, required: bool = True, min_length: int = 1, **kwargs) -> fields.String:
    return fields.String(required=required, validate=validate.Length(min_length, max_length),
                         **kwargs)


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
