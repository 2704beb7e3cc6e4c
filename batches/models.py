"""Subjects, screening, collections, batches, process templates, culture steps, doses
and custody events (SPEC §2, §3).

States are string enums (:mod:`batches.states`, :class:`BatchStatus`) in enum-typed
columns (:class:`lims.db.EnumString`), tied to their timestamps and signers by CheckConstraints,
so the database itself refuses, e.g., an eligible donor screening without a QA
signature or a batch on hold without a reason. Every GMP record mixes in
:class:`lims.audit.Audited`: each insert and update leaves an audit entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from batches.change_rules import ChangeKind, ChangeStatus
from batches.lifecycle import BatchStatus
from batches.states import (
    CustodyEventType,
    DonorStatus,
    DoseStatus,
    MarkerResult,
    Origin,
    RecipientStatus,
    Source,
    SpecimenSource,
    StepStatus,
    StepType,
    SubjectKind,
)
from lims.audit import Audited
from lims.auth.models import Signature, User
from lims.clock import now_utc
from lims.db import EnumString, Model, UTCDateTime, db, enum_check

# Recipient contraindications (SPEC §2 / §7 codes) and donor markers.
CONTRAINDICATIONS = (
    "active_malignancy", "pregnancy_or_breastfeeding", "immunodeficiency",
    "unstable_mental_state", "acute_inflammation", "clotting_disorder",
)
MARKERS = ("hiv_1", "hiv_2", "hbsag", "anti_hbc", "hcv_antibody", "hcv_nat", "syphilis",
           "htlv", "cmv")
REACTIVE_NOT_DISQUALIFYING = frozenset({"cmv"})
"""Donor markers whose reactive result is recorded, shown at eligibility signing and
printed on the dose label ("CMV: reactive"), but does not make the donor ineligible
(SPEC §2, 21 CFR 1271.85(b)(2)). A reactive result of any other marker disqualifies; a
pending result of any marker, these included, leaves the screening incomplete."""


def disqualifying_markers(markers: Mapping[str, str]) -> list[str]:
    """The reactive markers that make the donor ineligible (every one not in
    :data:`REACTIVE_NOT_DISQUALIFYING`), in the order given."""
    return [m for m, v in markers.items()
            if v == MarkerResult.reactive and m not in REACTIVE_NOT_DISQUALIFYING]


def labelled_reactive_markers(markers: Mapping[str, str]) -> list[str]:
    """The reactive markers that are recorded and labelled, not disqualifying
    (:data:`REACTIVE_NOT_DISQUALIFYING`), in the order given."""
    return [m for m, v in markers.items()
            if v == MarkerResult.reactive and m in REACTIVE_NOT_DISQUALIFYING]


class Subject(Audited, Model):
    """A patient or a donor, known by a pseudonymised code (SPEC §2)."""

    __tablename__ = "subject"
    __table_args__ = (
        CheckConstraint(enum_check("kind", SubjectKind), name="kind"),
        CheckConstraint(enum_check("recipient_status", RecipientStatus, nullable=True),
                        name="recipient_status"),
        CheckConstraint(enum_check("donor_status", DonorStatus, nullable=True),
                        name="donor_status"),
        CheckConstraint("kind = 'patient' OR recipient_status IS NULL",
                        name="recipient_is_patient"),
    )
    __audit_corrections__ = frozenset({"initials", "date_of_birth"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[SubjectKind] = mapped_column(EnumString(SubjectKind, 10))
    initials: Mapped[str] = mapped_column(String(5))
    date_of_birth: Mapped[date] = mapped_column(Date)
    recipient_status: Mapped[RecipientStatus | None] = mapped_column(
        EnumString(RecipientStatus, 20))
    donor_status: Mapped[DonorStatus | None] = mapped_column(EnumString(DonorStatus, 20))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    created_by: Mapped[User] = relationship()


class RecipientScreening(Audited, Model):
    """One recipient screening: the six contraindications of SPEC §2, each present or not."""

    __tablename__ = "recipient_screening"
    __table_args__ = (
        CheckConstraint("status IN ('cleared', 'contraindicated')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    active_malignancy: Mapped[bool] = mapped_column(Boolean)
    pregnancy_or_breastfeeding: Mapped[bool] = mapped_column(Boolean)
    immunodeficiency: Mapped[bool] = mapped_column(Boolean)
    unstable_mental_state: Mapped[bool] = mapped_column(Boolean)
    acute_inflammation: Mapped[bool] = mapped_column(Boolean)
    clotting_disorder: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[RecipientStatus] = mapped_column(EnumString(RecipientStatus, 20))
    screened_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    screened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    subject: Mapped[Subject] = relationship()
    screened_by: Mapped[User] = relationship()

    @property
    def contraindications(self) -> list[str]:
        return [code for code in CONTRAINDICATIONS if getattr(self, code)]


class DonorScreening(Audited, Model):
    """Infectious-disease markers of one donor specimen; QA signs the eligibility (SPEC §2)."""

    __tablename__ = "donor_screening"
    __table_args__ = (
        *(CheckConstraint(enum_check(marker, MarkerResult), name=marker) for marker in MARKERS),
        CheckConstraint("status IN ('incomplete', 'ineligible', 'eligible')", name="status"),
        CheckConstraint("status != 'eligible' OR (eligibility_signature_id IS NOT NULL "
                        "AND determined_at IS NOT NULL)", name="eligible_is_signed"),
        CheckConstraint(enum_check("specimen_source", SpecimenSource), name="specimen_source"),
    )
    __audit_corrections__ = frozenset(MARKERS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    specimen_collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    hiv_1: Mapped[MarkerResult] = mapped_column(EnumString(MarkerResult, 10))
    hiv_2: Mapped[MarkerResult] = mapped_column(EnumString(MarkerResult, 10))
    hbsag: Mapped[MarkerResult] = mapped_column(EnumString(MarkerResult, 10))
    anti_hbc: Mapped[MarkerResult] = mapped_column(EnumString(MarkerResult, 10))
    hcv_antibody: Mapped[MarkerResult] = mapped_column(EnumString(MarkerResult, 10))
    hcv_nat: Mapped[MarkerResult] = mapped_column(EnumString(MarkerResult, 10))
    syphilis: Mapped[MarkerResult] = mapped_column(EnumString(MarkerResult, 10))
    htlv: Mapped[MarkerResult] = mapped_column(EnumString(MarkerResult, 10))
    cmv: Mapped[MarkerResult] = mapped_column(EnumString(MarkerResult, 10))
    specimen_source: Mapped[SpecimenSource] = mapped_column(
        EnumString(SpecimenSource, 20), default=SpecimenSource.donor,
        server_default=SpecimenSource.donor.value)
    status: Mapped[DonorStatus] = mapped_column(EnumString(DonorStatus, 20))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    eligibility_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))
    determined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subject: Mapped[Subject] = relationship()
    recorded_by: Mapped[User] = relationship()
    eligibility_signature: Mapped[Signature | None] = relationship()

    @property
    def markers(self) -> dict[str, MarkerResult]:
        return {marker: getattr(self, marker) for marker in MARKERS}

    @property
    def reactive_markers(self) -> list[str]:
        """Every reactive marker, disqualifying or not."""
        return [m for m, v in self.markers.items() if v == MarkerResult.reactive]

    @property
    def disqualifying_markers(self) -> list[str]:
        """The reactive markers that make the donor ineligible."""
        return disqualifying_markers(self.markers)

    @property
    def labelled_reactive_markers(self) -> list[str]:
        """The reactive markers recorded and printed on the label, not disqualifying (CMV)."""
        return labelled_reactive_markers(self.markers)

    @property
    def pending_markers(self) -> list[str]:
        return [m for m, v in self.markers.items() if v == MarkerResult.pending]


class SequenceCounter(Model):
    """The last number handed out in a scope, e.g. ``DIN Z9999 2026`` (locked FOR UPDATE).

    Together with the unique constraints on DINs and batch numbers it makes sure
    concurrent registrations never share a number.
    """

    __tablename__ = "sequence_counter"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class Collection(Audited, Model):
    """A harvest or donation, identified by its ISBT 128 DIN (SPEC §2, §6)."""

    __tablename__ = "collection"
    __table_args__ = (
        CheckConstraint(enum_check("source", Source), name="source"),
        CheckConstraint("volume_ml > 0", name="volume_ml"),
    )
    __audit_corrections__ = frozenset({"volume_ml", "collected_at", "collected_by", "source"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    source: Mapped[Source] = mapped_column(EnumString(Source, 20))
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    collected_by: Mapped[str] = mapped_column(String(200))
    volume_ml: Mapped[float] = mapped_column(Float)
    din: Mapped[str] = mapped_column(String(13), unique=True)
    check_character: Mapped[str] = mapped_column(String(1))
    chain_of_identity: Mapped[str] = mapped_column(String(17), unique=True)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    subject: Mapped[Subject] = relationship()
    recorded_by: Mapped[User] = relationship()


class Product(Audited, Model):
    """A cell product (MSC, NK…) as data: ISBT 128 description code, storage, shelf life."""

    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("shelf_life_hours > 0", name="shelf_life_hours"),
        CheckConstraint("post_thaw_expiry_hours > 0", name="post_thaw_expiry_hours"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description_code: Mapped[str] = mapped_column(String(5))
    storage_temperature: Mapped[str] = mapped_column(String(60))
    shelf_life_hours: Mapped[int] = mapped_column(Integer)
    default_container: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    cryopreserved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Doses are frozen: thawed (custody ``thawed``) before administration (SPEC §2, §5)."""
    post_thaw_expiry_hours: Mapped[int] = mapped_column(Integer, default=4, server_default="4")


