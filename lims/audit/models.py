"""Audit trail tables. Rows are only ever inserted (see recorder and the migration's triggers)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lims.db import Model, UTCDateTime

GENESIS_HASH = "0" * 64


class Audited:
    """Mixin: every insert and update of this model leaves an audit entry.

    ``__audit_masked__``: fields whose values never enter the trail (a change is
    still recorded, as ``"***"``). ``__audit_corrections__``: recorded values
    whose change is a correction and needs a reason (SPEC §8).
    """

    __audit_masked__: frozenset[str] = frozenset()
    __audit_corrections__: frozenset[str] = frozenset()
    if TYPE_CHECKING:
        __tablename__: str


class AuditEntry(Model):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    changes: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Model):
    """The single row that holds the chain's last sequence number and hash.

    Locking it serialises writers, so concurrent transactions never fork the chain,
    and it reveals entries removed from the end of the trail.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Model):
    """A signed statement of the chain head: "entry ``seq`` has hash ``head_hash``".

    Written at every sweep and every audit bundle export by the process holding the
    audit signing key (kept outside the database); ``audit-verify`` fails when the chain
    no longer reaches or matches a checkpoint. Append-only, like the trail.
    """

    __tablename__ = "audit_checkpoint"
    __table_args__ = (Index("ix_audit_checkpoint_seq", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(100))
