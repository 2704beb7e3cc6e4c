"""Validation of login, token and account input (JSON and forms alike)."""

from __future__ import annotations

from marshmallow import fields, validate

from lims.auth.models import Role
from lims.schemas import StrictSchema, text

USERNAME = validate.Regexp(r"^[A-Za-z0-9._-]{2,64}$",
                           error="2–64 letters, digits, dots, dashes or underscores")


class TokenRequestSchema(StrictSchema):
    username = text(64)
    password = text(256)


class UserBriefSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    username = fields.String()
    full_name = fields.String()
    role = fields.String()


class TokenSchema(StrictSchema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(UserBriefSchema)


class UserSchema(StrictSchema):
    id = fields.Integer()
    username = fields.String()
    full_name = fields.String()
    role = fields.String()
    active = fields.Boolean()
    locked = fields.Boolean(attribute="is_locked")
    failed_logins = fields.Integer()
    locked_at = fields.DateTime(allow_none=True)
    last_login_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class UserCreateSchema(StrictSchema):
    username = fields.String(required=True, validate=USERNAME)
    full_name = text(200)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    password = text(256, min_length=8)


class UserUpdateSchema(StrictSchema):
    active = fields.Boolean()
    full_name = text(200, required=False)
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))


class SignatureInputSchema(StrictSchema):
    """The re-authentication every e-signature needs (SPEC §8)."""

    password = text(256)
    meaning = fields.String(required=True, validate=validate.OneOf(
        ["review", "approval", "rejection", "responsibility"]))


class SignatureSchema(StrictSchema):
    signer = fields.String(attribute="username")
    printed_name = fields.String()
    meaning = fields.String()
    signed_at = fields.DateTime()
    content_hash = fields.String()
    manifestation = fields.String()
