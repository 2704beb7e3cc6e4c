"""The certificate of analysis as PDF bytes (SPEC §3), from plain data.

Product, batch, DIN, origin, the release specification's version; one row per release
test (criterion, result, PASS/FAIL, analyst, reviewer); the release decision and the
release or rejection signature(s) with their validity; "NOT RELEASED" in large letters
unless the batch is released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labels.documents.batch_record import BatchHeading, SignatureRow, signatures_section
from labels.documents.layout import Document, Section, cells, document_pdf

NOT_RELEASED = "NOT RELEASED"


@dataclass(frozen=True)
class ReleaseTestRow:
    test: str
    specification: str
    result: str
    verdict: str  # PASS, FAIL or —
    analyst: str
    reviewer: str


@dataclass(frozen=True)
class CertificateOfAnalysis:
    heading: BatchHeading
    product: str
    origin: str
    specification: str  # "<code> release specification v3, effective …"
    tests: Sequence[ReleaseTestRow]
    decision: Sequence[str]
    signatures: Sequence[SignatureRow]
    released: bool  # released and not rejected


def coa_pdf(coa: CertificateOfAnalysis) -> bytes:
    """The certificate of analysis (SPEC §3) as PDF bytes."""
    h = coa.heading
    return document_pdf(Document(
        title=f"Certificate of analysis — {h.batch_number}",
        running_header=h.running_header("Certificate of analysis"),
        facility=h.facility, generated=h.generated,
        subject=f"Certificate of analysis {h.batch_number}",
        banner=None if coa.released else NOT_RELEASED,
        sections=[
            Section("Product and batch", facts=[
                ("Product", coa.product), ("Batch", h.batch_number), ("DIN", h.din),
                ("Origin", coa.origin), ("Specification", coa.specification)]),
            Section("Release tests: specification and results",
                    header=["Test", "Specification", "Result", "Pass/fail", "Analyst",
                            "Reviewer"],
                    rows=[cells(t) for t in coa.tests], widths=[36, 26, 28, 16, 37, 37],
                    empty="The specification lists no release tests."),
            Section("Release decision", notes=coa.decision),
            signatures_section("Signatures", coa.signatures, "No release signature."),
        ]))
