"""The hash chain as pure functions: no Flask, no database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from lims.hashing import canonical_json, sha256_hex, to_jsonable

_PLAIN = (int, str, type(None))
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class ChainRow:
    seq: int
    occurred_at: object
    actor_id: int | None
    actor_username: str
    action: str
    entity_type: str
    entity_id: str
    changes: str
    reason: str | None
    prev_hash: str
    hash: str = ""


def entry_hash(row: ChainRow) -> str:
    """SHA-256 over the entry's content and the previous entry's hash.

    The canonical JSON of the fields; when every field but the time is already a plain
    int, str or None (always, for rows read back), they are encoded as they are, which
    gives the same bytes as :func:`canonical_json` without walking them again (it is
    ``audit-verify``'s inner loop).
    """
    fields = [row.seq, to_jsonable(row.occurred_at), row.actor_id, row.actor_username,
              row.action, row.entity_type, row.entity_id, row.changes, row.reason,
              row.prev_hash]
    if all(type(value) in _PLAIN for value in fields):
        return hashlib.sha256(_encode(fields).encode("utf-8")).hexdigest()
    return sha256_hex(canonical_json(fields))


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str


def first_break(rows: Iterable[ChainRow], genesis: str, head_seq: int | None,
                head_hash: str | None) -> tuple[int, Break | None]:
    """Walk rows in ``seq`` order; return (rows checked, first break or None).

    Detects an altered row (its hash no longer matches its content), a removed
    row (a gap in ``seq`` or a ``prev_hash`` that points elsewhere), reordered
    rows (links out of order) and rows removed from the end (head mismatch).
    """
    expected_seq, prev_hash, count = 1, genesis, 0
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            return count, Break(row.seq, f"sequence jumps from {expected_seq - 1} to {row.seq}: "
                                         "an entry was removed or reordered")
        if row.prev_hash != prev_hash:
            return count, Break(row.seq, "does not link to the entry before it "
                                         "(removed, inserted or reordered entries)")
        if entry_hash(row) != row.hash:
            return count, Break(row.seq, "content does not match its hash (altered entry)")
        prev_hash = row.hash
        expected_seq += 1
    if head_seq is not None and (head_seq != expected_seq - 1 or head_hash != prev_hash):
        return count, Break(expected_seq, f"chain ends at seq {expected_seq - 1} but the head "
                                          f"records seq {head_seq}: entries were removed "
                                          "from the end")
    return count, None
