"""Bench-terminal pages: subjects, collections, batches, culture steps, doses, today's work.

Forms are plain HTML forms with the CSRF token; each POST hands its form to
:func:`lims.web.forms.submit` (parsed by the API's marshmallow schema, one service
called; a refusal shows the page again with the reasons and the refusal's status).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from batches import services, signing_acts
from batches.batch_records import (
    batch_autologous_testing,
    quarantine_reasons,
    segregated_storage_note,
    storage_note_of,
)
from batches.change_rules import ChangeKind, ChangeStatus
from batches.culture import current_passage, is_due, step_state
from batches.lifecycle import BatchStatus, step_refusals
from batches.models import (
    CONTRAINDICATIONS,
    MARKERS,
    CorrectionStatus,
    MarkerResult,
    Origin,
    Source,
    StepType,
    SubjectKind,
)
from batches.schemas import (
    AdministrationSchema,
    BatchCreateSchema,
    ChangeApprovalSchema,
    ChangeRejectionSchema,
    ChangeWithdrawalSchema,
    CollectionCreateSchema,
    CustodyEventCreateSchema,
    DonorScreeningSchema,
    EligibilitySchema,
    FormulationSchema,
    MarkerCorrectionCreateSchema,
    ReasonSchema,
    RecipientScreeningSchema,
    StepCreateSchema,
    SubjectCreateSchema,
    TemplateRevisionSchema,
)
from batches.screening import autologous_testing, autologous_testing_of
from lims import clock
from lims.auth import User, current_actor_user, role_required
from lims.errors import DomainError
from lims.extension_points import entity_url, resolve_scan
from lims.web.forms import Done, InvalidForm, now_local_input, require_role, submit

bp = Blueprint("batches", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/batches")

WRITERS = ("technician", "qa")
STEP_LABELS = {
    "seeding": "Seeding", "media_change": "Media change", "feeding": "Feeding",
    "passage": "Passage", "harvest": "Harvest", "cryopreservation": "Cryopreservation",
}


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


def _subjects_page(status: int = 200, errors: dict | None = None):
    kind = request.args.get("kind") if request.args.get("kind") in SubjectKind.__members__ \
        else None
    return render_template("batches/subjects.html", subjects=services.list_subjects(kind=kind),
                           errors=errors or {}, form=request.form,
                           kinds=list(SubjectKind)), status


@bp.route("/subjects", methods=["GET", "POST"])
def subject_list():
    return submit(SubjectCreateSchema(), services.register_subject, page=_subjects_page,
                  roles=WRITERS,
                  done=lambda subject: Done(f"{subject.kind.title()} {subject.code} registered.",
                                            _subject_url(subject.id)))


def _subject_url(subject_id: int) -> str:
    return url_for("batches.subject_page", subject_id=subject_id)


def _subject_page(subject_id: int, status: int = 200, errors: dict | None = None):
    subject = services.get_subject(subject_id)
    from batches.collections import list_collections

    return render_template(
        "batches/subject.html", subject=subject, errors=errors or {}, form=request.form,
        recipient_screening=services.latest_recipient_screening(subject),
        donor_screening=services.latest_donor_screening(subject),
        autologous_testing=autologous_testing(subject)
        if subject.kind == SubjectKind.patient else None,
        collections=list_collections(subject_id=subject.id),
        contraindications=CONTRAINDICATIONS, markers=MARKERS,
        marker_results=list(MarkerResult), now_local=now_local_input(),
        history=_donor_history(subject),
        eligibility_act=signing_acts.DONOR_ELIGIBILITY), status


HISTORY_PAGE = 20


def _donor_history(subject) -> dict[str, Any] | None:
    """The donor's screening history, oldest first, a page at a time (``?after=<last id>``),
    each row with its corrections and whether it is the row of its specimen that a
    correction may change (SPEC §2: results are a history)."""
    from batches.screening import marker_corrections, specimen_screenings

    if subject.kind != SubjectKind.donor:
        return None
    after = request.args.get("after", "0")
    rows = services.donor_screenings(subject, after=int(after) if after.isdigit() else 0,
                                     limit=HISTORY_PAGE)
    entries = []
    for row in rows:
        latest = specimen_screenings(subject, row.specimen_collected_at)[-1]
        corrections = marker_corrections(row)
        entries.append({"screening": row, "corrections": corrections,
                        "correctable": latest.id == row.id
                        and not any(c.status == CorrectionStatus.pending for c in corrections)})
    return {"entries": entries, "after": after if after.isdigit() and after != "0" else None,
            "next_after": rows[-1].id if len(rows) == HISTORY_PAGE else None}


@bp.route("/subjects/<int:subject_id>")
def subject_page(subject_id: int):
    return _subject_page(subject_id)


@bp.route("/subjects/<int:subject_id>/recipient-screening", methods=["POST"])
@role_required(*WRITERS)
def recipient_screening(subject_id: int):
    subject = services.get_subject(subject_id)
    return submit(RecipientScreeningSchema(), lambda data, user: services.screen_recipient(
                      subject, data["contraindications"], user),
                  done=lambda _: Done(f"Recipient screening recorded: {subject.recipient_status}.",
                                      _subject_url(subject_id)),
                  page=partial(_subject_page, subject_id))


@bp.route("/subjects/<int:subject_id>/donor-screening", methods=["POST"])
@role_required(*WRITERS)
def donor_screening(subject_id: int):
    subject = services.get_subject(subject_id)
    return submit(DonorScreeningSchema(), lambda data, user: services.screen_donor(
                      subject, data["specimen_collected_at"], data["markers"], user,
                      data["specimen_source"]),
                  done=lambda screening: Done(
                      f"Donor screening recorded: {subject.donor_status}."
                      if subject.kind == SubjectKind.donor else
                      "Infectious-disease testing recorded (autologous use): "
                      f"{autologous_testing_of(screening.markers).status}.",
                      _subject_url(subject_id)),
                  page=partial(_subject_page, subject_id))


@bp.route("/subjects/<int:subject_id>/donor-eligibility", methods=["POST"])
@role_required("qa")
def donor_eligibility(subject_id: int):
    subject = services.get_subject(subject_id)
    return submit(EligibilitySchema(), lambda data, user: services.determine_eligibility(
                      subject, data["password"], data["meaning"], user,
                      username=data.get("username")),
                  done=Done(f"Donor {subject.code} signed eligible.", _subject_url(subject_id)),
                  page=partial(_subject_page, subject_id))


@bp.route("/donor-screenings/<int:screening_id>/corrections", methods=["POST"])
@role_required(*WRITERS)
def correct_donor_markers(screening_id: int):
    """Correct recorded markers with a reason (SPEC §2); it counts once a second person
    verifies it."""
    screening = services.get_donor_screening(screening_id)
    return submit(MarkerCorrectionCreateSchema(), lambda data, user: (
                      services.correct_donor_markers(screening, data["markers"], data["reason"],
                                                     user)),
                  done=lambda correction: Done(
                      f"Correction #{correction.id} entered: it counts once a second person "
                      "verifies it.", _subject_url(screening.subject_id) + "#donor-history"),
                  page=partial(_subject_page, screening.subject_id))


@bp.route("/donor-marker-corrections/<int:correction_id>/verify", methods=["POST"])
@role_required(*WRITERS)
def verify_marker_correction(correction_id: int):
    """A second person verifies a marker correction (never whoever entered it: 409)."""
    correction = services.get_marker_correction(correction_id)
    subject_id = correction.screening.subject_id
    return submit(None, lambda _data, user: services.verify_marker_correction(correction, user),
                  done=Done(f"Correction #{correction_id} verified: the markers are changed.",
                            _subject_url(subject_id) + "#donor-history"),
                  page=partial(_subject_page, subject_id))


# -- look-back (SPEC §3b) ---------------------------------------------------------------------


def lookback_page(source: str, record_id: int, back: tuple[str, str]):
    """Every collection, batch and dose derived from one record, with status, location and
    recipient (:func:`batches.lookback.lookback_from`); ``back`` = (link text, URL)."""
    from batches.lookback import lookback_from

    return render_template("batches/lookback.html", lookback=lookback_from(source, record_id),
                           back=back)


@bp.route("/subjects/<int:subject_id>/lookback")
def subject_lookback(subject_id: int):
    subject = services.get_subject(subject_id)
    return lookback_page("subject", subject.id, (f"{subject.kind} {subject.code}",
                                                 _subject_url(subject.id)))


@bp.route("/collections/<int:collection_id>/lookback")
def collection_lookback(collection_id: int):
    collection = services.get_collection(collection_id)
    return lookback_page("collection", collection.id, (
        f"collection {collection.din}",
        url_for("batches.collection_page", collection_id=collection.id)))


# -- collections ---------------------------------------------------------------------------


def _collections_page(status: int = 200, errors: dict | None = None):
    return render_template("batches/collections.html",
                           collections=services.list_collections(),
                           subjects=services.list_subjects(), sources=list(Source),
                           errors=errors or {}, form=request.form,
                           preset_subject=request.args.get("subject_id", ""),
                           now_local=now_local_input()), status


@bp.route("/collections", methods=["GET", "POST"])
def collection_list():
    return submit(CollectionCreateSchema(), services.register_collection, page=_collections_page,
                  roles=WRITERS, done=lambda collection: Done(
                      f"Collection registered: DIN {collection.din} "
                      f"(check character {collection.check_character}).",
                      url_for("batches.collection_page", collection_id=collection.id)))


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


def _batches_page(status: int = 200, errors: dict | None = None):
    wanted = request.args.get("status")
    wanted = wanted if wanted in BatchStatus.__members__ else None
    return render_template("batches/batches.html", batches=services.list_batches(status=wanted),
                           statuses=list(BatchStatus), wanted=wanted,
                           collections=services.list_collections(),
                           patients=services.list_subjects(kind="patient"),
                           products=[p for p in services.list_products() if p.active],
                           origins=list(Origin), errors=errors or {}, form=request.form,
                           preset_collection=request.args.get("collection_id", ""),
                           quarantine_reasons=quarantine_reasons), status


@bp.route("/batches", methods=["GET", "POST"])
def batch_list():
    if request.method == "GET":
        return _batches_page()
    require_role(*WRITERS)
    scanned, errors = _scanned_collection()
    if errors:
        return _batches_page(400, errors)
    return submit(BatchCreateSchema(), services.register_batch, page=_batches_page,
                  overrides=scanned,
                  done=lambda batch: Done(f"Batch {batch.batch_number} registered.",
                                          _batch_url(batch.id)))


def _scanned_collection() -> tuple[dict[str, Any], dict[str, Any]]:
    """The collection scanned into the registration form (its DIN label), if any."""
    scanned = request.form.get("collection_scan", "").strip()[:500]
    if not scanned or request.form.get("collection_id"):
        return {}, {}
    hit = resolve_scan(scanned)
    if hit is None or hit.type != "collection":
        return {}, {"collection_scan": [f"no collection is known by {scanned!r}"]}
    return {"collection_id": hit.id}, {}


def _batch_url(batch_id: int) -> str:
    return url_for("batches.batch_page", batch_id=batch_id)


def _batch_page(batch_id: int, status: int = 200, errors: dict | None = None):
    batch = services.get_batch(batch_id)
    now = clock.utcnow()
    steps = [{"step": s, "state": step_state(s, now), "due": is_due(s, now)}
             for s in services.list_steps(batch)]
    testing = batch_autologous_testing(batch)
    return render_template(
        "batches/batch.html", batch=batch, steps=steps, errors=errors or {},
        quarantine=quarantine_reasons(batch), doses=batch.doses, form=request.form,
        step_types=_step_buttons(batch), passage=current_passage(batch),
        suspensions=services.open_suspensions(batch), history=services.suspensions(batch),
        testing=testing, segregated=storage_note_of(testing)
    ), status


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
    return submit(ReasonSchema(), lambda data, user: services.hold_batch(
                      services.get_batch(batch_id), data["reason"], user),
                  done=Done("The batch is on hold.", _batch_url(batch_id)),
                  page=partial(_batch_page, batch_id))


@bp.route("/batches/<int:batch_id>/resume", methods=["POST"])
@role_required("qa")
def resume(batch_id: int):
    return submit(ReasonSchema(), lambda data, user: services.resume_batch(
                      services.get_batch(batch_id), data["reason"], user),
                  done=Done("The batch is resumed.", _batch_url(batch_id)),
                  page=partial(_batch_page, batch_id))


@bp.route("/batches/<int:batch_id>/doses", methods=["POST"])
@role_required(*WRITERS)
def formulate(batch_id: int):
    return submit(FormulationSchema(), lambda data, user: services.formulate(
                      services.get_batch(batch_id), data, user),
                  done=lambda doses: Done(f"{len(doses)} doses formulated; the batch is in QC "
                                          "review.", _batch_url(batch_id)),
                  page=partial(_batch_page, batch_id))


def _step_page(batch, status: int = 200, errors: dict | None = None):
    step_type = request.values.get("type")
    step_type = step_type if step_type in StepType.__members__ else None
    return render_template("batches/step_form.html", batch=batch, step_type=step_type,
                           step_types=_step_buttons(batch), labels=STEP_LABELS,
                           errors=errors or {}, form=request.form, now_local=now_local_input(),
                           next_passage=current_passage(batch) + 1,
                           max_passage=batch.template.max_passage), status


@bp.route("/batches/<int:batch_id>/steps/new", methods=["GET", "POST"])
def step_form(batch_id: int):
    """One screen per step type: big type buttons, then the few fields it needs."""
    batch = services.get_batch(batch_id)
    return submit(StepCreateSchema(), partial(services.log_step, batch), roles=WRITERS,
                  done=lambda step: Done(f"{STEP_LABELS[step.type]} logged"
                                         f"{' (late entry)' if step.late_entry else ''}.",
                                         _batch_url(batch.id)),
                  page=partial(_step_page, batch))


# -- doses ---------------------------------------------------------------------------------


@bp.route("/doses/<int:dose_id>")
def dose_page(dose_id: int):
    """A dose: identity, thaw state and use-by time, and why it may not be shipped or given
    now (SPEC §3b: a suspended or recalled batch shown plainly)."""
    dose = services.get_dose(dose_id)
    return render_template("batches/dose.html", dose=dose, barcodes=services.barcode_texts(dose),
                           custody=services.custody_events(dose=dose),
                           suspensions=services.open_suspensions(dose.batch),
                           blocked=services.giving_refusals(dose),
                           segregated=segregated_storage_note(dose.batch))


# -- templates and their change control (issue 12) -------------------------------------------


def _templates_page(status: int = 200, errors: dict | None = None):
    templates = services.list_templates(include_inactive=True)
    active = [t for t in templates if t.active]
    open_changes = {c.product_id: c for c in services.list_changes(
        ChangeKind.process_template, status=ChangeStatus.proposed, limit=500)[0]}
    return render_template("batches/templates.html", templates=active,
                           retired=[t for t in templates if not t.active],
                           open_changes=open_changes, products=services.list_products(),
                           steps=list(StepType), errors=errors or {}), status


@bp.route("/templates")
def template_list():
    return _templates_page()


def _template_revision_form(template) -> dict[str, Any]:
    """The proposal form's table of rules (``rules-<row>-<column>``), reason and max passage."""
    rules = []
    for index in range(len(template.rules) + 2):
        row = {key: request.form.get(f"rules-{index}-{key}", "").strip()
               for key in ("after_step", "next_step", "interval_hours", "grace_hours")}
        if row["after_step"] and row["next_step"]:
            rules.append({k: (int(v) if k.endswith("hours") and v.isdigit() else v)
                          for k, v in row.items()})
    raw: dict[str, Any] = {"reason": request.form.get("reason", "").strip(), "rules": rules}
    max_passage = request.form.get("max_passage", "").strip()
    raw["max_passage"] = int(max_passage) if max_passage.isdigit() else (max_passage or None)
    return raw


