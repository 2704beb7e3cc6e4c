"""Records every insert/update of :class:`Audited` models, inside the same transaction.

Session events: ``before_flush`` refuses deletes of GMP records and of audit rows
and corrections without a reason; ``after_flush`` writes one entry per changed
object through Core inserts on the session's own connection, so the entries
commit or roll back with the change they describe; ``do_orm_execute`` refuses
bulk ``insert()``/``update()``/``delete()`` statements on GMP and audit tables,
which would change rows without passing through the flush (SPEC §8).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    column,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy import table as table_clause
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session

from lims import clock
from lims.audit.chain import ChainRow, entry_hash
from lims.audit.context import current_actor
from lims.audit.models import GENESIS_HASH, AuditCheckpoint, Audited, AuditEntry, AuditHead
from lims.db import UTCDateTime, db
from lims.errors import BadRequest
from lims.hashing import canonical_json, to_jsonable

MASK = "***"
REASON_KEY = "lims_audit_reason"


class AppendOnlyViolation(RuntimeError):
    """Raised when code tries to change or delete an audit entry or a GMP record."""


@contextmanager
def reason(text: str) -> Iterator[None]:
    """Attach ``text`` as the reason of every entry flushed inside the block."""
    if not text or not text.strip():
        raise BadRequest("A reason is required.", details={"fields": {"reason": "required"}})
    session = db.session()
    previous = session.info.get(REASON_KEY)
    session.info[REASON_KEY] = text.strip()
    try:
        yield
        session.flush()
    finally:
        session.info[REASON_KEY] = previous


def record(action: str, entity_type: str, entity_id: Any, changes: dict[str, Any] | None = None,
           reason_text: str | None = None) -> None:
    """Write an audit entry for an event that is not a column change."""
    session = db.session()
    session.flush()
    _append(session, [(action, entity_type, str(entity_id), changes or {},
                       reason_text or session.info.get(REASON_KEY))])


def _column_keys(obj: Any) -> list[str]:
    return [attr.key for attr in inspect(obj).mapper.column_attrs]


def _entity_id(obj: Any) -> str:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(part) for part in key)


def _value(obj: Any, key: str, value: Any) -> Any:
    return MASK if key in type(obj).__audit_masked__ and value is not None else to_jsonable(value)


def _insert_changes(obj: Any) -> dict[str, list[Any]]:
    changes = {}
    for key in _column_keys(obj):
        value = getattr(obj, key)
        if value is not None:
            changes[key] = [None, _value(obj, key, value)]
    return changes


def _update_changes(obj: Any) -> dict[str, list[Any]]:
    state = inspect(obj)
    changes = {}
    for key in _column_keys(obj):
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if to_jsonable(old) != to_jsonable(new):
            changes[key] = [_value(obj, key, old), _value(obj, key, new)]
    return changes


def _corrections_without_reason(session: Session) -> dict[str, str]:
    if session.info.get(REASON_KEY):
        return {}
    missing = {}
    for obj in session.dirty:
        if not isinstance(obj, Audited):
            continue
        state = inspect(obj)
        for key in type(obj).__audit_corrections__:
            history = state.attrs[key].history
            if history.deleted and history.deleted[0] is not None and history.has_changes():
                missing[key] = "correcting a recorded value needs a reason"
    return missing


def _before_flush(session: Session, _context, _instances) -> None:
    for obj in list(session.deleted):
        if isinstance(obj, Audited | AuditEntry | AuditHead | AuditCheckpoint):
            raise AppendOnlyViolation(
                f"{type(obj).__name__} rows are never deleted; void them with a reason")
    for obj in list(session.dirty):
        if isinstance(obj, AuditEntry | AuditHead | AuditCheckpoint) \
                and session.is_modified(obj):
            raise AppendOnlyViolation("audit entries are append-only")
    missing = _corrections_without_reason(session)
    if missing:
        raise BadRequest("A correction of a recorded value needs a reason.",
                         code="reason_required", details={"fields": missing})


def _after_flush(session: Session, _context) -> None:
    entries = []
    for obj in session.new:
        if isinstance(obj, Audited):
            entries.append(("create", obj.__tablename__, _entity_id(obj), _insert_changes(obj),
                            session.info.get(REASON_KEY)))
    for obj in session.dirty:
        if isinstance(obj, Audited):
            changes = _update_changes(obj)
            if changes:
                entries.append(("update", obj.__tablename__, _entity_id(obj), changes,
                                session.info.get(REASON_KEY)))
    if entries:
        _append(session, entries)


def _append(session: Session, entries: list[tuple[str, str, str, dict, str | None]]) -> None:
    """Append entries to the chain, holding the head row's lock until commit."""
    actor_id, actor_username = current_actor()
    append_entries(session.connection(), entries, actor_id, actor_username, clock.utcnow())


