"""The one set of text styles and the one table style of every document (SPEC §8).

Text enters a document only through :func:`paragraph` (escaped, line breaks kept, long
words split) or :func:`table`, whose rows may split across pages: no text is too long
for a document, whatever its length ("every document renders whatever the length of
the texts it holds").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

from labels.documents.canvas import BODY_HEIGHT
from labels.rendering import Fonts, label_fonts

CELL_PADDING = 2.5  # points, left and right of every cell
HEADER_BACKGROUND = colors.HexColor("#e8e8e8")
GRID = colors.grey
BANNER_COLOUR = colors.HexColor("#b00020")
_ASCII_FALLBACKS = {"→": "->", "—": "-", "–": "-", "°": " deg", "•": "*", "…": "...",
                    "≥": ">=", "≤": "<="}


@dataclass(frozen=True)
class Styles:
    """The fonts and paragraph styles of a document."""

    fonts: Fonts
    body: ParagraphStyle
    small: ParagraphStyle
    label: ParagraphStyle
    heading: ParagraphStyle
    title: ParagraphStyle
    banner: ParagraphStyle

    def clean(self, text: str) -> str:
        """``text`` as the fonts can draw it: the PDF core fonts (used when DejaVu Sans is
        not installed) have no arrows or dashes; line ends are ``\\n``."""
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self.fonts.unicode:
            return text
        for char, fallback in _ASCII_FALLBACKS.items():
            text = text.replace(char, fallback)
        return text


def styles() -> Styles:
    fonts = label_fonts()
    body = ParagraphStyle("body", fontName=fonts.regular, fontSize=8.5, leading=10.5)
    heading = ParagraphStyle("heading", parent=body, fontName=fonts.bold, fontSize=10.5,
                             leading=13, spaceBefore=7, spaceAfter=3)
    return Styles(
        fonts=fonts, body=body,
        small=ParagraphStyle("small", parent=body, fontSize=7, leading=8.5),
        label=ParagraphStyle("label", parent=body, fontName=fonts.bold, spaceBefore=4),
        heading=heading,
        title=ParagraphStyle("title", parent=heading, fontSize=15, leading=19, spaceBefore=0),
        banner=ParagraphStyle("banner", parent=heading, fontSize=16, leading=20,
                              textColor=BANNER_COLOUR))


def paragraph(s: Styles, text: str, style: ParagraphStyle | None = None) -> Paragraph:
    """``text`` as a flowing paragraph: escaped (no markup gets through), line breaks
    kept, words longer than the line split; it splits across pages."""
    return Paragraph(escape(s.clean(text)).replace("\n", "<br/>"), style or s.body)


def cell(s: Styles, text: str, width: float, style: ParagraphStyle) -> str | Paragraph:
    """A table cell: the plain string where it fits on one line of ``width`` points, else
    a paragraph that wraps. (Laying out thousands of paragraphs is what made a long
    custody timeline slow: benchmarks/custody_report.py.)"""
    text = s.clean(text)
    if "\n" not in text and (stringWidth(text, style.fontName, style.fontSize)
                             <= width - 2 * CELL_PADDING):
        return text
    return paragraph(s, text, style)


class _Table(Table):
    """Rows stay whole where they fit on a page: a row that does not fit in what is left of
    a page moves to the next one; only a row that no page could hold splits inside itself
    (it fills what is left of the page and goes on, under the repeated header, on the
    next)."""

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        self._calc(availWidth, availHeight)  # type: ignore[attr-defined]  # not in the stub
        heights: list[float] = self._rowHeights  # type: ignore[attr-defined]  # idem
        header = sum(heights[:self.repeatRows])
        used = 0.0
        for height in heights:
            if used + height > availHeight:
                self.splitInRow = 1 if header + height > BODY_HEIGHT else 0
                break
            used += height
        return super().split(availWidth, availHeight)


def table(s: Styles, rows: Sequence[Sequence[str]], widths_mm: Sequence[float], *,
          header: Sequence[str] = (), style: ParagraphStyle | None = None) -> Table:
    """The one table style: a grey grid, text at the top of each cell, an optional header
    row on a grey background repeated on every page. A row taller than a whole
    page splits across pages, so no cell is ever too long (:class:`_Table`)."""
    style = style or s.small
    widths = [w * mm for w in widths_mm]
    data: list[list[str | Paragraph]] = []
    if header:
        data.append([paragraph(s, h, s.small) for h in header])
    data += [[cell(s, str(text), width, style) for text, width in zip(row, widths, strict=True)]
             for row in rows]
    result = _Table(data, colWidths=widths, repeatRows=1 if header else 0)
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, GRID),
        ("FONTNAME", (0, 0), (-1, -1), s.fonts.regular),
        ("FONTSIZE", (0, 0), (-1, -1), style.fontSize),
        ("LEADING", (0, 0), (-1, -1), style.leading),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND))
    result.setStyle(TableStyle(commands))
    return result
