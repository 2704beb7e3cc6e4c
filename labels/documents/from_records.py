"""Reads the records into the plain data each document is drawn from (SPEC §3, §5, §8).

The one module of :mod:`labels.documents` that reads the database (and the facility's
settings and time zone); what it returns is formatted text in plain dataclasses, drawn
by the pure document modules. Auditing a download is :mod:`labels.services`' job.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select

from batches import isbt128
from batches.common import facility_tz
from batches.culture import step_state
from batches.custody import custody_chain_breaks, custody_events
from batches.models import Batch, Collection, CultureStep, CustodyEvent, Dose, Subject
from labels import content
from labels.documents.batch_record import (
    BatchHeading,
    BatchRecord,
    CorrectionRow,
    CustodySummaryRow,
    DeviationRow,
    DoseRow,
    ResultRow,
    SignatureRow,
    StepRow,
)
from labels.documents.coa import NOT_RELEASED, CertificateOfAnalysis, ReleaseTestRow
from labels.documents.custody_report import CustodyReport, TimelineRow
from labels.release_info import INVALIDATED, release_signature_text
from lims import clock
from lims.audit.models import AuditEntry
from lims.auth.models import Meaning, Signature, User
from lims.auth.services import signature_holds
from lims.db import db
from qc.deviations import deviation_content, list_deviations
from qc.models import Evaluation, QcResult, Stage
from qc.release import batch_release_info
from qc.results import counting_results, list_results
from qc.specifications import spec_for_batch

CORRECTED_FIELDS: dict[str, frozenset[str]] = {
    "culture_step": CultureStep.__audit_corrections__,
    "qc_result": QcResult.__audit_corrections__ | {"evaluation"},
    "collection": Collection.__audit_corrections__,
    "subject": Subject.__audit_corrections__,
}
"""Per audited table, the fields whose change with a reason is a correction (SPEC §8)."""

ALL = 10_000  # deviations of one batch: every one


# -- formatting ------------------------------------------------------------------------------


def _local(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(facility_tz()).strftime("%Y-%m-%d %H:%M %Z")


def _utc(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _generated() -> str:
    now = clock.utcnow()
    return f"{_local(now)} ({now.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')})"


def _person(user: User | None) -> str:
    return "—" if user is None else f"{user.full_name} ({user.username})"


def _num(value: Any, suffix: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}{suffix}"
    return f"{value:,}{suffix}" if isinstance(value, int) else f"{value}{suffix}"


def _audited_value(value: Any) -> str:
    return "—" if value is None else str(value)


def _din(batch: Batch) -> str:
    collection = batch.collection
    return f"{isbt128.format_din(collection.din)} [{collection.check_character}]"


def _facility() -> str:
    return f"{current_app.config['FACILITY_NAME']}, {current_app.config['FACILITY_ADDRESS']}"


def _heading(batch: Batch) -> BatchHeading:
    return BatchHeading(batch_number=batch.batch_number, din=_din(batch),
                        product_code=batch.product.code, facility=_facility(),
                        generated=_generated())


def _identity(batch: Batch) -> list[tuple[str, str]]:
    collection = batch.collection
    return [
        ("Batch", f"{batch.batch_number} — status {batch.status.replace('_', ' ')}"),
        ("Product", f"{batch.product.name} ({batch.product.code})"),
        ("DIN", _din(batch)),
        ("Chain of identity", collection.chain_of_identity),
        ("Origin", batch.origin),
        ("Collection", f"{collection.source.replace('_', ' ')}, {_num(collection.volume_ml)} mL, "
                       f"collected {_local(collection.collected_at)} by {collection.collected_by}"),
        ("Donor / recipient", f"{collection.subject.code} → {batch.recipient.code}"),
        ("Process", f"{batch.template.name} v{batch.template.version}"),
        ("Registered", f"{_local(batch.registered_at)} by {_person(batch.registered_by)}"),
    ]


# -- decision and signatures -----------------------------------------------------------------


def _decision(info: dict[str, Any]) -> list[str]:
    """The release decision, then the exceptional release it went through, if any."""
    if info["rejected"]:
        text = f"REJECTED — {NOT_RELEASED}: {info['rejection_reason'] or ''}".rstrip(": ")
    elif not info["released"]:
        text = f"{NOT_RELEASED} — batch status: {info['status'].replace('_', ' ')}"
    else:
        text = "RELEASED" + (f" — {info['statement']}" if info["urgent_medical_need"] else "")
        if info["invalidated"]:
            text += f" — release signature {INVALIDATED}"
    request = info["exceptional_release"]
    if request is None:
        return [text]
    return [text, f"Exceptional release ({request['status'].replace('_', ' ')}) requested by "
                  f"{request['physician_name']} on {_utc(request['requested_at'])}: "
                  f"{request['physician_request']}. Pending at signing: "
                  f"{'; '.join(request['pending_items']) or '—'}."]


def _signatures(batch: Batch, info: dict[str, Any]) -> list[SignatureRow]:
    """Every signature on the batch record: release (standard or exceptional), rejection
    and deviation closures, each with its manifestation and whether it still holds."""
    rows = []
    for s in info["signatures"]:
        what = "Rejection" if s["meaning"] == Meaning.rejection else "Release"
        rows.append(SignatureRow(what, s["manifestation"], s["statement"] or "",
                                 "valid" if s["valid"] else INVALIDATED))
    for deviation in sorted(list_deviations(batch, limit=ALL), key=lambda d: d.id):
        signature: Signature | None = deviation.closure_signature
        if signature is None:
            continue
        holds = signature_holds(signature, deviation_content(deviation))
        rows.append(SignatureRow(f"Closure of DEV-{deviation.id}", signature.manifestation,
                                 signature.statement or "", "valid" if holds else INVALIDATED))
    return rows


# -- the batch record ------------------------------------------------------------------------


def _steps(batch: Batch) -> list[StepRow]:
    rows = []
    for step in sorted(batch.steps, key=lambda s: (s.performed_at or s.due_at or
                                                   datetime.max.replace(tzinfo=UTC), s.id)):
        values = [v for v in (
            f"P{step.passage}" if step.passage is not None else "",
            _num(step.cell_count, " cells") if step.cell_count is not None else "",
            _num(step.viability_pct, " % viable"), _num(step.confluence_pct, " % confluent"),
            f"media lot {step.media_lot}" if step.media_lot else "",
            f"incubator {step.incubator}" if step.incubator else "",
            step.notes or "", f"cancelled: {step.cancel_reason}" if step.cancel_reason else "",
        ) if v]
        flags = [f for f, on in (("LATE ENTRY", step.late_entry), ("corrected", step.corrected))
                 if on]
        rows.append(StepRow(f"#{step.id} {step.type.replace('_', ' ')}", step_state(step),
                            _local(step.due_at), _local(step.performed_at),
                            _person(step.performed_by) if step.performed_by else "—",
                            _local(step.recorded_at), "; ".join(values), ", ".join(flags)))
    return rows


def _corrections(batch: Batch, results: list[QcResult]) -> list[CorrectionRow]:
    ids = {
        "culture_step": [str(s.id) for s in batch.steps],
        "qc_result": [str(r.id) for r in results],
        "collection": [str(batch.collection_id)],
        "subject": sorted({str(batch.collection.subject_id), str(batch.recipient_id)}),
    }
    conditions = [and_(AuditEntry.entity_type == kind, AuditEntry.entity_id.in_(values))
                  for kind, values in ids.items() if values]
    entries = db.session.scalars(select(AuditEntry).where(
        or_(*conditions), AuditEntry.action == "update", AuditEntry.reason.is_not(None))
        .order_by(AuditEntry.seq))
    names: dict[int | None, str] = {}
    rows = []
    for entry in entries:
        changes = json.loads(entry.changes)
        shown = [f"{field}: {_audited_value(old)} → {_audited_value(new)}"
                 for field, (old, new) in changes.items()
                 if field in CORRECTED_FIELDS[entry.entity_type]]
        if not shown:
            continue
        if entry.actor_id not in names:
            user = db.session.get(User, entry.actor_id) if entry.actor_id else None
            names[entry.actor_id] = _person(user) if user else entry.actor_username
        rows.append(CorrectionRow(f"{entry.entity_type.replace('_', ' ')} #{entry.entity_id}",
                                  "; ".join(shown), entry.reason or "", names[entry.actor_id],
                                  _local(entry.occurred_at), str(entry.seq)))
    return rows


def _results(results: list[QcResult]) -> list[ResultRow]:
    rows = []
    for r in results:
        flags = [f for f, on in (("corrected", r.corrected), ("follow-up after release",
                                                              r.after_release)) if on]
        rows.append(ResultRow(
            f"{r.test}{' (in process)' if r.stage == Stage.in_process else ''}",
            r.spec_test.criterion_text, r.reported + (f" ({', '.join(flags)})" if flags else ""),
            r.evaluation.upper(), " · ".join(x for x in (r.method, r.instrument) if x) or "—",
            f"{_person(r.analyst)}\n{_local(r.recorded_at)}",
            f"{_person(r.reviewed_by)}\n{_local(r.reviewed_at)}" if r.reviewed_by
            else "NOT REVIEWED"))
    return rows


def _deviations(batch: Batch) -> list[DeviationRow]:
    return [DeviationRow(
        f"DEV-{d.id}", d.kind.replace("_", " "), d.status.upper(),
        f"{_person(d.opened_by) if d.opened_by else 'system'}\n{_local(d.opened_at)}",
        f"{_person(d.closed_by)}\n{_local(d.closed_at)}" if d.closed_by else "—",
        d.description, d.investigation or "—", d.disposition or "—")
        for d in sorted(list_deviations(batch, limit=ALL), key=lambda d: d.id)]


def _doses(batch: Batch) -> list[DoseRow]:
    return [DoseRow(d.code, _num(d.cells), _num(d.volume_ml, " mL"), d.container,
                    d.storage_temperature, _local(d.expires_at), d.status,
                    f"{_person(d.formulated_by)}\n{_local(d.formulated_at)}")
            for d in batch.doses]


def _latest(event: CustodyEvent) -> str:
    where = event.to_location or event.from_location
    return f"{event.event}{f' — {where}' if where else ''}, {_local(event.occurred_at)}"


def _custody(batch: Batch) -> list[CustodySummaryRow]:
    rows = []
    collection_events = custody_events(collection=batch.collection)
    if collection_events:
        rows.append(CustodySummaryRow(f"collection {isbt128.format_din(batch.collection.din)}",
                                      str(len(collection_events)),
                                      _latest(collection_events[-1]), "—"))
    for dose in batch.doses:
        events = custody_events(dose=dose)
        breaks = custody_chain_breaks(dose)
        rows.append(CustodySummaryRow(dose.code, str(len(events)),
                                      _latest(events[-1]) if events else "—",
                                      "yes" if not breaks else "NO: " + "; ".join(breaks)))
    return rows


def batch_record(batch: Batch) -> BatchRecord:
    """What the executed batch record (SPEC §3, §8) shows, read from the records."""
    results = list_results(batch)
    info = batch_release_info(batch)
    return BatchRecord(
        heading=_heading(batch), identity=_identity(batch), steps=_steps(batch),
        corrections=_corrections(batch, results), results=_results(results),
        deviations=_deviations(batch), doses=_doses(batch), custody=_custody(batch),
        decision=_decision(info), signatures=_signatures(batch, info),
        released=bool(info["released"]) and not info["rejected"], valid=info["valid"])


# -- the certificate of analysis -------------------------------------------------------------


def certificate_of_analysis(batch: Batch) -> CertificateOfAnalysis:
    """What the certificate of analysis (SPEC §3) shows: specification vs result per
    release test, the decision and the release or rejection signatures."""
    spec = spec_for_batch(batch, Stage.release)
    counting = counting_results(batch, Stage.release)
    info = batch_release_info(batch)
    tests = []
    for test in (spec.tests if spec else []):
        result = counting.get(test.test)
        if result is None:
            tests.append(ReleaseTestRow(f"{test.name} ({test.test})", test.criterion_text,
                                        "no result", "—", "—", "—"))
            continue
        tests.append(ReleaseTestRow(
            f"{test.name} ({test.test})", test.criterion_text,
            result.reported + (" (corrected)" if result.corrected else ""),
            "PASS" if result.evaluation == Evaluation.passed else "FAIL",
            _person(result.analyst),
            _person(result.reviewed_by) if result.reviewed_by else "NOT REVIEWED"))
    return CertificateOfAnalysis(
        heading=_heading(batch), product=f"{batch.product.name} ({batch.product.code})",
        origin=batch.origin,
        specification=f"{batch.product.code} release specification v{spec.version}, "
                      f"effective {_local(spec.effective_from)}" if spec
        else "no release specification in force",
        tests=tests, decision=_decision(info),
        signatures=[s for s in _signatures(batch, info)
                    if s.signed_for in ("Release", "Rejection")],
        released=bool(info["released"]) and not info["rejected"])


# -- the chain-of-custody report -------------------------------------------------------------


def custody_report(dose: Dose) -> CustodyReport:
    """What the chain-of-custody report of a dose (SPEC §5) shows."""
    batch = dose.batch
    collection = batch.collection
    tz = facility_tz()
    events = [*custody_events(collection=collection), *custody_events(dose=dose)]
    rows = [TimelineRow(
        when=e.occurred_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"), event=e.event,
        where=" → ".join(x for x in (e.from_location, e.to_location) if x) or "—",
        who=e.to_person or e.recorded_by.full_name,
        temperature="" if e.temperature_c is None else f"{e.temperature_c:g} °C",
        confirmed="formulation" if e.dose_id and e.scanned_code is None else
        ("collection" if e.collection_id else "scanned"),
        recorded=f"{e.recorded_by.username}{' (late entry)' if e.late_entry else ''}")
        for e in events]
    recipient = batch.recipient
    return CustodyReport(
        facility=current_app.config["FACILITY_NAME"],
        facility_address=current_app.config["FACILITY_ADDRESS"],
        generated_at=clock.utcnow().astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
        dose_code=dose.code, din=isbt128.format_din(collection.din),
        check_character=collection.check_character,
        product=f"{batch.product.name} ({batch.product.code}), {content.product_code_line(dose)}",
        batch_number=batch.batch_number, origin=batch.origin,
        chain_of_identity=collection.chain_of_identity,
        patient_code=recipient.code, patient_date_of_birth=recipient.date_of_birth.isoformat(),
        dose_status=dose.status, timeline=rows, chain_breaks=custody_chain_breaks(dose),
        release_signature=release_signature_text(batch))
