"""Accounts, authentication, sessions, tokens and electronic signatures (SPEC §8).

Every function flushes and never commits; refusals are :class:`DomainError`.

- Passwords: :func:`change_own_password` (the user), :func:`reset_password` and
  :func:`create_user` (an admin: the password is one-time unless ``permanent``); every
  new password meets :mod:`lims.auth.password_policy` and is not one of the last five.
- Login (:func:`authenticate`): the same work — one password hash of the same algorithm
  and cost — whether or not the username exists; without the right password the answer
  says nothing about the account (a lock is never revealed at login: a lock that
  answered the right password differently would be a guessing oracle; an inactive
  account is named only after the right password). Five failures lock the account for
  ``LOCKOUT_MINUTES``, then the lock lifts by itself.
- Sessions (web: :class:`LoginSession`; API: :class:`ApiToken`) end on the server:
  logout ends that one; a password change ends the user's other ones; a reset, a role
  change, a deactivation and a lock end them all, and lifting a lock or reactivating
  revives none.
- Every login, logout, failed login (unknown usernames included), token issue and
  revocation is in the audit trail with the person as actor.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from lims import audit, clock
from lims.audit import set_actor
from lims.audit.context import actor_argument, user_is_actor
from lims.auth import password_policy
from lims.auth.models import (
    ApiToken,
    LoginSession,
    Meaning,
    PasswordHistory,
    Role,
    SessionEnd,
    Signature,
    User,
)
from lims.auth.signing import current_signing_session, username_required
from lims.db import db, keep_despite_error
from lims.errors import BadRequest, Conflict, Locked, NotFound, Unauthorized
from lims.hashing import content_digest

GMP_ROLES = frozenset({Role.technician, Role.qa})
LOGIN_REFUSED = "Wrong username or password."
UNKNOWN_ACTOR_PREFIX = "unknown:"

_dummy_hashes: dict[str, str] = {}


# -- passwords ----------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def dummy_hash() -> str:
    """A hash of a random password with the configured algorithm and cost: checking a
    password against it costs what checking a real user's does (SPEC §8: the answer takes
    the same time whether or not the username exists)."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_urlsafe(24), method=method)
    return _dummy_hashes[method]


def check_password_policy(password: str, username: str, *, field: str = "password",
                          user: User | None = None) -> None:
    """400 naming every broken rule (SPEC §8 accounts); with ``user``, the last five
    passwords are refused too."""
    broken = password_policy.violations(password, username)
    if user is not None and not broken and _in_history(user, password):
        broken.append(password_policy.Violation(
            password_policy.REUSED, password_policy.MESSAGES[password_policy.REUSED]))
    if broken:
        raise BadRequest(
            "The password does not meet the policy: "
            + "; ".join(v.message for v in broken) + ".",
            code="password_policy",
            details={"fields": {field: "; ".join(v.message for v in broken)},
                     "rules": [v.rule for v in broken]})


def _history(user: User) -> list[PasswordHistory]:
    """The user's remembered password hashes, newest first."""
    return list(db.session.scalars(
        select(PasswordHistory).where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())))


def _in_history(user: User, password: str) -> bool:
    hashes = [user.password_hash] + [h.password_hash for h in _history(user)]
    return any(check_password_hash(h, password)
               for h in list(dict.fromkeys(hashes))[:password_policy.HISTORY])


def _set_password(user: User, password: str, *, one_time: bool) -> None:
    """Store a new password (its hash only) and remember it."""
    user.password_hash = hash_password(password)
    user.must_change_password = one_time
    user.password_changed_at = clock.utcnow()
    db.session.flush()
    _remember_password(user)


def _remember_password(user: User) -> None:
    """Add the current hash to the history and forget all but the last five."""
    db.session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    db.session.flush()
    for old in _history(user)[password_policy.HISTORY:]:
        db.session.delete(old)
    db.session.flush()


def password_change_required(user: User) -> bool:
    """A one-time password (set by an admin) or one older than ``PASSWORD_MAX_AGE_DAYS``."""
    if user.must_change_password:
        return True
    max_age = current_app.config.get("PASSWORD_MAX_AGE_DAYS")
    if not max_age:
        return False
    changed = user.password_changed_at or user.created_at
    return clock.utcnow() >= changed + timedelta(days=int(max_age))