def _template_change_url(change_id: int) -> str:
    return url_for("batches.template_change", change_id=change_id)


@bp.route("/templates/<int:template_id>/revise", methods=["POST"])
@role_required("admin", "qa")
def revise_template(template_id: int):
    """Propose a new version of the template (issue 12): a change awaiting QA's approval."""
    template = services.get_template(template_id)

    def propose(data: dict[str, Any], user: User):
        reason = data.pop("reason")
        return services.revise_template(template, data, reason, user)

    return submit(TemplateRevisionSchema(), propose, values=_template_revision_form(template),
                  done=lambda change: Done(
                      f"Change #{change.id} proposed: {template.product.code} template version "
                      f"{template.version} stays in force until a QA officer approves it.",
                      _template_change_url(change.id)),
                  page=_templates_page)


def _template_change_page(change_id: int, status: int = 200, errors: dict | None = None):
    change = services.get_template_change(change_id)
    base = (services.find_template_version(change.product_id, change.base_version)
            if change.base_version else None)
    return render_template(
        "batches/template_change.html", view=services.describe_change(services.TEMPLATE, change),
        change=change, base=base, user=current_actor_user(), errors=errors or {},
        urls={"approve": url_for("batches.approve_template_change", change_id=change_id),
              "reject": url_for("batches.reject_template_change", change_id=change_id),
              "withdraw": url_for("batches.withdraw_template_change", change_id=change_id)}
    ), status


