"""Validation of batches input (JSON and forms alike) and the shapes of its answers (SPEC §7).

Times must carry an offset (``2026-05-04T09:30:00+02:00``); numbers must be JSON
numbers (not strings, not booleans); every string is bounded; unknown fields
and unknown enum values are refused with the field named.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from batches import signing_acts
from batches.change_rules import ChangeStatus, Effect
from batches.custody_rules import HANDOFF_EVENTS
from batches.lifecycle import BatchStatus
from batches.models import (
    CONTRAINDICATIONS,
    MARKERS,
    MarkerResult,
    Origin,
    Source,
    SpecimenSource,
    StepType,
    SubjectKind,
)
from lims.auth.models import Meaning
from lims.auth.schemas import SignatureSchema, SignerInputSchema, meaning_field
from lims.paging import PageQuerySchema
from lims.schemas import (
    BirthDate,
    CorrectionSchema,
    LabelExpiry,
    RecordedTime,
    StrictSchema,
    text,
)

MAX_CELLS = 10**13
CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$",
                       error="2–40 letters, digits, dots, dashes or underscores")
INITIALS = validate.Regexp(r"^[A-Za-z]{1,5}$", error="1–5 letters")


class StrictFloat(fields.Float):
    """A JSON number: strings and booleans are refused, so is NaN/infinity."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def one_of(enum, **kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf([m.value for m in enum]), **kwargs)


def when(**kwargs) -> RecordedTime:
    """When something happened in the lab: ISO 8601 with its offset, plausible
    (:class:`lims.schemas.RecordedTime`)."""
    return RecordedTime(**kwargs)


def number(minimum: int = 0, maximum: int = MAX_CELLS, **kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(minimum, maximum), **kwargs)


def percent(**kwargs) -> StrictFloat:
    return StrictFloat(validate=validate.Range(0, 100), **kwargs)


def millilitres(maximum: float, **kwargs) -> StrictFloat:
    return StrictFloat(validate=validate.Range(0, maximum, min_inclusive=False), **kwargs)


# -- input -------------------------------------------------------------------------------


class SubjectCreateSchema(StrictSchema):
    code = fields.String(required=True, validate=CODE)
    kind = one_of(SubjectKind, required=True)
    initials = fields.String(required=True, validate=INITIALS)
    date_of_birth = BirthDate(required=True)

    @ma.post_load
    def normalise(self, data: dict[str, Any], **_kwargs) -> dict[str, Any]:
        data["initials"] = data["initials"].upper()
        return data


class SubjectQuerySchema(StrictSchema):
    kind = one_of(SubjectKind)
    q = text(40, required=False)


class RecipientScreeningSchema(StrictSchema):
    contraindications = fields.List(
        fields.String(validate=validate.OneOf(CONTRAINDICATIONS)), required=True,
        validate=validate.Length(max=len(CONTRAINDICATIONS)),
        metadata={"description": "codes present; an empty list means none"})


MarkersSchema = type("MarkersSchema", (StrictSchema,),
                     {m: one_of(MarkerResult, required=True) for m in MARKERS})
"""Every marker of SPEC §2, each negative | reactive | pending."""


class DonorScreeningSchema(StrictSchema):
    specimen_collected_at = when(required=True)
    markers = fields.Nested(MarkersSchema, required=True)
    specimen_source = fields.String(
        load_default=SpecimenSource.donor.value,
        validate=validate.OneOf([s.value for s in SpecimenSource]), metadata={
            "description": "whose specimen was tested: donor (default), or birth_mother — "
                           "required for a donor one month old or younger at the recovery, "
                           "refused otherwise (21 CFR 1271.80(b))"})


class CollectionCreateSchema(StrictSchema):
    subject_id = number(1, 2**31 - 1, required=True)
    source = one_of(Source, required=True)
    collected_at = when(required=True)
    volume_ml = millilitres(10_000, required=True)
    collected_by = text(200, required=False)
    notes = text(2000, required=False)


