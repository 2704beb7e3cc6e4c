"""Batch documents as PDF bytes (SPEC §3, §8): pure functions of plain data, no request,
no database.

A :class:`Document` is a title, a running header (batch number and DIN, printed on
every page), the generation time (lab time zone and UTC), an optional banner (e.g.
"NOT RELEASED") and sections — key/value facts, tables or notes. Every page carries
the header, "Page x of y" and the generation time.
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
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from labels.rendering import label_fonts

CONTENT_WIDTH_MM = 180.0


@dataclass(frozen=True)
class Section:
    """A heading with facts (``facts``: label, value), a table (``header`` + ``rows``,
    column ``widths`` in mm) and/or ``notes`` (one paragraph each)."""

    title: str
    facts: Sequence[tuple[str, str]] = ()
    header: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()
    widths: Sequence[float] = ()
    notes: Sequence[str] = ()
    empty: str = "None."


@dataclass(frozen=True)
class Document:
    title: str
    running_header: str
    facility: str
    generated: str
    sections: Sequence[Section] = field(default_factory=tuple)
    banner: str | None = None
    subject: str = ""


def _page_canvas(header: str, footer: str, font: str, bold: str):
    """A canvas that writes the running header and "Page x of y" once it knows y."""

    class PagedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]  # reportlab's, not in its stub

        def save(self):
            total = len(self._pages)
            width, height = A4
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(bold, 9)
                self.drawString(15 * mm, height - 11 * mm, header)
                self.setLineWidth(0.4)
                self.line(15 * mm, height - 13 * mm, width - 15 * mm, height - 13 * mm)
                self.setFont(font, 7.5)
                self.drawString(15 * mm, 10 * mm, footer)
                self.drawRightString(width - 15 * mm, 10 * mm,
                                     f"Page {self.getPageNumber()} of {total}")
                super().showPage()
            super().save()

    return PagedCanvas


def document_pdf(document: Document) -> bytes:
    fonts = label_fonts()

    def clean(text: str) -> str:
        if fonts.unicode:
            return text
        return text.replace("→", "->").replace("—", "-").replace("°", " deg")

    body = ParagraphStyle("body", fontName=fonts.regular, fontSize=8.5, leading=10.5)
    small = ParagraphStyle("small", parent=body, fontSize=7, leading=8.5)
    heading = ParagraphStyle("heading", parent=body, fontName=fonts.bold, fontSize=10.5,
                             leading=13, spaceBefore=7, spaceAfter=3)
    title = ParagraphStyle("title", parent=heading, fontSize=15, leading=19, spaceBefore=0)
    banner = ParagraphStyle("banner", parent=heading, fontSize=16, leading=20,
                            textColor=colors.HexColor("#b00020"))

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(clean(text)).replace("\n", "<br/>"), style)

    story: list = [p(document.title, title), p(document.facility, small),
                   p(f"Generated {document.generated}", small)]
    if document.banner:
        story.append(p(document.banner, banner))
    for section in document.sections:
        story.append(p(section.title, heading))
        if section.facts:
            story.append(_table([[p(k), p(v)] for k, v in section.facts],
                                [40 * mm, (CONTENT_WIDTH_MM - 40) * mm], fonts))
        if section.header:
            widths = list(section.widths) or \
                [CONTENT_WIDTH_MM / len(section.header)] * len(section.header)
            rows = [[p(h, small) for h in section.header]]
            rows += [[p(str(cell), small) for cell in row] for row in section.rows]
            if section.rows:
                story.append(_table(rows, [w * mm for w in widths], fonts, header=True))
            else:
                story.append(p(section.empty))
        for note in section.notes:
            story.append(p(note))
        if not (section.facts or section.header or section.notes):
            story.append(p(section.empty))
    story.append(Spacer(1, 3 * mm))

    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=18 * mm, bottomMargin=17 * mm, title=document.title,
                            subject=document.subject, author=document.facility, invariant=True)
    footer = clean(f"{document.title} · generated {document.generated}")
    doc.build(story, canvasmaker=_page_canvas(clean(document.running_header), footer,
                                              fonts.regular, fonts.bold))
    return buffer.getvalue()


def _table(rows, widths, fonts, header: bool = False) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("FONTNAME", (0, 0), (-1, -1), fonts.regular),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5)]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
    table.setStyle(TableStyle(style))
    return table