@bp.route("/templates/changes/<int:change_id>")
def template_change(change_id: int):
    return _template_change_page(change_id)


@bp.route("/templates/changes/<int:change_id>/approve", methods=["POST"])
@role_required("qa")
def approve_template_change(change_id: int):
    return submit(ChangeApprovalSchema(), lambda data, user: services.approve_change(
                      services.TEMPLATE, services.get_template_change(change_id),
                      data["password"], data["meaning"], user, username=data.get("username"),
                      shown_digest=data.get("digest")),
                  done=lambda change: Done(
                      f"Change #{change.id} approved: {change.product.code} template version "
                      f"{change.result_version} is in force.", _template_change_url(change_id)),
                  page=partial(_template_change_page, change_id))


@bp.route("/templates/changes/<int:change_id>/reject", methods=["POST"])
@role_required("qa")
def reject_template_change(change_id: int):
    return submit(ChangeRejectionSchema(), lambda data, user: services.reject_change(
                      services.TEMPLATE, services.get_template_change(change_id),
                      data["password"], data["meaning"], data["reason"], user,
                      username=data.get("username")),
                  done=Done(f"Change #{change_id} rejected.", _template_change_url(change_id)),
                  page=partial(_template_change_page, change_id))


@bp.route("/templates/changes/<int:change_id>/withdraw", methods=["POST"])
@role_required("admin", "qa")
def withdraw_template_change(change_id: int):
    return submit(ChangeWithdrawalSchema(), lambda data, user: services.withdraw_change(
                      services.get_template_change(change_id), data["reason"], user),
                  done=Done(f"Change #{change_id} withdrawn.", _template_change_url(change_id)),
                  page=partial(_template_change_page, change_id))