class BatchCreateSchema(StrictSchema):
    collection_id = number(1, 2**31 - 1, required=True)
    product = fields.String(required=True, validate=validate.Length(1, 10),
                            metadata={"description": "product code, e.g. MSC or NK"})
    origin = one_of(Origin, required=True)
    recipient_id = number(1, 2**31 - 1, required=True)
    recipient_weight_kg = StrictFloat(validate=validate.Range(0, 500, min_inclusive=False),
                                      metadata={"description": "optional; gives cells/kg"})
    prescribed_cells_per_kg_min = StrictFloat(validate=validate.Range(
        0, 1e12, min_inclusive=False))
    prescribed_cells_per_kg_max = StrictFloat(validate=validate.Range(
        0, 1e12, min_inclusive=False))

    @ma.validates_schema
    def range_in_order(self, data: dict[str, Any], **_kwargs) -> None:
        low, high = (data.get("prescribed_cells_per_kg_min"),
                     data.get("prescribed_cells_per_kg_max"))
        if low is not None and high is not None and low > high:
            raise ma.ValidationError("must not exceed prescribed_cells_per_kg_max",
                                     "prescribed_cells_per_kg_min")


class BatchQuerySchema(StrictSchema):
    status = one_of(BatchStatus)


class ReasonSchema(StrictSchema):
    reason = text(1000)


class StepValuesSchema(StrictSchema):
    performed_at = when()
    passage = number(0, 99)
    cell_count = number()
    viability_pct = percent()
    confluence_pct = percent()
    media_lot = text(60, required=False)
    incubator = text(60, required=False)
    notes = text(2000, required=False)


class StepCreateSchema(StepValuesSchema):
    type = one_of(StepType, required=True)


class StepCorrectionSchema(CorrectionSchema, StepValuesSchema):
    """Corrected values with the reason the correction needs (SPEC §8)."""


class FormulationSchema(StrictSchema):
    count = number(1, 26, required=True, metadata={
        "description": "doses of one split: 1 undivided (00), else divisions A0 … Z0"})
    cells_per_dose = number(1, MAX_CELLS, required=True)
    volume_ml = millilitres(5000, required=True)
    container = text(60, required=False)
    storage_temperature = text(60, required=False)
    expires_at = LabelExpiry()


class CustodyEventCreateSchema(StrictSchema):
    event = fields.String(required=True, validate=validate.OneOf(
        HANDOFF_EVENTS, error="one of " + ", ".join(HANDOFF_EVENTS) + " (administration is "
        "recorded through POST /doses/{{id}}/administer)"))
    location = text(200)
    scanned_code = text(500, metadata={"description": "what the scanner read from the dose "
                                                      "label (its Data Matrix)"})
    temperature_c = StrictFloat(validate=validate.Range(-273.15, 100))
    occurred_at = when()
    notes = text(1000, required=False, metadata={"description": "required for disposed"})
    to_person = text(200, required=False, metadata={
        "description": "the receiver, a named person (default: the recording user)"})


class AdministrationSchema(StrictSchema):
    patient_code = text(40)
    patient_date_of_birth = BirthDate(required=True)
    scanned_code = text(500, metadata={"description": "the dose label's Data Matrix as read"})
    location = text(200, required=False)
    temperature_c = StrictFloat(validate=validate.Range(-273.15, 100))
    occurred_at = when()


class TemplateRuleSchema(StrictSchema):
    after_step = one_of(StepType, required=True)
    next_step = one_of(StepType, required=True)
    interval_hours = number(1, 24 * 90, required=True)
    grace_hours = number(0, 24 * 14, required=True)


class TemplateRevisionSchema(StrictSchema):
    reason = text(1000)
    name = text(200, required=False)
    max_passage = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 99))
    rules = fields.List(fields.Nested(TemplateRuleSchema), validate=validate.Length(max=50))


class TemplateChangeCreateSchema(TemplateRevisionSchema):
    """A proposed new version of a product's process template: fields left out are kept."""

    product = fields.String(required=True, validate=validate.Length(1, 10))


# -- change control (issue 12) -----------------------------------------------------------