@user_is_actor
def change_own_password(user: User, current_password: str, new_password: str) -> None:
    """Every user changes their own password (SPEC §8 accounts, 21 CFR 11.300(b)).

    The current password is checked like a signature's (a wrong one counts towards the
    lockout: 401, 423 once locked); the new one meets the policy and is not one of the
    last five (400 naming the rules). Every other session and token of the user ends; the
    one making the change stays.
    """
    verify_password(user, current_password)
    check_password_policy(new_password, user.username, field="new_password", user=user)
    _set_password(user, new_password, one_time=False)
    audit.record("password_changed", "user_account", user.id, {})
    end_sessions(user, SessionEnd.password_changed, keep=current_signing_session())


# -- accounts -----------------------------------------------------------------------------

def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


def find_user(username: str, *, lock: bool = False) -> User | None:
    query = select(User).where(User.username == username)
    return db.session.scalar(query.with_for_update() if lock else query)


def normalise_name(full_name: str) -> str:
    return re.sub(r"\s+", " ", full_name or "").strip()


def _printed_name_taken(full_name: str, user_id: int | None) -> str | None:
    """Why ``full_name`` may not be this account's printed name, or None. A printed name
    identifies one person: no other account has it now, and no other account ever signed
    with it (SPEC §8: never reused for another person). Case and spaces are ignored."""
    lowered = full_name.lower()
    others = select(User.id).where(func.lower(User.full_name) == lowered)
    signed = select(Signature.id).where(func.lower(Signature.printed_name) == lowered)
    if user_id is not None:
        others = others.where(User.id != user_id)
        signed = signed.where(Signature.user_id != user_id)
    if db.session.scalar(signed.limit(1)) is not None:
        return f"the printed name {full_name!r} has signed records as another person"
    if db.session.scalar(others.limit(1)) is not None:
        return f"another account already has the printed name {full_name!r}"
    return None


def _role(value: str) -> Role:
    if value not in Role.__members__:
        raise BadRequest(f"Unknown role {value!r}.", details={"fields": {"role": "unknown role"}})
    return Role(value)


def _reason(text: str | None) -> str:
    if not text or not text.strip():
        raise BadRequest("A reason is required.", code="reason_required",
                         details={"fields": {"reason": "required"}})
    return text.strip()


def create_user(username: str, full_name: str, role: str, password: str, *,
                permanent: bool = False, reason: str | None = None) -> User:
    """Create an account (SPEC §8 accounts). Usernames are unique; printed names identify
    one person; the password meets the policy and is one-time — the user changes it at
    the first login — unless ``permanent`` (the CLI's ``--permanent``, for automation and
    tests, and the demo seed)."""
    _role(role)
    full_name = normalise_name(full_name)
    if not full_name:
        raise BadRequest("A full name is required.", details={"fields": {"full_name": "required"}})
    check_password_policy(password, username)
    username_taken = find_user(username) is not None
    name_taken = _printed_name_taken(full_name, None)
    reasons = [f"username {username} exists"] if username_taken else []
    reasons += [name_taken] if name_taken else []
    if reasons:
        raise Conflict("The account is refused: " + "; ".join(reasons) + ".", reasons,
                       code=None if username_taken else "printed_name_taken")
    with audit.reason(reason or "account created"):
        user = User(username=username, full_name=full_name, role=role, active=True,
                    password_hash=hash_password(password), failed_logins=0,
                    must_change_password=not permanent, password_changed_at=clock.utcnow())
        db.session.add(user)
        db.session.flush()
        _remember_password(user)
    return user


@actor_argument("by")
def reset_password(user: User, password: str, *, by: User | None, reason: str) -> User:
    """An admin sets a new one-time password (SPEC §8): the user must change it at the next
    login; every session and token of the user ends. An admin changes their own password
    on the change-password page, not here."""
    why = _reason(reason)
    if by is not None and by.id == user.id:
        raise Conflict("Change your own password on the change-password page.",
                       ["an administrator does not reset their own password"])
    check_password_policy(password, user.username)
    with audit.reason(why):
        _set_password(user, password, one_time=True)
    end_sessions(user, SessionEnd.password_reset, reason_text=why)
    return user


def unlock_user(user: User, *, reason: str = "unlocked by an administrator") -> User:
    """Lift a lock before it lifts by itself (SPEC §8 lockout). Old sessions and tokens
    stay ended."""
    with audit.reason(_reason(reason)):
        user.locked_at = None
        user.locked_until = None
        user.failed_logins = 0
        db.session.flush()
    return user


