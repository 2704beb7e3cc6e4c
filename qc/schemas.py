"""Validation of qc input (JSON and forms alike) and the shapes of its answers (SPEC §7)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from batches.schemas import ChangeQuerySchema, ChangeSchema, StrictFloat, when
from lims.auth.models import Meaning
from lims.auth.schemas import SignatureSchema, SignerInputSchema, meaning_field
from lims.schemas import CorrectionSchema, RecordedTime, StrictSchema, text
from qc import signing_acts
from qc.evaluation import OUTCOMES
from qc.models import (
    Comparator,
    CriterionKind,
    Disposition,
    NotificationKind,
    NotificationMethod,
    Stage,
    Timing,
)
from qc.spec_diff import criterion_text

TEST_CODE = validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$",
                            error="2–40 lower-case letters, digits or underscores")


# -- input -------------------------------------------------------------------------------


class ResultValuesSchema(StrictSchema):
    value = StrictFloat(allow_none=True)
    unit = fields.String(allow_none=True, validate=validate.Length(1, 20))
    outcome = fields.String(allow_none=True, validate=validate.OneOf(OUTCOMES))
    method = text(200, required=False)
    instrument = text(200, required=False)
    sampled_at = RecordedTime()


class ResultCreateSchema(ResultValuesSchema):
    test = fields.String(required=True, validate=TEST_CODE)
    stage = fields.String(validate=validate.OneOf([s.value for s in Stage]))
    notes = text(2000, required=False)


class ResultCorrectionSchema(CorrectionSchema, ResultValuesSchema):
    """Corrected values with the reason the correction needs (SPEC §8)."""


class EmptySchema(StrictSchema):
    """No body fields (a review is the reviewer's authenticated act)."""


class DeviationCreateSchema(StrictSchema):
    description = text(2000)


class InvestigationSchema(StrictSchema):
    investigation = text(10000)


class DeviationCloseSchema(SignerInputSchema):
    disposition = text(2000)
    meaning = meaning_field(signing_acts.meanings(signing_acts.DEVIATION_CLOSURE),
                            default=Meaning.approval)


class DeviationQuerySchema(StrictSchema):
    open = fields.Boolean()


class ReleaseSchema(SignerInputSchema):
    meaning = meaning_field(signing_acts.meanings(signing_acts.RELEASE))


class RejectSchema(SignerInputSchema):
    reason = text(2000)
    meaning = meaning_field(signing_acts.meanings(signing_acts.REJECTION),
                            default=Meaning.rejection)


class ExceptionalRequestSchema(SignerInputSchema):
    meaning = meaning_field(signing_acts.meanings(signing_acts.EXCEPTIONAL_REQUEST),
                            default=Meaning.approval)
    physician_name = text(200)
    physician_request = text(4000)


class ExceptionalApproveSchema(SignerInputSchema):
    meaning = meaning_field(signing_acts.meanings(signing_acts.EXCEPTIONAL_APPROVAL),
                            default=Meaning.approval)


class SpecTestInSchema(StrictSchema):
    test = fields.String(required=True, validate=TEST_CODE)
    name = text(200)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in CriterionKind]))
    comparator = fields.String(allow_none=True,
                               validate=validate.OneOf([c.value for c in Comparator]))
    limit_value = StrictFloat(allow_none=True)
    unit = fields.String(allow_none=True, validate=validate.Length(1, 20))
    expected_outcome = fields.String(allow_none=True, validate=validate.OneOf(OUTCOMES))
    timing = fields.String(load_default=Timing.release.value,
                           validate=validate.OneOf([t.value for t in Timing]), metadata={
                               "description": "release (resulted before release, a release "
                                              "condition) | follow_up (resulted after it)"})

    @ma.validates_schema
    def criterion_fits_kind(self, data: dict[str, Any], **_kwargs) -> None:
        numeric = ("comparator", "limit_value", "unit")
        if data["kind"] == CriterionKind.numeric:
            missing = [k for k in numeric if data.get(k) is None]
            if missing or data.get("expected_outcome") is not None:
                raise ma.ValidationError("a numeric test needs comparator, limit_value and "
                                         "unit, and no expected_outcome", "kind")
        elif data.get("expected_outcome") is None or any(data.get(k) is not None
                                                         for k in numeric):
            raise ma.ValidationError("a qualitative test needs expected_outcome only", "kind")


