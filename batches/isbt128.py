"""ISBT 128 identifiers for cell-therapy labels (SPEC.md §6).

Pure functions: no Flask, no database, no label drawing.  Every builder
validates its input and raises ``ValueError``; :func:`parse_scanned` is the
one entry point that never raises (it answers ``kind="unknown"`` instead).

Readings of SPEC §6, checked against the public ISBT 128 Standard Technical
Specification (ICCBBA ST-001 v6.2.2):

* **DIN** (data structure 001): ``=`` + FIN + ``yy`` + 6-digit sequence +
  2 flag characters.  The FIN follows SPEC (a letter A–N, P–Z or a digit 1–9,
  then 4 digits).  The keyboard check character ``K`` is ISO/IEC 7064
  MOD 37-2 over the 13 characters only; it is printed, never encoded.  Flag
  values 60–96 are the "type 3" flags (60 + MOD 37-2 checksum): they are
  checked when a DIN is parsed.
* **Product code** (data structure 003, ``=<αooootds``): SPEC says ``=<`` +
  ``S`` + 4-character product description code + collection type + division.
  Read literally that is 10 characters in all, 8 after ``=<``, which is
  exactly ST-001's ``αoooo`` + ``t`` + ``ds`` with ``α`` fixed to ``S``
  (cellular therapy).  :func:`product_code_text` accepts the 4 characters
  after ``S`` (SPEC's wording) or the 5-character ICCBBA form ``S1234``.
* **Division** (SPEC §6, ST-001): ``00`` when undivided; a product split into
  doses gets first-level divisions ``A0``, ``B0`` … ``Z0`` (upper-case letter,
  then ``0``): :func:`division_codes`, at most 26.  Second-level codes ``Aa``,
  ``Ab`` … name the parts of a first-level division split again (doses made
  before this scheme carry them too); parsers and builders accept both levels.
* **Dates** (data structures 005 ``&>`` and 007 ``&*``): ``cyyjjjhhmm`` with
  ``c = 0`` for 2000–2099 (SPEC; other centuries are refused), ``jjj`` the
  day of the year, ``hhmm`` 24-hour time, 2359 when only a date is known
  (ST-001 gives the same default for both structures).  The text carries no
  time zone: pass the facility's local wall-clock time; seconds are dropped.
* **Chain of identity identifier** (data structure 040): ``&/`` + literal
  ``CH`` + issuing FIN + ``yy`` + 6-character alphanumeric sequence
  (ST-001 §2.4.40).  ST-001 §7.5 makes a keyboard check character required
  for it, computed from the data content string; ST-028 (which may say more)
  is not public, so :func:`coi_check_character` computes MOD 37-2 over the
  15-character content ``CH…`` — the one documented choice we made.
* **Compound message** (data structure 023): ``=+aabbb`` then the data
  structures back to back with no separators, ``aa`` = how many follow,
  ``bbb = 000`` for an undefined sequence (the form ST-001 encourages).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

ISO7064_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
"""ISO/IEC 7064 MOD 37-2 values: index in this string (SPEC §6)."""

COLLECTION_TYPES: dict[str, str] = {
    "1": "for autologous use only",
    "V": "volunteer allogeneic",
    "D": "directed",
    "0": "not specified",
}
"""Collection type codes allowed by SPEC §6 (6th character of the product code)."""

UNDIVIDED = "00"
MAX_DIVISIONS = 26
"""Largest number of first-level divisions of one split (``A0`` … ``Z0``, SPEC §6)."""

DIN_PREFIX = "="
PRODUCT_CODE_PREFIX = "=<"
EXPIRY_PREFIX = "&>"
COLLECTION_PREFIX = "&*"
CHAIN_OF_IDENTITY_PREFIX = "&/"
COMPOUND_PREFIX = "=+"

_FIN_RE = re.compile(r"[A-NP-Z1-9][0-9]{4}")
_DIN_RE = re.compile(r"(?P<fin>[A-NP-Z1-9][0-9]{4})(?P<year>[0-9]{2})(?P<seq>[0-9]{6})")
_FLAGS_RE = re.compile(r"[0-9A-HJ-NPR-Y]{2}")
_PDC_RE = re.compile(r"S[A-Z0-9]{4}")
_DIVISION_RE = re.compile(r"00|[A-Z][a-z0]")
"""``00`` undivided, ``A0`` a first-level division, ``Aa`` a second-level one."""
_DATE_RE = re.compile(r"0(?P<yy>[0-9]{2})(?P<jjj>[0-9]{3})(?P<hh>[0-9]{2})(?P<mm>[0-9]{2})")
_COI_SEQ_RE = re.compile(r"[A-Z0-9]{6}")
_AIM_ID_RE = re.compile(r"\][A-Za-z][0-9A-Za-z]")

# Length of every data structure this module can find inside a compound message.
_STRUCTURE_LENGTHS: dict[str, int] = {
    PRODUCT_CODE_PREFIX: 10,
    EXPIRY_PREFIX: 12,
    COLLECTION_PREFIX: 12,
    CHAIN_OF_IDENTITY_PREFIX: 17,
}
_DIN_TEXT_LENGTH = 16


# --------------------------------------------------------------------------
# Check characters (ISO/IEC 7064 MOD 37-2)
# --------------------------------------------------------------------------


def mod37_2_checksum(data: str) -> int:
    """ISO/IEC 7064 MOD 37-2 checksum value (0–36) of ``data`` (SPEC §6).

    ``p = 0``; for each character ``p = ((p + v) × 2) mod 37``; the checksum
    is ``(38 − p) mod 37``.  ``data`` must be non-empty, digits and upper-case
    letters only.
    """
    if not data or any(ch not in ISO7064_ALPHABET[:36] for ch in data):
        raise ValueError(f"MOD 37-2 input must be 0-9 and A-Z only: {data!r}")
    p = 0
    for ch in data:
        p = ((p + ISO7064_ALPHABET.index(ch)) * 2) % 37
    return (38 - p) % 37


def din_check_character(thirteen: str) -> str:
    """Keyboard check character K of a 13-character DIN (SPEC §6, ST-001 App. A).

    ``G123498654321`` → ``H``; ``A999921123456`` → ``3``.  K is printed in a
    box beside the DIN and never encoded in the bar code.
    """
    if not isinstance(thirteen, str) or len(thirteen) != 13:
        raise ValueError(f"a DIN has exactly 13 characters: {thirteen!r}")
    return ISO7064_ALPHABET[mod37_2_checksum(thirteen)]


def check_flags(din: str) -> str:
    """Type 3 flag characters for ``din``: 60 + its MOD 37-2 checksum (ST-001 A.2)."""
    _require_din(din)
    return str(60 + mod37_2_checksum(din))


# --------------------------------------------------------------------------
# Donation identification number (data structure 001)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DinBarcode:
    """The fields of a DIN bar code text ``=`` + DIN + flags (SPEC §6)."""

    din: str
    fin: str
    year: str
    sequence: str
    flags: str
    check_character: str

    @property
    def text(self) -> str:
        return DIN_PREFIX + self.din + self.flags


def valid_fin(fin: object) -> bool:
    """True when ``fin`` is a facility identification number as SPEC §6 defines it.

    Five characters: a letter A–N, P–Z or a digit 1–9, then 4 digits.
    """
    return isinstance(fin, str) and _FIN_RE.fullmatch(fin) is not None


def make_din(fin: str, year: int, sequence: int) -> str:
    """The 13-character DIN: FIN + 2-digit year + 6-digit sequence (SPEC §6).

    ``year`` is a calendar year (2025) or its last two digits (25);
    ``sequence`` runs 0–999999 within the FIN and year.
    """
    _require_fin(fin)
    yy = _two_digit_year(year)
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise ValueError(f"DIN sequence must be an integer: {sequence!r}")
    if not 0 <= sequence <= 999_999:
        raise ValueError(f"DIN sequence must be 0-999999: {sequence}")
    return f"{fin}{yy}{sequence:06d}"


def din_barcode_text(din: str, flags: str = "00") -> str:
    """Bar code text of a DIN: ``=`` + 13-character DIN + 2 flags, 16 characters (SPEC §6).

    The check character is not part of it (it is printed beside the DIN).
    """
    _require_din(din)
    if not isinstance(flags, str) or _FLAGS_RE.fullmatch(flags) is None:
        raise ValueError(f"flag characters must be 2 of 0-9, A-H, J-N, P, R-Y: {flags!r}")
    return DIN_PREFIX + din + flags


def parse_din_barcode(text: str) -> DinBarcode:
    """Split a scanned DIN text ``=αppppyynnnnnnff`` into its fields (SPEC §6).

    Type 3 flags (60–96) must match the DIN's checksum, otherwise the read is
    refused as corrupt.
    """
    if not isinstance(text, str) or len(text) != _DIN_TEXT_LENGTH or text[0] != DIN_PREFIX:
        raise ValueError(f"not a DIN bar code text: {text!r}")
    din, flags = text[1:14], text[14:]
    match = _DIN_RE.fullmatch(din)
    if match is None or _FLAGS_RE.fullmatch(flags) is None:
        raise ValueError(f"not a DIN bar code text: {text!r}")
    if flags.isdigit() and 60 <= int(flags) <= 96 and flags != check_flags(din):
        raise ValueError(f"type 3 check flags {flags} do not match DIN {din}")
    return DinBarcode(
        din=din,
        fin=match["fin"],
        year=match["year"],
        sequence=match["seq"],
        flags=flags,
        check_character=din_check_character(din),
    )


def format_din(din: str) -> str:
    """Eye-readable DIN, grouped FIN, year, sequence: ``G1234 98 654321`` (ST-001 §7.4.1)."""
    _require_din(din)
    return f"{din[:5]} {din[5:7]} {din[7:]}"


# --------------------------------------------------------------------------
# Product code (data structure 003) and divisions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductCode:
    """The fields of a product code text ``=<`` + PDC + type + division (SPEC §6)."""

    product_description_code: str
    collection_type: str
    division: str

    @property
    def text(self) -> str:
        return (
            PRODUCT_CODE_PREFIX
            + self.product_description_code
            + self.collection_type
            + self.division
        )


def product_code_text(description_code: str, collection_type: str, division: str = "00") -> str:
    """Product code text ``=<S`` + 4-character code + collection type + division (SPEC §6).

    ``description_code`` is the 4 characters after ``S`` (``"1234"``) or the
    full ICCBBA product description code (``"S1234"``); the result is always
    10 characters, e.g. ``=<S1234V00``.
    """
    pdc = _normalise_description_code(description_code)
    if collection_type not in COLLECTION_TYPES:
        raise ValueError(
            f"collection type must be one of {sorted(COLLECTION_TYPES)}: {collection_type!r}"
        )
    if not isinstance(division, str) or _DIVISION_RE.fullmatch(division) is None:
        raise ValueError("division must be 00, a first-level A0 … Z0 or a second-level "
                         f"Aa … Zz: {division!r}")
    return PRODUCT_CODE_PREFIX + pdc + collection_type + division


def parse_product_code(text: str) -> ProductCode:
    """Split a scanned product code ``=<Soooo t ds`` into its fields (SPEC §6)."""
    if not isinstance(text, str) or len(text) != 10 or not text.startswith(PRODUCT_CODE_PREFIX):
        raise ValueError(f"not a product code text: {text!r}")
    pdc, collection_type, division = text[2:7], text[7], text[8:]
    if _PDC_RE.fullmatch(pdc) is None:
        raise ValueError(f"not a cellular therapy product description code: {pdc!r}")
    if collection_type not in COLLECTION_TYPES:
        raise ValueError(f"unknown collection type {collection_type!r}")
    if _DIVISION_RE.fullmatch(division) is None:
        raise ValueError(f"not a division code: {division!r}")
    return ProductCode(pdc, collection_type, division)


def division_codes(n: int) -> list[str]:
    """Division codes for a product split into ``n`` units (SPEC §6, ST-001).

    ``["00"]`` for a single undivided product; otherwise the first-level divisions
    ``A0``, ``B0`` … in order.  More than 26 units cannot be named in one split.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"number of divisions must be a positive integer: {n!r}")
    if n > MAX_DIVISIONS:
        raise ValueError(f"at most {MAX_DIVISIONS} divisions can be coded in one split, "
                         f"not {n}")
    if n == 1:
        return [UNDIVIDED]
    return [chr(ord("A") + i) + "0" for i in range(n)]



