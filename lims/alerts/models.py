"""The alert table: at most one open alert per (kind, entity), by a partial unique index.

The core knows no kind by name: feature packages register theirs
(:mod:`lims.alerts.registry`). ``batch_id`` groups an alert under the batch it
concerns; the ``batches`` package, which owns the batch table, ties it to that
table with a foreign key (``batches.models``), so this module names no feature
table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit import Audited
from lims.auth.models import User
from lims.db import Model, UTCDateTime, db


class Alert(Audited, Model):
    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint("acknowledged_at IS NULL OR (acknowledged_by_id IS NOT NULL "
                        "AND acknowledgement IS NOT NULL)", name="acknowledged_by"),
        CheckConstraint("closed_by_id IS NULL OR (investigation IS NOT NULL "
                        "AND resolved_at IS NOT NULL)", name="closed_with_investigation"),
        CheckConstraint("closed_by_id IS NULL OR caused_by_id IS NULL "
                        "OR closed_by_id != caused_by_id", name="closer_is_not_causer"),
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
    caused_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledgement: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    investigation: Mapped[str | None] = mapped_column(Text)

    caused_by: Mapped[User | None] = relationship(foreign_keys=[caused_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
