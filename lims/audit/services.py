"""Reading and verifying the audit trail."""

from __future__ import annotations

import heapq
import json
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from lims.audit import checkpoints as signed
from lims.audit.chain import (
    Break,
    ChainRow,
    Checkpoint,
    SignatureCheck,
    first_break,
    signature_valid,
    stored_entry_hash,
)
from lims.audit.keys import RETIRED_FILE, TrustedKey
from lims.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEntry, AuditHead
from lims.db import db
from lims.hashing import utc_text

_CHAIN_SQL = ("SELECT seq, occurred_at, actor_id, actor_username, action, entity_type, "
              "entity_id, changes, reason, prev_hash, hash FROM audit_entry ORDER BY seq")
"""The columns of :class:`~lims.audit.chain.ChainRow`, in its order."""
_CHAIN_SQL_POSTGRES = _CHAIN_SQL.replace(
    "occurred_at,", "to_char(occurred_at AT TIME ZONE 'UTC', "
                    "'FMYYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),", 1)
"""The same, with the time spelled by PostgreSQL as the chain spells it
(:func:`lims.hashing.utc_text`): no datetime object per entry."""
_FETCH = 5000
_CHECKPOINT_COLUMNS = (AuditCheckpoint.id, AuditCheckpoint.seq, AuditCheckpoint.head_hash,
                       AuditCheckpoint.created_at, AuditCheckpoint.key_id,
                       AuditCheckpoint.signature)


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    broken: Break | None
    checkpoints: int = 0
    newest: Checkpoint | None = None
    notes: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        return self.broken is None

    @property
    def problem(self) -> str:
        """The first problem, naming the entry where there is one."""
        if self.broken is None:
            return ""
        if self.broken.seq > 0:
            return f"at entry seq {self.broken.seq}: {self.broken.problem}"
        return self.broken.problem


def signature_check(trusted: dict[str, TrustedKey]) -> SignatureCheck:
    """The check of a checkpoint's signature against the trusted keys (None: valid)."""

    def check(checkpoint: Checkpoint) -> str | None:
        key = trusted.get(checkpoint.key_id)
        if key is None:
            return (f"signed by an unknown audit key {checkpoint.key_id} (trusted: "
                    f"{', '.join(sorted(trusted))}): forged, or an earlier key missing from "
                    f"{RETIRED_FILE}")
        if key.last_seq is not None and checkpoint.seq > key.last_seq:
            return (f"signed by audit key {checkpoint.key_id} for seq {checkpoint.seq}, after "
                    f"that key was retired at seq {key.last_seq}")
        if not signature_valid(key.public, checkpoint.message(), checkpoint.signature):
            return (f"its signature does not verify with audit key {checkpoint.key_id}: the "
                    "checkpoint was forged or altered")
        return None

    return check


def _database_checkpoints(counter: list[int]) -> Generator[Checkpoint, None, None]:
    result = db.session.execute(select(*_CHECKPOINT_COLUMNS)
                                .order_by(AuditCheckpoint.seq, AuditCheckpoint.id)
                                .execution_options(yield_per=2000))
    try:
        for row in result:
            counter[0] += 1
            yield Checkpoint(*row)
    finally:
        result.close()


