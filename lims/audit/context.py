"""Who is acting: set once per request (by authentication) or per CLI command / job."""

from __future__ import annotations

from flask import g, has_app_context

SYSTEM = (None, "system")


def set_actor(user_id: int | None, username: str) -> None:
    g.lims_actor = (user_id, username)


def current_actor() -> tuple[int | None, str]:
    if has_app_context():
        return g.get("lims_actor", SYSTEM)
    return SYSTEM