# -- every change, both kinds (the QA queue) ------------------------------------------------


def _change_rows(changes) -> list[dict[str, Any]]:
    return [{"change": c, "url": entity_url("change_proposal", c.id)} for c in changes]


@bp.route("/changes")
@role_required("admin", "qa")
def change_list():
    """Changes of QC specifications and process templates, oldest first, paged (``after``)."""
    wanted = request.args.get("status", ChangeStatus.proposed.value)
    status = wanted if wanted in {s.value for s in ChangeStatus} else None
    after = request.args.get("after", "0")
    rows, more = services.list_changes(status=status,
                                       after=int(after) if after.isdigit() else 0, limit=50)
    return render_template("batches/changes.html", rows=_change_rows(rows), status=status,
                           statuses=list(ChangeStatus),
                           next_after=rows[-1].id if more and rows else None)


def changes_panel(user) -> str | None:
    """Dashboard panel for QA and admins: the changes awaiting a QA decision."""
    if user.role not in ("qa", "admin"):
        return None
    rows, _more = services.list_changes(status=ChangeStatus.proposed, limit=20)
    if not rows:
        return None
    return render_template("batches/_changes_panel.html", rows=_change_rows(rows))


# -- custody at the bench and at receipt; administration at the bedside ----------------------


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
    dose = services.get_dose(dose_id)
    last = services.last_event(dose)
    return render_template("batches/custody.html", dose=dose, last=last,
                           events=_custody_choices(dose, last),
                           custody=services.custody_events(dose=dose), errors=errors or {},
                           refusal=refusal, form=request.form,
                           suspensions=services.open_suspensions(dose.batch),
                           now_local=now_local_input()), status