def verify() -> VerifyResult:
    """Recompute the whole chain in constant memory and hold it against every signed
    checkpoint, the mirrored newest checkpoint and the head (SPEC §8: ``audit-verify``)."""
    trusted = signed.trusted_keys()
    mirror, mirror_problem = signed.mirrored_checkpoint()
    if mirror_problem:
        return VerifyResult(0, Break(0, mirror_problem))
    head = db.session.execute(select(AuditHead.last_seq, AuditHead.last_hash)
                              .where(AuditHead.id == 1)).one_or_none()
    head_seq, head_hash = (head.last_seq, head.last_hash) if head else (None, None)
    counter = [0]
    stored = _database_checkpoints(counter)
    points = heapq.merge(stored, [mirror] if mirror else [], key=lambda c: c.seq)
    rows = _chain_rows()
    try:
        checked, broken = first_break(rows, GENESIS_HASH, head_seq, head_hash, points,
                                      signature_check(trusted), hasher=stored_entry_hash)
    finally:
        rows.close()
        stored.close()
    newest = _newest_checkpoint()
    if broken is None and mirror is not None:
        broken = _mirror_in_database(mirror)
    notes = []
    if newest is None and mirror is None and checked:
        notes.append("no signed checkpoint yet: run `flask lims sweep` or "
                     "`flask lims audit-checkpoint`")
    if mirror is None and newest is not None:
        notes.append(f"no mirrored checkpoint next to the signing key "
                     f"({signed.signing_key().folder}): only the database's checkpoints "
                     "were checked")
    return VerifyResult(checked, broken, counter[0], newest, tuple(notes))


def _chain_rows() -> Generator[ChainRow, None, None]:
    """Every entry in ``seq`` order, streamed through the database driver's own cursor in
    this session's transaction (constant memory: a server-side cursor on PostgreSQL, the
    step-by-step cursor of SQLite): ``audit-verify``'s inner loop, so no ORM rows and no
    column types. SQLite's text timestamps are put in the chain's spelling
    (:func:`lims.hashing.utc_text`), PostgreSQL spells them so itself."""
    connection = db.session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None, "the session's connection is open"
    postgres = connection.dialect.name == "postgresql"
    cursor = driver.cursor(name="lims_audit_verify") if postgres else driver.cursor()
    if postgres:
        cursor.itersize = _FETCH
    try:
        cursor.execute(_CHAIN_SQL_POSTGRES if postgres else _CHAIN_SQL)
        make = ChainRow._make
        if postgres:
            for row in cursor:
                yield make(row)
        else:
            for row in cursor:
                yield make((row[0], _sqlite_utc_text(row[1])) + row[2:])
    finally:
        cursor.close()


def _sqlite_utc_text(stored: Any) -> Any:
    """SQLite keeps a UTC time as ``2026-01-01 08:30:00.000000`` (naive, SQLAlchemy's
    format): the chain spells it ``2026-01-01T08:30:00.000000Z``."""
    if isinstance(stored, str) and len(stored) == 26 and stored[10] == " ":
        return stored[:10] + "T" + stored[11:] + "Z"
    if isinstance(stored, str):
        return utc_text(datetime.fromisoformat(stored).replace(tzinfo=UTC))
    return stored


def _newest_checkpoint() -> Checkpoint | None:
    row = db.session.execute(select(*_CHECKPOINT_COLUMNS).order_by(
        AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc()).limit(1)).first()
    return Checkpoint(*row) if row else None


def _mirror_in_database(mirror: Checkpoint) -> Break | None:
    row = db.session.execute(select(*_CHECKPOINT_COLUMNS)
                             .where(AuditCheckpoint.id == mirror.id)).first()
    if row is None or (row.seq, row.head_hash, row.signature) != (mirror.seq, mirror.hash,
                                                                  mirror.signature):
        return Break(mirror.seq, f"{mirror.name} is missing from the database (or differs "
                                 "there): checkpoints were deleted or altered")
    return None


def list_entries(entity_type: str | None = None, entity_id: str | None = None,
                 after_seq: int = 0, limit: int = 100) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.seq > after_seq)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    return list(db.session.scalars(query.order_by(AuditEntry.seq).limit(limit)))


def entry_as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id, "seq": entry.seq, "occurred_at": entry.occurred_at,
        "actor_id": entry.actor_id, "actor": entry.actor_username, "action": entry.action,
        "entity_type": entry.entity_type, "entity_id": entry.entity_id,
        "changes": [{"field": field, "old": old, "new": new}
                    for field, (old, new) in json.loads(entry.changes).items()],
        "reason": entry.reason, "prev_hash": entry.prev_hash, "hash": entry.hash,
    }
