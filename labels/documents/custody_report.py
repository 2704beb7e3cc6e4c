"""The chain-of-custody report of a dose as PDF bytes (SPEC §5), from plain data.

The identity block (DIN with its check character, product, batch, chain of identity,
the patient's two identifiers, dose status), the release signature (or a clear "not
released"), the full timeline from collection to administration with who, where, when
and temperature, and the verdict "Chain unbroken: yes/no" with the reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labels.documents.layout import Document, Section, cells, document_pdf


@dataclass(frozen=True)
class TimelineRow:
    when: str
    event: str
    where: str
    who: str
    temperature: str
    confirmed: str
    recorded: str


@dataclass(frozen=True)
class CustodyReport:
    facility: str
    facility_address: str
    generated_at: str
    dose_code: str
    din: str
    check_character: str
    product: str
    batch_number: str
    origin: str
    chain_of_identity: str
    patient_code: str
    patient_date_of_birth: str
    dose_status: str
    timeline: Sequence[TimelineRow] = field(default_factory=tuple)
    chain_breaks: Sequence[str] = field(default_factory=tuple)
    release_signature: str | None = None  # the manifestation(s); None: not released

    @property
    def unbroken(self) -> bool:
        return not self.chain_breaks


def custody_report_pdf(report: CustodyReport) -> bytes:
    """The chain-of-custody report (SPEC §5) as PDF bytes."""
    din = f"{report.din}  [{report.check_character}]"
    return document_pdf(Document(
        title=f"Chain of custody — dose {report.dose_code}",
        running_header=f"Chain of custody · Dose {report.dose_code} · DIN {din}",
        facility=f"{report.facility}, {report.facility_address}",
        generated=report.generated_at, subject=f"Chain of custody {report.dose_code}",
        sections=[
            Section("Identity", facts=[
                ("DIN", din),
                ("Product", report.product),
                ("Batch", f"{report.batch_number} ({report.origin})"),
                ("Chain of identity", report.chain_of_identity),
                ("Patient", f"{report.patient_code}, born {report.patient_date_of_birth}"),
                ("Dose status", report.dose_status),
            ]),
            Section("Release", notes=[
                f"Released — signed: {report.release_signature}" if report.release_signature
                else "Not released: no release signature."]),
            Section("Timeline", header=["When", "Event", "Where", "Who", "Temp.", "Confirmed",
                                        "Recorded by"],
                    rows=[cells(r) for r in report.timeline],
                    widths=[24, 20, 44, 30, 14, 20, 28], empty="No custody events."),
            Section(f"Chain unbroken: {'yes' if report.unbroken else 'no'}",
                    notes=[f"• {reason}" for reason in report.chain_breaks],
                    empty="No break in the chain of custody was found."),
        ]))