# The chain's tables as plain typed clauses, so a migration can append with this code
# whatever the models look like later.
CHAIN_ENTRY = table_clause(
    "audit_entry", column("seq", BigInteger), column("occurred_at", UTCDateTime),
    column("actor_id", Integer), column("actor_username", String), column("action", String),
    column("entity_type", String), column("entity_id", String), column("changes", Text),
    column("reason", Text), column("prev_hash", String), column("hash", String))
CHAIN_HEAD = table_clause("audit_head", column("id", Integer), column("last_seq", BigInteger),
                     column("last_hash", String))


def append_entries(connection: Connection, entries: list[tuple[str, str, str, dict, str | None]],
                   actor_id: int | None, actor_username: str, now: datetime) -> None:
    """Append ``(action, entity_type, entity_id, changes, reason)`` entries to the chain on
    ``connection``, locking the head row until the transaction ends."""
    head_row = CHAIN_HEAD.c
    head = connection.execute(select(head_row.last_seq, head_row.last_hash)
                              .where(head_row.id == 1).with_for_update()).one_or_none()
    if head is None:
        connection.execute(insert(CHAIN_HEAD).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
        seq, prev_hash = 0, GENESIS_HASH
    else:
        seq, prev_hash = head.last_seq, head.last_hash
    rows = []
    for action, entity_type, entity_id, changes, why in entries:
        seq += 1
        row = ChainRow(seq=seq, occurred_at=now, actor_id=actor_id, actor_username=actor_username,
                       action=action, entity_type=entity_type, entity_id=entity_id,
                       changes=canonical_json(changes), reason=why, prev_hash=prev_hash)
        prev_hash = entry_hash(row)
        rows.append(row._replace(hash=prev_hash)._asdict())
    connection.execute(insert(CHAIN_ENTRY), rows)
    connection.execute(update(CHAIN_HEAD).where(CHAIN_HEAD.c.id == 1)
                       .values(last_seq=seq, last_hash=prev_hash))


def _audited_tables() -> set[str]:
    names = {AuditEntry.__tablename__, AuditHead.__tablename__, AuditCheckpoint.__tablename__}
    pending = list(Audited.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        name = getattr(cls, "__tablename__", None)
        if name:
            names.add(name)
    return names


def _refuse_bulk(state: ORMExecuteState) -> None:
    """Bulk DML on a GMP or audit table would bypass the flush that writes the trail."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    target = getattr(state.statement, "table", None)
    name = getattr(target, "name", None)
    if name in _audited_tables():
        verb = "update" if state.is_update else "delete" if state.is_delete else "insert"
        raise AppendOnlyViolation(
            f"bulk {verb}() of {name} refused: it would write no audit entry; load the "
            "records and change them through the session (SPEC §8)")


def _refuse_change(_mapper, _connection, target) -> None:
    raise AppendOnlyViolation(f"{type(target).__name__} rows are append-only")


_installed = False


def install() -> None:
    """Register the session and mapper events once per process."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _refuse_bulk)
    for model in (AuditEntry, AuditHead, AuditCheckpoint):
        event.listen(model, "before_update", _refuse_change)
        event.listen(model, "before_delete", _refuse_change)
    _installed = True
