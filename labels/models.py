"""Label print jobs: every dose label sent to a printer, counted (SPEC §6, §8).

A print is recorded before the printer is contacted and its outcome after, outside any
database lock (SPEC §8, "slow peripherals never stall the application"):

    queued ──▶ sent      the printer took the whole job
       └─────▶ failed    the printer could not be reached or dropped the job (``problem``)

A job left ``queued`` (the server stopped while printing) has an unknown outcome: the
label may exist, so it counts as a copy like a sent one. ``copy_number`` counts the
copies of one dose's label (1 = the first print); a failed job keeps the number it was
meant to have, and the next attempt takes it again. Every later copy is a reprint and
carries its reason, which the database itself insists on. The row is
:class:`lims.audit.Audited`: queuing and the outcome each leave an audit entry.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from batches.models import Dose
from lims.audit import Audited
from lims.auth.models import User
from lims.clock import now_utc
from lims.db import EnumString, Model, UTCDateTime, enum_check


class PrintStatus(StrEnum):
    queued = "queued"  # recorded, the printer not yet answered (or the outcome was lost)
    sent = "sent"
    failed = "failed"


class LabelPrint(Audited, Model):
    """One dose label print job on a network label printer."""

    __tablename__ = "label_print"
    __table_args__ = (
        CheckConstraint("copy_number >= 1", name="copy_number"),
        CheckConstraint("reprint = (copy_number > 1)", name="reprint_is_later_copy"),
        CheckConstraint("NOT reprint OR reason IS NOT NULL", name="reprint_has_reason"),
        CheckConstraint("dpi IN (203, 300)", name="dpi"),
        CheckConstraint(enum_check("status", PrintStatus), name="status"),
        CheckConstraint("(status = 'queued') = (outcome_at IS NULL)", name="outcome_at"),
        CheckConstraint("(status = 'failed') = (problem IS NOT NULL)", name="failed_has_problem"),
        Index("uq_label_print_copy", "dose_id", "copy_number", unique=True,
              sqlite_where=text("status != 'failed'"),
              postgresql_where=text("status != 'failed'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dose_id: Mapped[int] = mapped_column(ForeignKey("dose.id"), index=True)
    copy_number: Mapped[int] = mapped_column(Integer)
    reprint: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    quarantine: Mapped[bool] = mapped_column(Boolean)
    printer: Mapped[str] = mapped_column(String(300))
    dpi: Mapped[int] = mapped_column(Integer)
    printed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    printed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)  # queued at
    status: Mapped[PrintStatus] = mapped_column(EnumString(PrintStatus, 10),
                                                default=PrintStatus.queued)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    problem: Mapped[str | None] = mapped_column(Text)

    dose: Mapped[Dose] = relationship()
    printed_by: Mapped[User] = relationship()

    @property
    def counted(self) -> bool:
        """Whether the job counts as a copy of the label: sent, or its outcome unknown."""
        return self.status != PrintStatus.failed
