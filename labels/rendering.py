"""Dose and in-process labels as PDF and ZPL bytes (SPEC.md §6).

Pure functions: they take label data and return bytes; they know nothing of
requests, the database or printers.

* Linear bar codes: plain Code 128 (no FNC1), module 0.25 mm, quiet zone of
  10 modules, bar height 7 mm (≥ 5 mm and ≥ 15 % of the symbol length for
  every ISBT 128 text used here).  The DIN check character is printed in a
  box beside the eye-readable DIN and is never encoded.
* The 2-D symbol is a Data Matrix ECC 200 carrying the compound message,
  module 0.5 mm (ST-001 asks for 0.25–1 mm), quiet zone of 2 modules.
* Dose label layout (100 × 100 mm by default; at least 95 × 95 mm): DIN and
  product code bar codes on top, expiry bar code and Data Matrix below them,
  then the text block: product name, cell count, volume, storage
  temperature, collection date, chain of identity, recipient identifiers,
  every statement, and the processing facility's name and address.  The
  biohazard legend is the drawn symbol (``labels.biohazard``, one bitmap for
  PDF and ZPL) with the word BIOHAZARD beside it (21 CFR 1271.3(h)).  Text
  shrinks to fit; if it still does not fit a ``ValueError`` is raised rather
  than leaving a statement out.
* In-process labels (collections, culture vessels; 50 × 25 mm by default):
  one Code 128 bar code, the boxed DIN check character for a DIN, and a few
  text lines, as PDF (:func:`in_process_label_pdf`) or ZPL
  (:func:`in_process_label_zpl`).
* :func:`dose_label_sheet_pdf` puts as many labels as fit on A4 pages (2 × 2
  for 100 × 100 mm labels) with a thin cut outline.
* Text uses DejaVu Sans when the system has it (so ``≤`` or ``−`` print);
  otherwise Helvetica, and text outside Windows-1252 is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from io import BytesIO

from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from batches import isbt128
from labels.biohazard import BIOHAZARD_LEGEND, Bitmap, symbol_bitmap, zpl_graphic_field
from labels.symbols import (
    QUIET_ZONE_MODULES,
    code128_modules,
    datamatrix_matrix,
    zpl_code128_data,
)

MODULE_MM = 0.25
BAR_HEIGHT_MM = 7.0
MATRIX_MODULE_MM = 0.5
MATRIX_QUIET_MODULES = 2
MARGIN_MM = 3.0
MIN_DOSE_LABEL_MM = 95.0
BIOHAZARD_SYMBOL_MM = 8.0
"""Side of the drawn biohazard symbol beside the word BIOHAZARD (ZPL; the PDF's
shrinks with its text)."""
BIOHAZARD_PDF_PX = 120
"""Pixels of the symbol's bitmap in the PDF (~380 dpi at 8 mm)."""
QUARANTINE_STATEMENT = "QUARANTINE — NOT FOR RELEASE"
_MIN_FONT_PT = 5.0
_STATEMENTS = ("strong", "biohazard")
_UNSPLIT_STATEMENTS_MIN_SCALE = 0.8
"""The text block shrinks to this scale (body text 7.2 pt) rather than break a statement
(a warning, the recipient) over two lines; below it, long statements wrap."""

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    mono: str
    unicode: bool