class SpecRevisionSchema(StrictSchema):
    reason = text(1000)
    tests = fields.List(fields.Nested(SpecTestInSchema), required=True,
                        validate=validate.Length(1, 60))


class SpecChangeCreateSchema(SpecRevisionSchema):
    """A proposed new version of the (product, stage) specification: every test it will
    have."""

    product = fields.String(required=True, validate=validate.Length(1, 10))
    stage = fields.String(required=True, validate=validate.OneOf([s.value for s in Stage]))


class SpecChangeQuerySchema(ChangeQuerySchema):
    stage = fields.String(validate=validate.OneOf([s.value for s in Stage]))


class SpecQuerySchema(StrictSchema):
    product = fields.String(validate=validate.Length(1, 10))
    current = fields.Boolean(load_default=False)


# -- output ------------------------------------------------------------------------------


class SpecTestSchema(StrictSchema):
    test = fields.String()
    name = fields.String()
    kind = fields.String()
    comparator = fields.String(allow_none=True)
    limit_value = fields.Float(allow_none=True)
    unit = fields.String(allow_none=True)
    expected_outcome = fields.String(allow_none=True)
    timing = fields.String()
    criterion = fields.String(attribute="criterion_text")


class SpecificationSchema(StrictSchema):
    id = fields.Integer()
    product = fields.Function(lambda s: s.product.code)
    stage = fields.String()
    version = fields.Integer()
    effective_from = fields.DateTime()
    change_reason = fields.String(allow_none=True)
    tests = fields.List(fields.Nested(SpecTestSchema))


class SpecTestContentSchema(SpecTestInSchema):
    """One test of a proposed specification version (the fields a proposal gives)."""

    criterion = fields.Function(lambda t: criterion_text(t), dump_only=True)


class SpecContentSchema(StrictSchema):
    tests = fields.List(fields.Nested(SpecTestContentSchema))


class SpecChangeSchema(ChangeSchema):
    stage = fields.String()
    content = fields.Nested(SpecContentSchema, metadata={
        "description": "the whole proposed version"})


def _username(user) -> str | None:
    return user.username if user is not None else None


class QcResultSchema(StrictSchema):
    id = fields.Integer()
    batch_id = fields.Integer()
    test = fields.String()
    stage = fields.String()
    value = fields.Float(allow_none=True)
    unit = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    evaluation = fields.String(metadata={"description": "pass | fail"})
    criterion = fields.Function(lambda r: r.spec_test.criterion_text)
    specification_version = fields.Function(lambda r: r.spec_test.specification.version)
    method = fields.String(allow_none=True)
    instrument = fields.String(allow_none=True)
    sampled_at = fields.DateTime(allow_none=True)
    notes = fields.String(allow_none=True)
    analyst = fields.Function(lambda r: r.analyst.username)
    recorded_at = fields.DateTime()
    after_release = fields.Boolean()
    corrected = fields.Boolean()
    corrected_by = fields.Function(lambda r: _username(r.corrected_by))
    reviewed = fields.Function(lambda r: r.reviewed_at is not None)
    reviewed_by = fields.Function(lambda r: _username(r.reviewed_by))
    reviewed_at = fields.DateTime(allow_none=True)
    deviation_id = fields.Function(lambda r: r.deviations[-1].id if r.deviations else None)


class DeviationSchema(StrictSchema):
    id = fields.Integer()
    number = fields.Function(lambda d: f"DEV-{d.id}")
    batch_id = fields.Integer()
    batch_number = fields.Function(lambda d: d.batch.batch_number)
    kind = fields.String()
    status = fields.String()
    description = fields.String()
    qc_result_id = fields.Integer(allow_none=True)
    step_id = fields.Integer(allow_none=True)
    opened_by = fields.Function(lambda d: _username(d.opened_by) or "system")
    opened_at = fields.DateTime()
    investigation = fields.String(allow_none=True)
    disposition = fields.String(allow_none=True)
    closed_by = fields.Function(lambda d: _username(d.closed_by))
    closed_at = fields.DateTime(allow_none=True)
    closure_signature = fields.Nested(SignatureSchema, allow_none=True)