def _custody_choices(dose, last) -> list[dict[str, Any]]:
    """Each handoff with whether it may follow now, and why not (the custody graph, the
    thaw rule, a suspended or recalled release: :func:`batches.custody_rules.event_refusals`).
    A shipment is offered as the return leg of a recall; its destination is checked when
    recorded."""
    from batches.custody_rules import HANDOFF_EVENTS, event_refusals

    choices = []
    for event in HANDOFF_EVENTS:
        why = event_refusals(event, last.event if last else None,
                             batch_status=dose.batch.status, cryopreserved=dose.cryopreserved,
                             to_facility=True)
        choices.append({"event": event, "label": EVENT_LABELS[event], "allowed": not why,
                        "why": why})
    return choices


def _unless_left_as_prefilled(data: dict[str, Any]) -> dict[str, Any]:
    """The time field left as pre-filled (now, to the minute): the handoff happens now, not
    at the start of the minute — which may be before the dose's last event."""
    if request.form.get("occurred_at", "").strip() == request.form.get("occurred_at_shown"):
        data.pop("occurred_at", None)
    return data


@bp.route("/doses/<int:dose_id>/custody", methods=["GET", "POST"])
def dose_custody(dose_id: int):
    """One screen: event, location, temperature; re-scan the label to confirm (SPEC §5).
    A refusal shows on the page itself."""
    dose = services.get_dose(dose_id)
    return submit(CustodyEventCreateSchema(), lambda data, user: services.record_custody_event(
                      dose, _unless_left_as_prefilled(data), user), roles=WRITERS,
                  done=lambda event: Done(
                      f"{EVENT_LABELS[event.event]}: dose {dose.code} at {event.to_location}"
                      f"{' (late entry)' if event.late_entry else ''}.",
                      url_for("batches.custody_scan")),
                  page=partial(_custody_page, dose_id),
                  on_refusal=lambda refusal: _custody_page(dose_id, refusal.status,
                                                           refusal=refusal))


