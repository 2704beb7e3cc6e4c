"""Bench-terminal pages: subjects, collections, batches, culture steps, doses, today's work.

Forms are plain HTML forms with the CSRF token, parsed by the same marshmallow
schemas as the API (:func:`parse_form`); each POST calls one service. A refusal
re-renders the page with the reasons and the refusal's status code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from marshmallow import fields

from batches import services
from batches.batch_records import quarantine_reasons
from batches.common import facility_tz
from batches.culture import current_passage, is_due, step_state
from batches.lifecycle import BatchStatus, step_refusals
from batches.models import (
    CONTRAINDICATIONS,
    MARKERS,
    MarkerResult,
    Origin,
    Source,
    StepType,
    SubjectKind,
)
from batches.schemas import (
    BatchCreateSchema,
    CollectionCreateSchema,
    DonorScreeningSchema,
    FormulationSchema,
    ReasonSchema,
    RecipientScreeningSchema,
    SignatureInputSchema,
    StepCreateSchema,
    SubjectCreateSchema,
    TemplateRevisionSchema,
)
from lims import clock
from lims.auth import current_actor_user, role_required
from lims.errors import DomainError
from lims.extension_points import resolve_scan

bp = Blueprint("batches", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/batches")

WRITERS = ("technician", "qa")
STEP_LABELS = {
    "seeding": "Seeding", "media_change": "Media change", "feeding": "Feeding",
    "passage": "Passage", "harvest": "Harvest", "cryopreservation": "Cryopreservation",
}


# -- form parsing ------------------------------------------------------------------------


def _local_iso(value: str) -> str:
    """A ``datetime-local`` value (no offset) is the facility's wall-clock time."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=facility_tz())
    return parsed.isoformat()


def _convert(field: fields.Field, value: str) -> Any:
    try:
        if isinstance(field, fields.Integer):
            return int(value)
        if isinstance(field, fields.Float):
            return float(value)
    except ValueError:
        return value
    if isinstance(field, fields.AwareDateTime):
        return _local_iso(value)
    return value