class SignatureInfoSchema(StrictSchema):
    signer = fields.String()
    printed_name = fields.String()
    meaning = fields.String()
    signed_at = fields.DateTime()
    statement = fields.String(allow_none=True)
    manifestation = fields.String()
    valid = fields.Boolean()


class FollowUpSchema(StrictSchema):
    """A pending item of an exceptional release that arrived, and the physician told."""

    id = fields.Integer()
    item = fields.String(metadata={"description": "sterility | donor_screening"})
    arrived_at = fields.DateTime()
    outcome = fields.String()
    failed = fields.Boolean()
    qc_result_id = fields.Integer(allow_none=True)
    donor_screening_id = fields.Integer(allow_none=True)
    physician_notified = fields.Function(lambda f: f.physician_notified_at is not None)
    physician_name = fields.String(allow_none=True)
    method = fields.String(allow_none=True)
    physician_notified_at = fields.DateTime(allow_none=True)
    notified_by = fields.Function(lambda f: _username(f.notified_by))
    notes = fields.String(allow_none=True)


class ExceptionalInfoSchema(StrictSchema):
    id = fields.Integer()
    status = fields.String()
    physician_name = fields.String()
    physician_request = fields.String()
    pending_items = fields.List(fields.String(), metadata={
        "description": "what was incomplete, as given to the physician"})
    requested_at = fields.DateTime()
    released_at = fields.DateTime(allow_none=True)
    follow_ups = fields.List(fields.Nested(FollowUpSchema))


class UnmetSchema(StrictSchema):
    condition = fields.Integer()
    reason = fields.String()


class ReleaseInfoSchema(StrictSchema):
    batch_id = fields.Integer()
    batch_number = fields.String()
    status = fields.String()
    released = fields.Boolean(metadata={"description": "released now (false while suspended "
                                                       "or recalled)"})
    rejected = fields.Boolean()
    signed = fields.Boolean(metadata={"description": "a release was signed at least once"})
    suspended = fields.Boolean()
    recalled = fields.Boolean()
    holds = fields.Boolean(metadata={"description": "released, and every signature holds"})
    suspended_because = fields.List(fields.String())
    urgent_medical_need = fields.Boolean()
    statement = fields.String(allow_none=True)
    signatures = fields.List(fields.Nested(SignatureInfoSchema))
    signature = fields.Nested(SignatureInfoSchema, allow_none=True)
    valid = fields.Boolean(allow_none=True)
    invalidated = fields.Boolean()
    exceptional_release = fields.Nested(ExceptionalInfoSchema, allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    doses_awaiting_disposal = fields.List(fields.String())
    unmet = fields.List(fields.Nested(UnmetSchema))


class QueueEntrySchema(StrictSchema):
    id = fields.Integer()
    batch_number = fields.String()
    product = fields.String()
    origin = fields.String()
    status = fields.String()
    registered_at = fields.DateTime()
    ready = fields.Boolean()
    unmet = fields.List(fields.Nested(UnmetSchema))


# -- recall (SPEC §3b) -------------------------------------------------------------------


class RecallSchema(SignerInputSchema):
    meaning = meaning_field(signing_acts.meanings(signing_acts.RECALL))
    reason = text(2000)


class RecallCloseSchema(SignerInputSchema):
    meaning = meaning_field(signing_acts.meanings(signing_acts.RECALL_CLOSURE))
    summary = text(4000, required=False)


class DispositionSchema(StrictSchema):
    disposition = fields.String(required=True, validate=validate.OneOf(
        [d.value for d in Disposition]), metadata={
            "description": "returned (received back at the processing facility) | disposed"})
    scanned_code = text(500, metadata={"description": "the dose label's Data Matrix as read"})
    location = text(200, required=False, metadata={
        "description": "disposed: where (default: where the dose is)"})
    to_person = text(200, required=False, metadata={"description": "returned: the receiver"})
    temperature_c = StrictFloat(validate=validate.Range(-273.15, 100))
    occurred_at = when()
    notes = text(1000, required=False, metadata={"description": "required when disposed"})

    @ma.validates_schema
    def disposal_has_reason(self, data: dict[str, Any], **_kwargs) -> None:
        if data["disposition"] == Disposition.disposed and not (data.get("notes") or "").strip():
            raise ma.ValidationError("say why the dose is disposed", "notes")


class NotificationCreateSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(
        [k.value for k in NotificationKind]), metadata={
            "description": "site (each site holding doses) | physician (of a dose given)"})
    site = text(200, required=False, metadata={"description": "required for a site"})
    dose_id = fields.Integer(strict=True, validate=validate.Range(1, 2**31 - 1), metadata={
        "description": "required for a physician: the administered dose"})
    recipient = text(200, metadata={"description": "who was told (name, role)"})
    method = fields.String(required=True, validate=validate.OneOf(
        [m.value for m in NotificationMethod]))
    notified_at = when()
    acknowledged_by = text(200, required=False)
    acknowledged_at = when()
    notes = text(2000, required=False)

    @ma.validates_schema
    def names_what_it_needs(self, data: dict[str, Any], **_kwargs) -> None:
        if data["kind"] == NotificationKind.site and not (data.get("site") or "").strip():
            raise ma.ValidationError("a site notification names the site", "site")
        if data["kind"] == NotificationKind.physician and data.get("dose_id") is None:
            raise ma.ValidationError("a physician notification names the dose", "dose_id")


