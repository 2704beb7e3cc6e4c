"""Reading and verifying the audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from lims.audit.chain import Break, ChainRow, first_break
from lims.audit.models import GENESIS_HASH, AuditEntry, AuditHead
from lims.db import db

_CHAIN_COLUMNS = (AuditEntry.seq, AuditEntry.occurred_at, AuditEntry.actor_id,
                  AuditEntry.actor_username, AuditEntry.action, AuditEntry.entity_type,
                  AuditEntry.entity_id, AuditEntry.changes, AuditEntry.reason,
                  AuditEntry.prev_hash, AuditEntry.hash)


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify() -> VerifyResult:
    """Recompute the whole chain in constant memory (SPEC §8: ``audit-verify``)."""
    head = db.session.execute(select(AuditHead.last_seq, AuditHead.last_hash)
                              .where(AuditHead.id == 1)).one_or_none()
    head_seq, head_hash = (head.last_seq, head.last_hash) if head else (None, None)
    result = db.session.execute(
        select(*_CHAIN_COLUMNS).order_by(AuditEntry.seq).execution_options(yield_per=2000))
    try:
        checked, broken = first_break((ChainRow(*row) for row in result), GENESIS_HASH,
                                      head_seq, head_hash)
    finally:
        result.close()
    return VerifyResult(checked, broken)


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
