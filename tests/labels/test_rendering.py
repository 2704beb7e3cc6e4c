"""Labels are verified by reading them (SPEC §6): render, decode, compare."""

import random
import re
import string
from collections import Counter
from datetime import date

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from batches import isbt128
from labels import rendering
from labels.rendering import DoseLabel, InProcessLabel
from labels.symbols import (
    code128_modules,
    code128_segments,
    datamatrix_matrix,
    zpl_code128_data,
)

PDF_SCALE = 6  # px per pt: a 0.25 mm module is 4.25 px


def make_label(**overrides) -> DoseLabel:
    din = overrides.pop("din", isbt128.make_din("G1234", 2025, 123456))
    flags = overrides.pop("flags", "00")
    division = overrides.pop("division", "Ab")
    product = isbt128.product_code_text("1234", "1", division)
    expiry = isbt128.expiry_text(date(2025, 12, 31))
    values = {
        "din": din,
        "check_character": isbt128.din_check_character(din),
        "flags": flags,
        "product_code_text": product,
        "expiry_text": expiry,
        "matrix_text": isbt128.dose_matrix_text(
            isbt128.din_barcode_text(din, flags), product, expiry
        ),
        "product_name": "MSC, autologous, cryopreserved",
        "cells": 100_000_000,
        "volume_ml": 20,
        "storage_temperature": "at or below -150 C (vapour phase of liquid nitrogen)",
        "facility_name": "Example Cell Processing Facility",
        "facility_address": "1 Lab Street, Example City",
        "statements": ["FOR AUTOLOGOUS USE ONLY", "Do not irradiate"],
        "collection_date_text": isbt128.collection_date_text(date(2025, 6, 1)),
        "recipient_identifiers": ["P-0042", "DOB 1970-01-31"],
        "division": division,
        "quarantine": True,
        "chain_of_identity_text": isbt128.chain_of_identity_text("G1234", 2025, 7),
    }
    values.update(overrides)
    return DoseLabel(**values)


def pdf_pages(data: bytes, scale: float = PDF_SCALE) -> list[tuple[Image.Image, str]]:
    pdf = pdfium.PdfDocument(data)
    pages = []
    for page in pdf:
        image = page.render(scale=scale, grayscale=True).to_pil()
        text = page.get_textpage().get_text_range()
        pages.append((image, text))
    return pages


def decode(image: Image.Image) -> dict[str, zxingcpp.Barcode]:
    results = zxingcpp.read_barcodes(image)
    decoded = {r.text: r for r in results}
    assert len(decoded) == len(results), "a symbol was read twice with different texts"
    return decoded


def assert_dose_symbols(decoded: dict[str, zxingcpp.Barcode], label: DoseLabel) -> None:
    linear = [label.din_text, label.product_code_text, label.expiry_text]
    assert set(decoded) == {*linear, label.matrix_text}
    for text in linear:
        assert decoded[text].format == zxingcpp.BarcodeFormat.Code128
        assert decoded[text].symbology_identifier == "]C0"
    matrix = decoded[label.matrix_text]
    assert matrix.format == zxingcpp.BarcodeFormat.DataMatrix
    assert matrix.symbology_identifier == "]d1"


# --- symbols on their own -----------------------------------------------------------


def _code128_image(text: str, px: int = 3) -> Image.Image:
    modules = code128_modules(text)
    image = Image.new("L", ((len(modules) + 20) * px, 40), 255)
    draw = ImageDraw.Draw(image)
    for index, bit in enumerate(modules):
        if bit == "1":
            draw.rectangle([(index + 10) * px, 4, (index + 11) * px - 1, 36], fill=0)
    return image


def _matrix_image(text: str, px: int = 5) -> Image.Image:
    matrix = datamatrix_matrix(text)
    side = (len(matrix) + 4) * px
    image = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                draw.rectangle([(c + 2) * px, (r + 2) * px, (c + 3) * px - 1, (r + 3) * px - 1], 0)
    return image


def _random_texts(count: int, alphabet: str, max_len: int) -> list[str]:
    rng = random.Random(128)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_len)))
            for _ in range(count)]


CODE128_SAMPLES = [
    "=G12342512345600", "=<S1234V00", "&>0253652359", "&/CHA999925000042", "12", "1", "123",
    "12345", "A1234B", "A123456B", "^~>", "".join(chr(c) for c in range(32, 127)),
    *_random_texts(150, string.digits * 3 + string.ascii_letters + "=<>&*/+^~", 30),
]


