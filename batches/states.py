"""What the batches package's records can say, as string enums: no Flask, no database.

The models type their state columns with these (:class:`lims.db.EnumString`: the
column holds members, the database the plain value under a CheckConstraint), and
the pure rule modules (:mod:`batches.lifecycle`, :mod:`batches.custody_rules`,
``qc.release_conditions``) compare with them. The batch's own life-cycle states
(:class:`batches.lifecycle.BatchStatus`) live with the graph that moves them.
"""

from __future__ import annotations

from enum import StrEnum


class SubjectKind(StrEnum):
    patient = "patient"
    donor = "donor"


class RecipientStatus(StrEnum):
    unscreened = "unscreened"
    cleared = "cleared"
    contraindicated = "contraindicated"


class DonorStatus(StrEnum):
    unscreened = "unscreened"
    incomplete = "incomplete"
    ineligible = "ineligible"
    eligible = "eligible"


class MarkerResult(StrEnum):
    negative = "negative"
    reactive = "reactive"
    pending = "pending"


class SpecimenSource(StrEnum):
    """Whose specimen a donor screening tested (21 CFR 1271.80(b)): the donor's own, or,
    for a donor one month old or younger, the birth mother's."""

    donor = "donor"
    birth_mother = "birth_mother"


class Source(StrEnum):
    bone_marrow = "bone_marrow"
    adipose = "adipose"
    umbilical_cord = "umbilical_cord"
    cord_blood = "cord_blood"
    apheresis = "apheresis"


class Origin(StrEnum):
    autologous = "autologous"
    allogeneic = "allogeneic"


class StepType(StrEnum):
    seeding = "seeding"
    media_change = "media_change"
    feeding = "feeding"
    passage = "passage"
    harvest = "harvest"
    cryopreservation = "cryopreservation"


class StepStatus(StrEnum):
    """Stored states; ``overdue`` is derived (pending and past due_at + grace)."""

    pending = "pending"
    done = "done"
    cancelled = "cancelled"


class CustodyEventType(StrEnum):
    collected = "collected"
    received = "received"
    stored = "stored"
    retrieved = "retrieved"
    shipped = "shipped"
    delivered = "delivered"
    thawed = "thawed"
    administered = "administered"
    disposed = "disposed"


class DoseStatus(StrEnum):
    quarantined = "quarantined"
    released = "released"
    rejected = "rejected"
    shipped = "shipped"
    delivered = "delivered"
    administered = "administered"
    disposed = "disposed"
