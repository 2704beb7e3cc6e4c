"""The alert table: at most one open alert per (kind, entity), by a partial unique index."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lims.audit import Audited
from lims.db import Model, UTCDateTime, db


class AlertKind(StrEnum):
    overdue_step = "overdue_step"
    qc_pending = "qc_pending"
    dose_expiring = "dose_expiring"
    identity_mismatch = "identity_mismatch"


#: Kinds whose cause is an event, not a state a sweep can re-check: acknowledging resolves them.
EVENT_KINDS = frozenset({AlertKind.identity_mismatch})

#: 1 is the most urgent.
SEVERITY = {AlertKind.identity_mismatch: 1, AlertKind.overdue_step: 1,
            AlertKind.qc_pending: 2, AlertKind.dose_expiring: 2}


class Alert(Audited, Model):
    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint("kind IN ('overdue_step', 'qc_pending', 'dose_expiring', "
                        "'identity_mismatch')", name="kind"),
        CheckConstraint("acknowledged_at IS NULL OR (acknowledged_by_id IS NOT NULL "
                        "AND acknowledgement IS NOT NULL)", name="acknowledged_by"),
        Index("uq_alert_one_open", "kind", "entity_type", "entity_id", unique=True,
              sqlite_where=db.text("resolved_at IS NULL"),
              postgresql_where=db.text("resolved_at IS NULL")),
        Index("ix_alert_open_kind", "kind", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(Integer, index=True)
    summary: Mapped[str] = mapped_column(String(500))
    severity: Mapped[int] = mapped_column(Integer, default=2)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledgement: Mapped[str | None] = mapped_column(Text)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