class ProcessTemplate(Audited, Model):
    """A product's culture process as data (SPEC §2): step rules and the maximum passage.

    Templates are versioned: an admin's edit makes a new version, and running
    batches keep following the version they were registered with.
    """

    __tablename__ = "process_template"
    __table_args__ = (
        UniqueConstraint("product_id", "version"),
        CheckConstraint("max_passage IS NULL OR max_passage >= 0", name="max_passage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    max_passage: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    product: Mapped[Product] = relationship()
    rules: Mapped[list[TemplateRule]] = relationship(
        back_populates="template", order_by="TemplateRule.id")


class TemplateRule(Audited, Model):
    """After a step of type ``after_step`` is performed, ``next_step`` is due in
    ``interval_hours`` (late after ``grace_hours`` more)."""

    __tablename__ = "template_rule"
    __table_args__ = (
        CheckConstraint(enum_check("after_step", StepType), name="after_step"),
        CheckConstraint(enum_check("next_step", StepType), name="next_step"),
        CheckConstraint("interval_hours > 0", name="interval_hours"),
        CheckConstraint("grace_hours >= 0", name="grace_hours"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("process_template.id"), index=True)
    after_step: Mapped[StepType] = mapped_column(EnumString(StepType, 20))
    next_step: Mapped[StepType] = mapped_column(EnumString(StepType, 20))
    interval_hours: Mapped[int] = mapped_column(Integer)
    grace_hours: Mapped[int] = mapped_column(Integer)

    template: Mapped[ProcessTemplate] = relationship(back_populates="rules")


class Batch(Audited, Model):
    """A lot made from one collection, following one process template (SPEC §2, §3)."""

    __tablename__ = "batch"
    __table_args__ = (
        CheckConstraint(enum_check("status", BatchStatus), name="status"),
        CheckConstraint("status_before_hold IS NULL OR status_before_hold IN "
                        "('registered', 'in_culture', 'harvested', 'qc_review')",
                        name="status_before_hold"),
        CheckConstraint(enum_check("origin", Origin), name="origin"),
        CheckConstraint("status != 'on_hold' OR (status_before_hold IS NOT NULL "
                        "AND hold_reason IS NOT NULL)", name="hold_has_reason"),
        CheckConstraint("status NOT IN ('released', 'release_suspended', 'recalled') "
                        "OR release_signature_id IS NOT NULL", name="released_is_signed"),
        CheckConstraint("recipient_weight_kg IS NULL OR recipient_weight_kg > 0",
                        name="recipient_weight_kg"),
        CheckConstraint("prescribed_cells_per_kg_min IS NULL OR prescribed_cells_per_kg_max "
                        "IS NULL OR prescribed_cells_per_kg_min <= prescribed_cells_per_kg_max",
                        name="prescribed_range"),
        CheckConstraint("status != 'rejected' OR rejection_signature_id IS NOT NULL",
                        name="rejected_is_signed"),
        UniqueConstraint("collection_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_number: Mapped[str] = mapped_column(String(20), unique=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collection.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("process_template.id"))
    origin: Mapped[Origin] = mapped_column(EnumString(Origin, 12))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    status: Mapped[BatchStatus] = mapped_column(EnumString(BatchStatus, 20), index=True)
    status_before_hold: Mapped[BatchStatus | None] = mapped_column(
        EnumString(BatchStatus, 12))
    hold_reason: Mapped[str | None] = mapped_column(Text)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    release_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))
    rejection_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    recipient_weight_kg: Mapped[float | None] = mapped_column(Float)
    prescribed_cells_per_kg_min: Mapped[float | None] = mapped_column(Float)
    prescribed_cells_per_kg_max: Mapped[float | None] = mapped_column(Float)

    collection: Mapped[Collection] = relationship()
    product: Mapped[Product] = relationship()
    template: Mapped[ProcessTemplate] = relationship()
    recipient: Mapped[Subject] = relationship()
    registered_by: Mapped[User] = relationship(foreign_keys=[registered_by_id])
    release_signature: Mapped[Signature | None] = relationship(
        foreign_keys=[release_signature_id])
    rejection_signature: Mapped[Signature | None] = relationship(
        foreign_keys=[rejection_signature_id])
    steps: Mapped[list[CultureStep]] = relationship(
        back_populates="batch", order_by="CultureStep.id")
    doses: Mapped[list[Dose]] = relationship(back_populates="batch", order_by="Dose.id")


class CultureStep(Audited, Model):
    """A culture step: pending (scheduled by the template) or done (performed and measured).

    Measured values, once entered, change only as a correction with a reason.
    ``overdue_at`` = ``due_at`` + ``grace_hours`` is kept by the model whenever either
    changes, so the scheduler's sweep finds late steps with one portable indexed
    query, ``status = 'pending' AND overdue_at < now`` (``ix_culture_step_pending_overdue``);
    ``ix_culture_step_pending_due`` serves the bench's "due today" list.
    """

    __tablename__ = "culture_step"
    __table_args__ = (
        CheckConstraint(enum_check("type", StepType), name="type"),
        CheckConstraint(enum_check("status", StepStatus), name="status"),
        CheckConstraint("status != 'done' OR (performed_at IS NOT NULL "
                        "AND performed_by_id IS NOT NULL)", name="done_is_performed"),
        CheckConstraint("status != 'pending' OR due_at IS NOT NULL", name="pending_is_due"),
        CheckConstraint("viability_pct IS NULL OR (viability_pct >= 0 AND viability_pct <= 100)",
                        name="viability_pct"),
        CheckConstraint("confluence_pct IS NULL OR "
                        "(confluence_pct >= 0 AND confluence_pct <= 100)", name="confluence_pct"),
        CheckConstraint("cell_count IS NULL OR cell_count >= 0", name="cell_count"),
        CheckConstraint("passage IS NULL OR passage >= 0", name="passage"),
        Index("ix_culture_step_pending_due", "status", "due_at"),
        Index("ix_culture_step_pending_overdue", "status", "overdue_at"),
        CheckConstraint("(due_at IS NULL) = (overdue_at IS NULL)", name="overdue_at"),
    )
    __audit_corrections__ = frozenset({
        "performed_at", "passage", "cell_count", "viability_pct", "confluence_pct",
        "media_lot", "incubator", "notes"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), index=True)
    type: Mapped[StepType] = mapped_column(EnumString(StepType, 20))
    status: Mapped[StepStatus] = mapped_column(EnumString(StepStatus, 10))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grace_hours: Mapped[int | None] = mapped_column(Integer)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    performed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    performed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late_entry: Mapped[bool] = mapped_column(Boolean, default=False)
    corrected: Mapped[bool] = mapped_column(Boolean, default=False)
    passage: Mapped[int | None] = mapped_column(Integer)
    cell_count: Mapped[int | None] = mapped_column(BigInteger)
    viability_pct: Mapped[float | None] = mapped_column(Float)
    confluence_pct: Mapped[float | None] = mapped_column(Float)
    media_lot: Mapped[str | None] = mapped_column(String(60))
    incubator: Mapped[str | None] = mapped_column(String(60))
    notes: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    batch: Mapped[Batch] = relationship(back_populates="steps")
    performed_by: Mapped[User | None] = relationship()

    @validates("due_at", "grace_hours")
    def _derive_overdue_at(self, key: str, value):
        """Keep ``overdue_at`` = due_at + grace (late after it) in step with its two sources."""
        due_at = value if key == "due_at" else self.due_at
        grace = value if key == "grace_hours" else self.grace_hours
        self.overdue_at = None if due_at is None else due_at + timedelta(hours=grace or 0)
        return value


class Dose(Audited, Model):
    """A unit of a batch: DIN + product code + division (SPEC §2, §6)."""

    __tablename__ = "dose"
    __table_args__ = (
        CheckConstraint(enum_check("status", DoseStatus), name="status"),
        CheckConstraint("cells > 0", name="cells"),
        CheckConstraint("volume_ml > 0", name="volume_ml"),
        UniqueConstraint("batch_id", "division"),
        Index("ix_dose_status_expires", "status", "expires_at"),  # the expiry sweep
        Index("ix_dose_post_thaw_expires", "post_thaw_expires_at"),
        CheckConstraint("(thawed_at IS NULL) = (post_thaw_expires_at IS NULL)",
                        name="thaw_sets_expiry"),
        CheckConstraint("thawed_at IS NULL OR cryopreserved", name="only_frozen_thaw"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    division: Mapped[str] = mapped_column(String(2))
    collection_type: Mapped[str] = mapped_column(String(1))
    description_code: Mapped[str] = mapped_column(String(5))
    cells: Mapped[int] = mapped_column(BigInteger)
    volume_ml: Mapped[float] = mapped_column(Float)
    container: Mapped[str] = mapped_column(String(60))
    storage_temperature: Mapped[str] = mapped_column(String(60))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[DoseStatus] = mapped_column(EnumString(DoseStatus, 12))
    formulated_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    formulated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    cryopreserved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The product's setting at formulation: the dose must be thawed before it is given."""
    thawed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    post_thaw_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    batch: Mapped[Batch] = relationship(back_populates="doses")
    formulated_by: Mapped[User] = relationship()
    custody_events: Mapped[list[CustodyEvent]] = relationship(
        back_populates="dose", order_by="CustodyEvent.id")

    @property
    def effective_expires_at(self) -> datetime:
        """The label expiry, or the post-thaw expiry when that is earlier (SPEC §2 Dose)."""
        if self.post_thaw_expires_at is not None and self.post_thaw_expires_at < self.expires_at:
            return self.post_thaw_expires_at
        return self.expires_at

    @property
    def cells_per_kg(self) -> float | None:
        """Cells per kilogram of the intended recipient, when the batch records the weight."""
        weight = self.batch.recipient_weight_kg
        return self.cells / weight if weight else None


class CustodyEvent(Audited, Model):
    """One handoff of a dose (or a collection) in its chain of custody (SPEC §2, §5)."""

    __tablename__ = "custody_event"
    __table_args__ = (
        CheckConstraint(enum_check("event", CustodyEventType), name="event"),
        CheckConstraint("(dose_id IS NULL) != (collection_id IS NULL)", name="one_item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dose_id: Mapped[int | None] = mapped_column(ForeignKey("dose.id"), index=True)
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collection.id"), index=True)
    event: Mapped[CustodyEventType] = mapped_column(EnumString(CustodyEventType, 20))
    from_location: Mapped[str | None] = mapped_column(String(200))
    to_location: Mapped[str | None] = mapped_column(String(200))
    from_person: Mapped[str | None] = mapped_column(String(200))
    to_person: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    scanned_code: Mapped[str | None] = mapped_column(String(500))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    late_entry: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    notes: Mapped[str | None] = mapped_column(Text)

    dose: Mapped[Dose | None] = relationship(back_populates="custody_events")
    collection: Mapped[Collection | None] = relationship()
    recorded_by: Mapped[User] = relationship()


class ChangeProposal(Audited, Model):
    """A proposed new version of a controlled document (issue 12; :mod:`batches.change_rules`):
    the QC specification of a (product, stage) or the process template of a product.

    ``content`` is the whole proposed version as canonical JSON (sorted keys), so it can be
    shown, diffed against the version it was proposed against (``base_version``) and
    signed. Nothing is in force until a QA officer other than the proposer signs the
    approval; ``result_version`` is then the version it became. The database refuses a
    decided change without its decider, an approval or rejection without its signature,
    an approval by the proposer, and a second open change of the same document.
    """

    __tablename__ = "change_proposal"
    __table_args__ = (
        CheckConstraint(enum_check("kind", ChangeKind), name="kind"),
        CheckConstraint(enum_check("status", ChangeStatus), name="status"),
        CheckConstraint("(kind = 'qc_specification') = (stage IS NOT NULL)", name="stage"),
        CheckConstraint("(status = 'proposed') = (decided_at IS NULL AND decided_by_id IS NULL)",
                        name="decided"),
        CheckConstraint("(status IN ('approved', 'rejected')) = (signature_id IS NOT NULL)",
                        name="decision_is_signed"),
        CheckConstraint("(status = 'approved') = (result_version IS NOT NULL)",
                        name="approved_has_version"),
        CheckConstraint("status NOT IN ('rejected', 'withdrawn') OR decision_reason IS NOT NULL",
                        name="refusal_has_reason"),
        CheckConstraint("status != 'approved' OR decided_by_id != proposed_by_id",
                        name="four_eyes"),
        Index("uq_change_proposal_open_spec", "product_id", "stage", unique=True,
              sqlite_where=db.text("status = 'proposed' AND kind = 'qc_specification'"),
              postgresql_where=db.text("status = 'proposed' AND kind = 'qc_specification'")),
        Index("uq_change_proposal_open_template", "product_id", unique=True,
              sqlite_where=db.text("status = 'proposed' AND kind = 'process_template'"),
              postgresql_where=db.text("status = 'proposed' AND kind = 'process_template'")),
        Index("ix_change_proposal_kind_status", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[ChangeKind] = mapped_column(EnumString(ChangeKind, 20))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    stage: Mapped[str | None] = mapped_column(String(12))
    base_version: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ChangeStatus] = mapped_column(EnumString(ChangeStatus, 10))
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    result_version: Mapped[int | None] = mapped_column(Integer)

    product: Mapped[Product] = relationship()
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    signature: Mapped[Signature | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status == ChangeStatus.proposed

    @property
    def content_data(self) -> dict[str, Any]:
        """The proposed version's content (decoded ``content``)."""
        data = json.loads(self.content)
        assert isinstance(data, dict)
        return data


class SuspensionCause(StrEnum):
    """What changed after release (SPEC §3b)."""

    step_corrected = "step_corrected"
    result_corrected = "result_corrected"
    new_result = "new_result"
    post_release_failure = "post_release_failure"
    donor_screening = "donor_screening"
    recipient_screening = "recipient_screening"
    deviation = "deviation"
    record_changed = "record_changed"


class SuspensionEnd(StrEnum):
    re_released = "re_released"
    recalled = "recalled"


class ReleaseSuspension(Audited, Model):
    """One reason a released batch was suspended (SPEC §3b): what changed, who changed it,
    when; ended when QA re-releases (a new signature) or recalls the batch."""

    __tablename__ = "release_suspension"
    __table_args__ = (
        CheckConstraint(enum_check("cause", SuspensionCause), name="cause"),
        CheckConstraint(enum_check("ended_by", SuspensionEnd, nullable=True), name="ended_by"),
        CheckConstraint("(ended_at IS NULL) = (ended_by IS NULL)", name="ended"),
        Index("ix_release_suspension_open", "batch_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"))
    cause: Mapped[SuspensionCause] = mapped_column(EnumString(SuspensionCause, 30))
    description: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    suspended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    caused_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[SuspensionEnd | None] = mapped_column(EnumString(SuspensionEnd, 20))
    end_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))

    batch: Mapped[Batch] = relationship()
    caused_by: Mapped[User | None] = relationship()


class CorrectionStatus(StrEnum):
    pending = "pending"
    verified = "verified"


class DonorMarkerCorrection(Audited, Model):
    """A change of recorded donor markers (SPEC §2: results are a history): entered with a
    reason, it counts only once a second person verifies it. At most one awaits
    verification per screening."""

    __tablename__ = "donor_marker_correction"
    __table_args__ = (
        CheckConstraint(enum_check("status", CorrectionStatus), name="status"),
        CheckConstraint("(status = 'verified') = (verified_by_id IS NOT NULL "
                        "AND verified_at IS NOT NULL)", name="verified_by"),
        CheckConstraint("verified_by_id IS NULL OR verified_by_id != corrected_by_id",
                        name="verifier_is_not_corrector"),
        Index("uq_donor_marker_correction_pending", "screening_id", unique=True,
              sqlite_where=db.text("status = 'pending'"),
              postgresql_where=db.text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("donor_screening.id"), index=True)
    changes: Mapped[str] = mapped_column(Text)  # JSON {marker: [recorded, corrected]}
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[CorrectionStatus] = mapped_column(EnumString(CorrectionStatus, 10))
    corrected_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    screening: Mapped[DonorScreening] = relationship()
    corrected_by: Mapped[User] = relationship(foreign_keys=[corrected_by_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])

    @property
    def marker_changes(self) -> dict[str, list[str]]:
        import json

        return json.loads(self.changes)


def _tie_alerts_to_batches() -> None:
    """``alert.batch_id`` references the batch it concerns. The core's alert table names no
    feature table, so the package owning ``batch`` declares the foreign key."""
    from sqlalchemy import ForeignKeyConstraint, Table

    from lims.alerts.models import Alert

    table = Alert.__table__
    assert isinstance(table, Table)
    if not any(isinstance(c, ForeignKeyConstraint) and c.column_keys == ["batch_id"]
               for c in table.constraints):
        table.append_constraint(ForeignKeyConstraint(["batch_id"], ["batch.id"]))


_tie_alerts_to_batches()