def parse_form(schema: ma.Schema, *, only: set[str] | None = None,
               overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Form → ``(data, errors)`` through the API's schema; blank fields count as absent."""
    raw: dict[str, Any] = {}
    for name, field in schema.fields.items():
        if only is not None and name not in only:
            continue
        if isinstance(field, fields.List):
            raw[name] = [v for v in request.form.getlist(name) if v.strip()]
            continue
        if isinstance(field, fields.Nested):
            nested = {k: request.form[f"{name}.{k}"] for k in field.schema.fields
                      if request.form.get(f"{name}.{k}", "").strip()}
            raw[name] = nested
            continue
        value = request.form.get(name, "").strip()
        if value:
            raw[name] = _convert(field, value)
    raw.update(overrides or {})
    try:
        return schema.load(raw), {}
    except ma.ValidationError as invalid:
        return {}, invalid.messages  # type: ignore[return-value]


def _require_writer() -> None:
    """The role check of a page whose GET is open to all and whose POST writes GMP data."""
    role_required(*WRITERS)(lambda: None)()


def _refused(refusal: DomainError) -> int:
    flash(refusal.message, "error")
    for reason in refusal.details.get("reasons", []):
        flash(reason, "error")
    for field, problem in refusal.details.get("fields", {}).items():
        flash(f"{field}: {problem}", "error")
    return refusal.status


def _local(value: datetime | None) -> str:
    return value.astimezone(facility_tz()).strftime("%Y-%m-%d %H:%M") if value else ""


def _now_local_input() -> str:
    return clock.utcnow().astimezone(facility_tz()).strftime("%Y-%m-%dT%H:%M")


@bp.app_template_filter("local")
def local_filter(value: datetime | None) -> str:
    return _local(value)


@bp.app_template_filter("label")
def label_filter(value: str | None) -> str:
    return (value or "").replace("_", " ")


@bp.app_template_global("status_badge")
def status_badge(status: str | None) -> Markup:
    tone = {"cleared": "good", "eligible": "good", "released": "good", "done": "good",
            "contraindicated": "bad", "ineligible": "bad", "rejected": "bad", "overdue": "bad",
            "on_hold": "warn", "incomplete": "warn", "unscreened": "warn", "pending": "",
            "qc_review": "warn", "quarantined": "warn", "cancelled": ""}.get(status or "", "")
    css = f"badge badge-{tone}" if tone else "badge"
    return Markup('<span class="{}" data-status="{}">{}</span>').format(
        css, status or "", label_filter(status))


# -- today's work ----------------------------------------------------------------------


def _due_rows() -> list[dict[str, Any]]:
    now = clock.utcnow()
    return [{"step": step, "state": step_state(step, now), "due": is_due(step, now)}
            for step in services.due_steps()]


def work_today_panel(user) -> str | None:
    """Dashboard panel: the culture steps due today (SPEC §7 bench terminal)."""
    return render_template("batches/_today_panel.html", rows=_due_rows())


@bp.route("/today")
def work_today():
    return render_template("batches/today.html", rows=_due_rows())


# -- subjects and screening --------------------------------------------------------------


@bp.route("/subjects", methods=["GET", "POST"])
def subject_list():
    errors: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        _require_writer()
        data, errors = parse_form(SubjectCreateSchema())
        if not errors:
            try:
                subject = services.register_subject(data, current_actor_user())
            except DomainError as refusal:
                status = _refused(refusal)
            else:
                flash(f"{subject.kind.title()} {subject.code} registered.", "success")
                return redirect(url_for("batches.subject_page", subject_id=subject.id))
        else:
            status = 400
    kind = request.args.get("kind") if request.args.get("kind") in SubjectKind.__members__ \
        else None
    return render_template("batches/subjects.html", subjects=services.list_subjects(kind=kind),
                           errors=errors, form=request.form, kinds=list(SubjectKind)), status


def _subject_page(subject_id: int, status: int = 200, errors: dict | None = None):
    subject = services.get_subject(subject_id)
    from batches.collections import list_collections

    return render_template(
        "batches/subject.html", subject=subject, errors=errors or {}, form=request.form,
        recipient_screening=services.latest_recipient_screening(subject),
        donor_screening=services.latest_donor_screening(subject),
        collections=list_collections(subject_id=subject.id),
        contraindications=CONTRAINDICATIONS, markers=MARKERS,
        marker_results=list(MarkerResult), now_local=_now_local_input()), status


@bp.route("/subjects/<int:subject_id>")
def subject_page(subject_id: int):
    return _subject_page(subject_id)


@bp.route("/subjects/<int:subject_id>/recipient-screening", methods=["POST"])
@role_required(*WRITERS)
def recipient_screening(subject_id: int):
    subject = services.get_subject(subject_id)
    data, errors = parse_form(RecipientScreeningSchema())
    if errors:
        return _subject_page(subject_id, 400, errors)
    try:
        services.screen_recipient(subject, data["contraindications"], current_actor_user())
    except DomainError as refusal:
        return _subject_page(subject_id, _refused(refusal))
    flash(f"Recipient screening recorded: {subject.recipient_status}.", "success")
    return redirect(url_for("batches.subject_page", subject_id=subject_id))


@bp.route("/subjects/<int:subject_id>/donor-screening", methods=["POST"])
@role_required(*WRITERS)
def donor_screening(subject_id: int):
    subject = services.get_subject(subject_id)
    data, errors = parse_form(DonorScreeningSchema())
    if errors:
        return _subject_page(subject_id, 400, errors)
    try:
        services.screen_donor(subject, data["specimen_collected_at"], data["markers"],
                              current_actor_user())
    except DomainError as refusal:
        return _subject_page(subject_id, _refused(refusal))
    flash(f"Donor screening recorded: {subject.donor_status}.", "success")
    return redirect(url_for("batches.subject_page", subject_id=subject_id))


@bp.route("/subjects/<int:subject_id>/donor-eligibility", methods=["POST"])
@role_required("qa")
def donor_eligibility(subject_id: int):
    subject = services.get_subject(subject_id)
    data, errors = parse_form(SignatureInputSchema())
    if errors:
        return _subject_page(subject_id, 400, errors)
    try:
        services.determine_eligibility(subject, data["password"], data["meaning"],
                                       current_actor_user())
    except DomainError as refusal:
        return _subject_page(subject_id, _refused(refusal))
    flash(f"Donor {subject.code} signed eligible.", "success")
    return redirect(url_for("batches.subject_page", subject_id=subject_id))


# -- collections ---------------------------------------------------------------------------


@bp.route("/collections", methods=["GET", "POST"])
def collection_list():
    errors: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        _require_writer()
        data, errors = parse_form(CollectionCreateSchema())
        if not errors:
            try:
                collection = services.register_collection(data, current_actor_user())
            except DomainError as refusal:
                status = _refused(refusal)
            else:
                flash(f"Collection registered: DIN {collection.din} "
                      f"(check character {collection.check_character}).", "success")
                return redirect(url_for("batches.collection_page",
                                        collection_id=collection.id))
        else:
            status = 400
    return render_template("batches/collections.html",
                           collections=services.list_collections(),
                           subjects=services.list_subjects(), sources=list(Source),
                           errors=errors, form=request.form,
                           preset_subject=request.args.get("subject_id", ""),
                           now_local=_now_local_input()), status


@bp.route("/collections/<int:collection_id>")
def collection_page(collection_id: int):
    from sqlalchemy import select

    from batches.models import Batch
    from lims.db import db

    collection = services.get_collection(collection_id)
    batches = list(db.session.scalars(select(Batch).where(Batch.collection_id == collection.id)))
    return render_template("batches/collection.html", collection=collection, batches=batches,
                           custody=services.custody_events(collection=collection))


# -- batches -----------------------------------------------------------------------------


@bp.route("/batches", methods=["GET", "POST"])
def batch_list():
    errors: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        _require_writer()
        overrides, errors = _scanned_collection()
        if not errors:
            data, errors = parse_form(BatchCreateSchema(), overrides=overrides)
        if not errors:
            try:
                batch = services.register_batch(data, current_actor_user())
            except DomainError as refusal:
                status = _refused(refusal)
            else:
                flash(f"Batch {batch.batch_number} registered.", "success")
                return redirect(url_for("batches.batch_page", batch_id=batch.id))
        else:
            status = 400
    wanted = request.args.get("status")
    wanted = wanted if wanted in BatchStatus.__members__ else None
    return render_template("batches/batches.html", batches=services.list_batches(status=wanted),
                           statuses=list(BatchStatus), wanted=wanted,
                           collections=services.list_collections(),
                           patients=services.list_subjects(kind="patient"),
                           products=[p for p in services.list_products() if p.active],
                           origins=list(Origin), errors=errors, form=request.form,
                           preset_collection=request.args.get("collection_id", ""),
                           quarantine_reasons=quarantine_reasons), status


def _scanned_collection() -> tuple[dict[str, Any], dict[str, Any]]:
    """The collection scanned into the registration form (its DIN label), if any."""
    scanned = request.form.get("collection_scan", "").strip()[:500]
    if not scanned or request.form.get("collection_id"):
        return {}, {}
    hit = resolve_scan(scanned)
    if hit is None or hit.type != "collection":
        return {}, {"collection_scan": [f"no collection is known by {scanned!r}"]}
    return {"collection_id": hit.id}, {}


def _batch_page(batch_id: int, status: int = 200, errors: dict | None = None):
    batch = services.get_batch(batch_id)
    now = clock.utcnow()
    steps = [{"step": s, "state": step_state(s, now), "due": is_due(s, now)}
             for s in services.list_steps(batch)]
    return render_template(
        "batches/batch.html", batch=batch, steps=steps, errors=errors or {},
        quarantine=quarantine_reasons(batch), doses=batch.doses, form=request.form,
        step_types=_step_buttons(batch), passage=current_passage(batch)), status


def _step_buttons(batch) -> list[dict[str, Any]]:
    return [{"type": t.value, "label": STEP_LABELS[t.value],
             "refusals": step_refusals(t.value, batch.status,
                                       before_hold=batch.status_before_hold)}
            for t in StepType]


@bp.route("/batches/<int:batch_id>")
def batch_page(batch_id: int):
    return _batch_page(batch_id)


@bp.route("/batches/<int:batch_id>/hold", methods=["POST"])
@role_required(*WRITERS)
def hold(batch_id: int):
    data, errors = parse_form(ReasonSchema())
    if errors:
        return _batch_page(batch_id, 400, errors)
    try:
        services.hold_batch(services.get_batch(batch_id), data["reason"], current_actor_user())
    except DomainError as refusal:
        return _batch_page(batch_id, _refused(refusal))
    flash("The batch is on hold.", "success")
    return redirect(url_for("batches.batch_page", batch_id=batch_id))


@bp.route("/batches/<int:batch_id>/resume", methods=["POST"])
@role_required("qa")
def resume(batch_id: int):
    data, errors = parse_form(ReasonSchema())
    if errors:
        return _batch_page(batch_id, 400, errors)
    try:
        services.resume_batch(services.get_batch(batch_id), data["reason"], current_actor_user())
    except DomainError as refusal:
        return _batch_page(batch_id, _refused(refusal))
    flash("The batch is resumed.", "success")
    return redirect(url_for("batches.batch_page", batch_id=batch_id))


@bp.route("/batches/<int:batch_id>/doses", methods=["POST"])
@role_required(*WRITERS)
def formulate(batch_id: int):
    data, errors = parse_form(FormulationSchema())
    if errors:
        return _batch_page(batch_id, 400, errors)
    try:
        doses = services.formulate(services.get_batch(batch_id), data, current_actor_user())
    except DomainError as refusal:
        return _batch_page(batch_id, _refused(refusal))
    flash(f"{len(doses)} doses formulated; the batch is in QC review.", "success")
    return redirect(url_for("batches.batch_page", batch_id=batch_id))


@bp.route("/batches/<int:batch_id>/steps/new", methods=["GET", "POST"])
def step_form(batch_id: int):
    """One screen per step type: big type buttons, then the few fields it needs."""
    batch = services.get_batch(batch_id)
    step_type = request.values.get("type")
    step_type = step_type if step_type in StepType.__members__ else None
    errors: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        _require_writer()
        data, errors = parse_form(StepCreateSchema())
        if not errors:
            try:
                step = services.log_step(batch, data, current_actor_user())
            except DomainError as refusal:
                status = _refused(refusal)
            else:
                late = " (late entry)" if step.late_entry else ""
                flash(f"{STEP_LABELS[step.type]} logged{late}.", "success")
                return redirect(url_for("batches.batch_page", batch_id=batch.id))
        else:
            status = 400
    return render_template("batches/step_form.html", batch=batch, step_type=step_type,
                           step_types=_step_buttons(batch), labels=STEP_LABELS,
                           errors=errors, form=request.form, now_local=_now_local_input(),
                           next_passage=current_passage(batch) + 1,
                           max_passage=batch.template.max_passage), status


# -- doses ---------------------------------------------------------------------------------


@bp.route("/doses/<int:dose_id>")
def dose_page(dose_id: int):
    dose = services.get_dose(dose_id)
    return render_template("batches/dose.html", dose=dose, barcodes=services.barcode_texts(dose),
                           custody=services.custody_events(dose=dose))


# -- templates -----------------------------------------------------------------------------


@bp.route("/templates")
def template_list():
    return render_template("batches/templates.html", templates=services.list_templates(),
                           products=services.list_products(), steps=list(StepType), errors={})


@bp.route("/templates/<int:template_id>/revise", methods=["POST"])
@role_required("admin")
def revise_template(template_id: int):
    template = services.get_template(template_id)
    rules = []
    for index in range(len(template.rules) + 1):
        row = {key: request.form.get(f"rules-{index}-{key}", "").strip()
               for key in ("after_step", "next_step", "interval_hours", "grace_hours")}
        if row["after_step"] and row["next_step"]:
            rules.append({k: (int(v) if k.endswith("hours") and v.isdigit() else v)
                          for k, v in row.items()})
    raw: dict[str, Any] = {"reason": request.form.get("reason", "").strip(), "rules": rules}
    max_passage = request.form.get("max_passage", "").strip()
    raw["max_passage"] = int(max_passage) if max_passage.isdigit() else (max_passage or None)
    status = 200
    try:
        data = TemplateRevisionSchema().load(raw)
    except ma.ValidationError as invalid:
        errors = invalid.messages
        status = 400
    else:
        reason = data.pop("reason")
        try:
            revised = services.revise_template(template, data, reason, current_actor_user())
        except DomainError as refusal:
            status = _refused(refusal)
            errors = {}
        else:
            flash(f"{revised.name}: version {revised.version} is now active.", "success")
            return redirect(url_for("batches.template_list"))
    return render_template("batches/templates.html", templates=services.list_templates(),
                           products=services.list_products(), steps=list(StepType),
                           errors=errors), status


# -- custody at the bench and at receipt; administration at the bedside ----------------------


@bp.app_template_global("has_endpoint")
def has_endpoint(endpoint: str) -> bool:
    """Whether a (possibly optional) feature page exists, e.g. ``labels.dose_label_pdf``."""
    from flask import current_app

    return endpoint in current_app.view_functions


EVENT_LABELS = {"retrieved": "Retrieved from storage", "stored": "Put into storage",
                "shipped": "Handed to courier", "delivered": "Delivered",
                "received": "Received", "thawed": "Thawed", "disposed": "Disposed"}


@bp.route("/custody")
def custody_scan():
    """Scan a dose label → that dose's custody form (SPEC §5 handoff at the bench/receipt)."""
    code = request.args.get("code", "").strip()[:500]
    status = 200
    if code:
        hit = resolve_scan(code)
        if hit is not None and hit.type == "dose":
            return redirect(url_for("batches.dose_custody", dose_id=hit.id))
        flash(f"{code!r} is not a dose label: scan the dose label's 2-D code." if hit is None
              else f"That is a {hit.type} ({hit.label}), not a dose: scan the dose label.",
              "error")
        status = 404
    return render_template("batches/custody_scan.html"), status


def _custody_page(dose_id: int, status: int = 200, errors: dict | None = None,
                  refusal: DomainError | None = None):
    from batches.custody import last_event
    from batches.custody_rules import HANDOFF_EVENTS, allowed_next

    dose = services.get_dose(dose_id)
    last = last_event(dose)
    allowed = allowed_next(last.event if last else None)
    events = [{"event": e, "label": EVENT_LABELS[e], "allowed": e in allowed}
              for e in HANDOFF_EVENTS]
    return render_template("batches/custody.html", dose=dose, last=last, events=events,
                           custody=services.custody_events(dose=dose), errors=errors or {},
                           refusal=refusal, form=request.form,
                           now_local=_now_local_input()), status


@bp.route("/doses/<int:dose_id>/custody", methods=["GET", "POST"])
def dose_custody(dose_id: int):
    """One screen: event, location, temperature; re-scan the label to confirm (SPEC §5)."""
    if request.method == "GET":
        return _custody_page(dose_id)
    _require_writer()
    from batches.schemas import CustodyEventCreateSchema

    data, errors = parse_form(CustodyEventCreateSchema())
    if errors:
        return _custody_page(dose_id, 400, errors)
    if request.form.get("occurred_at", "").strip() == request.form.get("occurred_at_shown"):
        # The time field was left as pre-filled (now, to the minute): the handoff happens
        # now, not at the start of the minute — which may be before the dose's last event.
        data.pop("occurred_at", None)
    dose = services.get_dose(dose_id)
    try:
        event = services.record_custody_event(dose, data, current_actor_user())
    except DomainError as refusal:
        return _custody_page(dose_id, refusal.status, refusal=refusal)
    late = " (late entry)" if event.late_entry else ""
    flash(f"{EVENT_LABELS[event.event]}: dose {dose.code} at {event.to_location}{late}.",
          "success")
    return redirect(url_for("batches.custody_scan"))


@bp.route("/bedside", methods=["GET", "POST"])
def bedside():
    """Bedside check (SPEC §5): scan the dose, scan or type the patient code and date of
    birth, confirm. A mismatch is shown on the page and refused (409)."""
    errors: dict[str, Any] = {}
    refusal: DomainError | None = None
    dose = None
    status = 200
    if request.method == "POST":
        _require_writer()
        from batches.schemas import AdministrationSchema

        data, errors = parse_form(AdministrationSchema())
        if errors:
            status = 400
        else:
            hit = resolve_scan(data["scanned_code"])
            if hit is None or hit.type != "dose":
                errors = {"scanned_code": ["not a dose label: scan the dose label's 2-D code"]}
                status = 400
            else:
                dose = services.get_dose(hit.id)
                try:
                    services.administer_dose(dose, data, current_actor_user())
                except DomainError as refused:
                    refusal, status = refused, refused.status
                else:
                    flash(f"Identity verified. Dose {dose.code} recorded as administered to "
                          f"{dose.batch.recipient.code}.", "success")
                    return redirect(url_for("batches.dose_page", dose_id=dose.id))
    return render_template("batches/bedside.html", errors=errors, refusal=refusal, dose=dose,
                           form=request.form), status
