"""The one paged canvas every document is drawn on (SPEC §3, §5, §8).

Every page carries the running header (e.g. batch number, DIN and product) above a rule,
the footer (title and generation time) and "Page x of y"; y is known only once the
whole document is laid out, so pages are kept and stamped when the canvas is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate

from labels.rendering import Fonts

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_MM = 15.0
CONTENT_WIDTH_MM = PAGE_WIDTH / mm - 2 * MARGIN_MM  # 180 mm on A4
TOP_MARGIN_MM = 18.0  # room for the running header
BOTTOM_MARGIN_MM = 17.0  # room for the footer
FRAME_PADDING = 6.0  # points: reportlab's frame padding on every side
BODY_HEIGHT = PAGE_HEIGHT - (TOP_MARGIN_MM + BOTTOM_MARGIN_MM) * mm - 2 * FRAME_PADDING
"""Points a flowable has on an empty page."""
HEADER_SIZE = 9.0
FOOTER_SIZE = 7.5


def fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut to ``width`` points (ending "…") so that a header line never runs
    off the page."""
    full = stringWidth(text, font, size)
    if full <= width:
        return text
    text = text[:int(len(text) * width / full) + 1]  # about the right length, then trim
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def paged_canvas(header: str, footer: str, fonts: Fonts) -> type[Canvas]:
    """A canvas class that stamps ``header``, ``footer`` and "Page x of y" on every page."""
    width = PAGE_WIDTH - 2 * MARGIN_MM * mm
    numbering_room = 25 * mm
    header = fit(" ".join(header.split()), fonts.bold, HEADER_SIZE, width)
    footer = fit(" ".join(footer.split()), fonts.regular, FOOTER_SIZE, width - numbering_room)

    class PagedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]  # reportlab's, not in its stub

        def save(self) -> None:
            total = len(self._pages)
            left, right = MARGIN_MM * mm, PAGE_WIDTH - MARGIN_MM * mm
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(fonts.bold, HEADER_SIZE)
                self.drawString(left, PAGE_HEIGHT - 11 * mm, header)
                self.setLineWidth(0.4)
                self.line(left, PAGE_HEIGHT - 13 * mm, right, PAGE_HEIGHT - 13 * mm)
                self.setFont(fonts.regular, FOOTER_SIZE)
                self.drawString(left, 10 * mm, footer)
                self.drawRightString(right, 10 * mm, f"Page {self.getPageNumber()} of {total}")
                super().showPage()
            super().save()

    return PagedCanvas


def build_pdf(story: Sequence[Flowable], *, fonts: Fonts, header: str, footer: str,
              title: str, subject: str, author: str) -> bytes:
    """Lay ``story`` out on A4 pages of the paged canvas; the PDF's bytes (reproducible:
    no creation date or random id in the file)."""
    buffer = BytesIO()
    template = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN_MM * mm, rightMargin=MARGIN_MM * mm,
        topMargin=TOP_MARGIN_MM * mm, bottomMargin=BOTTOM_MARGIN_MM * mm, title=title,
        subject=subject, author=author, invariant=True)
    template.build(list(story), canvasmaker=paged_canvas(header, footer, fonts))
    return buffer.getvalue()
