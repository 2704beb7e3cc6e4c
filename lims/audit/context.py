"""Who is acting: set once per request (by authentication) or per CLI command / job, and
for the length of a service call by the user the service is given (:func:`user_is_actor`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, Protocol, TypeVar

from flask import g, has_app_context

SYSTEM = (None, "system")

P = ParamSpec("P")
R = TypeVar("R")


class Person(Protocol):
    id: int
    username: str


def set_actor(user_id: int | None, username: str) -> None:
    g.lims_actor = (user_id, username)


def current_actor() -> tuple[int | None, str]:
    if has_app_context():
        return g.get("lims_actor", SYSTEM)
    return SYSTEM


@contextmanager
def acting_as(user: Person) -> Iterator[None]:
    """Record ``user`` as the actor of every audit entry written inside the block, then
    give the actor back. Changes still pending are flushed on entry (they belong to the
    previous actor) and on a normal exit (they are this user's)."""
    from lims.db import db

    db.session.flush()
    previous = g.get("lims_actor")
    set_actor(user.id, user.username)
    try:
        yield
        db.session.flush()
    finally:
        if previous is None:
            g.pop("lims_actor", None)
        else:
            g.lims_actor = previous


def user_is_actor(service: Callable[P, R]) -> Callable[P, R]:
    """The audit records the service's ``user`` argument as the actor of the call (STYLE,
    "The acting user is explicit"): a service called from a CLI command or a scheduled job
    records the person it was given, as one called in a request does. A ``user`` of None
    leaves the actor as it was (the scheduler, the CLI)."""
    return actor_argument("user")(service)


def actor_argument(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """:func:`user_is_actor` for a service whose acting person is its argument ``name``
    (an admin's act on another account takes the account as ``user`` and the admin as
    ``by``)."""

    def decorator(service: Callable[P, R]) -> Callable[P, R]:
        parameters = list(inspect.signature(service).parameters)
        if name not in parameters:
            raise TypeError(f"{service.__qualname__} takes no {name!r} argument")
        position = parameters.index(name)

        @wraps(service)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            actor: Any = kwargs[name] if name in kwargs else (
                args[position] if position < len(args) else None)
            if actor is None:
                return service(*args, **kwargs)
            with acting_as(actor):
                return service(*args, **kwargs)

        return call

    return decorator
