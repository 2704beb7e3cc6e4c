"""Validation of login, token and account input (JSON and forms alike)."""

from __future__ import annotations

from collections.abc import Iterable

from marshmallow import fields, validate

from lims.auth.models import MEANING_STATEMENTS, Meaning, Role
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


def meaning_field(meanings: Iterable[Meaning], *, default: Meaning | None = None
                  ) -> fields.String:
    """The ``meaning`` of a signing route: one of its act's meanings (the package's
    ``signing_acts`` table), in the fixed list's order; required unless ``default``."""
    allowed = [m for m in Meaning if m in set(meanings)]
    metadata = {"description": "; ".join(f"{m.value} ({MEANING_STATEMENTS[m]})"
                                         for m in allowed)}
    choice = validate.OneOf([m.value for m in allowed])
    if default is None:
        return fields.String(required=True, validate=choice, metadata=metadata)
    return fields.String(load_default=default.value, validate=choice, metadata=metadata)


class SignerInputSchema(StrictSchema):
    """The re-authentication every e-signature needs (SPEC §8): the password, and the user
    id at the first signing of a session (checked whenever given: it must be the
    logged-in user's). A signing route's schema sets ``meaning`` to its act's meanings
    with :func:`meaning_field`."""

    password = text(256)
    username = text(64, required=False, metadata={
        "description": "your user id: needed at the first signing of a session; when "
                       "given it must be the logged-in user's"})
    meaning = meaning_field(Meaning)


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