# --------------------------------------------------------------------------
# Dates (data structures 005 and 007)
# --------------------------------------------------------------------------


def expiry_text(when: date | datetime) -> str:
    """Expiration date and time ``&>cyyjjjhhmm`` (SPEC §6, data structure 005).

    A bare date expires at 23:59 of that day.
    """
    return EXPIRY_PREFIX + _cyyjjjhhmm(when)


def collection_date_text(when: date | datetime) -> str:
    """Collection date and time ``&*cyyjjjhhmm`` (SPEC §6, data structure 007)."""
    return COLLECTION_PREFIX + _cyyjjjhhmm(when)


def parse_expiry_text(text: str, tz: tzinfo | None = None) -> datetime:
    """The expiry moment of an ``&>`` text, as wall-clock time in ``tz`` (SPEC §6)."""
    return _parse_dated(text, EXPIRY_PREFIX, tz)


def parse_collection_date_text(text: str, tz: tzinfo | None = None) -> datetime:
    """The collection moment of an ``&*`` text, as wall-clock time in ``tz`` (SPEC §6)."""
    return _parse_dated(text, COLLECTION_PREFIX, tz)


def _cyyjjjhhmm(when: date | datetime) -> str:
    if isinstance(when, datetime):
        hhmm = f"{when.hour:02d}{when.minute:02d}"
    elif isinstance(when, date):
        hhmm = "2359"
    else:
        raise ValueError(f"a date or datetime is needed: {when!r}")
    if not 2000 <= when.year <= 2099:
        raise ValueError(f"only years 2000-2099 can be coded (c = 0): {when.year}")
    day_of_year = when.timetuple().tm_yday
    return f"0{when.year % 100:02d}{day_of_year:03d}{hhmm}"