def _bedside_page(status: int = 200, errors: dict | None = None,
                  refusal: DomainError | None = None, *, dose=None,
                  blocks: list[str] | None = None, scanned: str = ""):
    """The bedside screen: step 1 scans the dose label; step 2 (the label accepted and the
    dose allowed) identifies the patient. After a refusal the page is back at step 1,
    its scan field empty and focused."""
    errors = errors or {}
    if dose is None and refusal is None and status == 400 and "scanned_code" not in errors:
        scanned = request.form.get("scanned_code", "").strip()[:500]
        hit = resolve_scan(scanned) if scanned else None
        dose = services.get_dose(hit.id) if hit is not None and hit.type == "dose" else None
    return render_template("batches/bedside.html", errors=errors, refusal=refusal,
                           form=request.form, dose=dose, blocks=blocks or [],
                           scanned=scanned), status


def _bedside_scan(code: str):
    """Step 1: the dose label scanned. A dose that may not be given now is refused at
    once with every reason (409: DO NOT ADMINISTER), before the patient is identified."""
    code = code.strip()[:500]
    hit = resolve_scan(code) if code else None
    if hit is None or hit.type != "dose":
        return _bedside_page(400, {"scanned_code": [
            "not a dose label: scan the dose label's 2-D code" if code
            else "scan the dose label's 2-D code"]})
    dose = services.get_dose(hit.id)
    refusals = services.scanned_dose_refusals(dose, code)
    if refusals:
        return _bedside_page(409, dose=dose, blocks=refusals)
    return _bedside_page(dose=dose, scanned=code)


def _administer_scanned_dose(data: dict[str, Any], user: User):
    hit = resolve_scan(data["scanned_code"])
    if hit is None or hit.type != "dose":
        raise InvalidForm({"scanned_code": ["not a dose label: scan the dose label's 2-D code"]})
    dose = services.get_dose(hit.id)
    services.administer_dose(dose, data, user)
    return dose


@bp.route("/bedside", methods=["GET", "POST"])
def bedside():
    """Bedside check (SPEC §3b, §5): scan the dose (a dose that may not be given is refused
    there: DO NOT ADMINISTER, 409), scan or type the patient code and date of birth,
    confirm. A mismatch is shown on the page and refused (409)."""
    if request.method == "GET" and "scanned_code" in request.args:
        return _bedside_scan(request.args.get("scanned_code", ""))
    return submit(AdministrationSchema(), _administer_scanned_dose, roles=WRITERS,
                  done=lambda dose: Done(f"Identity verified. Dose {dose.code} recorded as "
                                         f"administered to {dose.batch.recipient.code}.",
                                         url_for("batches.dose_page", dose_id=dose.id)),
                  page=_bedside_page,
                  on_refusal=lambda refusal: _bedside_page(refusal.status, refusal=refusal))