@pytest.mark.parametrize("text", CODE128_SAMPLES)
def test_code128_decodes_as_plain_code128(text):
    [result] = zxingcpp.read_barcodes(_code128_image(text))
    assert result.text == text
    assert result.symbology_identifier == "]C0"


def test_code128_plan_is_plain_and_compact():
    # python-barcode's plan: subset C for the digit runs, never a function character
    assert [(s.subset, s.text) for s in code128_segments("=G12342512345600")] == [
        ("B", "=G"), ("C", "12342512345600")]
    assert [s.subset for s in code128_segments("&>0253652359")] == ["B", "C"]
    # start, 2 B characters, code C, 7 pairs, check character, stop = 145 modules
    assert len(code128_modules("=G12342512345600")) == 145
    for text in ["=<S1234V00", "+&<>=", "A12345B", "12345"]:
        assert "".join(s.text for s in code128_segments(text)) == text


@pytest.mark.parametrize("bad", ["", "é", "a\nb", "\xf1", None])
def test_code128_refuses(bad):
    with pytest.raises(ValueError):
        code128_modules(bad)


@pytest.mark.parametrize(
    "text",
    ["A", "=+03000=G12342512345600=<S1234VAb&>0253652359", "x" * 60, "7" * 120, "y" * 170,
     "=+04000=G12342512345600=<S12341Ab&>0253652359&/CHG123425000007",
     *_random_texts(30, string.printable[:94], 80)],
)
def test_datamatrix_decodes_in_every_size(text):
    [result] = zxingcpp.read_barcodes(_matrix_image(text))
    assert result.text == text
    assert result.format == zxingcpp.BarcodeFormat.DataMatrix


def test_datamatrix_refuses_too_long_or_non_ascii():
    with pytest.raises(ValueError, match="larger than"):
        datamatrix_matrix("x" * 400)  # would need 64 x 64 modules
    with pytest.raises(ValueError):
        datamatrix_matrix("ü")
    with pytest.raises(ValueError):
        datamatrix_matrix("")


@pytest.mark.parametrize("text", ["1A" * n for n in (3, 5, 6, 10, 15, 20, 25)])
def test_datamatrix_is_always_square(text):
    # without forceSquare zxing-cpp picks 8x32, 12x26, 12x64 ... for these lengths
    matrix = datamatrix_matrix(text)
    assert all(len(row) == len(matrix) for row in matrix)
    assert zxingcpp.read_barcodes(_matrix_image(text))[0].text == text


def test_zpl_code128_data_escapes_and_invokes_subsets():
    assert zpl_code128_data("=G12342512345600") == ">:=G>512342512345600"
    assert zpl_code128_data("&>0253652359") == ">:&>0>50253652359"
    assert zpl_code128_data("=<S1234V00") == ">:=<S>51234>6V00"
    assert zpl_code128_data("12345678") == ">;12345678"
    assert zpl_code128_data("a>b^c~d") == ">:a>0b><c>=d"


# --- dose label PDF ------------------------------------------------------------------


def test_dose_label_pdf_decodes_and_reads():
    label = make_label()
    [(image, text)] = pdf_pages(rendering.dose_label_pdf(label))
    assert image.size == (round(100 / 25.4 * 72 * PDF_SCALE),) * 2
    assert_dose_symbols(decode(image), label)
    assert re.search(r"G1234 25 123456\s*" + re.escape(label.check_character), text)
    for statement in [*label.statements, rendering.QUARANTINE_STATEMENT]:
        assert statement in text
    cells, recipient = "Cells: 100 million (1.0 × 10⁸)", "Recipient: P-0042 · DOB 1970-01-31"
    if not rendering.label_fonts().unicode:
        cells = rendering.ascii_text(cells)
    for expected in ["MSC, autologous, cryopreserved", cells, "20 mL", "-150 C",
                     "Example Cell Processing Facility", "1 Lab Street", recipient,
                     "EXP 2025-12-31 23:59", "Chain of identity: CHG123425000007 0"]:
        assert expected in text
    assert text.count("Recipient") == 1


# --- the text lines (issue 13: readable labels) --------------------------------------