def _parse_dated(text: str, prefix: str, tz: tzinfo | None) -> datetime:
    if not isinstance(text, str) or len(text) != 12 or not text.startswith(prefix):
        raise ValueError(f"not a {prefix}cyyjjjhhmm text: {text!r}")
    match = _DATE_RE.fullmatch(text[2:])
    if match is None:
        raise ValueError(f"not a {prefix}cyyjjjhhmm text: {text!r}")
    year = 2000 + int(match["yy"])
    day, hour, minute = int(match["jjj"]), int(match["hh"]), int(match["mm"])
    days_in_year = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    if not 1 <= day <= days_in_year or hour > 23 or minute > 59:
        raise ValueError(f"impossible date or time in {text!r}")
    start = datetime(year, 1, 1, hour, minute, tzinfo=tz)
    return start + timedelta(days=day - 1)


# --------------------------------------------------------------------------
# Chain of identity identifier (data structure 040)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainOfIdentity:
    """Fields of a chain of identity identifier ``&/CH`` + FIN + yy + sequence (SPEC §6)."""

    identifier: str
    fin: str
    year: str
    sequence: str
    check_character: str

    @property
    def text(self) -> str:
        return CHAIN_OF_IDENTITY_PREFIX + self.identifier


def chain_of_identity_text(fin: str, year: int, sequence: int | str) -> str:
    """Chain of identity identifier text ``&/CH`` + FIN + yy + 6-character sequence.

    ISBT 128 data structure 040 (SPEC §6): assigned at the first collection
    and carried by every derived product.  An integer ``sequence`` is written
    as 6 digits; a string must be 6 characters of A–Z and 0–9.
    """
    _require_fin(fin)
    yy = _two_digit_year(year)
    if isinstance(sequence, bool):
        raise ValueError("chain of identity sequence must be an integer or a string")
    if isinstance(sequence, int):
        if not 0 <= sequence <= 999_999:
            raise ValueError(f"numeric chain of identity sequence must be 0-999999: {sequence}")
        seq = f"{sequence:06d}"
    elif isinstance(sequence, str) and _COI_SEQ_RE.fullmatch(sequence):
        seq = sequence
    else:
        raise ValueError(f"chain of identity sequence must be 6 of A-Z, 0-9: {sequence!r}")
    return f"{CHAIN_OF_IDENTITY_PREFIX}CH{fin}{yy}{seq}"


