"""The hash chain as pure functions (no app, no database)."""

from __future__ import annotations

from dataclasses import replace

from lims.audit.chain import ChainRow, entry_hash, first_break

GENESIS = "0" * 64


def _chain(n: int) -> list[ChainRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        row = ChainRow(seq, "2026-01-01T00:00:00.000000Z", 1, "u", "create", "t", str(seq),
                       '{"a":[null,1]}', None, prev)
        row = replace(row, hash=entry_hash(row))
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
    rows[2] = replace(rows[2], changes='{"a":[null,2]}')
    assert first_break(rows, GENESIS, 5, rows[-1].hash)[1].seq == 3


def test_rehashed_row_breaks_the_next_link():
    rows = _chain(5)
    forged = replace(rows[2], changes='{"a":[null,2]}')
    rows[2] = replace(forged, hash=entry_hash(forged))
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