@pytest.mark.parametrize(("cells", "printed"), [
    (0, "0"),
    (850, "850"),
    (340_000, "340,000"),
    (999_999, "999,999"),
    (1_000_000, "1 million (1.0 × 10⁶)"),
    (1_234_567, "1.23 million (1.23 × 10⁶)"),
    (1_235_000, "1.24 million (1.24 × 10⁶)"),  # half up
    (12_345_678, "12.3 million (1.23 × 10⁷)"),
    (20_000_000, "20 million (2.0 × 10⁷)"),
    (100_000_000, "100 million (1.0 × 10⁸)"),
    (123_456_789, "123 million (1.23 × 10⁸)"),
    (999_600_000, "1 billion (1.0 × 10⁹)"),  # rounding carries into the next power
    (2_500_000_000, "2.5 billion (2.5 × 10⁹)"),
    (10**12, "1 trillion (1.0 × 10¹²)"),
    (3 * 10**15, "3000 trillion (3.0 × 10¹⁵)"),
    ("about 10^8 (estimated)", "about 10^8 (estimated)"),
])
def test_cell_count_is_printed_in_words_and_powers_of_ten(cells, printed):
    assert rendering.format_cells(cells) == printed


@pytest.mark.parametrize("cells", [-1, True])
def test_cell_count_refuses_what_is_not_a_count(cells):
    with pytest.raises(ValueError):
        rendering.format_cells(cells)


def test_ascii_text_spells_signs_and_exponents_for_printer_fonts():
    assert rendering.ascii_text("20 million (2.0 × 10⁷)") == "20 million (2.0 x 10^7)"
    assert rendering.ascii_text("1 trillion (1.0 × 10¹²)") == "1 trillion (1.0 x 10^12)"
    assert rendering.ascii_text("≤ −150 °C — P-0042 · DOB") == "<= -150 °C - P-0042 · DOB"


def test_text_lines_name_the_recipient_once_and_spell_out_the_chain_of_identity():
    lines = make_label().text_lines()
    assert ("strong", "Recipient: P-0042 · DOB 1970-01-31") in lines
    assert [text for _style, text in lines if "Recipient" in text] == [
        "Recipient: P-0042 · DOB 1970-01-31"]
    # the chain of identity identifier, its check character last, printed boxed
    assert ("check", "Chain of identity: CHG123425000007 0") in lines
    assert ("body", "Cells: 100 million (1.0 × 10⁸)") in lines
    assert not any(text.startswith("CoI") for _style, text in lines)
    no_recipient = make_label(recipient_identifiers=[]).text_lines()
    assert not any("Recipient" in text for _style, text in no_recipient)


def test_chain_of_identity_check_character_is_boxed_in_the_pdf():
    """The check character sits in a box right after the identifier, like the DIN's."""
    pdf = pdfium.PdfDocument(rendering.dose_label_pdf(make_label()))
    textpage = pdf[0].get_textpage()
    text = textpage.get_text_range()
    start = text.index("CHG123425000007 0") + len("CHG123425000007 ")
    left, bottom, right, top = textpage.get_charbox(start)
    ident_right = textpage.get_charbox(start - 2)[2]
    boxes = [obj.get_bounds() for obj in pdf[0].get_objects()
             if obj.type == pdfium_raw.FPDF_PAGEOBJ_PATH]
    assert any(x0 < left and right < x1 and y0 < bottom and top < y1 and ident_right < x0
               and x1 - x0 < 15 for x0, y0, x1, y1 in boxes)


def test_check_character_is_never_encoded():
    label = make_label()
    decoded = decode(pdf_pages(rendering.dose_label_pdf(label))[0][0])
    assert label.din_text in decoded
    assert label.din + label.check_character not in "".join(decoded)


def test_dose_label_pdf_with_flags_and_undivided_product():
    label = make_label(flags="01", division="00", quarantine=False, statements=[])
    [(image, text)] = pdf_pages(rendering.dose_label_pdf(label))
    assert_dose_symbols(decode(image), label)
    assert rendering.QUARANTINE_STATEMENT not in text


def test_dose_label_pdf_on_larger_stock():
    label = make_label()
    [(image, _text)] = pdf_pages(rendering.dose_label_pdf(label, width_mm=110, height_mm=150))
    assert_dose_symbols(decode(image), label)


