"""Label print records: every dose label sent to a printer, counted (SPEC §6).

A row is written only once the printer took the whole job. ``copy_number``
counts the prints of one dose's label (1 = the first print); every later one
is a reprint and carries its reason, which the database itself insists on.
The row is :class:`lims.audit.Audited`, so each print leaves an audit entry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from batches.models import Dose
from lims.audit import Audited
from lims.auth.models import User
from lims.clock import now_utc
from lims.db import Model, UTCDateTime


class LabelPrint(Audited, Model):
    """One dose label printed on a network label printer."""

    __tablename__ = "label_print"
    __table_args__ = (
        CheckConstraint("copy_number >= 1", name="copy_number"),
        CheckConstraint("reprint = (copy_number > 1)", name="reprint_is_later_copy"),
        CheckConstraint("NOT reprint OR reason IS NOT NULL", name="reprint_has_reason"),
        CheckConstraint("dpi IN (203, 300)", name="dpi"),
        UniqueConstraint("dose_id", "copy_number"),
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
    printed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    dose: Mapped[Dose] = relationship()
    printed_by: Mapped[User] = relationship()
