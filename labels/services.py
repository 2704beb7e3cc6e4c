"""Label documents, printing, the custody report and the FHIR export (SPEC §5, §6).

| rule | here |
|---|---|
| §6 label content from the records | :mod:`labels.content` |
| §6 PDF/ZPL rendering (pure) | :mod:`labels.rendering` |
| §6 prints counted and audited, a reprint's reason; §8 no stall | :func:`print_dose_label` |
| §5 custody report, §3 batch record and CoA | :mod:`labels.documents` (pure), audited here |
| §6 FHIR R5 export | :mod:`labels.fhir` |

Services flush, never commit (printing commits its queued job through
:func:`lims.db.outside_transaction` before it contacts the printer); documents are
bytes built by pure functions.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from batches.custody import custody_events, lock_dose
from batches.models import Batch, BatchStatus, Collection, CustodyEventType, Dose, DoseStatus
from labels import content, fhir
from labels.documents import from_records
from labels.documents.batch_record import batch_record_pdf
from labels.documents.coa import coa_pdf
from labels.documents.custody_report import custody_report_pdf
from labels.models import LabelPrint, PrintStatus
from labels.printing import PrinterUnavailable, send_zpl
from labels.release_info import release_statement_flags
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
from lims.db import db, keep_despite_error, outside_transaction
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
    """Copies of the dose's label: prints sent, or whose outcome is unknown (SPEC §6)."""
    return db.session.scalar(select(func.count()).select_from(LabelPrint).where(
        LabelPrint.dose_id == dose.id, LabelPrint.status != PrintStatus.failed)) or 0


def list_prints(dose: Dose) -> list[LabelPrint]:
    """Every print job of the dose's label, failed ones included, first job first."""
    return list(db.session.scalars(select(LabelPrint).where(LabelPrint.dose_id == dose.id)
                                   .order_by(LabelPrint.id)))


@user_is_actor
def print_dose_label(dose: Dose, user: User, *, reason: str | None = None,
                     dpi: int = 203) -> LabelPrint:
    """Send the dose label to the configured network printer (SPEC §6, §8).

    Every print is counted (``copy_number``) and audited; a reprint needs a reason (400
    without). No printer configured → 409. Labels of a rejected batch, or of a disposed
    or administered dose, are not printed (409). Before release the label carries the
    quarantine legend (SPEC §6).

    The job is committed as ``queued`` before the printer is contacted, the printer is
    contacted with no transaction open (a dead printer delays no other request), and the
    outcome is recorded after: ``sent``, or ``failed`` with the problem → 503 naming the
    printer and what happened, the failed job kept and audited (SPEC §8).
    """
    reason = (reason or "").strip() or None
    lock_dose(dose)  # two prints of one dose queue here; the later one counts the earlier
    host = str(current_app.config.get("PRINTER_HOST") or "")
    reasons = []
    if dose.batch.status == BatchStatus.rejected:
        reasons.append("the batch is rejected: its doses are to be disposed, not labelled")
    if dose.status in (DoseStatus.disposed, DoseStatus.administered):
        reasons.append(f"the dose is {dose.status}")
    if not host:
        reasons.append("no label printer is configured (PRINTER_HOST)")
    if reasons:
        raise Conflict("The label cannot be printed.", reasons)
    copies = print_count(dose)
    if copies and not reason:
        raise BadRequest(f"This label was sent to the printer {copies} time(s) already: a "
                         "reprint needs a reason.", code="reason_required",
                         details={"fields": {"reason": ["required for a reprint"]}})
    if dpi not in DPIS:
        raise BadRequest("dpi must be 203 or 300.", details={"fields": {"dpi": ["203 or 300"]}})
    port = int(current_app.config.get("PRINTER_PORT") or 9100)
    timeout = float(current_app.config.get("PRINTER_TIMEOUT", 5))
    data = dose_label_document(dose, "zpl", dpi)
    printer = f"{host}:{port}"
    job = LabelPrint(dose_id=dose.id, copy_number=copies + 1, reprint=copies > 0,
                     reason=reason, quarantine=not release_statement_flags(dose.batch).released,
                     printer=printer, dpi=dpi, printed_by_id=user.id, printed_at=clock.utcnow(),
                     status=PrintStatus.queued)
    db.session.add(job)
    with audit.reason(reason) if reason else nullcontext():
        db.session.flush()
    problem = None
    with outside_transaction():  # the job is on record; no lock is held while printing
        try:
            send_zpl(host, port, data, timeout=timeout)
        except PrinterUnavailable as unavailable:
            problem = str(unavailable)
        except ValueError as misconfigured:  # a port or timeout out of range
            problem = f"Printer {printer} is misconfigured: {misconfigured}"
    _record_outcome(job, problem)
    if problem is not None:
        keep_despite_error()
        raise Unavailable(f"{problem}. Nothing was printed.", code="printer_unavailable",
                          details={"printer": printer, "print_id": job.id,
                                   "status": PrintStatus.failed.value})
    return job


def _record_outcome(job: LabelPrint, problem: str | None) -> None:
    """The print job's outcome: sent, or failed with the problem (audited as an update)."""
    db.session.refresh(job)  # re-read after the commit: the audit shows queued → outcome
    job.status = PrintStatus.sent if problem is None else PrintStatus.failed
    job.problem = problem
    job.outcome_at = clock.utcnow()
    db.session.flush()


# -- documents: chain-of-custody report, batch record, certificate of analysis ----------------


def custody_report(dose: Dose) -> bytes:
    """The chain-of-custody report of a dose (SPEC §5) as PDF bytes; audited."""
    report = from_records.custody_report(dose)
    return _issued_pdf(custody_report_pdf(report), "chain-of-custody report", "dose", dose.id,
                       unbroken=report.unbroken)


def batch_record(batch: Batch) -> bytes:
    """The executed batch record (SPEC §3, §8) as PDF bytes; audited."""
    record = from_records.batch_record(batch)
    return _issued_pdf(batch_record_pdf(record), "batch record", "batch", batch.id,
                       valid=record.valid)


def certificate_of_analysis(batch: Batch) -> bytes:
    """The certificate of analysis (SPEC §3) as PDF bytes; audited."""
    coa = from_records.certificate_of_analysis(batch)
    return _issued_pdf(coa_pdf(coa), "certificate of analysis", "batch", batch.id,
                       released=coa.released)


def _issued_pdf(data: bytes, what: str, entity_type: str, entity_id: int,
                **details: Any) -> bytes:
    _issued(what, entity_type, entity_id, "pdf", **details)
    return data


# -- FHIR ------------------------------------------------------------------------------------


def dose_fhir(dose: Dose) -> dict[str, Any]:
    return fhir.biologically_derived_product(dose, _fhir_context())


def dose_dispense_fhir(dose: Dose) -> dict[str, Any]:
    administered = [e for e in custody_events(dose=dose)
                    if e.event == CustodyEventType.administered]
    if not administered:
        raise NotFound(f"Dose {dose.code} has not been administered.",
                       details={"id": dose.id, "type": "dispense"})
    return fhir.biologically_derived_product_dispense(dose, administered[-1], _fhir_context())


def _fhir_context() -> fhir.Context:
    return fhir.Context(fin=current_app.config["FACILITY_FIN"],
                        facility_name=current_app.config["FACILITY_NAME"],
                        base=current_app.config.get("FHIR_IDENTIFIER_BASE"))
