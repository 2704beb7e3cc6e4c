"""The executed batch record as PDF bytes (SPEC §3, §8), from plain data.

Identity; every culture step (type, state, due, performed, by whom, recorded, values,
LATE ENTRY / corrected flags); every correction from the audit trail (old → new,
reason, who, when, audit seq); every QC result with its evaluation, analyst and
reviewer; the deviations, with their description, investigation and disposition as
flowing text; the doses; a custody summary; the decision; and every signature's
manifestation with its validity ("INVALIDATED: record changed after signing" once the
signed record has changed). Unless released, a banner states the decision.

:class:`BatchHeading` and the signature table are shared with the certificate of
analysis (:mod:`labels.documents.coa`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labels.documents.layout import Document, Section, cells, document_pdf


@dataclass(frozen=True)
class BatchHeading:
    """What identifies a batch document on every page."""

    batch_number: str
    din: str  # formatted, with its check character: "=A9999 25 000001 [K]"
    product_code: str
    facility: str  # name, address
    generated: str  # lab time and UTC

    def running_header(self, kind: str) -> str:
        return f"{kind} · Batch {self.batch_number} · DIN {self.din} · {self.product_code}"


@dataclass(frozen=True)
class SignatureRow:
    signed_for: str  # "Release", "Rejection", "Closure of DEV-3"
    manifestation: str  # printed name (username) — meaning — UTC date-time
    statement: str
    validity: str  # "valid" or INVALIDATED


@dataclass(frozen=True)
class StepRow:
    step: str
    state: str
    due: str
    performed: str
    by: str
    recorded: str
    values: str
    flags: str


@dataclass(frozen=True)
class CorrectionRow:
    record: str
    change: str  # "field: old → new; …"
    reason: str
    who: str
    when: str
    audit_seq: str


@dataclass(frozen=True)
class ResultRow:
    test: str
    criterion: str
    result: str
    evaluation: str
    method: str
    analyst: str
    reviewer: str


@dataclass(frozen=True)
class DeviationRow:
    number: str  # DEV-3
    kind: str
    status: str
    opened: str
    closed: str
    description: str
    investigation: str
    disposition: str


@dataclass(frozen=True)
class DoseRow:
    code: str
    cell_count: str
    volume: str
    container: str
    storage: str
    expires: str
    status: str
    formulated: str


@dataclass(frozen=True)
class CustodySummaryRow:
    item: str
    events: str
    latest: str
    unbroken: str


@dataclass(frozen=True)
class BatchRecord:
    heading: BatchHeading
    identity: Sequence[tuple[str, str]]
    steps: Sequence[StepRow]
    corrections: Sequence[CorrectionRow]
    results: Sequence[ResultRow]
    deviations: Sequence[DeviationRow]
    doses: Sequence[DoseRow]
    custody: Sequence[CustodySummaryRow]
    decision: Sequence[str]  # the decision, then any notes on it
    signatures: Sequence[SignatureRow]
    released: bool  # released and not rejected: no banner
    valid: bool | None  # the decision's signatures still hold (None: no decision yet)


def signatures_section(title: str, signatures: Sequence[SignatureRow], empty: str) -> Section:
    return Section(title, header=["Signed for", "Printed name — meaning — date-time (UTC)",
                                  "Statement", "Validity"],
                   rows=[cells(s) for s in signatures], widths=[26, 62, 56, 36], empty=empty)


def _deviations(deviations: Sequence[DeviationRow]) -> Section:
    texts = []
    for d in deviations:
        texts += [(f"{d.number} description", d.description),
                  (f"{d.number} investigation", d.investigation),
                  (f"{d.number} disposition", d.disposition)]
    return Section("Deviations", header=["No.", "Kind", "Status", "Opened", "Closed"],
                   rows=[(d.number, d.kind, d.status, d.opened, d.closed) for d in deviations],
                   widths=[18, 26, 18, 59, 59], texts=texts, empty="No deviations.")


def batch_record_pdf(record: BatchRecord) -> bytes:
    """The batch record (SPEC §3, §8) as PDF bytes."""
    h = record.heading
    return document_pdf(Document(
        title=f"Batch record — {h.batch_number}",
        running_header=h.running_header("Batch record"),
        facility=h.facility, generated=h.generated, subject=f"Batch record {h.batch_number}",
        banner=None if record.released else record.decision[0],
        sections=[
            Section("Identity", facts=record.identity),
            Section("Culture steps", header=["Step", "State", "Due", "Performed", "By",
                                             "Recorded", "Values", "Flags"],
                    rows=[cells(r) for r in record.steps],
                    widths=[22, 15, 21, 21, 27, 21, 36, 17]),
            Section("Corrections (from the audit trail)",
                    header=["Record", "Old → new", "Reason", "Who", "When", "Audit seq"],
                    rows=[cells(r) for r in record.corrections],
                    widths=[24, 50, 40, 30, 22, 14], empty="No corrections."),
            Section("QC results", header=["Test", "Criterion", "Result", "Evaluation",
                                          "Method", "Analyst", "Reviewer"],
                    rows=[cells(r) for r in record.results],
                    widths=[20, 22, 24, 17, 27, 35, 35], empty="No QC results."),
            _deviations(record.deviations),
            Section("Doses", header=["Dose", "Cells", "Volume", "Container", "Storage",
                                     "Expires", "Status", "Formulated"],
                    rows=[cells(r) for r in record.doses],
                    widths=[33, 17, 13, 20, 21, 22, 18, 36], empty="No doses formulated."),
            Section("Chain of custody (summary; per dose the full report)",
                    header=["Item", "Events", "Latest", "Chain unbroken"],
                    rows=[cells(r) for r in record.custody], widths=[40, 16, 70, 54],
                    empty="No custody events."),
            Section("Decision", notes=record.decision),
            signatures_section("Electronic signatures", record.signatures,
                               "No signatures yet."),
        ]))