def coi_check_character(text: str) -> str:
    """Keyboard check character of a chain of identity identifier (ST-001 §7.5).

    MOD 37-2 over the 15-character data content ``CHαppppyynnnnnn``; accepts
    the full ``&/`` text or the content alone.
    """
    content = text[2:] if text.startswith(CHAIN_OF_IDENTITY_PREFIX) else text
    _split_coi_content(content)
    return ISO7064_ALPHABET[mod37_2_checksum(content)]


def parse_chain_of_identity(text: str) -> ChainOfIdentity:
    """Split a scanned ``&/`` chain of identity identifier into its fields (SPEC §6)."""
    if not isinstance(text, str) or not text.startswith(CHAIN_OF_IDENTITY_PREFIX):
        raise ValueError(f"not a chain of identity text: {text!r}")
    content = text[2:]
    fin, year, sequence = _split_coi_content(content)
    return ChainOfIdentity(
        identifier=content,
        fin=fin,
        year=year,
        sequence=sequence,
        check_character=ISO7064_ALPHABET[mod37_2_checksum(content)],
    )


def _split_coi_content(content: str) -> tuple[str, str, str]:
    if len(content) != 15 or not content.startswith("CH"):
        raise ValueError(f"chain of identity content is CH + 13 characters: {content!r}")
    fin, year, sequence = content[2:7], content[7:9], content[9:]
    if not valid_fin(fin) or not year.isdigit() or not _COI_SEQ_RE.fullmatch(sequence):
        raise ValueError(f"malformed chain of identity identifier: {content!r}")
    return fin, year, sequence