@pytest.mark.skipif(not rendering.label_fonts().unicode, reason="no Unicode font installed")
def test_unicode_storage_temperature_is_printed():
    label = make_label(storage_temperature="≤ −150 °C")
    [(_image, text)] = pdf_pages(rendering.dose_label_pdf(label))
    assert "≤ −150 °C" in text


def test_label_that_cannot_fit_is_refused():
    label = make_label(statements=[f"Statement number {n} " * 6 for n in range(40)])
    with pytest.raises(ValueError, match="does not fit"):
        rendering.dose_label_pdf(label)
    with pytest.raises(ValueError):
        rendering.dose_label_pdf(make_label(), width_mm=50, height_mm=50)


def test_dose_label_refuses_inconsistent_data():
    with pytest.raises(ValueError):
        make_label(check_character="X")
    with pytest.raises(ValueError):
        make_label(division="Ac", product_code_text=isbt128.product_code_text("1234", "1", "Ab"))
    with pytest.raises(ValueError):
        make_label(matrix_text="=+01000=<S1234VAb")


def test_dose_label_sheet_has_every_label():
    din = isbt128.make_din("G1234", 2025, 123456)
    divisions = isbt128.division_codes(5)
    labels = [make_label(din=din, division=d) for d in divisions]
    pages = pdf_pages(rendering.dose_label_sheet_pdf(labels))
    assert len(pages) == 2  # 2 x 2 labels of 100 mm per A4 page
    found = Counter(r.text for image, _text in pages for r in zxingcpp.read_barcodes(image))
    assert found[labels[0].din_text] == 5
    assert found[labels[0].expiry_text] == 5
    for label in labels:
        assert found[label.product_code_text] == 1
        assert found[label.matrix_text] == 1
    assert sum(found.values()) == 4 * len(labels)
    with pytest.raises(ValueError):
        rendering.dose_label_sheet_pdf([])


# --- in-process label ------------------------------------------------------------------


def test_in_process_label_with_din():
    din = isbt128.make_din("G1234", 2025, 77)
    label = InProcessLabel(isbt128.din_barcode_text(din), ["Bone marrow, 2025-06-01", "P-0042"])
    [(image, text)] = pdf_pages(rendering.in_process_label_pdf(label))
    decoded = decode(image)
    assert set(decoded) == {label.barcode_text}
    assert decoded[label.barcode_text].symbology_identifier == "]C0"
    assert re.search(r"G1234 25 000077\s*" + isbt128.din_check_character(din), text)
    assert "Bone marrow, 2025-06-01" in text


def test_in_process_label_with_batch_number():
    label = InProcessLabel("B-2025-0042", ["Flask T175 #3", "P2"])
    [(image, text)] = pdf_pages(rendering.in_process_label_pdf(label))
    assert set(decode(image)) == {"B-2025-0042"}
    assert "Flask T175 #3" in text
    with pytest.raises(ValueError):
        rendering.in_process_label_pdf(InProcessLabel("X" * 40))


# --- ZPL -----------------------------------------------------------------------------

def render_zpl(data: bytes, dpi: int) -> Image.Image:
    """Render ZPL offline with zplkit (printer-profile renderer), skip if it is missing."""
    zplkit = pytest.importorskip("zplkit")
    options = zplkit.Options(profile="zd621", dpi=dpi)
    document = zplkit.render(data, options)
    # only notes on text-font fidelity are acceptable; nothing about the symbols
    assert all("font" in str(warning).lower() for warning in document.warnings)
    raster = document.labels[0].rasterize()
    return Image.frombytes("L", (raster.width, raster.height), bytes(raster.pixels))


@pytest.mark.parametrize(("dpi", "module_dots"), [(203, 2), (300, 3)])
def test_dose_label_zpl_decodes(dpi, module_dots):
    label = make_label()
    data = rendering.dose_label_zpl(label, dpi=dpi)
    zpl = data.decode()
    width = round(100 * dpi / 25.4)
    assert f"^PW{width}" in zpl and f"^LL{width}" in zpl
    assert f"^BY{module_dots}^BCN" in zpl
    assert ">:&>0>50253652359" in zpl  # the data ">" is escaped, subsets invoked
    assert re.search(r"\^GB\d+,\d+,2\^FS\n\^FO\d+,\d+\^A0N,\d+,\d+\^FB\d+,1,0,C,0\^FH_\^FD"
                     + label.check_character + r"\^FS", zpl)  # boxed check character
    image = render_zpl(data, dpi)
    assert image.size == (width, width)
    assert_dose_symbols(decode(image), label)


