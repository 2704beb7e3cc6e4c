"""The hash chain as pure functions (no app, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from lims.audit.chain import ChainRow, entry_hash, first_break
from lims.hashing import utc_text

GENESIS = "0" * 64


def _chain(n: int) -> list[ChainRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        row = ChainRow(seq, "2026-01-01T00:00:00.000000Z", 1, "u", "create", "t", str(seq),
                       '{"a":[null,1]}', None, prev)
        row = row._replace(hash=entry_hash(row))
        rows.append(row)
        prev = row.hash
    return rows


def test_intact_chain():
    rows = _chain(5)
    assert first_break(rows, GENESIS, 5, rows[-1].hash) == (5, None)


def test_empty_chain_is_intact():
    assert first_break([], GENESIS, 0, GENESIS) == (0, None)


def test_altered_row():
    rows = _chain(5)
    rows[2] = rows[2]._replace(changes='{"a":[null,2]}')
    assert first_break(rows, GENESIS, 5, rows[-1].hash)[1].seq == 3


def test_rehashed_row_breaks_the_next_link():
    rows = _chain(5)
    forged = rows[2]._replace(changes='{"a":[null,2]}')
    rows[2] = forged._replace(hash=entry_hash(forged))
    broken = first_break(rows, GENESIS, 5, rows[-1].hash)[1]
    assert broken.seq == 4 and "link" in broken.problem


def test_removed_and_reordered_rows():
    rows = _chain(5)
    assert first_break(rows[:2] + rows[3:], GENESIS, 5, rows[-1].hash)[1].seq == 4
    swapped = [rows[0], rows[2], rows[1], rows[3], rows[4]]
    assert first_break(swapped, GENESIS, 5, rows[-1].hash)[1].seq == 3


def test_truncated_tail_is_caught_by_the_head():
    rows = _chain(5)
    broken = first_break(rows[:4], GENESIS, 5, rows[-1].hash)[1]
    assert broken is not None and "end" in broken.problem


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30),
                    timezones=st.just(UTC) | st.builds(
                        timezone, st.timedeltas(min_value=-timedelta(hours=23, minutes=59),
                                                max_value=timedelta(hours=23, minutes=59)))))
def test_a_time_has_one_spelling_in_the_chain(value):
    """The fast spelling of a time (the verify loop's) is byte for byte the one every
    stored hash was made with; SQLite's stored text reads back to the same spelling."""
    from lims.audit.services import _sqlite_utc_text

    utc = value.astimezone(UTC)
    assert utc_text(value) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stored = utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's format
    assert _sqlite_utc_text(stored) == utc_text(value)