# --------------------------------------------------------------------------
# Compound message (data structure 023)
# --------------------------------------------------------------------------


def compound_message_text(structures: Iterable[str]) -> str:
    """Compound message ``=+aa000`` + the data structures back to back (SPEC §6).

    ``aa`` is how many structures follow; ``000`` marks an undefined sequence
    (ST-001 §2.4.23).  Every structure is checked before it is joined.
    """
    parts = list(structures)
    if not 1 <= len(parts) <= 99:
        raise ValueError(f"a compound message carries 1-99 data structures, not {len(parts)}")
    for part in parts:
        _parse_structure(part)
    return f"{COMPOUND_PREFIX}{len(parts):02d}000" + "".join(parts)


def dose_matrix_text(din_text: str, product_text: str, expiry: str) -> str:
    """Data Matrix message of a dose label: DIN (with flags), product code, expiry (SPEC §6)."""
    parse_din_barcode(din_text)
    parse_product_code(product_text)
    parse_expiry_text(expiry)
    return compound_message_text([din_text, product_text, expiry])


def split_compound_message(text: str) -> tuple[int, str, list[str]]:
    """Count, sequence reference and the data structures of a compound message.

    Refuses a message whose declared count does not match what follows, or
    that holds a structure this module cannot delimit.
    """
    if not isinstance(text, str) or not text.startswith(COMPOUND_PREFIX) or len(text) < 7:
        raise ValueError(f"not a compound message: {text!r}")
    header = text[2:7]
    if not header.isdigit():
        raise ValueError(f"malformed compound message header: {header!r}")
    count, reference = int(header[:2]), header[2:]
    parts: list[str] = []
    rest = text[7:]
    while rest:
        length = _structure_length(rest)
        parts.append(rest[:length])
        rest = rest[length:]
    if count != len(parts):
        raise ValueError(f"compound message declares {count} structures, holds {len(parts)}")
    return count, reference, parts


def _structure_length(rest: str) -> int:
    identifier = rest[:2]
    if identifier in _STRUCTURE_LENGTHS:
        length = _STRUCTURE_LENGTHS[identifier]
    elif rest[0] == DIN_PREFIX and len(rest) > 1 and _FIN_RE.match(rest[1:6]):
        length = _DIN_TEXT_LENGTH
    else:
        raise ValueError(f"unknown data structure in compound message at {rest[:8]!r}")
    if len(rest) < length:
        raise ValueError(f"truncated data structure {rest!r}")
    return length


# --------------------------------------------------------------------------
# Scanned text recognition
# --------------------------------------------------------------------------


