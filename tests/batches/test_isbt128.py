"""ISBT 128 identifiers (SPEC §6): vectors, refusals and round trips."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from batches import isbt128 as i

# --- check character ----------------------------------------------------------

PUBLISHED_CHECKS = [
    ("G123498654321", "H"),  # SPEC §6, UK Red Book Annex 2 (flags 77)
    ("A999921123456", "3"),  # SPEC §6, ST-001 Figure 2
    ("G123417654321", "A"),  # ST-001 Appendix A worked example (checksum 10, flags 70)
    ("A999818123456", "N"),  # ST-001 §7.5.1.1 printed example
]


@pytest.mark.parametrize(("din", "expected"), PUBLISHED_CHECKS)
def test_din_check_character_matches_published_examples(din, expected):
    assert i.din_check_character(din) == expected


def _weighted_sum_check(data: str) -> str:
    """ST-001 Appendix A steps 1-8 (weights 2^n from the right), independent of the code."""
    values = [i.ISO7064_ALPHABET.index(ch) for ch in data]
    total = sum(value * 2 ** (len(data) - pos) for pos, value in enumerate(values))
    return i.ISO7064_ALPHABET[(38 - total % 37) % 37]


@pytest.mark.parametrize(
    "din", ["A000000000000", "Z999999999999", "W000012000001", "1234599000042", "P123400000007"]
)
def test_din_check_character_agrees_with_weighted_sum_method(din):
    assert i.din_check_character(din) == _weighted_sum_check(din)


def test_check_character_can_be_star():
    # find a DIN whose checksum is 36 and check it maps to "*"
    din = next(
        d for d in (f"A9999{n:08d}" for n in range(1000)) if i.mod37_2_checksum(d) == 36
    )
    assert i.din_check_character(din) == "*"


def test_type3_check_flags():
    assert i.check_flags("G123417654321") == "70"
    assert i.check_flags("G123498654321") == "77"


@pytest.mark.parametrize(
    "bad", ["G12349865432", "G1234986543210", "g123498654321", "G12349865432-", "", None, 123]
)
def test_din_check_character_refuses_bad_input(bad):
    with pytest.raises(ValueError):
        i.din_check_character(bad)


# --- FIN and DIN ----------------------------------------------------------------


@pytest.mark.parametrize("fin", ["A9999", "G1234", "N0000", "P1234", "Z0001", "10000", "90000"])
def test_valid_fin(fin):
    assert i.valid_fin(fin)


@pytest.mark.parametrize("fin", ["O1234", "01234", "A123", "A12345", "a1234", "AB123", "", None])
def test_invalid_fin(fin):
    assert not i.valid_fin(fin)


def test_make_din_and_barcode_text():
    din = i.make_din("G1234", 2025, 42)
    assert din == "G12342500004" + "2"
    assert i.make_din("G1234", 25, 42) == din
    assert i.din_barcode_text(din) == "=G12342500004200"
    assert len(i.din_barcode_text(din, "01")) == 16
    assert i.format_din(din) == "G1234 25 000042"


@pytest.mark.parametrize(
    ("fin", "year", "seq"),
    [("O1234", 2025, 1), ("G1234", 2025, -1), ("G1234", 2025, 1_000_000), ("G1234", 125, 1),
     ("G1234", 2025, "1"), ("G1234", True, 1)],
)
def test_make_din_refuses(fin, year, seq):
    with pytest.raises(ValueError):
        i.make_din(fin, year, seq)


@pytest.mark.parametrize("flags", ["0", "000", "0I", "0O", "0Q", "0Z", "ab"])
def test_din_barcode_text_refuses_bad_flags(flags):
    with pytest.raises(ValueError):
        i.din_barcode_text("G123498654321", flags)


def test_parse_din_barcode_round_trip():
    parsed = i.parse_din_barcode("=G12349865432100")
    assert (parsed.din, parsed.fin, parsed.year, parsed.sequence, parsed.flags) == (
        "G123498654321", "G1234", "98", "654321", "00")
    assert parsed.check_character == "H"
    assert parsed.text == "=G12349865432100"


def test_parse_din_barcode_checks_type3_flags():
    assert i.parse_din_barcode("=G12341765432170").flags == "70"
    with pytest.raises(ValueError):
        i.parse_din_barcode("=G12341765432171")


@pytest.mark.parametrize(
    "text", ["G12349865432100", "=G1234986543210", "=O12349865432100", "=<S1234V00xxxxxx"]
)
def test_parse_din_barcode_refuses(text):
    with pytest.raises(ValueError):
        i.parse_din_barcode(text)


# --- product code and divisions -------------------------------------------------------


def test_product_code_layout_follows_spec():
    text = i.product_code_text("1234", "V", "00")
    assert text == "=<S1234V00"
    assert len(text) == 10
    assert i.product_code_text("S1234", "1", "Ab") == "=<S12341Ab"
    assert i.product_code_text("SA0B9", "D") == "=<SA0B9D00"


@pytest.mark.parametrize(
    ("code", "kind", "division"),
    [("123", "V", "00"), ("E1234", "V", "00"), ("s1234", "V", "00"), ("1234", "P", "00"),
     ("1234", "V", "A1"), ("1234", "V", "aA"), ("1234", "V", "AA"), ("1234", "V", "0")],
)
def test_product_code_refuses(code, kind, division):
    with pytest.raises(ValueError):
        i.product_code_text(code, kind, division)


def test_parse_product_code_round_trip_and_standard_a0():
    parsed = i.parse_product_code("=<S1234VAb")
    assert (parsed.product_description_code, parsed.collection_type, parsed.division) == (
        "S1234", "V", "Ab")
    assert parsed.text == "=<S1234VAb"
    assert i.parse_product_code("=<S12341A0").division == "A0"  # ST-001 first-level division


def test_division_codes_are_first_level_a0_b0_for_one_split():
    """ST-001 / SPEC §6: a single split gives first-level divisions A0, B0 …; Aa, Ab …
    are second-level divisions of A0 and are never made for a single split."""
    assert i.division_codes(1) == ["00"]
    assert i.division_codes(3) == ["A0", "B0", "C0"]
    codes = i.division_codes(i.MAX_DIVISIONS)
    assert (len(set(codes)), codes[0], codes[-1]) == (26, "A0", "Z0")
    assert all(code[1] == "0" for code in codes)
    for code in codes:
        assert i.parse_product_code(i.product_code_text("1234", "1", code)).division == code


def test_product_codes_of_second_level_divisions_still_build_and_read():
    """Doses made before the A0 scheme carry Aa, Ab …: their labels still print and scan."""
    assert i.product_code_text("1234", "V", "Ab") == "=<S1234VAb"
    assert i.parse_product_code("=<S1234VAb").division == "Ab"


@pytest.mark.parametrize("division", ["0A", "a0", "AA", "A1", "000", "", "Z"])
def test_malformed_divisions_are_refused(division):
    with pytest.raises(ValueError):
        i.product_code_text("1234", "1", division)


@pytest.mark.parametrize("n", [0, -1, 27, 677, 2.0, True])
def test_division_codes_refuses(n):
    with pytest.raises(ValueError):
        i.division_codes(n)


# --- dates ---------------------------------------------------------------------------


def test_expiry_text_vectors():
    assert i.expiry_text(date(2025, 12, 31)) == "&>0253652359"
    assert i.expiry_text(datetime(2024, 12, 31, 8, 5)) == "&>0243660805"  # leap year
    assert i.expiry_text(datetime(2000, 1, 1, 0, 0)) == "&>0000010000"
    assert i.expiry_text(datetime(2099, 3, 1, 12, 30, 59)) == "&>0990601230"


def test_collection_date_text_vectors():
    assert i.collection_date_text(datetime(2025, 2, 1, 14, 45)) == "&*0250321445"
    assert i.collection_date_text(date(2025, 2, 1)) == "&*0250322359"


@pytest.mark.parametrize("when", [date(1999, 12, 31), date(2100, 1, 1), "2025-01-01", None])
def test_dates_refuse(when):
    with pytest.raises(ValueError):
        i.expiry_text(when)


def test_date_round_trip_every_day_of_a_leap_year():
    start = datetime(2028, 1, 1, 6, 7)
    for day in range(366):
        when = start + timedelta(days=day)
        assert i.parse_expiry_text(i.expiry_text(when)) == when
        assert i.parse_collection_date_text(i.collection_date_text(when)) == when


def test_parse_dates_with_zone():
    tz = timezone(timedelta(hours=3))
    parsed = i.parse_expiry_text("&>0253652359", tz)
    assert parsed == datetime(2025, 12, 31, 23, 59, tzinfo=tz)
    assert parsed.astimezone(UTC).hour == 20


@pytest.mark.parametrize(
    "text", ["&>0253662359", "&>0250002359", "&>0240012400", "&>0240012360", "&>1250012359",
             "&*0250012359", "&>025001235", "=>025001"],
)
def test_parse_expiry_refuses(text):
    with pytest.raises(ValueError):
        i.parse_expiry_text(text)


# --- chain of identity ---------------------------------------------------------------


def test_chain_of_identity_format():
    text = i.chain_of_identity_text("A9999", 2025, 42)
    assert text == "&/CHA999925000042"
    assert len(text) == 17
    assert i.chain_of_identity_text("A9999", 25, "AB12CD") == "&/CHA999925AB12CD"
    assert i.coi_check_character(text) == _weighted_sum_check("CHA999925000042")


def test_chain_of_identity_round_trip():
    parsed = i.parse_chain_of_identity("&/CHG123425AB12CD")
    assert (parsed.fin, parsed.year, parsed.sequence) == ("G1234", "25", "AB12CD")
    assert parsed.identifier == "CHG123425AB12CD"
    assert parsed.text == "&/CHG123425AB12CD"
    assert parsed.check_character == i.coi_check_character(parsed.identifier)


@pytest.mark.parametrize(
    ("fin", "year", "seq"),
    [("O9999", 25, 1), ("A9999", 25, "ab12cd"), ("A9999", 25, "AB12C"), ("A9999", 25, 10**6)],
)
def test_chain_of_identity_refuses(fin, year, seq):
    with pytest.raises(ValueError):
        i.chain_of_identity_text(fin, year, seq)


@pytest.mark.parametrize("text", ["&/XXA999925000042", "&/CHA99992500004", "&/CHO999925000042"])
def test_parse_chain_of_identity_refuses(text):
    with pytest.raises(ValueError):
        i.parse_chain_of_identity(text)


# --- compound message -------------------------------------------------------------


DIN_TEXT = "=G12342512345600"
PRODUCT = "=<S1234VA0"
EXPIRY = "&>0253652359"


def test_dose_matrix_text():
    text = i.dose_matrix_text(DIN_TEXT, PRODUCT, EXPIRY)
    assert text == "=+03000" + DIN_TEXT + PRODUCT + EXPIRY
    count, reference, parts = i.split_compound_message(text)
    assert (count, reference, parts) == (3, "000", [DIN_TEXT, PRODUCT, EXPIRY])


def test_compound_message_refuses():
    with pytest.raises(ValueError):
        i.compound_message_text([])
    with pytest.raises(ValueError):
        i.compound_message_text([DIN_TEXT, "hello"])
    with pytest.raises(ValueError):
        i.dose_matrix_text(DIN_TEXT, EXPIRY, PRODUCT)
    with pytest.raises(ValueError):
        i.split_compound_message("=+02000" + DIN_TEXT + PRODUCT + EXPIRY)


# --- parse_scanned -------------------------------------------------------------------


def test_parse_scanned_kinds():
    assert i.parse_scanned(DIN_TEXT)["kind"] == "din"
    assert i.parse_scanned(DIN_TEXT)["check_character"] == i.din_check_character("G123425123456")
    product = i.parse_scanned(PRODUCT)
    assert (product["kind"], product["division"]) == ("product_code", "A0")
    assert i.parse_scanned(EXPIRY)["expires_at"] == datetime(2025, 12, 31, 23, 59)
    assert i.parse_scanned("&*0250321445")["collected_at"] == datetime(2025, 2, 1, 14, 45)
    coi = i.parse_scanned("&/CHA999925000042")
    assert (coi["kind"], coi["identifier"]) == ("chain_of_identity", "CHA999925000042")


def test_parse_scanned_compound_exposes_identity():
    scanned = i.parse_scanned(i.dose_matrix_text(DIN_TEXT, PRODUCT, EXPIRY))
    assert scanned["kind"] == "compound"
    assert scanned["din"] == "G123425123456"
    assert scanned["product_code"] == PRODUCT
    assert scanned["division"] == "A0"
    assert [s["kind"] for s in scanned["structures"]] == ["din", "product_code", "expiry"]


def test_parse_scanned_strips_enter_and_symbology_identifier():
    assert i.parse_scanned(f"]C0{DIN_TEXT}\r\n")["text"] == DIN_TEXT
    assert i.parse_scanned(f"  {PRODUCT}\n")["kind"] == "product_code"


@pytest.mark.parametrize(
    "text",
    ["", "hello", "=", "=<", "&>", "&/", "=+", "=+99000", "=+01000=<S1234V0", "=G1234251234560",
     "=G12342512345699x", "&>9999999999", "=+01000&zfoo", None, 42, b"=G12342512345600",
     "\x00\x01", "=+01000" + DIN_TEXT + "junk"],
)
def test_parse_scanned_never_raises(text):
    assert i.parse_scanned(text)["kind"] == "unknown"