class AcknowledgementSchema(StrictSchema):
    acknowledged_by = text(200)
    acknowledged_at = when()


class NotificationSchema(StrictSchema):
    id = fields.Integer()
    kind = fields.String()
    site = fields.String(allow_none=True)
    dose_id = fields.Integer(allow_none=True)
    recipient = fields.String()
    method = fields.String()
    notified_at = fields.DateTime()
    recorded_by = fields.Function(lambda n: n.recorded_by.username)
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)


class RecallDoseSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    status = fields.String(metadata={"description": "the dose's status now"})
    status_at_recall = fields.String()
    location = fields.String(allow_none=True, metadata={
        "description": "its last custody location when recalled"})
    holder = fields.String(allow_none=True, metadata={"description": "who held it then"})
    site = fields.String(allow_none=True, metadata={
        "description": "the site holding it (or where it was given) outside the facility"})
    administered = fields.Boolean()
    disposition = fields.String(allow_none=True, metadata={"description": "returned | disposed"})
    disposition_at = fields.DateTime(allow_none=True)
    custody_event_id = fields.Integer(allow_none=True)
    physician_notified = fields.Boolean()


class RecallRecordSchema(StrictSchema):
    id = fields.Integer()
    batch_id = fields.Integer()
    batch_number = fields.String()
    status = fields.String(metadata={"description": "the batch's status: recalled"})
    state = fields.String(metadata={"description": "open | closed"})
    reason = fields.String()
    recalled_at = fields.DateTime()
    signature = fields.Nested(SignatureSchema)
    closed_at = fields.DateTime(allow_none=True)
    closure_signature = fields.Nested(SignatureSchema, allow_none=True)
    closing_summary = fields.String(allow_none=True)
    doses = fields.List(fields.Nested(RecallDoseSchema))
    sites = fields.List(fields.String())
    notifications = fields.List(fields.Nested(NotificationSchema))
    missing = fields.List(fields.String(), metadata={
        "description": "what stands between the recall and its closure"})


class PhysicianNotificationSchema(StrictSchema):
    physician_name = text(200)
    method = fields.String(required=True, validate=validate.OneOf(
        [m.value for m in NotificationMethod]))
    notified_at = when()
    notes = text(2000, required=False)
