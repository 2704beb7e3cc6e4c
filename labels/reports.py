"""Reports as PDF bytes (SPEC §5): pure functions of plain data, no request, no database.

The chain-of-custody report of a dose: header with the facility and the time
it was generated, "Page x of y" on every page, the identity block (DIN with
its check character, product, batch, chain of identity, the patient's two
identifiers), the release signature (or a clear "not released"), the full
timeline from collection to administration with who, where, when and
temperature, and the verdict "Chain unbroken: yes/no" with the reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from labels.rendering import label_fonts

_CELL_PADDING = 6  # points, reportlab's default left and right padding of a table cell


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

    @property
    def unbroken(self) -> bool:
        return not self.chain_breaks


def _numbered_canvas(footer_left: str, font: str):
    """A canvas that writes "Page x of y" once it knows y (two-pass numbering)."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]  # reportlab's, not in its stub

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(font, 8)
                self.drawString(15 * mm, 10 * mm, footer_left)
                self.drawRightString(A4[0] - 15 * mm, 10 * mm,
                                     f"Page {self.getPageNumber()} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas


def custody_report_pdf(report: CustodyReport, release_signature: str | None = None) -> bytes:
    """The chain-of-custody report (SPEC §5) as a PDF.

    ``release_signature`` is the release signature's manifestation (printed
    name, meaning, date-time) — ``None`` prints that the batch is not released.
    """
    fonts = label_fonts()
    body = ParagraphStyle("body", fontName=fonts.regular, fontSize=9, leading=11.5)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9)
    heading = ParagraphStyle("heading", parent=body, fontName=fonts.bold, fontSize=11,
                             leading=14, spaceBefore=6, spaceAfter=3)
    title = ParagraphStyle("title", parent=heading, fontSize=15, leading=19)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    story: list[Flowable] = [
        p(f"Chain of custody — dose {report.dose_code}", title),
        p(f"{report.facility}, {report.facility_address}", small),
        p(f"Generated {report.generated_at}", small),
        p("Identity", heading),
    ]
    identity = [
        ["DIN", f"{report.din}  [{report.check_character}]"],
        ["Product", report.product],
        ["Batch", f"{report.batch_number} ({report.origin})"],
        ["Chain of identity", report.chain_of_identity],
        ["Patient", f"{report.patient_code}, born {report.patient_date_of_birth}"],
        ["Dose status", report.dose_status],
    ]
    story.append(_table([[p(k), p(v)] for k, v in identity], [38 * mm, 132 * mm], fonts))
    story.append(p("Release", heading))
    story.append(p(f"Released — signed: {release_signature}" if release_signature else
                   "Not released: no release signature."))
    story.append(p("Timeline", heading))
    header = ["When", "Event", "Where", "Who", "Temp.", "Confirmed", "Recorded by"]
    widths = [24 * mm, 20 * mm, 42 * mm, 28 * mm, 14 * mm, 18 * mm, 24 * mm]

    def cell(text: str, width: float) -> str | Paragraph:
        # A Paragraph only where the text must wrap: laying out thousands of them is
        # what made a long timeline slow (benchmarks/custody_report.py).
        if "\n" not in text and (stringWidth(text, small.fontName, small.fontSize)
                                 <= width - 2 * _CELL_PADDING):
            return text
        return p(text, small)

    rows: list[list[str | Paragraph]] = [[p(h, small) for h in header]]
    rows += [[cell(text, width) for text, width in zip(
        (r.when, r.event, r.where, r.who, r.temperature, r.confirmed, r.recorded), widths,
        strict=True)] for r in report.timeline]
    timeline = _table(rows, widths, fonts, header=True)
    timeline.setStyle(TableStyle([("FONTSIZE", (0, 1), (-1, -1), small.fontSize),
                                  ("LEADING", (0, 1), (-1, -1), small.leading)]))
    story.append(timeline)
    story.append(Spacer(1, 4 * mm))
    story.append(p(f"Chain unbroken: {'yes' if report.unbroken else 'no'}", heading))
    for reason in report.chain_breaks:
        story.append(p(f"• {reason}"))

    buffer = BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                                 topMargin=15 * mm, bottomMargin=18 * mm,
                                 title=f"Chain of custody {report.dose_code}",
                                 author=report.facility, invariant=True)
    footer = f"Chain of custody {report.dose_code} · generated {report.generated_at}"
    document.build(story, canvasmaker=_numbered_canvas(footer, fonts.regular))
    return buffer.getvalue()


def _table(rows, widths, fonts, header: bool = False) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP"),
                                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                                    ("FONTNAME", (0, 0), (-1, -1), fonts.regular)]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
    table.setStyle(TableStyle(style))
    return table
