"""The biohazard legend is the drawn biohazard symbol with the word BIOHAZARD (21 CFR
1271.3(h), SPEC §6): one bitmap (``labels.biohazard``) printed beside the word on the PDF
(an image) and the ZPL (a ``^GF`` graphic field) label, the bar codes still read."""

from __future__ import annotations

import math

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from labels import rendering
from labels.biohazard import (
    BIOHAZARD_LEGEND,
    CENTRE_DROP,
    CENTRE_RADIUS,
    EXTENT,
    is_dark,
    symbol_bitmap,
    zpl_graphic_field,
)
from labels.statements import label_statements
from tests.batches.dose_helpers import formulated
from tests.fixtures.lab import NEGATIVE, iso, now
from tests.labels.test_labels_api import _get, _label_text
from tests.labels.test_rendering import (
    assert_dose_symbols,
    decode,
    make_label,
    pdf_pages,
    render_zpl,
)

SIDE = 150


def ineligible_label(**overrides):
    statements = label_statements(
        origin="allogeneic", recipient_identifiers=(), donor_status="ineligible",
        reactive_agents=["HCV (NAT)", "syphilis"], recorded_reactive_agents=["CMV"],
        released=False,
    )
    values = {"statements": statements, "product_name": "NK cells, allogeneic",
              "storage_temperature": "at or below -150 C"}
    return make_label(**(values | overrides))


# --- the symbol on its own --------------------------------------------------------------


def _centre() -> tuple[float, float]:
    """The symbol's centre in pixel coordinates (column, row) of a SIDE bitmap."""
    return SIDE / 2, SIDE / 2 + CENTRE_DROP * SIDE / EXTENT


def test_1271_3_h_symbol_is_a_non_empty_bitmap_with_a_hole_in_the_centre():
    """21 CFR 1271.3(h): the symbol, not a word — a square bitmap, about a third dark,
    open in the middle (the central circle) and dark just around it (the crescents)."""
    bitmap = symbol_bitmap(SIDE)
    assert len(bitmap) == SIDE and all(len(row) == SIDE for row in bitmap)
    dark = sum(map(sum, bitmap)) / SIDE**2
    assert 0.2 < dark < 0.5
    cx, cy = _centre()
    px_per_a = SIDE / EXTENT
    hole = round(CENTRE_RADIUS * px_per_a * 0.6)
    for dr in range(-hole, hole + 1):
        for dc in range(-hole, hole + 1):
            assert not bitmap[int(cy) + dr][int(cx) + dc]
    # the body of a crescent below the centre (between the crescents' axes)
    assert bitmap[int(cy + 5 * px_per_a)][int(cx)]
    assert not is_dark(0, 0) and is_dark(0, -5) and not is_dark(0, 30)
    # nothing touches the border: the whole symbol is inside the square
    assert not any(bitmap[0]) and not any(bitmap[-1])
    assert not any(row[0] or row[-1] for row in bitmap)


@pytest.mark.parametrize("turn", [120, 240])
def test_1271_3_h_symbol_is_symmetric_under_a_third_of_a_turn(turn):
    """21 CFR 1271.3(h): the biohazard symbol has three equal crescents — turned by 120°
    about its centre the bitmap is the same, within a pixel (edges are rounded to the
    grid): a pixel differs when no pixel next to its turned place has its colour."""
    bitmap = symbol_bitmap(SIDE)
    cx, cy = _centre()
    cos, sin = math.cos(math.radians(turn)), math.sin(math.radians(turn))

    def at(row: int, col: int) -> bool:
        return 0 <= row < SIDE and 0 <= col < SIDE and bitmap[row][col]

    differ = 0
    for row in range(SIDE):
        for col in range(SIDE):
            x, y = col + 0.5 - cx, row + 0.5 - cy
            tc = math.floor(cx + x * cos - y * sin)
            tr = math.floor(cy + x * sin + y * cos)
            near = {at(tr + dr, tc + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
            differ += bitmap[row][col] not in near
    assert differ <= SIDE // 10


def test_1271_3_h_symbol_is_not_the_same_upside_down():
    """Sanity check of the symmetry test: one crescent points up, none down."""
    bitmap = symbol_bitmap(SIDE)
    assert sum(bitmap[row] != bitmap[SIDE - 1 - row] for row in range(SIDE)) > SIDE // 4


def test_zpl_graphic_field_packs_rows_high_bit_first():
    bitmap = ((True,) + (False,) * 8 + (True,), (False,) * 9 + (True,))
    assert zpl_graphic_field(bitmap) == "^GFA,4,4,2,80400040"
    with pytest.raises(ValueError):
        zpl_graphic_field(())
    with pytest.raises(ValueError):
        symbol_bitmap(4)


# --- on the dose label ------------------------------------------------------------------


def _images(pdf: bytes) -> list[tuple[float, float, float, float]]:
    page = pdfium.PdfDocument(pdf)[0]
    return [image.get_bounds() for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])]