@dataclass(frozen=True)
class DoseLabel:
    """Everything printed on a dose label (SPEC §6 "Label content").

    The ISBT 128 texts are the exact bar code texts; they are checked
    against each other when the label is made.
    """

    din: str
    check_character: str
    flags: str
    product_code_text: str
    expiry_text: str
    matrix_text: str
    product_name: str
    cells: int | str
    volume_ml: int | float | Decimal | str
    storage_temperature: str
    facility_name: str
    facility_address: str
    statements: Sequence[str] = ()
    collection_date_text: str | None = None
    recipient_identifiers: Sequence[str] = ()
    division: str = "00"
    quarantine: bool = False
    chain_of_identity_text: str | None = None

    def __post_init__(self) -> None:
        if isbt128.din_check_character(self.din) != self.check_character:
            raise ValueError(f"check character {self.check_character!r} is wrong for {self.din}")
        isbt128.din_barcode_text(self.din, self.flags)
        product = isbt128.parse_product_code(self.product_code_text)
        if product.division != self.division:
            raise ValueError(f"division {self.division!r} differs from the product code's")
        isbt128.parse_expiry_text(self.expiry_text)
        if self.collection_date_text is not None:
            isbt128.parse_collection_date_text(self.collection_date_text)
        if self.chain_of_identity_text is not None:
            isbt128.parse_chain_of_identity(self.chain_of_identity_text)
        scanned = isbt128.parse_scanned(self.matrix_text)
        if scanned["kind"] != "compound" or scanned.get("din") != self.din:
            raise ValueError("the Data Matrix text must be a compound message with this DIN")

    @property
    def din_text(self) -> str:
        """The DIN bar code text: ``=`` + DIN + flags."""
        return isbt128.DIN_PREFIX + self.din + self.flags

    def printed_statements(self) -> list[str]:
        """Statements to print, the quarantine legend first when quarantined."""
        statements = list(self.statements)
        if self.quarantine and QUARANTINE_STATEMENT not in statements:
            statements.insert(0, QUARANTINE_STATEMENT)
        return statements

    def text_lines(self) -> list[tuple[str, str]]:
        """(style, text) lines of the text block, in print order.

        Styles: ``title``, ``body``, ``strong``, ``small``; ``biohazard`` (the
        drawn symbol goes before the text); ``check`` — body text whose last
        character is a keyboard check character, printed in a box like the
        DIN's (the chain of identity identifier's ISO/IEC 7064 MOD 37-2
        character).  The recipient's identifiers share one line.
        """
        lines = [("title", self.product_name)]
        lines.append(("body", f"Cells: {format_cells(self.cells)}"))
        lines.append(("body", f"Volume: {self.volume_ml} mL"))
        lines.append(("body", f"Store at: {self.storage_temperature}"))
        if self.collection_date_text:
            collected = isbt128.parse_collection_date_text(self.collection_date_text)
            lines.append(("body", f"Collected: {collected:%Y-%m-%d %H:%M}"))
        if self.chain_of_identity_text:
            coi = isbt128.parse_chain_of_identity(self.chain_of_identity_text)
            lines.append(("check", f"Chain of identity: {coi.identifier} {coi.check_character}"))
        if self.recipient_identifiers:
            lines.append(("strong", "Recipient: " + " · ".join(self.recipient_identifiers)))
        for statement in self.printed_statements():
            style = "biohazard" if statement == BIOHAZARD_LEGEND else "strong"
            lines.append((style, statement))
        lines.append(("small", self.facility_name))
        lines.append(("small", self.facility_address))
        return lines


@dataclass(frozen=True)
class InProcessLabel:
    """A small label for a collection or culture vessel (SPEC §6).

    ``barcode_text`` is a DIN bar code text (``=`` + DIN + flags) or any
    printable ASCII identifier such as a batch number.  For a DIN the
    eye-readable DIN and its boxed check character are printed.
    """

    barcode_text: str
    lines: Sequence[str] = field(default_factory=tuple)