DECISION_REFUSED = ("The decision is refused; details.reasons lists every unmet condition "
                    "(not open, four eyes, stale, not what was shown)")
LOCKED = "The account is locked (too many wrong passwords)"
"""Descriptions of the statuses a signed decision on a change may answer besides 200."""


class ChangeQuerySchema(PageQuerySchema):
    product = fields.String(validate=validate.Length(1, 10))
    status = fields.String(validate=validate.OneOf([s.value for s in ChangeStatus]))


class ChangeApprovalSchema(SignerInputSchema):
    """QA's approval of a change: an e-signature with the meaning ``approval``."""

    meaning = meaning_field(signing_acts.meanings(signing_acts.CHANGE_APPROVAL))
    digest = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$"), metadata={
        "description": "optional: the change's digest as shown to the signer (GET …); 409 when "
                       "the change on record is no longer what was shown"})


class ChangeRejectionSchema(SignerInputSchema):
    """QA's rejection of a change: an e-signature with the meaning ``rejection`` and a
    reason."""

    meaning = meaning_field(signing_acts.meanings(signing_acts.CHANGE_REJECTION),
                            default=Meaning.rejection)
    reason = text(2000)


class EligibilitySchema(SignerInputSchema):
    """QA's signature that a donor is eligible (SPEC §2)."""

    meaning = meaning_field(signing_acts.meanings(signing_acts.DONOR_ELIGIBILITY))


class ChangeWithdrawalSchema(StrictSchema):
    reason = text(1000)


class ProductUpdateSchema(StrictSchema):
    reason = text(1000)
    name = text(200, required=False)
    description_code = fields.String(validate=validate.Regexp(
        r"^S[A-Z0-9]{4}$", error="S + 4 characters A–Z, 0–9 (ICCBBA product description code)"))
    storage_temperature = text(60, required=False)
    shelf_life_hours = number(1, 24 * 365 * 30)
    default_container = text(60, required=False)
    active = fields.Boolean()
    cryopreserved = fields.Boolean()
    post_thaw_expiry_hours = number(1, 24 * 14)


# -- output ------------------------------------------------------------------------------


class RecipientScreeningOutSchema(StrictSchema):
    id = fields.Integer()
    status = fields.String()
    contraindications = fields.List(fields.String())
    screened_at = fields.DateTime()
    screened_by = fields.Function(lambda s: s.screened_by.username)


class DonorScreeningOutSchema(StrictSchema):
    id = fields.Integer()
    status = fields.String()
    specimen_collected_at = fields.DateTime()
    markers = fields.Dict(keys=fields.String(), values=fields.String())
    specimen_source = fields.String(metadata={"description": "donor | birth_mother"})
    reactive_markers = fields.List(fields.String())
    disqualifying_markers = fields.Method("_disqualifying", metadata={
        "description": "donor eligibility only; always empty for a patient's own testing"})
    labelled_reactive_markers = fields.Method("_labelled", metadata={
        "description": "reactive, not disqualifying (CMV) for a donor; always empty for a "
                       "patient, whose every reactive marker is a reactive test result"})
    pending_markers = fields.List(fields.String())
    recorded_at = fields.DateTime()
    recorded_by = fields.Function(lambda s: s.recorded_by.username)
    eligibility_signature = fields.Nested(SignatureSchema, allow_none=True)
    purpose = fields.Method("_purpose", metadata={
        "description": "donor_eligibility (a donor) | autologous_testing (a patient's own "
                       "markers, SPEC §2, 21 CFR 1271.90(c): status stays incomplete, "
                       "no eligibility is determined)"})

    def _autologous(self, screening) -> bool:
        return screening.subject.kind == SubjectKind.patient

    def _purpose(self, screening) -> str:
        return "autologous_testing" if self._autologous(screening) else "donor_eligibility"

    def _disqualifying(self, screening) -> list[str]:
        return [] if self._autologous(screening) else list(screening.disqualifying_markers)

    def _labelled(self, screening) -> list[str]:
        return [] if self._autologous(screening) else list(screening.labelled_reactive_markers)


class SubjectSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    kind = fields.String()
    initials = fields.String()
    date_of_birth = fields.Date()
    recipient_status = fields.String(allow_none=True)
    donor_status = fields.String(allow_none=True)
    created_at = fields.DateTime()
    recipient_screening = fields.Method("_recipient_screening", allow_none=True)
    donor_screening = fields.Method("_donor_screening", allow_none=True, metadata={
        "description": "the latest markers: a donor's screening, or a patient's own "
                       "infectious-disease testing (purpose autologous_testing)"})
    autologous_testing = fields.Method("_autologous_testing", allow_none=True, metadata={
        "description": "a patient only: untested | pending | negative | reactive (SPEC §2, "
                       "21 CFR 1271.90(c)); null for a donor"})

    def _autologous_testing(self, subject) -> str | None:
        from batches.screening import autologous_testing

        if subject.kind != SubjectKind.patient:
            return None
        return autologous_testing(subject).status

    def _recipient_screening(self, subject):
        from batches.screening import latest_recipient_screening

        screening = latest_recipient_screening(subject)
        return RecipientScreeningOutSchema().dump(screening) if screening else None

    def _donor_screening(self, subject):
        from batches.screening import latest_donor_screening

        screening = latest_donor_screening(subject)
        return DonorScreeningOutSchema().dump(screening) if screening else None


class CollectionSchema(StrictSchema):
    id = fields.Integer()
    subject_id = fields.Integer()
    subject_code = fields.Function(lambda c: c.subject.code)
    source = fields.String()
    collected_at = fields.DateTime()
    collected_by = fields.String()
    volume_ml = fields.Float()
    din = fields.String(metadata={"description": "the 13 characters FIN + year + sequence"})
    check_character = fields.String()
    din_barcode = fields.Method("_din_barcode")
    chain_of_identity = fields.String()
    notes = fields.String(allow_none=True)
    recorded_by = fields.Function(lambda c: c.recorded_by.username)
    recorded_at = fields.DateTime()

    def _din_barcode(self, collection) -> str:
        from batches.isbt128 import din_barcode_text

        return din_barcode_text(collection.din)


def autologous_testing_out(batch) -> dict[str, Any]:
    """``infectious_disease_testing``, ``segregated_storage`` and ``segregated_storage_note``
    of a batch, from one read of the patient's latest testing (a list dumps many batches)."""
    from batches.batch_records import batch_autologous_testing, storage_note_of

    testing = batch_autologous_testing(batch)
    note = storage_note_of(testing)
    out: dict[str, Any] = {"infectious_disease_testing": None,
                           "segregated_storage": note is not None,
                           "segregated_storage_note": note}
    if testing is not None:
        at = testing.specimen_collected_at
        out["infectious_disease_testing"] = {
            "status": testing.status, "reactive_markers": list(testing.reactive_markers),
            "pending_markers": list(testing.pending_markers),
            "screening_id": testing.screening_id,
            "specimen_collected_at": at.isoformat() if at else None,
            "segregated_storage": testing.segregated_storage}
    return out


