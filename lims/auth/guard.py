"""Who is calling, and may they: one check for HTML and API routes alike (SPEC §8).

- API requests authenticate with ``Authorization: Bearer <token>`` only (no
  cookies, so no CSRF exposure); HTML requests with the web session, which lives on
  the server (:class:`lims.auth.models.LoginSession`): the signed cookie only names it,
  so a session ended on the server (logout, password change, role change, deactivation,
  lock, idle) is over even for a copy of the cookie.
- Every route needs an authenticated user unless it is listed in ``PUBLIC_ENDPOINTS``.
- A user whose password must be changed (one-time, or past ``PASSWORD_MAX_AGE_DAYS``)
  may only change it or log out: pages redirect to the change page, the API answers
  403 ``password_change_required``.
- :func:`role_required` restricts a route to roles; a wrong role is 403.
- Idle web sessions end after ``IDLE_TIMEOUT_MINUTES``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user

from lims.audit import set_actor
from lims.auth import services
from lims.auth.models import Role, SessionEnd, User
from lims.auth.signing import set_signing_session
from lims.errors import Forbidden, Unauthorized, is_api_request

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ENDPOINTS = {"static", "auth.login", "api_auth.issue_token", "api-docs.openapi_json",
                    "docs.api_docs", "health"}
PASSWORD_CHANGE_ENDPOINTS = {"auth.change_password", "auth.logout",
                             "api_auth.change_password", "api_auth.revoke_token"}
"""What a user whose password must be changed may still do."""
SESSION_KEY = "lims_sid"
_IDLE_FLAG = "lims_session_idle"


def _bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized("An API token is required: Authorization: Bearer <token>.",
                           code="token_required")
    token = services.token_for(raw.strip())
    if token is None:
        raise Unauthorized("The token is unknown, expired or revoked, or the account is "
                           "locked or inactive.", code="invalid_token")
    set_signing_session(token)
    return token.user


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of the server-side session the cookie names,
    while that session is open, not idle, and its user may act."""
    raw = session.get(SESSION_KEY)
    if not raw or not user_id.isdigit():
        return None
    record = services.web_session_for(raw)
    if record is None or record.user_id != int(user_id):
        return None
    if services.session_is_idle(record):
        services.end_web_session(record, SessionEnd.idle)
        g.setdefault(_IDLE_FLAG, True)
        return None
    if not record.user.is_active:
        return None
    services.touch_web_session(record)
    set_signing_session(record)
    return record.user


def _session_user() -> User | None:
    if current_user.is_authenticated:
        return current_user._get_current_object()
    if session.get(SESSION_KEY) or session.get("_user_id"):
        logout_user()
        session.clear()
        if g.get(_IDLE_FLAG):
            flash("Your session expired after inactivity. Please log in again.", "warning")
        else:
            flash("Your session has ended. Please log in again.", "warning")
    return None


def begin_web_session(user: User) -> None:
    """After a successful login: a new server-side session, named by the cookie."""
    from flask_login import login_user

    session.clear()
    raw, record = services.start_web_session(user)
    session[SESSION_KEY] = raw
    login_user(user)
    set_signing_session(record)


def end_web_session() -> None:
    """Log out: the server-side session ends (a copy of the cookie no longer works)."""
    raw = session.get(SESSION_KEY)
    record = services.web_session_for(raw) if raw else None
    if record is not None:
        services.end_web_session(record, SessionEnd.logout)
    logout_user()
    session.clear()


def current_actor_user() -> User:
    """The authenticated user of this request; raises 401 when there is none."""
    if "lims_user" not in g:
        user = _bearer_user() if is_api_request() else _session_user()
        if user is None:
            raise Unauthorized("Please log in.", code="login_required")
        g.lims_user = user
        set_actor(user.id, user.username)
    return g.lims_user


def role_required(*roles: Role | str) -> Callable[[F], F]:
    """Allow the decorated view only to the given roles (all authenticated users if none)."""
    allowed = {Role(r) for r in roles}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_actor_user()
            if allowed and Role(user.role) not in allowed:
                raise Forbidden(
                    f"This needs the role {' or '.join(sorted(allowed))}; "
                    f"{user.username} is {user.role}.",
                    details={"required_roles": sorted(allowed), "role": user.role})
            return view(*args, **kwargs)

        wrapper.lims_roles = allowed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def _authenticate_every_request() -> Any:
    """Deny by default: every endpoint but the public ones needs a user; a user whose
    password must be changed may do nothing else first."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return None
    user = current_actor_user()
    if endpoint in PASSWORD_CHANGE_ENDPOINTS or not services.password_change_required(user):
        return None
    if is_api_request():
        raise Forbidden("Change your password first: POST /api/v1/auth/password "
                        "{current_password, new_password}.", code="password_change_required")
    return redirect(url_for("auth.change_password"))


def init_app(app: Flask) -> None:
    app.before_request(_authenticate_every_request)