@actor_argument("by")
def update_user(user: User, *, reason: str | None = None, by: User | None = None,
                active: bool | None = None, full_name: str | None = None,
                role: str | None = None) -> User:
    """Admin changes to an account, audited with the reason (SPEC §8 accounts).

    Refused (409): an admin changing their own role or deactivating themselves; turning
    an admin account into a GMP role or a GMP account into an admin (no account is ever
    both, so an admin can never sign as QA); a printed name of another person.
    A role change or a deactivation ends every session and token of the user.
    """
    why = _reason(reason)
    changes: dict[str, Any] = {}
    reasons: list[str] = []
    name_taken: str | None = None
    if role is not None and Role(user.role) != _role(role):
        new_role = Role(role)
        if by is not None and by.id == user.id:
            reasons.append("an administrator cannot change their own role")
        elif Role.admin in (new_role, Role(user.role)):
            reasons.append("an administrator account cannot hold a GMP role (technician, qa) "
                           "and a GMP account cannot become an administrator: create a "
                           "separate account")
        changes["role"] = new_role.value
    if active is not None and active != user.active:
        if by is not None and by.id == user.id and not active:
            reasons.append("an administrator cannot deactivate their own account")
        changes["active"] = active
    if full_name is not None and normalise_name(full_name) != user.full_name:
        name = normalise_name(full_name)
        if not name:
            raise BadRequest("A full name is required.",
                             details={"fields": {"full_name": "required"}})
        name_taken = _printed_name_taken(name, user.id)
        reasons += [name_taken] if name_taken else []
        changes["full_name"] = name
    if reasons:
        code = "printed_name_taken" if name_taken and len(reasons) == 1 else \
            "account_change_refused"
        raise Conflict("The account change is refused: " + "; ".join(reasons) + ".", reasons,
                       code=code)
    if not changes:
        return user
    with audit.reason(why):
        for key, value in changes.items():
            setattr(user, key, value)
        db.session.flush()
    if "role" in changes:
        end_sessions(user, SessionEnd.role_changed, reason_text=why)
    if changes.get("active") is False:
        end_sessions(user, SessionEnd.deactivated, reason_text=why)
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def account_history(user: User, limit: int = 30) -> list[dict[str, Any]]:
    """The newest audit entries about an account (its admin page)."""
    from lims.audit import AuditEntry
    from lims.audit.services import entry_as_dict

    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity_type == User.__tablename__,
                                 AuditEntry.entity_id == str(user.id))
        .order_by(AuditEntry.seq.desc()).limit(limit))
    return [entry_as_dict(entry) for entry in entries]


# -- login and lockout --------------------------------------------------------------------

def _lift_lapsed_lock(user: User) -> None:
    """A lock whose time is over lifts by itself; the failure count starts again."""
    if user.locked_at is not None and not user.is_locked:
        user.locked_at = None
        user.locked_until = None
        user.failed_logins = 0
        db.session.flush()


def _register_failure(user: User) -> None:
    """Count a failed password; at ``MAX_FAILED_LOGINS`` lock the account for
    ``LOCKOUT_MINUTES`` and end its sessions. Kept although the request answers an error."""
    user.failed_logins += 1
    if user.failed_logins >= current_app.config["MAX_FAILED_LOGINS"] and not user.is_locked:
        now = clock.utcnow()
        user.locked_at = now
        user.locked_until = now + timedelta(minutes=current_app.config["LOCKOUT_MINUTES"])
        db.session.flush()
        end_sessions(user, SessionEnd.locked,
                     reason_text=f"{user.failed_logins} failed password attempts")
    db.session.flush()
    keep_despite_error()


@user_is_actor
def verify_password(user: User, password: str) -> None:
    """Re-authentication of a person already logged in (a signature, a password change):
    423 when locked, 401 (counted towards the lockout) when wrong."""
    _lift_lapsed_lock(user)
    if user.is_locked:
        raise Locked(_locked_message(user))
    if not user.active:
        raise Unauthorized("The account is deactivated.", code="account_inactive")
    if not check_password_hash(user.password_hash, password or ""):
        _register_failure(user)
        if user.is_locked:
            raise Locked("Too many failed attempts: " + _locked_message(user))
        left = current_app.config["MAX_FAILED_LOGINS"] - user.failed_logins
        raise Unauthorized("Wrong password.", code="invalid_credentials", details={
            "attempts_left": left,
            "fields": {"password": f"Wrong password: {left} attempt{'s' if left != 1 else ''} "
                                   "left before your account locks."}})
    if user.failed_logins:
        user.failed_logins = 0
        db.session.flush()


def _locked_message(user: User) -> str:
    until = user.locked_until.strftime("%H:%M UTC") if user.locked_until else "later"
    return (f"the account is locked until {until} (or until an administrator "
            "unlocks it).")


def _refused_login() -> Unauthorized:
    minutes = current_app.config["LOCKOUT_MINUTES"]
    limit = current_app.config["MAX_FAILED_LOGINS"]
    return Unauthorized(f"{LOGIN_REFUSED} After {limit} failed attempts an account is locked "
                        f"for {minutes} minutes.", code="invalid_credentials")


