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
    password_change_required = fields.Boolean(metadata={
        "description": "true: every call but POST /auth/password (and logout) answers 403 "
                       "password_change_required until the password is changed"})


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
    locked_until = fields.DateTime(allow_none=True)
    must_change_password = fields.Boolean(metadata={
        "description": "the password is one-time (set by an admin) and must be changed"})
    password_changed_at = fields.DateTime(allow_none=True)


REASON_METADATA = {"description": "why (kept in the audit trail)"}


class UserCreateSchema(StrictSchema):
    """An admin creates an account; the password is one-time (SPEC §8 accounts)."""

    username = fields.String(required=True, validate=USERNAME)
    full_name = text(200)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    password = text(256, metadata={"description": "one-time: changed by the user at the "
                                   "first login; policy: see POST /auth/password"})
    reason = text(1000, metadata=REASON_METADATA)


class UserUpdateSchema(StrictSchema):
    active = fields.Boolean()
    full_name = text(200, required=False)
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    reason = text(1000, metadata=REASON_METADATA)


class AccountActReasonSchema(StrictSchema):
    reason = text(1000, metadata=REASON_METADATA)


class PasswordResetSchema(StrictSchema):
    password = text(256, metadata={"description": "a new one-time password"})
    reason = text(1000, metadata=REASON_METADATA)


class PasswordChangeSchema(StrictSchema):
    current_password = text(256)
    new_password = text(256, metadata={"description": "at least 12 characters, not the "
                                       "username, not a common or breached password, not "
                                       "one of the last 5"})


class SignatureInputSchema(StrictSchema):
    """The re-authentication every e-signature needs (SPEC §8)."""

    password = text(256)
    meaning = fields.String(required=True, validate=validate.OneOf(
        ["review", "approval", "rejection", "responsibility"]))


class SignerInputSchema(SignatureInputSchema):
    """:class:`SignatureInputSchema` with the user id, for signing routes that pass it on
    to ``sign(..., username=...)``: needed at the first signing of a session (when
    ``SIGNATURE_USERNAME_AT_FIRST_SIGNING`` is on), checked whenever given. A route that
    does not pass it on keeps :class:`SignatureInputSchema`, which refuses the field."""

    username = text(64, required=False, metadata={
        "description": "your user id: needed at the first signing of a session; when "
                       "given it must be the logged-in user's"})


class SigningActSchema(StrictSchema):
    name = fields.String()
    label = fields.String()
    meanings = fields.List(fields.String())


class SigningInfoSchema(StrictSchema):
    username_required = fields.Boolean(metadata={
        "description": "the next signature of this session needs the user id too"})
    acts = fields.List(fields.Nested(SigningActSchema))


class SignatureSchema(StrictSchema):
    signer = fields.String(attribute="username")
    printed_name = fields.String()
    meaning = fields.String()
    signed_at = fields.DateTime()
    content_hash = fields.String()
    manifestation = fields.String()
