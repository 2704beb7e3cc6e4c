"""Helpers the batch services share: loading records, times, numbering."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select, update

from lims import clock
from lims.config import lab_timezone
from lims.db import db
from lims.errors import BadRequest, NotFound

T = TypeVar("T")

CLOCK_SKEW = timedelta(minutes=2)
"""A time up to this far ahead of the server clock is not "in the future" (clock drift)."""

LATE_ENTRY_AFTER = timedelta(minutes=30)
"""A step recorded more than this long after it was performed is flagged a late entry."""


def get_or_404(model: type[T], record_id: int, what: str) -> T:
    record = db.session.get(model, record_id)
    if record is None:
        raise NotFound(f"No {what} {record_id}.", details={"id": record_id, "type": what})
    return record


def refuse_future(value: datetime, field: str) -> None:
    """SPEC §7: performed/occurred/collected times may be earlier, never in the future."""
    if value > clock.utcnow() + CLOCK_SKEW:
        raise BadRequest(f"{field} is in the future.",
                         details={"fields": {field: ["must not be in the future"]}})


def is_late_entry(performed_at: datetime, recorded_at: datetime) -> bool:
    return recorded_at - performed_at > LATE_ENTRY_AFTER


facility_tz = lab_timezone  # the facility's wall-clock zone, one definition in lims.config


def next_number(scope: str) -> int:
    """The next number in ``scope``, never handed out twice, even to concurrent requests.

    The counter row is created if missing (``ON CONFLICT DO NOTHING``, so two
    first-comers do not collide), then locked ``FOR UPDATE`` until the
    transaction ends; SQLite serialises writers with ``BEGIN IMMEDIATE``.
    Unique constraints on what the number makes (DIN, batch number) back it up.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    from batches.models import SequenceCounter

    session = db.session()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql.insert(SequenceCounter).values(scope=scope, last_value=0)
                        .on_conflict_do_nothing(index_elements=["scope"]))
    else:
        session.execute(sqlite.insert(SequenceCounter).values(scope=scope, last_value=0)
                        .on_conflict_do_nothing(index_elements=["scope"]))
    current = session.execute(select(SequenceCounter.last_value)
                              .where(SequenceCounter.scope == scope).with_for_update()).scalar_one()
    value = current + 1
    session.execute(update(SequenceCounter).where(SequenceCounter.scope == scope)
                    .values(last_value=value).execution_options(synchronize_session=False))
    return value