def username_fingerprint(username: str) -> str:
    """Stands for a username nobody has, in the audit trail: people type passwords into
    the username field, so the text itself is never stored. Keyed with the app's secret;
    the same text gives the same fingerprint, so repeated attempts can be told apart."""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    digest = hmac.new(key, username.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:16]


def authenticate(username: str, password: str) -> User:
    """Log in with username and password (web form and token issue alike; SPEC §8 login).

    Exactly one password hash is checked, of the configured algorithm and cost, for an
    unknown user, a locked one and a usable one alike; every refusal but one is the same
    401. Only after the right password is an inactive account named (401
    ``account_inactive``). A lock is never revealed here (see the module's docstring).
    """
    user = find_user(username or "", lock=True)
    if user is None:
        check_password_hash(dummy_hash(), password or "")
        set_actor(None, UNKNOWN_ACTOR_PREFIX + username_fingerprint(username or ""))
        audit.record("login_failed", "user_account", "unknown",
                     {"username_fingerprint": [None, username_fingerprint(username or "")]})
        keep_despite_error()
        raise _refused_login()
    set_actor(user.id, user.username)
    _lift_lapsed_lock(user)
    correct = check_password_hash(user.password_hash, password or "")
    if user.is_locked:
        audit.record("login_failed", "user_account", user.id, {"while": [None, "locked"]})
        keep_despite_error()
        raise _refused_login()
    if not correct:
        _register_failure(user)
        audit.record("login_failed", "user_account", user.id,
                     {"failed_logins": [None, user.failed_logins]})
        raise _refused_login()
    if not user.active:
        audit.record("login_failed", "user_account", user.id, {"while": [None, "inactive"]})
        keep_despite_error()
        raise Unauthorized("The account is deactivated; ask an administrator.",
                           code="account_inactive")
    user.failed_logins = 0
    user.last_login_at = clock.utcnow()
    db.session.flush()
    return user


# -- sessions and tokens ------------------------------------------------------------------

def _secret_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@user_is_actor
def start_web_session(user: User) -> tuple[str, LoginSession]:
    """A new server-side web session after a successful login; audited as ``login``."""
    raw = secrets.token_urlsafe(32)
    record = LoginSession(user_id=user.id, secret_hash=_secret_digest(raw))
    db.session.add(record)
    db.session.flush()
    audit.record("login", "user_account", user.id, {"session": [None, record.id]})
    return raw, record


def web_session_for(raw: str) -> LoginSession | None:
    """The open web session behind the cookie's secret (None when unknown or ended)."""
    record = db.session.scalar(select(LoginSession).where(
        LoginSession.secret_hash == _secret_digest(raw)))
    return record if record is not None and record.ended_at is None else None


def session_is_idle(record: LoginSession) -> bool:
    idle = timedelta(minutes=current_app.config["IDLE_TIMEOUT_MINUTES"])
    return clock.utcnow() - record.last_seen_at > idle


def touch_web_session(record: LoginSession) -> None:
    """Note activity (at most once a minute, so most requests write nothing)."""
    now = clock.utcnow()
    if now - record.last_seen_at >= timedelta(seconds=60):
        record.last_seen_at = now
        db.session.flush()


def end_web_session(record: LoginSession, why: SessionEnd) -> None:
    """End one web session (logout, idle); a logout is audited with the person as actor."""
    if record.ended_at is not None:
        return
    record.ended_at = clock.utcnow()
    record.end_reason = why
    db.session.flush()
    if why is SessionEnd.logout:
        audit.record("logout", "user_account", record.user_id, {"session": [record.id, None]})
    elif why is SessionEnd.idle:
        audit.record("session_expired", "user_account", record.user_id,
                     {"session": [record.id, None]})


def _rowcount(result: Any) -> int:
    """Rows an UPDATE changed (a ``CursorResult``'s count; typed as a plain ``Result``)."""
    return int(result.rowcount)


def end_sessions(user: User, why: SessionEnd, *, keep: Any = None,
                 reason_text: str | None = None) -> int:
    """End every open web session and API token of ``user`` at once (but ``keep``, the
    session making a password change). Returns how many ended; audited when any did."""
    now = clock.utcnow()
    web = update(LoginSession).where(LoginSession.user_id == user.id,
                                     LoginSession.ended_at.is_(None))
    api = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                                 ApiToken.expires_at > now)
    if isinstance(keep, LoginSession):
        web = web.where(LoginSession.id != keep.id)
    if isinstance(keep, ApiToken):
        api = api.where(ApiToken.id != keep.id)
    ended_web = _rowcount(db.session.execute(web.values(ended_at=now, end_reason=why)
                                             .execution_options(synchronize_session="fetch")))
    ended_api = _rowcount(db.session.execute(api.values(revoked_at=now, revoked_reason=why)
                                             .execution_options(synchronize_session="fetch")))
    if ended_web or ended_api:
        audit.record("sessions_ended", "user_account", user.id,
                     {"web_sessions": [ended_web, 0], "api_tokens": [ended_api, 0],
                      "why": [None, why.value]}, reason_text)
    return ended_web + ended_api


