"""Accounts, authentication, tokens and electronic signatures (SPEC §8).

Every function flushes and never commits; refusals are :class:`DomainError`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from lims import clock
from lims.audit.context import user_is_actor
from lims.auth.models import ApiToken, Meaning, Role, Signature, User
from lims.db import db, keep_despite_error
from lims.errors import BadRequest, Conflict, Locked, NotFound, Unauthorized
from lims.hashing import content_digest

MIN_PASSWORD_LENGTH = 8
_DUMMY_HASH = generate_password_hash("timing-equaliser", method="pbkdf2:sha256:1000")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.",
                         details={"fields": {"password": "too short"}})


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def create_user(username: str, full_name: str, role: str, password: str) -> User:
    """Create an account. Usernames are unique; roles come from the fixed list."""
    if role not in Role.__members__:
        raise BadRequest(f"Unknown role {role!r}.", details={"fields": {"role": "unknown role"}})
    _check_password_policy(password)
    if find_user(username) is not None:
        raise Conflict(f"The username {username!r} is taken.", [f"username {username} exists"])
    user = User(username=username, full_name=full_name, role=role, active=True,
                password_hash=hash_password(password), failed_logins=0)
    db.session.add(user)
    db.session.flush()
    return user


def change_password(user: User, new_password: str) -> None:
    _check_password_policy(new_password)
    user.password_hash = hash_password(new_password)
    db.session.flush()


def unlock_user(user: User) -> User:
    """Admin act: clear the lock and the failure count (SPEC §8 lockout)."""
    user.locked_at = None
    user.failed_logins = 0
    db.session.flush()
    return user


def update_user(user: User, *, active: bool | None = None, full_name: str | None = None,
                role: str | None = None) -> User:
    """Admin changes to an account; each is audited with old and new values."""
    if role is not None and role not in Role.__members__:
        raise BadRequest(f"Unknown role {role!r}.", details={"fields": {"role": "unknown role"}})
    for key, value in (("active", active), ("full_name", full_name), ("role", role)):
        if value is not None:
            setattr(user, key, value)
    db.session.flush()
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def _register_failure(user: User) -> None:
    """Count a failed password; lock the account at the configured limit.

    The count is kept even though the request answers an error.
    """
    user.failed_logins += 1
    if user.failed_logins >= current_app.config["MAX_FAILED_LOGINS"] and user.locked_at is None:
        user.locked_at = clock.utcnow()
    db.session.flush()
    keep_despite_error()


def _refuse_unusable(user: User) -> None:
    if user.is_locked:
        raise Locked("The account is locked after repeated failed attempts; "
                     "an administrator must unlock it.")
    if not user.active:
        raise Unauthorized("The account is deactivated.", code="account_inactive")


@user_is_actor
def verify_password(user: User, password: str) -> None:
    """Check ``password`` for ``user``: 423 when locked, 401 (counted) when wrong."""
    _refuse_unusable(user)
    if not check_password_hash(user.password_hash, password or ""):
        _register_failure(user)
        if user.is_locked:
            raise Locked("Too many failed attempts: the account is now locked; "
                         "an administrator must unlock it.")
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")
    if user.failed_logins:
        user.failed_logins = 0
        db.session.flush()


def authenticate(username: str, password: str) -> User:
    """Log in with username and password (web form and token issue alike)."""
    user = find_user(username or "")
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")
    verify_password(user, password)
    user.last_login_at = clock.utcnow()
    db.session.flush()
    return user


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@user_is_actor
def issue_token(user: User) -> tuple[str, ApiToken]:
    raw = secrets.token_urlsafe(32)
    ttl = timedelta(minutes=current_app.config["TOKEN_TTL_MINUTES"])
    token = ApiToken(user_id=user.id, token_hash=_token_digest(raw),
                     expires_at=clock.utcnow() + ttl)
    db.session.add(token)
    db.session.flush()
    return raw, token


def user_for_token(raw: str) -> User | None:
    """The usable user behind a bearer token, or None (unknown, expired, revoked, locked)."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(raw)))
    if token is None or token.revoked_at is not None or token.expires_at <= clock.utcnow():
        return None
    return token.user if token.user.is_active else None


def revoke_token(raw: str) -> None:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(raw)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = clock.utcnow()
        db.session.flush()


def check_meaning(meaning: str, allowed: set[Meaning] | None = None) -> Meaning:
    if meaning not in Meaning.__members__ or (allowed and Meaning(meaning) not in allowed):
        choices = sorted(m.value for m in (allowed or set(Meaning)))
        raise BadRequest(f"The signature meaning must be one of {', '.join(choices)}.",
                         details={"fields": {"meaning": f"one of {choices}"}})
    return Meaning(meaning)


@user_is_actor
def sign(user: User, password: str, meaning: str, entity_type: str, entity_id: Any,
         content: Any, *, allowed: set[Meaning] | None = None,
         statement: str | None = None) -> Signature:
    """Electronic signature (21 CFR 11.50/11.70/11.200): re-enter the password, choose
    the meaning from the fixed list; the signature binds the digest of ``content``.

    Call it before any other write of the request: a wrong password is counted
    towards the lockout and answered 401 (423 once locked).
    """
    chosen = check_meaning(meaning, allowed)
    verify_password(user, password)
    signature = Signature(user_id=user.id, username=user.username, printed_name=user.full_name,
                          meaning=chosen.value, signed_at=clock.utcnow(), entity_type=entity_type,
                          entity_id=str(entity_id), content_hash=content_digest(content),
                          statement=statement)
    db.session.add(signature)
    db.session.flush()
    return signature


def signature_holds(signature: Signature, current_content: Any) -> bool:
    """True while the signed record is unchanged since signing (SPEC §8)."""
    return signature.content_hash == content_digest(current_content)