def format_cells(cells: int | str) -> str:
    """Cell count as printed on a dose label, readable at a glance.

    * fewer than a million: every digit, thousands separated by commas
      (``850``, ``340,000``) — exact (no dose is that small; a count given this
      way is shown as given);
    * from a million: rounded (half up) to 3 significant digits, in words on the
      short scale (million 10⁶, billion 10⁹, trillion 10¹²), then as a power of
      ten so that "billion" cannot be misread on the long scale:
      ``20 million (2.0 × 10⁷)``, ``2.5 billion (2.5 × 10⁹)``,
      ``123 million (1.23 × 10⁸)``.

    Text is returned unchanged.  ZPL spells ``×`` and the superscripts in ASCII
    (``2.0 x 10^7``, :func:`ascii_text`).
    """
    if isinstance(cells, str):
        return cells
    if isinstance(cells, bool) or cells < 0:
        raise ValueError(f"cell count must be a non-negative whole number: {cells!r}")
    if cells != int(cells):
        raise ValueError(f"cell count must be a whole number: {cells!r}")
    cells = int(cells)
    if cells < 1_000_000:
        return f"{cells:,}"
    unit = 10 ** (len(str(cells)) - 3)
    rounded = (cells + unit // 2) // unit * unit  # 3 significant digits, half up
    exponent = len(str(rounded)) - 1  # 999.6 million rounds to 1.00 × 10⁹
    mantissa = Decimal(rounded).scaleb(-exponent).normalize()
    mantissa_text = f"{mantissa:.1f}" if mantissa == mantissa.to_integral() else f"{mantissa:f}"
    word_exponent = min(3 * (exponent // 3), 12)
    in_words = Decimal(rounded).scaleb(-word_exponent).normalize()
    words = f"{in_words:f} {_LARGE_NUMBER_WORDS[word_exponent]}"
    return f"{words} ({mantissa_text} × 10{str(exponent).translate(_SUPERSCRIPT_DIGITS)})"


_LARGE_NUMBER_WORDS = {6: "million", 9: "billion", 12: "trillion"}
_SUPERSCRIPT_DIGITS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_PLAIN_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
# Typographic characters that printer fonts may lack, with their ASCII spelling.
_ASCII_SPELLING = {"—": "-", "–": "-", "−": "-", "×": "x", "≤": "<=", "≥": ">=", "’": "'"}


def ascii_text(text: str) -> str:
    """``text`` with typographic signs in ASCII (``—`` → ``-``, ``×`` → ``x``, ``≤`` →
    ``<=`` …) and superscript exponents as ``^`` + digits (``10⁷`` → ``10^7``), for
    printers whose fonts may lack them; other characters (``°``, ``·``) are kept."""
    text = _SUPERSCRIPT_RUN.sub(lambda run: "^" + run.group().translate(_PLAIN_DIGITS), text)
    return "".join(_ASCII_SPELLING.get(ch, ch) for ch in text)


# --------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------


def dose_label_pdf(label: DoseLabel, width_mm: float = 100, height_mm: float = 100) -> bytes:
    """One dose label as a one-page PDF sized to the label stock (SPEC §6)."""
    _require_dose_size(width_mm, height_mm)
    buffer = BytesIO()
    canvas = _new_canvas(buffer, (width_mm * mm, height_mm * mm), f"Dose label {label.din}")
    _draw_dose_label(canvas, label, 0, 0, width_mm, height_mm)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def dose_label_sheet_pdf(
    labels: Sequence[DoseLabel], width_mm: float = 100, height_mm: float = 100
) -> bytes:
    """Labels of a whole batch on A4 pages, as many per page as fit (SPEC §6)."""
    if not labels:
        raise ValueError("a label sheet needs at least one label")
    _require_dose_size(width_mm, height_mm)
    page_w, page_h = A4
    cols = int((page_w / mm - 2 * MARGIN_MM) // width_mm)
    rows = int((page_h / mm - 2 * MARGIN_MM) // height_mm)
    if cols < 1 or rows < 1:
        raise ValueError("labels of this size do not fit on an A4 page")
    left = (page_w / mm - cols * width_mm) / 2
    top = (page_h / mm - rows * height_mm) / 2
    buffer = BytesIO()
    canvas = _new_canvas(buffer, A4, "Dose label sheet")
    per_page = cols * rows
    for index, label in enumerate(labels):
        if index and index % per_page == 0:
            canvas.showPage()
        slot = index % per_page
        x = left + (slot % cols) * width_mm
        y = page_h / mm - top - (slot // cols + 1) * height_mm
        canvas.setLineWidth(0.2)
        canvas.rect(x * mm, y * mm, width_mm * mm, height_mm * mm)
        _draw_dose_label(canvas, label, x, y, width_mm, height_mm)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def in_process_label_pdf(
    label: InProcessLabel, width_mm: float = 50, height_mm: float = 25
) -> bytes:
    """A small in-process label: one Code 128 bar code and a few text lines (SPEC §6)."""
    fonts = label_fonts()
    modules = code128_modules(label.barcode_text)
    needed = (len(modules) + 2 * QUIET_ZONE_MODULES) * MODULE_MM + 2
    if needed > width_mm:
        raise ValueError(f"bar code {label.barcode_text!r} needs {needed:.1f} mm of width")
    buffer = BytesIO()
    canvas = _new_canvas(buffer, (width_mm * mm, height_mm * mm), "In-process label")
    top = height_mm - 1.5
    bar_height = 5.5
    _draw_code128(canvas, 1, top - bar_height, label.barcode_text, bar_height)
    y = top - bar_height - 3.2
    din = _din_of(label.barcode_text)
    if din:
        _draw_din_text(canvas, fonts, din, 1 + QUIET_ZONE_MODULES * MODULE_MM, y, 8)
        y -= 3.2
    for line in label.lines:
        size = _fit_font(canvas, fonts.regular, [line], width_mm - 2, 7)
        _text(canvas, fonts.regular, size, 1, y, line)
        y -= size * 0.3528 * 1.2
        if y < 0.5:
            raise ValueError("in-process label text does not fit")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_dose_label(
    canvas: Canvas, label: DoseLabel, x0: float, y0: float, width: float, height: float
) -> None:
    fonts = label_fonts()
    lines = label.text_lines()
    if not fonts.unicode:  # the core fonts have neither "×" nor "⁷"; the ZPL's spelling
        lines = [(style, ascii_text(text)) for style, text in lines]
    for _style, text in lines:
        _require_printable(text, fonts)
    top = y0 + height - MARGIN_MM
    left, right = x0 + MARGIN_MM, x0 + width - MARGIN_MM

    _draw_code128(canvas, left, top - BAR_HEIGHT_MM, label.din_text, BAR_HEIGHT_MM)
    text_x = left + QUIET_ZONE_MODULES * MODULE_MM
    _draw_din_text(canvas, fonts, label.din, text_x, top - BAR_HEIGHT_MM - 4.2, 10)
    product_w = _code128_width(label.product_code_text)
    product_x = right - product_w
    _draw_code128(canvas, product_x, top - BAR_HEIGHT_MM, label.product_code_text, BAR_HEIGHT_MM)
    product = isbt128.parse_product_code(label.product_code_text)
    _text(
        canvas, fonts.mono, 9, product_x + QUIET_ZONE_MODULES * MODULE_MM,
        top - BAR_HEIGHT_MM - 4.0,
        f"{product.product_description_code} {product.collection_type} {product.division}",
    )

    band_top = top - BAR_HEIGHT_MM - 7.5
    _draw_code128(canvas, left, band_top - BAR_HEIGHT_MM, label.expiry_text, BAR_HEIGHT_MM)
    expires = isbt128.parse_expiry_text(label.expiry_text)
    _text(canvas, fonts.bold, 9, text_x, band_top - BAR_HEIGHT_MM - 4.0,
          f"EXP {expires:%Y-%m-%d %H:%M}")
    matrix_size = _draw_datamatrix(canvas, right, band_top, label.matrix_text)

    text_top = min(band_top - BAR_HEIGHT_MM - 6.5, band_top - matrix_size - 1.0)
    available = text_top - y0 - 2
    _draw_text_block(canvas, fonts, lines, left, text_top, right - left, available)


def _draw_text_block(
    canvas: Canvas,
    fonts: Fonts,
    lines: list[tuple[str, str]],
    x: float,
    top: float,
    width: float,
    available: float,
) -> None:
    scale = 1.0
    while True:
        wrapped = _wrap_block(fonts, lines, width, scale)
        needed = sum(_line_height(line.size, line.symbol) for line in wrapped)
        split = any(line.continues_statement for line in wrapped)
        if needed <= available and (not split or scale < _UNSPLIT_STATEMENTS_MIN_SCALE):
            break
        scale *= 0.92
        if 8 * scale < _MIN_FONT_PT:
            raise ValueError("label text does not fit on the label; use a larger stock")
    y = top
    for line in wrapped:
        font, size, text = line.font, line.size, line.text
        if line.symbol:
            side = _symbol_side(size)
            y -= side
            _draw_biohazard_symbol(canvas, x, y, side)
            _text(canvas, font, size, x + side + 1.5, y + side / 2 - size * 0.3528 * 0.36, text)
            y -= size * 0.3528 * 0.2
            continue
        y -= size * 0.3528
        _text(canvas, font, size, x, y, text)
        if line.check:
            end = x + pdfmetrics.stringWidth(text + " ", font, size) / mm
            _draw_boxed_character(canvas, font, size, end, y, line.check)
        y -= size * 0.3528 * 0.2


def _symbol_side(size: float) -> float:
    """Side (mm) of the biohazard symbol beside text of ``size`` points."""
    return size * 0.3528 * 2.25


def _line_height(size: float, symbol: bool) -> float:
    if symbol:
        return _symbol_side(size) + size * 0.3528 * 0.2
    return size * 0.3528 * 1.2


def _draw_biohazard_symbol(canvas: Canvas, x: float, y: float, side: float) -> None:
    """The biohazard symbol's bitmap as an image, its lower left corner at (x, y) mm."""
    image = ImageReader(_bitmap_image(symbol_bitmap(BIOHAZARD_PDF_PX)))
    canvas.drawImage(image, x * mm, y * mm, side * mm, side * mm)


def _bitmap_image(bitmap: Bitmap) -> Image.Image:
    image = Image.new("1", (len(bitmap[0]), len(bitmap)), 1)
    image.putdata([0 if dark else 1 for row in bitmap for dark in row])
    return image


@dataclass(frozen=True)
class _PrintedLine:
    font: str
    size: float
    text: str
    symbol: bool = False
    """The biohazard symbol goes before the text."""
    check: str = ""
    """A check character printed in a box after the text."""
    continues_statement: bool = False
    """The second or a later line of a statement that did not fit on one line."""


def _wrap_block(
    fonts: Fonts, lines: list[tuple[str, str]], width: float, scale: float
) -> list[_PrintedLine]:
    """The lines as printed, wrapped to ``width`` mm (styles: ``DoseLabel.text_lines``)."""
    styles = {
        "title": (fonts.bold, 12.0),
        "body": (fonts.regular, 9.0),
        "check": (fonts.regular, 9.0),
        "strong": (fonts.bold, 8.5),
        "biohazard": (fonts.bold, 10.0),
        "small": (fonts.regular, 7.5),
    }
    out = []
    for style, text in lines:
        font, size = styles[style]
        size *= scale
        symbol = style == "biohazard"
        check = text[-1] if style == "check" else ""
        if check:
            text = text[:-1].rstrip()
        room = width - (_symbol_side(size) + 1.5 if symbol else 0)
        room -= _check_box_side(size) + 1.5 if check else 0
        pieces = simpleSplit(text, font, size, room * mm) or [""]
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            out.append(_PrintedLine(font, size, piece, symbol, check if last else "",
                                    continues_statement=index > 0 and style in _STATEMENTS))
    return out


def _check_box_side(size: float) -> float:
    """Side (mm) of the box around a check character of ``size`` points."""
    return size * 0.3528 * 1.25


def _draw_boxed_character(
    canvas: Canvas, font: str, size: float, x: float, y: float, character: str
) -> None:
    """A check character in a box (ST-001 §7.5.1.1), the box's left edge at ``x`` mm and
    the text's baseline at ``y`` mm."""
    box = _check_box_side(size)
    canvas.setLineWidth(0.6)
    canvas.rect(x * mm, (y - box * 0.22) * mm, box * mm, box * mm, stroke=1, fill=0)
    char_w = pdfmetrics.stringWidth(character, font, size) / mm
    _text(canvas, font, size, x + (box - char_w) / 2, y, character)


def _draw_code128(canvas: Canvas, x: float, y: float, text: str, height: float) -> float:
    """Draw ``text`` with its left quiet zone starting at (x, y) mm; returns the width."""
    modules = code128_modules(text)
    start = x + QUIET_ZONE_MODULES * MODULE_MM
    canvas.setFillColorRGB(0, 0, 0)
    run_start = None
    for index, bit in enumerate(modules + "0"):
        if bit == "1" and run_start is None:
            run_start = index
        elif bit == "0" and run_start is not None:
            canvas.rect(
                (start + run_start * MODULE_MM) * mm, y * mm,
                (index - run_start) * MODULE_MM * mm, height * mm,
                stroke=0, fill=1,
            )
            run_start = None
    return _code128_width(text)


def _code128_width(text: str) -> float:
    return (len(code128_modules(text)) + 2 * QUIET_ZONE_MODULES) * MODULE_MM


def _draw_datamatrix(canvas: Canvas, right: float, top: float, text: str) -> float:
    """Draw the symbol with its quiet zone ending at ``right`` and starting at ``top``."""
    matrix = datamatrix_matrix(text)
    size = (len(matrix) + 2 * MATRIX_QUIET_MODULES) * MATRIX_MODULE_MM
    origin_x = right - size + MATRIX_QUIET_MODULES * MATRIX_MODULE_MM
    origin_y = top - MATRIX_QUIET_MODULES * MATRIX_MODULE_MM
    for r, row in enumerate(matrix):
        # one rectangle per horizontal run of dark modules (fewer PDF operators)
        run_start = None
        for c, dark in enumerate([*row, False]):
            if dark and run_start is None:
                run_start = c
            elif not dark and run_start is not None:
                canvas.rect(
                    (origin_x + run_start * MATRIX_MODULE_MM) * mm,
                    (origin_y - (r + 1) * MATRIX_MODULE_MM) * mm,
                    (c - run_start) * MATRIX_MODULE_MM * mm, MATRIX_MODULE_MM * mm,
                    stroke=0, fill=1,
                )
                run_start = None
    return size


def _draw_din_text(canvas: Canvas, fonts: Fonts, din: str, x: float, y: float, size: float) -> None:
    """Eye-readable DIN with the check character in a box beside it (ST-001 §7.5.1.1)."""
    shown = isbt128.format_din(din)
    _text(canvas, fonts.mono, size, x, y, shown)
    end = x + pdfmetrics.stringWidth(shown + " ", fonts.mono, size) / mm
    _draw_boxed_character(canvas, fonts.mono, size, end, y, isbt128.din_check_character(din))


def _text(canvas: Canvas, font: str, size: float, x: float, y: float, text: str) -> None:
    canvas.setFont(font, size)
    canvas.drawString(x * mm, y * mm, text)


def _fit_font(canvas: Canvas, font: str, lines: Sequence[str], width: float, size: float) -> float:
    while size > _MIN_FONT_PT and any(
        pdfmetrics.stringWidth(line, font, size) > width * mm for line in lines
    ):
        size -= 0.5
    return size


def _new_canvas(buffer: BytesIO, pagesize: tuple[float, float], title: str) -> Canvas:
    canvas = Canvas(buffer, pagesize=pagesize, invariant=True)
    canvas.setTitle(title)
    canvas.setAuthor("cellbatch-lims")
    return canvas


def _din_of(barcode_text: str) -> str | None:
    try:
        return isbt128.parse_din_barcode(barcode_text).din
    except ValueError:
        return None


def _require_dose_size(width_mm: float, height_mm: float) -> None:
    if width_mm < MIN_DOSE_LABEL_MM or height_mm < MIN_DOSE_LABEL_MM:
        side = f"{MIN_DOSE_LABEL_MM:.0f} mm"
        raise ValueError(f"dose labels need at least {side} × {side}")


def _require_printable(text: str, fonts: Fonts) -> None:
    if fonts.unicode:
        return
    try:
        text.encode("cp1252")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{text!r} needs a Unicode font (install DejaVu fonts): {exc.reason}"
        ) from exc


@lru_cache(maxsize=1)
def label_fonts() -> Fonts:
    """DejaVu Sans when installed (Unicode text), else the PDF core fonts."""
    names = {
        "LabelSans": "DejaVuSans.ttf",
        "LabelSans-Bold": "DejaVuSans-Bold.ttf",
        "LabelMono": "DejaVuSansMono.ttf",
    }
    for directory in _FONT_DIRS:
        paths = {name: os.path.join(directory, file) for name, file in names.items()}
        if all(os.path.exists(path) for path in paths.values()):
            for name, path in paths.items():
                pdfmetrics.registerFont(TTFont(name, path))
            return Fonts("LabelSans", "LabelSans-Bold", "LabelMono", unicode=True)
    return Fonts("Helvetica", "Helvetica-Bold", "Courier", unicode=False)


# --------------------------------------------------------------------------
# ZPL
# --------------------------------------------------------------------------


def dose_label_zpl(
    label: DoseLabel, dpi: int = 203, width_mm: float = 100, height_mm: float = 100
) -> bytes:
    """A dose label in ZPL II for Zebra printers at 203 or 300 dpi (SPEC §6).

    ``^BC`` (mode N) gets explicit subset invocations with ``>`` escaped,
    ``^BX`` is a Data Matrix ECC 200, and text goes through ``^FH`` so that
    ``^``, ``~`` and non-ASCII characters (UTF-8, ``^CI28``) print as written.
    """
    if dpi not in (203, 300):
        raise ValueError(f"Zebra printers here are 203 or 300 dpi, not {dpi}")
    _require_dose_size(width_mm, height_mm)
    z = _Zpl(dpi)
    left = z.dots(MARGIN_MM)
    top = z.dots(MARGIN_MM)
    bar = z.dots(BAR_HEIGHT_MM)
    quiet = QUIET_ZONE_MODULES * z.module
    z.barcode(left + quiet, top, label.din_text, bar)
    z.din_text(left + quiet, top + bar + z.dots(1.2), label.din, z.dots(3.2))
    product_w = len(code128_modules(label.product_code_text)) * z.module
    product_x = z.dots(width_mm - MARGIN_MM) - quiet - product_w
    z.barcode(product_x, top, label.product_code_text, bar)
    z.text(product_x, top + bar + z.dots(1.2), label.product_code_text[2:], z.dots(3.0))

    band = top + bar + z.dots(6.5)
    z.barcode(left + quiet, band, label.expiry_text, bar)
    expires = isbt128.parse_expiry_text(label.expiry_text)
    z.text(left + quiet, band + bar + z.dots(1.2), f"EXP {expires:%Y-%m-%d %H:%M}", z.dots(3.0))
    matrix_modules = len(datamatrix_matrix(label.matrix_text))
    matrix_module = z.dots(MATRIX_MODULE_MM)
    matrix_span = (matrix_modules + MATRIX_QUIET_MODULES) * matrix_module
    matrix_x = z.dots(width_mm - MARGIN_MM) - matrix_span
    z.datamatrix(matrix_x, band, label.matrix_text, matrix_module)

    y = max(band + bar + z.dots(6.0), band + (matrix_modules + 2) * matrix_module)
    block_width = z.dots(width_mm - 2 * MARGIN_MM)
    heights = {"title": 3.6, "body": 2.8, "check": 2.8, "strong": 2.8, "biohazard": 3.6,
               "small": 2.4}
    for style, text in label.text_lines():
        h = z.dots(heights[style])
        if style == "check":
            # mixed-case text is narrower than the DIN's digits (font 0: ~0.45 h a character)
            z.boxed_check_text(left, y, text[:-1].rstrip(), text[-1], h, char_width=0.5)
            y += h + z.dots(0.6)
            continue
        if style == "biohazard":
            side = z.dots(BIOHAZARD_SYMBOL_MM)
            z.graphic(left, y, symbol_bitmap(side))
            indent = side + z.dots(1.5)
            z.text(left + indent, y + (side - h) // 2, text, h, block_width=block_width - indent)
            y += side + z.dots(0.6)
            continue
        lines = max(1, -(-len(text) * h * 6 // 10 // block_width))
        z.text(left, y, text, h, block_width=block_width, max_lines=lines)
        y += lines * h + z.dots(0.6)
    if y > z.dots(height_mm):
        raise ValueError("label text does not fit on the label; use a larger stock")
    return z.document(z.dots(width_mm), z.dots(height_mm))


def in_process_label_zpl(
    label: InProcessLabel, dpi: int = 203, width_mm: float = 50, height_mm: float = 25
) -> bytes:
    """A small in-process label in ZPL II at 203 or 300 dpi (SPEC §6).

    The same content as :func:`in_process_label_pdf`: one plain Code 128 bar
    code (module 0.25 mm, quiet zone 10 modules, 5.5 mm high), for a DIN the
    eye-readable DIN with its boxed check character, then the text lines,
    each shrunk to the label width.  Raises ``ValueError`` when the bar code
    or the text does not fit.
    """
    if dpi not in (203, 300):
        raise ValueError(f"Zebra printers here are 203 or 300 dpi, not {dpi}")
    z = _Zpl(dpi)
    left = z.dots(1)
    quiet = QUIET_ZONE_MODULES * z.module
    needed = len(code128_modules(label.barcode_text)) * z.module + 2 * quiet + 2 * left
    if needed > z.dots(width_mm):
        raise ValueError(
            f"bar code {label.barcode_text!r} needs {needed / z.dots_per_mm:.1f} mm of width"
        )
    bar = z.dots(5.5)
    top = z.dots(1.5)
    z.barcode(left + quiet, top, label.barcode_text, bar)
    y = top + bar + z.dots(1.0)
    din = _din_of(label.barcode_text)
    if din:
        z.din_text(left + quiet, y, din, z.dots(2.8))
        y += z.dots(2.8) + z.dots(1.0)
    block_width = z.dots(width_mm) - 2 * left
    for line in label.lines:
        height = z.dots(2.5)
        while height > z.dots(1.5) and len(line) * height * 0.6 > block_width:
            height -= 1
        z.text(left, y, line, height, block_width=block_width, max_lines=1)
        y += height + z.dots(0.5)
    if y > z.dots(height_mm):
        raise ValueError("in-process label text does not fit")
    return z.document(z.dots(width_mm), z.dots(height_mm))


class _Zpl:
    """A small builder for the ZPL subset the labels use."""

    def __init__(self, dpi: int) -> None:
        self.dots_per_mm = dpi / 25.4
        self.module = max(1, round(MODULE_MM * self.dots_per_mm))
        self.fields: list[str] = []

    def dots(self, millimetres: float) -> int:
        return round(millimetres * self.dots_per_mm)

    def barcode(self, x: int, y: int, text: str, height: int) -> None:
        self.fields.append(
            f"^FO{x},{y}^BY{self.module}^BCN,{height},N,N,N,N^FD{zpl_code128_data(text)}^FS"
        )

    def datamatrix(self, x: int, y: int, text: str, module: int) -> None:
        if any(ch in text for ch in "^~_"):
            raise ValueError(f"Data Matrix text may not hold ^, ~ or _: {text!r}")
        self.fields.append(f"^FO{x},{y}^BXN,{module},200,0,0,6,_,1^FD{text}^FS")

    def text(
        self,
        x: int,
        y: int,
        text: str,
        height: int,
        block_width: int = 0,
        max_lines: int = 1,
        justify: str = "L",
    ) -> None:
        block = f"^FB{block_width},{max_lines},0,{justify},0" if block_width else ""
        self.fields.append(f"^FO{x},{y}^A0N,{height},{height}{block}^FH_^FD{_zpl_hex(text)}^FS")

    def graphic(self, x: int, y: int, bitmap: Bitmap) -> None:
        """A monochrome bitmap as a ``^GF`` graphic field, its top left corner at (x, y)."""
        self.fields.append(f"^FO{x},{y}{zpl_graphic_field(bitmap)}^FS")

    def din_text(self, x: int, y: int, din: str, height: int) -> None:
        """Eye-readable DIN and, in a ``^GB`` box beside it, its check character."""
        self.boxed_check_text(x, y, isbt128.format_din(din), isbt128.din_check_character(din),
                              height)

    def boxed_check_text(
        self, x: int, y: int, shown: str, check: str, height: int, char_width: float = 0.6
    ) -> None:
        """One line of text and, in a ``^GB`` box beside it, a check character; the box
        goes ``char_width`` × ``height`` a character after the text (ZPL cannot measure)."""
        self.text(x, y, shown, height)
        box = round(height * 1.2)
        box_x = x + round(len(shown) * height * char_width) + height // 2
        box_y = y - (box - height) // 2
        self.fields.append(f"^FO{box_x},{box_y}^GB{box},{box},2^FS")
        self.text(box_x, y, check, height, block_width=box, max_lines=1, justify="C")

    def document(self, width: int, height: int) -> bytes:
        body = "\n".join(self.fields)
        return f"^XA\n^CI28\n^PW{width}\n^LL{height}\n^LH0,0\n{body}\n^XZ\n".encode()


def _zpl_hex(text: str) -> str:
    """Text for ``^FH_^FD``: dashes, ≤, ×, superscript exponents … spelled in ASCII
    (:func:`ascii_text`); ^ ~ _ \\ and other non-ASCII characters as ``_XX`` UTF-8
    bytes (``^CI28``)."""
    out = []
    for ch in ascii_text(text):
        if ch in "^~_\\" or ord(ch) > 126 or ord(ch) < 32:
            out.append("".join(f"_{byte:02X}" for byte in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)
