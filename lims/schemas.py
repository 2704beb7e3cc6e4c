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


class ErrorSchema(ma.Schema):
    error = fields.String(metadata={"description": "machine-readable error code"})
    message = fields.String(metadata={"description": "what went wrong, for people"})
    details = fields.Dict(metadata={"description": "fields (400) or reasons (409)"})
