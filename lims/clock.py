"""The one clock of the application.

Everything that needs "now" calls :func:`utcnow`, so tests (and the scheduler's
controlled-clock tests) can move time by patching this one function.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Current time, timezone-aware, in UTC (SPEC §7: stored in UTC)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC; refuse a naive one (no guessing of zones)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime without a time zone offset")
    return value.astimezone(UTC)


def now_utc() -> datetime:
    """Late-bound :func:`utcnow` for column defaults (so a patched clock is honoured)."""
    import lims.clock

    return lims.clock.utcnow()