def parse_scanned(text: object, tz: tzinfo | None = None) -> dict[str, Any]:
    """Recognise what a scanner read (SPEC §7 lookup); never raises.

    Answers a dict with ``kind`` one of ``din``, ``product_code``, ``expiry``,
    ``collection_date``, ``chain_of_identity``, ``compound`` or ``unknown``,
    the cleaned ``text`` and the fields of that kind.  Surrounding white
    space, the scanner's Enter and a leading AIM symbology identifier
    (``]C0``, ``]d1`` …) are removed first.
    """
    if not isinstance(text, str):
        return {"kind": "unknown", "text": "", "reason": "not text"}
    cleaned = _clean_scan(text)
    try:
        if cleaned.startswith(COMPOUND_PREFIX):
            return _parse_compound(cleaned, tz)
        return _parse_structure(cleaned, tz)
    except ValueError as exc:
        return {"kind": "unknown", "text": cleaned, "reason": str(exc)}


def _clean_scan(text: str) -> str:
    cleaned = text.strip()
    if _AIM_ID_RE.match(cleaned):
        cleaned = cleaned[3:]
    return cleaned


def _parse_structure(text: str, tz: tzinfo | None = None) -> dict[str, Any]:
    if text.startswith(PRODUCT_CODE_PREFIX):
        return {"kind": "product_code", "text": text, **asdict(parse_product_code(text))}
    if text.startswith(EXPIRY_PREFIX):
        return {"kind": "expiry", "text": text, "expires_at": parse_expiry_text(text, tz)}
    if text.startswith(COLLECTION_PREFIX):
        collected_at = parse_collection_date_text(text, tz)
        return {"kind": "collection_date", "text": text, "collected_at": collected_at}
    if text.startswith(CHAIN_OF_IDENTITY_PREFIX):
        coi = parse_chain_of_identity(text)
        return {"kind": "chain_of_identity", "text": text, **asdict(coi)}
    if text.startswith(DIN_PREFIX) and len(text) == _DIN_TEXT_LENGTH:
        return {"kind": "din", "text": text, **asdict(parse_din_barcode(text))}
    raise ValueError("not a recognised ISBT 128 data structure")


def _parse_compound(text: str, tz: tzinfo | None) -> dict[str, Any]:
    count, reference, parts = split_compound_message(text)
    structures = [_parse_structure(part, tz) for part in parts]
    result: dict[str, Any] = {
        "kind": "compound",
        "text": text,
        "count": count,
        "sequence_reference": reference,
        "structures": structures,
    }
    for item in structures:
        if item["kind"] == "din":
            result.setdefault("din", item["din"])
        elif item["kind"] == "product_code":
            result.setdefault("product_code", item["text"])
            result.setdefault("division", item["division"])
        elif item["kind"] == "expiry":
            result.setdefault("expires_at", item["expires_at"])
        elif item["kind"] == "chain_of_identity":
            result.setdefault("chain_of_identity", item["identifier"])
    return result


# --------------------------------------------------------------------------
# Small validators
# --------------------------------------------------------------------------


def _require_fin(fin: str) -> None:
    if not valid_fin(fin):
        raise ValueError(
            f"FIN must be a letter A-N, P-Z or digit 1-9, then 4 digits: {fin!r}"
        )


def _require_din(din: str) -> None:
    if not isinstance(din, str) or _DIN_RE.fullmatch(din) is None:
        raise ValueError(f"not a 13-character DIN (FIN + yy + 6 digits): {din!r}")


def _two_digit_year(year: int) -> str:
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValueError(f"year must be an integer: {year!r}")
    if 0 <= year <= 99:
        return f"{year:02d}"
    if 1000 <= year <= 9999:
        return f"{year % 100:02d}"
    raise ValueError(f"year must be a calendar year or its last two digits: {year}")


def _normalise_description_code(code: str) -> str:
    if isinstance(code, str) and len(code) == 4:
        code = "S" + code
    if not isinstance(code, str) or _PDC_RE.fullmatch(code) is None:
        raise ValueError(
            f"product description code is S + 4 characters of A-Z, 0-9: {code!r}"
        )
    return code
