"""Who is calling, and may they: one check for HTML and API routes alike (SPEC §8).

- API requests authenticate with ``Authorization: Bearer <token>`` only (no
  cookies, so no CSRF exposure); HTML requests with the Flask-Login session.
- Every route needs an authenticated user unless it is listed in ``PUBLIC_ENDPOINTS``.
- :func:`role_required` restricts a route to roles; a wrong role is 403.
- Idle HTML sessions expire after ``IDLE_TIMEOUT_MINUTES``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, flash, g, request, session
from flask_login import current_user, logout_user

from lims import clock
from lims.audit import set_actor
from lims.auth.models import Role, User
from lims.auth.services import user_for_token
from lims.errors import Forbidden, Unauthorized, is_api_request

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ENDPOINTS = {"static", "auth.login", "api_auth.issue_token", "api-docs.openapi_json",
                    "docs.api_docs", "health"}
LAST_SEEN = "last_seen"


def _bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized("An API token is required: Authorization: Bearer <token>.",
                           code="token_required")
    user = user_for_token(raw.strip())
    if user is None:
        raise Unauthorized("The token is unknown, expired or revoked, or the account is "
                           "locked or inactive.", code="invalid_token")
    return user


def _session_user() -> User | None:
    if not current_user.is_authenticated:
        return None
    last_seen = session.get(LAST_SEEN)
    idle_limit = current_app.config["IDLE_TIMEOUT_MINUTES"] * 60
    now = clock.utcnow()
    if last_seen is None or (now - datetime.fromisoformat(last_seen)).total_seconds() > idle_limit:
        logout_user()
        session.clear()
        flash("Your session expired after inactivity. Please log in again.", "warning")
        return None
    user = current_user._get_current_object()
    if not user.is_active:  # locked or deactivated since logging in
        logout_user()
        session.clear()
        return None
    session[LAST_SEEN] = now.isoformat()
    return user


def start_session_clock() -> None:
    session[LAST_SEEN] = clock.utcnow().isoformat()


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


def _authenticate_every_request() -> None:
    """Deny by default: every endpoint but the public ones needs a user."""
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return
    current_actor_user()


def init_app(app: Flask) -> None:
    app.before_request(_authenticate_every_request)
