"""QC specifications, results, deviations and exceptional releases (SPEC §2, §3).

States are string enums tied to their signers and timestamps by CheckConstraints:
the database itself refuses a reviewed result without a reviewer (or reviewed
by its analyst), a closed deviation without QA's signature and disposition, and
an exceptional release marked released without its two signatures. Every GMP
record mixes in :class:`lims.audit.Audited`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from batches.models import Batch, CultureStep, Dose, Product
from lims.audit import Audited
from lims.auth.models import Signature, User
from lims.clock import now_utc
from lims.db import EnumString, Model, UTCDateTime, db, enum_check
from qc.evaluation import Comparator, CriterionKind, Evaluation


class Stage(StrEnum):
    in_process = "in_process"
    release = "release"


class Timing(StrEnum):
    """When a test is resulted (SPEC §2 QC specification): before release (a release
    condition) or after it (a failure starts SPEC §3b)."""

    release = "release"
    follow_up = "follow_up"


class DeviationKind(StrEnum):
    out_of_spec = "out_of_spec"
    overdue_step = "overdue_step"
    other = "other"


class DeviationStatus(StrEnum):
    open = "open"
    closed = "closed"


class ExceptionalReleaseStatus(StrEnum):
    awaiting_second_signature = "awaiting_second_signature"
    released = "released"
    cancelled = "cancelled"


class Specification(Audited, Model):
    """A product's acceptance criteria for one stage, versioned (SPEC §2 QC specification).

    A batch is judged by the version in force when it was registered: the highest
    version of (product, stage) whose ``effective_from`` is not after the batch's
    ``registered_at``. An admin's revision adds a version effective from then on.
    """

    __tablename__ = "qc_specification"
    __table_args__ = (
        UniqueConstraint("product_id", "stage", "version"),
        CheckConstraint(enum_check("stage", Stage), name="stage"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    stage: Mapped[Stage] = mapped_column(EnumString(Stage, 12))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    change_reason: Mapped[str | None] = mapped_column(Text)

    product: Mapped[Product] = relationship()
    tests: Mapped[list[SpecTest]] = relationship(back_populates="specification",
                                                 order_by="SpecTest.position")

    def test(self, code: str) -> SpecTest | None:
        return next((t for t in self.tests if t.test == code), None)


class SpecTest(Audited, Model):
    """One test of a specification: a numeric limit with its unit, or an expected outcome."""

    __tablename__ = "qc_spec_test"
    __table_args__ = (
        UniqueConstraint("specification_id", "test"),
        CheckConstraint(enum_check("kind", CriterionKind), name="kind"),
        CheckConstraint(enum_check("timing", Timing), name="timing"),
        CheckConstraint("comparator IS NULL OR " + enum_check("comparator", Comparator),
                        name="comparator"),
        CheckConstraint("(kind = 'numeric' AND comparator IS NOT NULL AND limit_value IS NOT NULL "
                        "AND unit IS NOT NULL AND expected_outcome IS NULL) OR "
                        "(kind = 'qualitative' AND expected_outcome IS NOT NULL "
                        "AND comparator IS NULL AND limit_value IS NULL AND unit IS NULL)",
                        name="criterion"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    specification_id: Mapped[int] = mapped_column(ForeignKey("qc_specification.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    test: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CriterionKind] = mapped_column(EnumString(CriterionKind, 12))
    comparator: Mapped[Comparator | None] = mapped_column(EnumString(Comparator, 2))
    limit_value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(20))
    expected_outcome: Mapped[str | None] = mapped_column(String(20))
    timing: Mapped[Timing] = mapped_column(EnumString(Timing, 10), default=Timing.release,
                                           server_default=Timing.release.value)

    specification: Mapped[Specification] = relationship(back_populates="tests")

    @property
    def criterion_text(self) -> str:
        if self.kind == CriterionKind.numeric:
            return f"{self.comparator} {self.limit_value:g} {self.unit}"
        return f"{self.expected_outcome}"


class QcResult(Audited, Model):
    """A QC result: entered by an analyst, evaluated by the server, reviewed by a second
    person (SPEC §2 QC result). Entered values change only as a correction with a reason."""

    __tablename__ = "qc_result"
    __table_args__ = (
        CheckConstraint(enum_check("stage", Stage), name="stage"),
        CheckConstraint(enum_check("evaluation", Evaluation), name="evaluation"),
        CheckConstraint("(value IS NOT NULL AND unit IS NOT NULL AND outcome IS NULL) OR "
                        "(value IS NULL AND unit IS NULL AND outcome IS NOT NULL)",
                        name="value_or_outcome"),
        CheckConstraint("(reviewed_at IS NULL) = (reviewed_by_id IS NULL)", name="reviewed_by"),
        CheckConstraint("reviewed_by_id IS NULL OR reviewed_by_id != analyst_id",
                        name="reviewer_is_not_analyst"),
        CheckConstraint("corrected = false OR corrected_by_id IS NOT NULL",
                        name="corrected_by"),
        Index("ix_qc_result_batch_test", "batch_id", "test"),
    )
    __audit_corrections__ = frozenset({"value", "unit", "outcome", "method", "instrument",
                                       "sampled_at"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"))
    spec_test_id: Mapped[int] = mapped_column(ForeignKey("qc_spec_test.id"))
    test: Mapped[str] = mapped_column(String(40))
    stage: Mapped[Stage] = mapped_column(EnumString(Stage, 12))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    evaluation: Mapped[Evaluation] = mapped_column(EnumString(Evaluation, 4))
    method: Mapped[str | None] = mapped_column(String(200))
    instrument: Mapped[str | None] = mapped_column(String(200))
    sampled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str | None] = mapped_column(Text)
    analyst_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    after_release: Mapped[bool] = mapped_column(Boolean, default=False)
    corrected: Mapped[bool] = mapped_column(Boolean, default=False)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    batch: Mapped[Batch] = relationship()
    spec_test: Mapped[SpecTest] = relationship()
    analyst: Mapped[User] = relationship(foreign_keys=[analyst_id])
    corrected_by: Mapped[User | None] = relationship(foreign_keys=[corrected_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    deviations: Mapped[list[Deviation]] = relationship(viewonly=True, order_by="Deviation.id")
    """The deviations this result opened (out of specification), oldest first."""

    @property
    def reported(self) -> str:
        return f"{self.value:g} {self.unit}" if self.value is not None else str(self.outcome)


class Deviation(Audited, Model):
    """Something that did not go as specified (SPEC §2 Deviation): opened by an
    out-of-spec result, an overdue step or by hand; QA closes it with a disposition
    and a signature. At most one deviation per overdue step (partial unique index)."""

    __tablename__ = "deviation"
    __table_args__ = (
        CheckConstraint(enum_check("kind", DeviationKind), name="kind"),
        CheckConstraint(enum_check("status", DeviationStatus), name="status"),
        CheckConstraint("kind != 'out_of_spec' OR qc_result_id IS NOT NULL",
                        name="out_of_spec_has_result"),
        CheckConstraint("kind != 'overdue_step' OR step_id IS NOT NULL",
                        name="overdue_step_has_step"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL AND closed_by_id IS NOT NULL "
                        "AND disposition IS NOT NULL AND closure_signature_id IS NOT NULL)",
                        name="closed_is_signed"),
        Index("uq_deviation_step", "step_id", unique=True,
              sqlite_where=db.text("step_id IS NOT NULL"),
              postgresql_where=db.text("step_id IS NOT NULL")),
        Index("ix_deviation_batch_status", "batch_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"))
    kind: Mapped[DeviationKind] = mapped_column(EnumString(DeviationKind, 20))
    status: Mapped[DeviationStatus] = mapped_column(EnumString(DeviationStatus, 10))
    description: Mapped[str] = mapped_column(Text)
    qc_result_id: Mapped[int | None] = mapped_column(ForeignKey("qc_result.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("culture_step.id"))
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    investigation: Mapped[str | None] = mapped_column(Text)
    disposition: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closure_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))

    batch: Mapped[Batch] = relationship()
    qc_result: Mapped[QcResult | None] = relationship()
    step: Mapped[CultureStep | None] = relationship()
    opened_by: Mapped[User | None] = relationship(foreign_keys=[opened_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    closure_signature: Mapped[Signature | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status == DeviationStatus.open


class ExceptionalRelease(Audited, Model):
    """Release for urgent medical need while donor screening or the sterility result is
    pending (SPEC §3): a physician's request, then two different QA signatures."""

    __tablename__ = "exceptional_release"
    __table_args__ = (
        CheckConstraint(enum_check("status", ExceptionalReleaseStatus), name="status"),
        CheckConstraint("status != 'released' OR (second_signature_id IS NOT NULL "
                        "AND released_at IS NOT NULL)", name="released_is_signed"),
        CheckConstraint("status != 'cancelled' OR cancel_reason IS NOT NULL",
                        name="cancelled_has_reason"),
        Index("uq_exceptional_release_active", "batch_id", unique=True,
              sqlite_where=db.text("status != 'cancelled'"),
              postgresql_where=db.text("status != 'cancelled'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), index=True)
    status: Mapped[ExceptionalReleaseStatus] = mapped_column(
        EnumString(ExceptionalReleaseStatus, 30))
    physician_name: Mapped[str] = mapped_column(String(200))
    physician_request: Mapped[str] = mapped_column(Text)
    pending_items: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    first_signature_id: Mapped[int] = mapped_column(ForeignKey("signature.id"))
    second_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    batch: Mapped[Batch] = relationship()
    first_signature: Mapped[Signature] = relationship(foreign_keys=[first_signature_id])
    second_signature: Mapped[Signature | None] = relationship(
        foreign_keys=[second_signature_id])
    follow_ups: Mapped[list[ExceptionalFollowUp]] = relationship(
        back_populates="exceptional_release", order_by="ExceptionalFollowUp.id")


class FollowUpItem(StrEnum):
    """What an exceptional release was signed without (SPEC §3)."""

    sterility = "sterility"
    donor_screening = "donor_screening"


class ExceptionalFollowUp(Audited, Model):
    """A result an exceptional release was waiting for, arrived after it (SPEC §3): what
    arrived and when, and the recorded notification of the treating physician."""

    __tablename__ = "exceptional_release_follow_up"
    __table_args__ = (
        CheckConstraint(enum_check("item", FollowUpItem), name="item"),
        UniqueConstraint("exceptional_release_id", "item"),
        CheckConstraint("(physician_notified_at IS NULL) = (notified_by_id IS NULL)",
                        name="notified_by"),
        CheckConstraint("physician_notified_at IS NULL OR (physician_name IS NOT NULL "
                        "AND method IS NOT NULL)", name="notification_is_whole"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exceptional_release_id: Mapped[int] = mapped_column(ForeignKey("exceptional_release.id"),
                                                        index=True)
    item: Mapped[FollowUpItem] = mapped_column(EnumString(FollowUpItem, 20))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(500))
    failed: Mapped[bool] = mapped_column(Boolean)
    qc_result_id: Mapped[int | None] = mapped_column(ForeignKey("qc_result.id"))
    donor_screening_id: Mapped[int | None] = mapped_column(ForeignKey("donor_screening.id"))
    physician_name: Mapped[str | None] = mapped_column(String(200))
    method: Mapped[str | None] = mapped_column(String(20))
    physician_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    notes: Mapped[str | None] = mapped_column(Text)

    exceptional_release: Mapped[ExceptionalRelease] = relationship(back_populates="follow_ups")
    notified_by: Mapped[User | None] = relationship()


class RecallStatus(StrEnum):
    open = "open"
    closed = "closed"


class Disposition(StrEnum):
    returned = "returned"
    disposed = "disposed"


class NotificationKind(StrEnum):
    site = "site"
    physician = "physician"


class NotificationMethod(StrEnum):
    phone = "phone"
    email = "email"
    fax = "fax"
    letter = "letter"
    in_person = "in_person"


class Recall(Audited, Model):
    """A batch recalled by QA (SPEC §3b): signed, with a reason; closed by a second QA
    signature once every dose is accounted for."""

    __tablename__ = "recall"
    __table_args__ = (
        CheckConstraint(enum_check("status", RecallStatus), name="status"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL "
                        "AND closure_signature_id IS NOT NULL)", name="closed_is_signed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), unique=True)
    status: Mapped[RecallStatus] = mapped_column(EnumString(RecallStatus, 10))
    reason: Mapped[str] = mapped_column(Text)
    recalled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signature.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closure_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))
    closing_summary: Mapped[str | None] = mapped_column(Text)

    batch: Mapped[Batch] = relationship()
    signature: Mapped[Signature] = relationship(foreign_keys=[signature_id])
    closure_signature: Mapped[Signature | None] = relationship(
        foreign_keys=[closure_signature_id])
    doses: Mapped[list[RecallDose]] = relationship(back_populates="recall",
                                                   order_by="RecallDose.id")
    notifications: Mapped[list[RecallNotification]] = relationship(
        back_populates="recall", order_by="RecallNotification.id")


class RecallDose(Audited, Model):
    """A dose as the recall found it (status, last custody location and holder) and its
    disposition, with the custody event that records it."""

    __tablename__ = "recall_dose"
    __table_args__ = (
        UniqueConstraint("recall_id", "dose_id"),
        CheckConstraint(enum_check("disposition", Disposition, nullable=True),
                        name="disposition"),
        CheckConstraint("(disposition IS NULL) = (disposition_at IS NULL)",
                        name="disposition_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recall_id: Mapped[int] = mapped_column(ForeignKey("recall.id"), index=True)
    dose_id: Mapped[int] = mapped_column(ForeignKey("dose.id"))
    status_at_recall: Mapped[str] = mapped_column(String(12))
    location: Mapped[str | None] = mapped_column(String(200))
    holder: Mapped[str | None] = mapped_column(String(200))
    site: Mapped[str | None] = mapped_column(String(200))
    """Where the dose is (or was given) outside the processing facility: a site to notify."""
    administered: Mapped[bool] = mapped_column(Boolean)
    disposition: Mapped[Disposition | None] = mapped_column(EnumString(Disposition, 10))
    disposition_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    custody_event_id: Mapped[int | None] = mapped_column(ForeignKey("custody_event.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    recall: Mapped[Recall] = relationship(back_populates="doses")
    dose: Mapped[Dose] = relationship()


class RecallNotification(Audited, Model):
    """Who was told of the recall, how and when, and their acknowledgement: each site
    holding doses, and the treating physician of each dose already given."""

    __tablename__ = "recall_notification"
    __table_args__ = (
        CheckConstraint(enum_check("kind", NotificationKind), name="kind"),
        CheckConstraint(enum_check("method", NotificationMethod), name="method"),
        CheckConstraint("kind != 'physician' OR dose_id IS NOT NULL",
                        name="physician_names_dose"),
        CheckConstraint("kind != 'site' OR site IS NOT NULL", name="site_is_named"),
        CheckConstraint("(acknowledged_at IS NULL) = (acknowledged_by IS NULL)",
                        name="acknowledged_by"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recall_id: Mapped[int] = mapped_column(ForeignKey("recall.id"), index=True)
    kind: Mapped[NotificationKind] = mapped_column(EnumString(NotificationKind, 10))
    site: Mapped[str | None] = mapped_column(String(200))
    dose_id: Mapped[int | None] = mapped_column(ForeignKey("dose.id"))
    recipient: Mapped[str] = mapped_column(String(200))
    method: Mapped[NotificationMethod] = mapped_column(EnumString(NotificationMethod, 10))
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)

    recall: Mapped[Recall] = relationship(back_populates="notifications")
    dose: Mapped[Dose | None] = relationship()
    recorded_by: Mapped[User] = relationship()