@user_is_actor
def issue_token(user: User) -> tuple[str, ApiToken]:
    """A bearer token for ``user`` (already authenticated); audited as ``token_issued``."""
    raw = secrets.token_urlsafe(32)
    ttl = timedelta(minutes=current_app.config["TOKEN_TTL_MINUTES"])
    token = ApiToken(user_id=user.id, token_hash=_secret_digest(raw),
                     expires_at=clock.utcnow() + ttl)
    db.session.add(token)
    db.session.flush()
    audit.record("token_issued", "user_account", user.id,
                 {"token": [None, token.id], "expires_at": [None, token.expires_at]})
    return raw, token


def token_for(raw: str) -> ApiToken | None:
    """The open token behind ``raw`` whose user may act (None: unknown, expired, revoked,
    or the account locked or inactive)."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _secret_digest(raw)))
    if token is None or token.revoked_at is not None or token.expires_at <= clock.utcnow():
        return None
    return token if token.user.is_active else None


def user_for_token(raw: str) -> User | None:
    token = token_for(raw)
    return token.user if token is not None else None


def revoke_token(raw: str) -> None:
    """Log out of the API: the token ends now; audited as ``token_revoked``."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _secret_digest(raw)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = clock.utcnow()
        token.revoked_reason = SessionEnd.logout
        db.session.flush()
        audit.record("token_revoked", "user_account", token.user_id, {"token": [token.id, None]})


# -- electronic signatures ----------------------------------------------------------------

def check_meaning(meaning: str, allowed: Iterable[Meaning] | None = None) -> Meaning:
    allowed = set(allowed or ())
    if meaning not in Meaning.__members__ or (allowed and Meaning(meaning) not in allowed):
        choices = sorted(m.value for m in (allowed or set(Meaning)))
        raise BadRequest(f"The signature meaning must be one of {', '.join(choices)}.",
                         details={"fields": {"meaning": f"one of {choices}"}})
    return Meaning(meaning)


@user_is_actor
def sign(user: User, password: str, meaning: str, entity_type: str, entity_id: Any,
         content: Any, *, allowed: Iterable[Meaning] | None = None,
         statement: str | None = None, username: str | None = None) -> Signature:
    """Electronic signature (21 CFR 11.50/11.70/11.200): the meaning from the fixed list
    (and from ``allowed``, the act's meanings); the signature binds the digest of
    ``content``.

    Components (SPEC §8): at the first signing of a session the user id and the password,
    at later ones the password (:func:`lims.auth.signing.username_required`). A user id,
    whenever given, must be the session's user's. Call it before any other write of the
    request: a wrong password or user id counts towards the lockout and answers 401
    (423 once locked).
    """
    chosen = check_meaning(meaning, allowed)
    given = (username or "").strip()
    if not given and username_required():
        raise BadRequest("The first signature of a session needs your user id as well as "
                         "your password.", code="username_required",
                         details={"fields": {"username": "required at the first signing of "
                                             "a session"}})
    if given and given != user.username:
        _lift_lapsed_lock(user)
        if user.is_locked:
            raise Locked(_locked_message(user))
        _register_failure(user)
        if user.is_locked:
            raise Locked("Too many failed attempts: " + _locked_message(user))
        raise Unauthorized("The user id is not the one logged in: sign with your own user id "
                           "and password.", code="signer_mismatch",
                           details={"fields": {"username": "not the logged-in user"}})
    verify_password(user, password)
    now = clock.utcnow()
    signature = Signature(user_id=user.id, username=user.username, printed_name=user.full_name,
                          meaning=chosen.value, signed_at=now, entity_type=entity_type,
                          entity_id=str(entity_id), content_hash=content_digest(content),
                          statement=statement)
    db.session.add(signature)
    session_record = current_signing_session()
    if session_record is not None and session_record.first_signed_at is None:
        session_record.first_signed_at = now
    db.session.flush()
    return signature


def signature_holds(signature: Signature, current_content: Any) -> bool:
    """True while the signed record is unchanged since signing (SPEC §8)."""
    return signature.content_hash == content_digest(current_content)
