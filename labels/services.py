"""Label documents, printing, the custody report and the FHIR export (SPEC §5, §6).

| rule | here |
|---|---|
| §6 label content from the records | :mod:`labels.content` |
| §6 PDF/ZPL rendering (pure) | :mod:`labels.rendering` |
| §6 every print counted and audited, a reprint needs a reason | :func:`print_dose_label` |
| §5 chain-of-custody report | :func:`custody_report`, :mod:`labels.reports` |
| §6 FHIR R5 export | :mod:`labels.fhir` |

Services flush, never commit; documents are bytes built by pure functions.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import func, select

from batches import isbt128
from batches.common import facility_tz
from batches.custody import custody_chain_breaks, custody_events
from batches.models import Batch, Collection, Dose, DoseStatus
from labels import content, fhir, reports
from labels.models import LabelPrint
from labels.printing import PrinterUnavailable, send_zpl
from labels.release_info import release_signature_text, release_statement_flags
from labels.rendering import (
    dose_label_pdf,
    dose_label_sheet_pdf,
    dose_label_zpl,
    in_process_label_pdf,
    in_process_label_zpl,
)
from lims import audit, clock
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db, keep_despite_error
from lims.errors import BadRequest, Conflict, NotFound, Unavailable

DPIS = (203, 300)


def _dose_size() -> tuple[float, float]:
    return (float(current_app.config["LABEL_WIDTH_MM"]),
            float(current_app.config["LABEL_HEIGHT_MM"]))


def _in_process_size() -> tuple[float, float]:
    width, height = current_app.config["IN_PROCESS_LABEL_MM"]
    return float(width), float(height)


def _issued(what: str, entity_type: str, entity_id: Any, output: str, **details: Any) -> None:
    """Audit that a label document left the system (who, what, which format)."""
    audit.record("label_document", entity_type, entity_id,
                 {"document": [None, what], "format": [None, output],
                  **{k: [None, v] for k, v in details.items()}})


# -- documents ---------------------------------------------------------------------------


def dose_label_document(dose: Dose, output: str, dpi: int = 203) -> bytes:
    """The dose label as PDF or ZPL (SPEC §6); each download is audited."""
    label = content.dose_label(dose)
    width, height = _dose_size()
    try:
        data = dose_label_pdf(label, width, height) if output == "pdf" else \
            dose_label_zpl(label, dpi, width, height)
    except ValueError as problem:
        raise Conflict("The label cannot be drawn.", [str(problem)]) from problem
    _issued("dose label", "dose", dose.id, output, quarantine=label.quarantine,
            dpi=dpi if output == "zpl" else None)
    return data


def batch_label_sheet(batch: Batch) -> bytes:
    """Every dose label of a batch on A4 sheets (SPEC §6); audited."""
    if not batch.doses:
        raise Conflict("The batch has no doses to label.", ["no doses formulated yet"])
    labels = [content.dose_label(dose) for dose in batch.doses]
    try:
        data = dose_label_sheet_pdf(labels, *_dose_size())
    except ValueError as problem:
        raise Conflict("The label sheet cannot be drawn.", [str(problem)]) from problem
    _issued("dose label sheet", "batch", batch.id, "pdf", doses=len(labels),
            quarantine=labels[0].quarantine)
    return data


def collection_label_document(collection: Collection, output: str, dpi: int = 203) -> bytes:
    return _in_process(content.collection_label(collection), "collection", collection.id,
                       output, dpi)


def vessel_label_document(batch: Batch, output: str, vessel: str | None = None,
                          dpi: int = 203) -> bytes:
    return _in_process(content.vessel_label(batch, vessel), "batch", batch.id, output, dpi)


def _in_process(label, entity_type: str, entity_id: int, output: str, dpi: int) -> bytes:
    width, height = _in_process_size()
    try:
        data = in_process_label_pdf(label, width, height) if output == "pdf" else \
            in_process_label_zpl(label, dpi, width, height)
    except ValueError as problem:
        raise Conflict("The in-process label cannot be drawn.", [str(problem)]) from problem
    _issued("in-process label", entity_type, entity_id, output)
    return data


# -- printing ------------------------------------------------------------------------------


def print_count(dose: Dose) -> int:
    return db.session.scalar(select(func.count()).select_from(LabelPrint)
                             .where(LabelPrint.dose_id == dose.id)) or 0


def list_prints(dose: Dose) -> list[LabelPrint]:
    return list(db.session.scalars(select(LabelPrint).where(LabelPrint.dose_id == dose.id)
                                   .order_by(LabelPrint.copy_number)))


@user_is_actor
def print_dose_label(dose: Dose, user: User, *, reason: str | None = None,
                     dpi: int = 203) -> LabelPrint:
    """Send the dose label to the configured network printer (SPEC §6).

    Every print is counted (``copy_number``) and audited; a reprint needs a
    reason (400 without). No printer configured → 409; the printer unreachable
    → 503 with its message (the failed attempt is audited). Labels of a
    rejected batch, or of a disposed or administered dose, are not printed.
    Before release the label carries the quarantine legend (SPEC §6).
    """
    reason = (reason or "").strip() or None
    host = current_app.config.get("PRINTER_HOST")
    reasons = []
    if dose.batch.status == "rejected":
        reasons.append("the batch is rejected: its doses are to be disposed, not labelled")
    if dose.status in (DoseStatus.disposed, DoseStatus.administered):
        reasons.append(f"the dose is {dose.status}")
    if not host:
        reasons.append("no label printer is configured (PRINTER_HOST)")
    if reasons:
        raise Conflict("The label cannot be printed.", reasons)
    copies = print_count(dose)
    if copies and not reason:
        raise BadRequest(f"This label was printed {copies} time(s) already: a reprint needs "
                         "a reason.", code="reason_required",
                         details={"fields": {"reason": ["required for a reprint"]}})
    if dpi not in DPIS:
        raise BadRequest("dpi must be 203 or 300.", details={"fields": {"dpi": ["203 or 300"]}})
    port = int(current_app.config.get("PRINTER_PORT") or 9100)
    data = dose_label_document(dose, "zpl", dpi)
    printer = f"{host}:{port}"
    try:
        send_zpl(host, port, data, timeout=float(current_app.config.get("PRINTER_TIMEOUT", 5)))
    except PrinterUnavailable as problem:
        audit.record("label_print_failed", "dose", dose.id,
                     {"printer": [None, printer], "problem": [None, str(problem)]}, reason)
        keep_despite_error()
        raise Unavailable(f"{problem}. Nothing was printed.", code="printer_unavailable",
                          details={"printer": printer}) from problem
    record = LabelPrint(dose_id=dose.id, copy_number=copies + 1, reprint=copies > 0,
                        reason=reason, quarantine=not release_statement_flags(dose.batch).released,
                        printer=printer, dpi=dpi, printed_by_id=user.id, printed_at=clock.utcnow())
    db.session.add(record)
    if reason:
        with audit.reason(reason):
            db.session.flush()
    else:
        db.session.flush()
    return record


# -- chain-of-custody report -----------------------------------------------------------------


def custody_report(dose: Dose) -> bytes:
    """The chain-of-custody report of a dose (SPEC §5) as PDF bytes."""
    batch = dose.batch
    collection = batch.collection
    tz = facility_tz()
    events = [*custody_events(collection=collection), *custody_events(dose=dose)]
    rows = [reports.TimelineRow(
        when=e.occurred_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"), event=e.event,
        where=" → ".join(x for x in (e.from_location, e.to_location) if x) or "—",
        who=e.to_person or e.recorded_by.full_name,
        temperature="" if e.temperature_c is None else f"{e.temperature_c:g} °C",
        confirmed="formulation" if e.dose_id and e.scanned_code is None else
        ("collection" if e.collection_id else "scanned"),
        recorded=f"{e.recorded_by.username}{' (late entry)' if e.late_entry else ''}")
        for e in events]
    breaks = custody_chain_breaks(dose)
    recipient = batch.recipient
    data = reports.CustodyReport(
        facility=current_app.config["FACILITY_NAME"],
        facility_address=current_app.config["FACILITY_ADDRESS"],
        generated_at=clock.utcnow().astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
        dose_code=dose.code, din=isbt128.format_din(collection.din),
        check_character=collection.check_character,
        product=f"{batch.product.name} ({batch.product.code}), {content.product_code_line(dose)}",
        batch_number=batch.batch_number, origin=batch.origin,
        chain_of_identity=collection.chain_of_identity,
        patient_code=recipient.code, patient_date_of_birth=recipient.date_of_birth.isoformat(),
        dose_status=dose.status, timeline=rows, chain_breaks=breaks)
    data = reports.custody_report_pdf(data, release_signature=release_signature_text(batch))
    _issued("chain-of-custody report", "dose", dose.id, "pdf", unbroken=not breaks)
    return data


# -- FHIR ------------------------------------------------------------------------------------


def dose_fhir(dose: Dose) -> dict[str, Any]:
    return fhir.biologically_derived_product(dose, _fhir_context())


def dose_dispense_fhir(dose: Dose) -> dict[str, Any]:
    administered = [e for e in custody_events(dose=dose) if e.event == "administered"]
    if not administered:
        raise NotFound(f"Dose {dose.code} has not been administered.",
                       details={"id": dose.id, "type": "dispense"})
    return fhir.biologically_derived_product_dispense(dose, administered[-1], _fhir_context())


def _fhir_context() -> fhir.Context:
    return fhir.Context(fin=current_app.config["FACILITY_FIN"],
                        facility_name=current_app.config["FACILITY_NAME"],
                        base=current_app.config.get("FHIR_IDENTIFIER_BASE"))