class BatchSchema(StrictSchema):
    id = fields.Integer()
    batch_number = fields.String()
    status = fields.String()
    status_before_hold = fields.String(allow_none=True)
    hold_reason = fields.String(allow_none=True)
    product = fields.Function(lambda b: b.product.code)
    origin = fields.String()
    collection_id = fields.Integer()
    din = fields.Function(lambda b: b.collection.din)
    recipient_id = fields.Integer()
    recipient_code = fields.Function(lambda b: b.recipient.code)
    donor_code = fields.Function(lambda b: b.collection.subject.code)
    template_id = fields.Integer()
    template_version = fields.Function(lambda b: b.template.version)
    quarantined = fields.Method("_quarantined")
    quarantine_reasons = fields.Method("_quarantine_reasons")
    registered_at = fields.DateTime()
    registered_by = fields.Function(lambda b: b.registered_by.username)
    dose_count = fields.Function(lambda b: len(b.doses))
    recipient_weight_kg = fields.Float(allow_none=True)
    prescribed_cells_per_kg_min = fields.Float(allow_none=True)
    prescribed_cells_per_kg_max = fields.Float(allow_none=True)
    suspended_because = fields.Method("_suspended_because", metadata={
        "description": "why the release is suspended (SPEC §3b); empty unless suspended"})
    release_signature = fields.Nested(SignatureSchema, allow_none=True)
    rejection_signature = fields.Nested(SignatureSchema, allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    infectious_disease_testing = fields.Raw(dump_only=True, allow_none=True, metadata={
        "description": "autologous only (SPEC §2, 21 CFR 1271.90(c)): the patient's own "
                       "latest markers — status untested | pending | negative | reactive, "
                       "reactive_markers (CMV included), pending_markers, screening_id, "
                       "specimen_collected_at; null for an allogeneic batch. Never blocks."})
    segregated_storage = fields.Boolean(dump_only=True, metadata={
        "description": "true when a reactive autologous result asks for segregated storage"})
    segregated_storage_note = fields.String(dump_only=True, allow_none=True)

    @ma.post_dump(pass_original=True)
    def _autologous_testing(self, data: dict[str, Any], batch, **_kwargs) -> dict[str, Any]:
        return {**data, **autologous_testing_out(batch)}

    def _quarantine_reasons(self, batch) -> list[str]:
        from batches.batch_records import quarantine_reasons

        return quarantine_reasons(batch)

    def _quarantined(self, batch) -> bool:
        return bool(self._quarantine_reasons(batch))

    def _suspended_because(self, batch) -> list[str]:
        from batches.batch_records import open_suspensions

        if batch.status != BatchStatus.release_suspended:
            return []
        return [s.description for s in open_suspensions(batch)]


class StepSchema(StrictSchema):
    id = fields.Integer()
    batch_id = fields.Integer()
    type = fields.String()
    status = fields.Method("_status", metadata={"description": "pending | done | overdue | "
                                                               "cancelled"})
    due_at = fields.DateTime(allow_none=True)
    grace_hours = fields.Integer(allow_none=True)
    performed_at = fields.DateTime(allow_none=True)
    performed_by = fields.Function(lambda s: s.performed_by.username if s.performed_by else None)
    recorded_at = fields.DateTime(allow_none=True)
    late_entry = fields.Boolean()
    corrected = fields.Boolean()
    passage = fields.Integer(allow_none=True)
    cell_count = fields.Integer(allow_none=True)
    viability_pct = fields.Float(allow_none=True)
    confluence_pct = fields.Float(allow_none=True)
    media_lot = fields.String(allow_none=True)
    incubator = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)

    def _status(self, step) -> str:
        from batches.culture import step_state

        return step_state(step)


class CustodyEventSchema(StrictSchema):
    id = fields.Integer()
    event = fields.String()
    from_location = fields.String(allow_none=True)
    to_location = fields.String(allow_none=True)
    from_person = fields.String(allow_none=True)
    to_person = fields.String(allow_none=True)
    occurred_at = fields.DateTime()
    temperature_c = fields.Float(allow_none=True)
    scanned_code = fields.String(allow_none=True)
    recorded_by = fields.Function(lambda e: e.recorded_by.username)
    recorded_at = fields.DateTime()
    late_entry = fields.Boolean()
    notes = fields.String(allow_none=True)


class BarcodesSchema(StrictSchema):
    din = fields.String()
    product = fields.String()
    expiry = fields.String()
    matrix = fields.String()


class DoseSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    batch_id = fields.Integer()
    batch_number = fields.Function(lambda d: d.batch.batch_number)
    din = fields.Function(lambda d: d.batch.collection.din)
    check_character = fields.Function(lambda d: d.batch.collection.check_character)
    product = fields.Function(lambda d: d.batch.product.code)
    product_code = fields.Method("_product_code")
    division = fields.String()
    status = fields.String()
    cells = fields.Integer()
    volume_ml = fields.Float()
    container = fields.String()
    storage_temperature = fields.String()
    expires_at = fields.DateTime()
    effective_expires_at = fields.DateTime(metadata={
        "description": "the post-thaw expiry when it is earlier than expires_at"})
    cryopreserved = fields.Boolean()
    thawed_at = fields.DateTime(allow_none=True)
    post_thaw_expires_at = fields.DateTime(allow_none=True)
    cells_per_kg = fields.Float(allow_none=True, metadata={
        "description": "cells per kg of the intended recipient (when the batch records the "
                       "weight)"})
    segregated_storage = fields.Boolean(dump_only=True, metadata={
        "description": "true when the batch is a reactive autologous product (SPEC §2)"})
    segregated_storage_note = fields.String(dump_only=True, allow_none=True)
    formulated_at = fields.DateTime()
    formulated_by = fields.Function(lambda d: d.formulated_by.username)
    chain_of_identity = fields.Function(lambda d: d.batch.collection.chain_of_identity)
    quarantined = fields.Method("_quarantined")
    blocked_reasons = fields.Method("_blocked_reasons", metadata={
        "description": "why the dose may not be shipped or given now (empty: it may)"})
    barcodes = fields.Method("_barcodes")
    custody = fields.List(fields.Nested(CustodyEventSchema), attribute="custody_events")

    @ma.post_dump(pass_original=True)
    def _segregated_storage(self, data: dict[str, Any], dose, **_kwargs) -> dict[str, Any]:
        testing = autologous_testing_out(dose.batch)
        return {**data, "segregated_storage": testing["segregated_storage"],
                "segregated_storage_note": testing["segregated_storage_note"]}

    def _blocked_reasons(self, dose) -> list[str]:
        from batches.custody import dose_blocks

        return dose_blocks(dose)

    def _product_code(self, dose) -> str:
        from batches.doses import product_text

        return product_text(dose)

    def _barcodes(self, dose) -> dict[str, str]:
        from batches.doses import barcode_texts

        return barcode_texts(dose)

    def _quarantined(self, dose) -> bool:
        return dose.batch.status != BatchStatus.released


class TemplateRuleOutSchema(StrictSchema):
    after_step = fields.String()
    next_step = fields.String()
    interval_hours = fields.Integer()
    grace_hours = fields.Integer()


class TemplateSchema(StrictSchema):
    id = fields.Integer()
    product = fields.Function(lambda t: t.product.code)
    version = fields.Integer()
    name = fields.String()
    max_passage = fields.Integer(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()
    rules = fields.List(fields.Nested(TemplateRuleOutSchema))


class ProductSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    description_code = fields.String()
    storage_temperature = fields.String()
    shelf_life_hours = fields.Integer()
    default_container = fields.String()
    active = fields.Boolean()
    cryopreserved = fields.Boolean()
    post_thaw_expiry_hours = fields.Integer()


class DueStepSchema(StepSchema):
    batch_number = fields.Function(lambda s: s.batch.batch_number)


class ChangeItemSchema(StrictSchema):
    item = fields.String(metadata={"description": "the test, rule or setting changed"})
    change = fields.String(metadata={"description": "what changes, in words"})
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)
    effect = fields.String(metadata={"description": " | ".join(e.value for e in Effect)})
    weakens = fields.Boolean(metadata={"description": "the item loosens control (a release "
                                                      "test removed, a limit loosened…)"})


class ChangeSchema(StrictSchema):
    """A change of a controlled document (issue 12) and what it does against the version it
    was proposed against."""

    id = fields.Integer()
    kind = fields.String()
    product = fields.String()
    status = fields.String(metadata={"description": " | ".join(s.value for s in ChangeStatus)})
    base_version = fields.Integer(allow_none=True, metadata={
        "description": "the version in force when the change was proposed"})
    version_in_force = fields.Integer(allow_none=True)
    stale = fields.Boolean(metadata={"description": "open, but another version took effect "
                                                    "since it was proposed: cannot be approved"})
    result_version = fields.Integer(allow_none=True, metadata={
        "description": "the version it became, once approved"})
    reason = fields.String()
    proposed_by = fields.String()
    proposed_by_name = fields.String()
    proposed_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    signature = fields.Nested(SignatureSchema, allow_none=True)
    signature_holds = fields.Boolean(allow_none=True, metadata={
        "description": "the decision's signature still matches the change as recorded "
                       "(null before a signed decision)"})
    changes = fields.List(fields.Nested(ChangeItemSchema))
    weakening = fields.Boolean(metadata={"description": "at least one item weakens control"})
    digest = fields.String(metadata={"description": "SHA-256 of what a decision signs"})