def _word_box(pdf: bytes, word: str) -> tuple[float, float, float, float]:
    textpage = pdfium.PdfDocument(pdf)[0].get_textpage()
    start, length = textpage.search(word, match_case=True, match_whole_word=True).get_next()
    boxes = [textpage.get_charbox(index) for index in range(start, start + length)]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def test_1271_3_h_ineligible_donor_pdf_label_draws_the_symbol_beside_the_word():
    """21 CFR 1271.3(h): the ineligible donor's PDF label carries the symbol as an image
    just left of the word BIOHAZARD, on the word's line; every bar code still reads."""
    label = ineligible_label()
    pdf = rendering.dose_label_pdf(label)
    [(left, bottom, right, top)] = _images(pdf)
    word_left, word_bottom, _word_right, word_top = _word_box(pdf, BIOHAZARD_LEGEND)
    mm = 72 / 25.4
    assert right - left == pytest.approx(top - bottom)
    assert 6 * mm < right - left < 10 * mm
    assert 0 < word_left - right < 3 * mm
    assert bottom < word_bottom < word_top < top
    [(image, text)] = pdf_pages(pdf)
    assert_dose_symbols(decode(image), label)
    for statement in label.statements:
        assert statement in text


def test_1271_3_h_labels_without_the_legend_have_no_symbol():
    """Only the biohazard legend brings the symbol: other statements stay plain text."""
    label = make_label()
    assert BIOHAZARD_LEGEND not in label.statements
    assert _images(rendering.dose_label_pdf(label)) == []
    assert "^GF" not in rendering.dose_label_zpl(label).decode()
    sheet = rendering.dose_label_sheet_pdf([make_label(), ineligible_label()])
    assert len(_images(sheet)) == 1


@pytest.mark.parametrize("dpi", [203, 300])
def test_1271_3_h_ineligible_donor_zpl_label_has_the_graphic_and_the_word(dpi):
    """21 CFR 1271.3(h): the ZPL label prints the same symbol as a ^GF graphic field (8 mm
    at the printer's resolution) left of the word BIOHAZARD; the bar codes still read."""
    label = ineligible_label()
    zpl = rendering.dose_label_zpl(label, dpi=dpi).decode()
    side = round(rendering.BIOHAZARD_SYMBOL_MM * dpi / 25.4)
    [graphic] = [line for line in zpl.splitlines() if "^GF" in line]
    assert graphic.endswith(zpl_graphic_field(symbol_bitmap(side)) + "^FS")
    x, y = (int(value) for value in graphic[3:graphic.index("^GF")].split(","))
    [word] = [line for line in zpl.splitlines() if line.endswith(f"^FD{BIOHAZARD_LEGEND}^FS")]
    word_x, word_y = (int(value) for value in word[3:word.index("^A0")].split(","))
    assert x + side < word_x < x + side + dpi / 25.4 * 3 and y < word_y < y + side
    image = render_zpl(zpl.encode(), dpi)
    assert_dose_symbols(decode(image), label)
    drawn = image.crop((x, y, x + side, y + side))
    bitmap = symbol_bitmap(side)
    differ = sum((drawn.getpixel((c, r)) < 128) != bitmap[r][c]
                 for r in range(side) for c in range(side))
    assert differ / side**2 < 0.02  # the printer draws the bitmap as given


def test_1271_3_h_ineligible_donor_label_from_the_records(lab):
    """21 CFR 1271.3(h) through the API: a donor found ineligible after formulation — the
    dose's PDF label has the symbol beside BIOHAZARD and reads as the dose; its ZPL label
    has the ^GF symbol and the word."""
    donor = lab.donor("eligible")
    _batch, [dose] = formulated(lab, "NK", origin="allogeneic", donor=donor, count=1)
    lab.post(f"/subjects/{donor['id']}/donor-screening",
             {"specimen_collected_at": iso(now()),
              "markers": {**NEGATIVE, "hiv_1": "reactive"}}, status=200)
    dose, text = _label_text(lab, dose["id"])  # decodes every bar code against the dose
    assert BIOHAZARD_LEGEND in text
    pdf = _get(lab, f"/doses/{dose['id']}/label.pdf").data
    assert len(_images(pdf)) == 1
    zpl = _get(lab, f"/doses/{dose['id']}/label.zpl").data
    assert zpl.count(b"^GFA,") == 1 and f"^FD{BIOHAZARD_LEGEND}^FS".encode() in zpl
