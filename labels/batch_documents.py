"""The batch record and the certificate of analysis as PDF (SPEC §3, §8), from the records.

* :func:`batch_record_pdf` — every culture step (type, due, performed, by whom, values,
  late-entry and corrected flags), every correction from the audit trail (old → new,
  reason, who, when), every QC result with its evaluation, analyst and reviewer,
  the deviations with their disposition, the doses, a custody summary, and every
  signature's manifestation (printed name, UTC date-time, meaning) with its validity:
  "INVALIDATED: record changed after signing" once the signed record has changed.
* :func:`coa_pdf` — product, batch, DIN, specification version, one row per release
  test (criterion, result, pass/fail, analyst, reviewer), the release decision and
  its signature(s); "NOT RELEASED" in large letters unless the batch is released.

Both carry the batch number and the DIN on every page, "Page x of y" and the time
they were generated (lab time zone and UTC); each download is audited.
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
from batches.models import Batch, Collection, CultureStep, Subject
from labels import documents
from labels.documents import Document, Section
from lims import audit, clock
from lims.audit.models import AuditEntry
from lims.auth.models import Meaning, Signature, User
from lims.auth.services import signature_holds
from lims.db import db
from qc.deviations import deviation_content, list_deviations
from qc.models import Evaluation, QcResult, Stage
from qc.release import batch_release_info
from qc.results import counting_results, list_results
from qc.specifications import spec_for_batch

INVALIDATED = "INVALIDATED: record changed after signing"
NOT_RELEASED = "NOT RELEASED"

CORRECTED_FIELDS: dict[str, frozenset[str]] = {
    "culture_step": CultureStep.__audit_corrections__,
    "qc_result": QcResult.__audit_corrections__ | {"evaluation"},
    "collection": Collection.__audit_corrections__,
    "subject": Subject.__audit_corrections__,
}
"""Per audited table, the fields whose change with a reason is a correction (SPEC §8)."""


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


def _running_header(kind: str, batch: Batch) -> str:
    return f"{kind} · Batch {batch.batch_number} · DIN {_din(batch)} · {batch.product.code}"


def _identity(batch: Batch) -> Section:
    collection = batch.collection
    return Section("Identity", facts=[
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
    ])


# -- signatures ------------------------------------------------------------------------------


def _signature_rows(batch: Batch, info: dict[str, Any]) -> list[list[str]]:
    """Every signature on the batch record: release (standard or exceptional), rejection
    and deviation closures, each with its manifestation and whether it still holds."""
    rows = []
    for s in info["signatures"]:
        what = "Rejection" if s["meaning"] == Meaning.rejection else "Release"
        rows.append([what, s["manifestation"], s["statement"] or "",
                     "valid" if s["valid"] else INVALIDATED])
    for deviation in sorted(list_deviations(batch, limit=10_000), key=lambda d: d.id):
        signature: Signature | None = deviation.closure_signature
        if signature is None:
            continue
        holds = signature_holds(signature, deviation_content(deviation))
        rows.append([f"Closure of DEV-{deviation.id}", signature.manifestation,
                     signature.statement or "", "valid" if holds else INVALIDATED])
    return rows


SIGNATURE_HEADER = ["Signed for", "Printed name — meaning — date-time (UTC)", "Statement",
                    "Validity"]
SIGNATURE_WIDTHS = [26, 62, 56, 36]


# -- the batch record ----------------------------------------------------------------------


def _steps_section(batch: Batch) -> Section:
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
        rows.append([f"#{step.id} {step.type.replace('_', ' ')}", step_state(step),
                     _local(step.due_at), _local(step.performed_at),
                     _person(step.performed_by) if step.performed_by else "—",
                     _local(step.recorded_at), "; ".join(values), ", ".join(flags)])
    return Section("Culture steps", header=["Step", "State", "Due", "Performed", "By",
                                            "Recorded", "Values", "Flags"],
                   rows=rows, widths=[22, 15, 21, 21, 27, 21, 36, 17])


def _corrections_section(batch: Batch, results: list[QcResult]) -> Section:
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
    names = {}
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
        rows.append([f"{entry.entity_type.replace('_', ' ')} #{entry.entity_id}",
                     "; ".join(shown), entry.reason or "", names[entry.actor_id],
                     _local(entry.occurred_at), str(entry.seq)])
    return Section("Corrections (from the audit trail)",
                   header=["Record", "Old → new", "Reason", "Who", "When", "Audit seq"],
                   rows=rows, widths=[24, 50, 40, 30, 22, 14], empty="No corrections.")


def _results_section(results: list[QcResult], title: str = "QC results") -> Section:
    rows = []
    for r in results:
        flags = [f for f, on in (("corrected", r.corrected), ("follow-up after release",
                                                              r.after_release)) if on]
        rows.append([f"{r.test}{' (in process)' if r.stage == Stage.in_process else ''}",
                     r.spec_test.criterion_text, r.reported + (f" ({', '.join(flags)})"
                                                               if flags else ""),
                     r.evaluation.upper(),
                     " · ".join(x for x in (r.method, r.instrument) if x) or "—",
                     f"{_person(r.analyst)}\n{_local(r.recorded_at)}",
                     f"{_person(r.reviewed_by)}\n{_local(r.reviewed_at)}" if r.reviewed_by
                     else "NOT REVIEWED"])
    return Section(title, header=["Test", "Criterion", "Result", "Evaluation", "Method",
                                  "Analyst", "Reviewer"],
                   rows=rows, widths=[20, 22, 24, 17, 27, 35, 35], empty="No QC results.")


def _deviations_section(batch: Batch) -> Section:
    rows = []
    for d in sorted(list_deviations(batch, limit=10_000), key=lambda d: d.id):
        rows.append([f"DEV-{d.id}", d.kind.replace("_", " "), d.status.upper(), d.description,
                     f"{_person(d.opened_by) if d.opened_by else 'system'}\n{_local(d.opened_at)}",
                     d.investigation or "—", d.disposition or "—",
                     f"{_person(d.closed_by)}\n{_local(d.closed_at)}" if d.closed_by else "—"])
    return Section("Deviations", header=["No.", "Kind", "Status", "Description", "Opened",
                                         "Investigation", "Disposition", "Closed"],
                   rows=rows, widths=[14, 16, 14, 32, 26, 26, 26, 26], empty="No deviations.")


def _doses_section(batch: Batch) -> Section:
    rows = [[d.code, _num(d.cells), _num(d.volume_ml, " mL"), d.container,
             d.storage_temperature, _local(d.expires_at), d.status,
             f"{_person(d.formulated_by)}\n{_local(d.formulated_at)}"] for d in batch.doses]
    return Section("Doses", header=["Dose", "Cells", "Volume", "Container", "Storage",
                                    "Expires", "Status", "Formulated"],
                   rows=rows, widths=[33, 17, 13, 20, 21, 22, 18, 36],
                   empty="No doses formulated.")


def _latest(event) -> str:
    where = event.to_location or event.from_location
    return f"{event.event}{f' — {where}' if where else ''}, {_local(event.occurred_at)}"


def _custody_section(batch: Batch) -> Section:
    rows = []
    collection_events = custody_events(collection=batch.collection)
    if collection_events:
        last = collection_events[-1]
        rows.append([f"collection {isbt128.format_din(batch.collection.din)}",
                     str(len(collection_events)), _latest(last), "—"])
    for dose in batch.doses:
        events = custody_events(dose=dose)
        breaks = custody_chain_breaks(dose)
        latest = events[-1] if events else None
        rows.append([dose.code, str(len(events)),
                     _latest(latest) if latest else "—",
                     "yes" if not breaks else "NO: " + "; ".join(breaks)])
    return Section("Chain of custody (summary; per dose the full report)",
                   header=["Item", "Events", "Latest", "Chain unbroken"],
                   rows=rows, widths=[40, 16, 70, 54], empty="No custody events.")


def batch_record_pdf(batch: Batch) -> bytes:
    """The executed batch record (SPEC §3, §8) as PDF bytes; the download is audited."""
    results = list_results(batch)
    info = batch_release_info(batch)
    signatures = _signature_rows(batch, info)
    decision = _decision(info)
    document = Document(
        title=f"Batch record — {batch.batch_number}",
        running_header=_running_header("Batch record", batch),
        facility=f"{current_app.config['FACILITY_NAME']}, {current_app.config['FACILITY_ADDRESS']}",
        generated=_generated(), subject=f"Batch record {batch.batch_number}",
        banner=None if info["released"] and not info["rejected"] else decision,
        sections=[
            _identity(batch),
            _steps_section(batch),
            _corrections_section(batch, results),
            _results_section(results),
            _deviations_section(batch),
            _doses_section(batch),
            _custody_section(batch),
            Section("Decision", notes=[decision, *_exceptional_notes(info)]),
            Section("Electronic signatures", header=SIGNATURE_HEADER, rows=signatures,
                    widths=SIGNATURE_WIDTHS, empty="No signatures yet."),
        ])
    data = documents.document_pdf(document)
    _issued("batch record", batch, valid=info["valid"])
    return data


# -- the certificate of analysis -----------------------------------------------------------


def _decision(info: dict[str, Any]) -> str:
    if info["rejected"]:
        return f"REJECTED — {NOT_RELEASED}: {info['rejection_reason'] or ''}".rstrip(": ")
    if not info["released"]:
        return f"{NOT_RELEASED} — batch status: {info['status'].replace('_', ' ')}"
    text = "RELEASED" + (f" — {info['statement']}" if info["urgent_medical_need"] else "")
    if info["invalidated"]:
        text += f" — release signature {INVALIDATED}"
    return text


def _exceptional_notes(info: dict[str, Any]) -> list[str]:
    request = info["exceptional_release"]
    if request is None:
        return []
    return [f"Exceptional release ({request['status'].replace('_', ' ')}) requested by "
            f"{request['physician_name']} on {_utc(request['requested_at'])}: "
            f"{request['physician_request']}. Pending at signing: "
            f"{'; '.join(request['pending_items']) or '—'}."]


def coa_pdf(batch: Batch) -> bytes:
    """The certificate of analysis (SPEC §3): specification vs result per release test."""
    spec = spec_for_batch(batch, Stage.release)
    counting = counting_results(batch, Stage.release)
    info = batch_release_info(batch)
    rows = []
    for test in (spec.tests if spec else []):
        result = counting.get(test.test)
        if result is None:
            rows.append([f"{test.name} ({test.test})", test.criterion_text, "no result",
                         "—", "—", "—"])
            continue
        reported = result.reported + (" (corrected)" if result.corrected else "")
        rows.append([f"{test.name} ({test.test})", test.criterion_text, reported,
                     "PASS" if result.evaluation == Evaluation.passed else "FAIL",
                     _person(result.analyst),
                     _person(result.reviewed_by) if result.reviewed_by else "NOT REVIEWED"])
    released = info["released"] and not info["rejected"]
    decision = _decision(info)
    document = Document(
        title=f"Certificate of analysis — {batch.batch_number}",
        running_header=_running_header("Certificate of analysis", batch),
        facility=f"{current_app.config['FACILITY_NAME']}, {current_app.config['FACILITY_ADDRESS']}",
        generated=_generated(), subject=f"Certificate of analysis {batch.batch_number}",
        banner=None if released else NOT_RELEASED,
        sections=[
            Section("Product and batch", facts=[
                ("Product", f"{batch.product.name} ({batch.product.code})"),
                ("Batch", batch.batch_number),
                ("DIN", _din(batch)),
                ("Origin", batch.origin),
                ("Specification", f"{batch.product.code} release specification v{spec.version}, "
                                  f"effective {_local(spec.effective_from)}" if spec
                 else "no release specification in force"),
            ]),
            Section("Release tests: specification and results",
                    header=["Test", "Specification", "Result", "Pass/fail", "Analyst",
                            "Reviewer"],
                    rows=rows, widths=[36, 26, 28, 16, 37, 37],
                    empty="The specification lists no release tests."),
            Section("Release decision", notes=[decision, *_exceptional_notes(info)]),
            Section("Signatures", header=SIGNATURE_HEADER,
                    rows=[r for r in _signature_rows(batch, info)
                          if r[0] in ("Release", "Rejection")],
                    widths=SIGNATURE_WIDTHS, empty="No release signature."),
        ])
    data = documents.document_pdf(document)
    _issued("certificate of analysis", batch, released=released)
    return data


def _issued(what: str, batch: Batch, **details: Any) -> None:
    audit.record("label_document", "batch", batch.id,
                 {"document": [None, what], "format": [None, "pdf"],
                  **{k: [None, v] for k, v in details.items()}})