class TemplateContentSchema(StrictSchema):
    name = fields.String()
    max_passage = fields.Integer(allow_none=True)
    rules = fields.List(fields.Nested(TemplateRuleOutSchema))


class TemplateChangeSchema(ChangeSchema):
    content = fields.Nested(TemplateContentSchema, metadata={
        "description": "the whole proposed version"})


# -- look-back, donor history (SPEC §2, §3b) ---------------------------------------------------


PartialMarkersSchema = type("PartialMarkersSchema", (StrictSchema,),
                           {m: one_of(MarkerResult) for m in MARKERS})
"""Some markers of SPEC §2 (those a correction changes)."""


class MarkerCorrectionCreateSchema(CorrectionSchema):
    markers = fields.Nested(PartialMarkersSchema, required=True, metadata={
        "description": "the corrected markers only, each negative | reactive | pending"})

    @ma.validates_schema
    def names_a_marker(self, data: dict[str, Any], **_kwargs) -> None:
        if not data.get("markers"):
            raise ma.ValidationError("name at least one marker to correct", "markers")


class MarkerCorrectionSchema(StrictSchema):
    id = fields.Integer()
    screening_id = fields.Integer()
    changes = fields.Function(lambda c: {m: {"recorded": old, "corrected": new}
                                         for m, (old, new) in c.marker_changes.items()})
    reason = fields.String()
    status = fields.String(metadata={"description": "pending (does not count yet) | verified"})
    corrected_by = fields.Function(lambda c: c.corrected_by.username)
    corrected_at = fields.DateTime()
    verified_by = fields.Function(lambda c: c.verified_by.username if c.verified_by else None)
    verified_at = fields.DateTime(allow_none=True)


class DonorScreeningHistorySchema(DonorScreeningOutSchema):
    subject_id = fields.Integer()
    corrections = fields.Method("_corrections")

    def _corrections(self, screening) -> list[dict[str, Any]]:
        from batches.screening import marker_corrections

        return MarkerCorrectionSchema(many=True).dump(marker_corrections(screening))


class HistoryQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    after = fields.Integer(load_default=0, validate=validate.Range(0, 2**31 - 1),
                           metadata={"description": "the last id of the previous page"})


class WhoSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()


class LookbackCollectionSchema(StrictSchema):
    id = fields.Integer()
    din = fields.String()
    source = fields.String()
    collected_at = fields.DateTime()
    subject_id = fields.Integer()
    subject_code = fields.String()


class LookbackBatchSchema(StrictSchema):
    id = fields.Integer()
    batch_number = fields.String()
    status = fields.String()
    product = fields.String()
    origin = fields.String()
    collection_id = fields.Integer()
    recipient = fields.Nested(WhoSchema)


class LookbackDoseSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    status = fields.String()
    batch_id = fields.Integer()
    batch_number = fields.String()
    location = fields.String(allow_none=True, metadata={"description": "last custody location"})
    holder = fields.String(allow_none=True, metadata={"description": "who holds it"})
    last_event = fields.String(allow_none=True)
    recipient = fields.Nested(WhoSchema)


class LookbackSchema(StrictSchema):
    source = fields.String(metadata={"description": "subject | collection | qc_result | …"})
    source_id = fields.Integer()
    label = fields.String()
    collections = fields.List(fields.Nested(LookbackCollectionSchema))
    batches = fields.List(fields.Nested(LookbackBatchSchema))
    doses = fields.List(fields.Nested(LookbackDoseSchema))