def test_dose_label_zpl_text_is_hex_escaped():
    label = make_label(facility_name="Caret^Tilde~Under_score", storage_temperature="≤ −150 °C")
    zpl = rendering.dose_label_zpl(label).decode()
    assert "Caret_5ETilde_7EUnder_5Fscore" in zpl
    assert "<= -150 _C2_B0C" in zpl  # typographic signs in ASCII, "°" as UTF-8 (^CI28)
    assert "QUARANTINE - NOT FOR RELEASE" in zpl
    # zplkit's built-in font has no "°"; render the ASCII variant to read the symbols
    ascii_label = make_label(facility_name="Caret^Tilde~Under_score")
    assert_dose_symbols(decode(render_zpl(rendering.dose_label_zpl(ascii_label), 203)), ascii_label)


def test_dose_label_zpl_text_lines_are_ascii_where_fonts_may_lack_signs():
    zpl = rendering.dose_label_zpl(make_label()).decode()
    assert "^FH_^FDCells: 100 million (1.0 x 10_5E8)^FS" in zpl  # "^" itself escaped
    assert "Recipient: P-0042 _C2_B7 DOB 1970-01-31" in zpl  # "·" as UTF-8, like "°"
    assert zpl.count("Recipient") == 1
    assert re.search(r"\^FH_\^FDChain of identity: CHG123425000007\^FS\n\^FO\d+,\d+\^GB\d+,"
                     r"\d+,2\^FS\n\^FO\d+,\d+\^A0N,\d+,\d+\^FB\d+,1,0,C,0\^FH_\^FD0\^FS", zpl)


def test_dose_label_zpl_refuses_other_dpi():
    with pytest.raises(ValueError):
        rendering.dose_label_zpl(make_label(), dpi=600)


@pytest.mark.parametrize("dpi", [203, 300])
def test_in_process_label_zpl_decodes(dpi):
    din = isbt128.make_din("G1234", 2025, 77)
    label = InProcessLabel(isbt128.din_barcode_text(din), ["Bone marrow, 2025-06-01", "P-0042 ^~"])
    data = rendering.in_process_label_zpl(label, dpi=dpi)
    zpl = data.decode()
    assert f"^PW{round(50 * dpi / 25.4)}" in zpl and f"^LL{round(25 * dpi / 25.4)}" in zpl
    assert f"^FD{zpl_code128_data(label.barcode_text)}^FS" in zpl
    assert "^FH_^FDG1234 25 000077^FS" in zpl
    assert "^FB" in zpl and "^FH_^FD" + isbt128.din_check_character(din) + "^FS" in zpl
    assert "Bone marrow, 2025-06-01" in zpl and "P-0042 _5E_7E" in zpl
    image = render_zpl(data, dpi)
    assert image.size == (round(50 * dpi / 25.4), round(25 * dpi / 25.4))
    decoded = decode(image)
    assert set(decoded) == {label.barcode_text}
    assert decoded[label.barcode_text].format == zxingcpp.BarcodeFormat.Code128
    assert decoded[label.barcode_text].symbology_identifier == "]C0"


def test_in_process_label_zpl_with_batch_number_and_limits():
    label = InProcessLabel("B-2025-0042", ["Flask T175 #3", "P2"])
    assert set(decode(render_zpl(rendering.in_process_label_zpl(label), 203))) == {"B-2025-0042"}
    with pytest.raises(ValueError, match="width"):
        rendering.in_process_label_zpl(InProcessLabel("X" * 40))
    with pytest.raises(ValueError, match="does not fit"):
        rendering.in_process_label_zpl(InProcessLabel("B-1", [f"line {n}" for n in range(20)]))
    with pytest.raises(ValueError):
        rendering.in_process_label_zpl(label, dpi=600)


def test_label_pictures_tool_renders_the_docs_pictures(tmp_path):
    """tools/label_pictures.py renders docs/labels/*.png (851 px for 100 mm) from sample
    data whose bar codes still read."""
    from tools import label_pictures

    assert label_pictures.main(["--out", str(tmp_path)]) == 0
    for name, make in label_pictures.PICTURES.items():
        image = Image.open(tmp_path / name)
        assert image.size == (851, 851)
        assert_dose_symbols(decode(image), make())
