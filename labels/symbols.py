"""Bar code symbols for labels: Code 128 and Data Matrix ECC 200 (SPEC.md §6).

Pure functions that turn a text into modules (bars, squares); the label
renderers draw them.  The symbols themselves are made by well-kept libraries,
never by hand:

* Code 128 (ISO/IEC 15417) comes from python-barcode
  (``barcode.get("code128", text)``).  Only printable ASCII is accepted, so
  the library never plans a function character (FNC1 … FNC4): the symbol is
  plain Code 128 and a reader reports ``]C0``.  The library's plan (start
  character, subset B/C runs, switches) is checked against the text it must
  carry before it is used.
* :func:`zpl_code128_data` writes that same plan as ZPL ``^BC`` field data
  with explicit invocation codes (``>:`` start B, ``>;`` start C, ``>5``
  switch to C, ``>6`` switch to B), so the printer makes the very symbol the
  PDF shows.  In ``^BC`` data ``>`` is the escape character; the Zebra table
  gives the Code 128 value of each escape: ``>0`` = 30 = ``>``, ``><`` = 62 =
  ``^``, ``>=`` = 94 = ``~``.  So a data ``>`` is written ``>0`` (``><``
  would print ``^``); this was confirmed by rendering with a printer-faithful
  ZPL renderer and decoding the result.
* Data Matrix comes from zxing-cpp's writer (zint inside; ECC 200 is the only
  Data Matrix it makes), created with ``forceSquare`` so that only the square
  sizes 10×10 … 144×144 are used (zxing-cpp would otherwise pick rectangular
  and DMRE sizes for some lengths).  Needs zxing-cpp ≥ 3.0: ``create_barcode``
  taking creator options as keyword arguments and ``Barcode.to_image(scale,
  add_hrt, add_quiet_zones)`` appeared there (2.3 had neither).  zxing-cpp
  silently ignores unknown options, so the result is checked to be square.
  Symbols larger than 48×48 are refused: the label layouts are sized for them.
  No FNC1, so a reader reports ``]d1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import barcode
import zxingcpp

if TYPE_CHECKING:
    from typing_extensions import Buffer

QUIET_ZONE_MODULES = 10
"""Minimum quiet zone of an ISBT 128 linear bar code (ST-001 §6.1.3)."""

MAX_DATAMATRIX_MODULES = 48
"""Largest Data Matrix side (modules) the label layouts leave room for."""

# Code 128 symbol values (ISO/IEC 15417 table 1) used to read the library's plan.
_START = {103: "A", 104: "B", 105: "C"}
_SWITCH = {"A": {99: "C", 100: "B"}, "B": {99: "C", 101: "A"}, "C": {100: "B", 101: "A"}}
_MODULES_PER_SYMBOL = 11
_STOP_MODULES = 13

# ZPL ^BC invocation codes: start and switch per subset, and the characters
# that cannot be written plainly in subset B data.
_ZPL_START = {"B": ">:", "C": ">;"}
_ZPL_SWITCH = {"B": ">6", "C": ">5"}
_ZPL_ESCAPES = {">": ">0", "^": "><", "~": ">="}


@dataclass(frozen=True)
class Segment:
    """A run of text encoded in one Code 128 subset (``"B"`` or ``"C"``)."""

    subset: str
    text: str


def code128_values(text: str) -> list[int]:
    """Symbol values python-barcode chose for ``text``: start, data and subset
    switches (the check character and stop are added by :func:`code128_modules`)."""
    _require_code128_text(text)
    return list(barcode.get("code128", text).encoded)


def code128_segments(text: str) -> list[Segment]:
    """The library's plan for ``text`` as subset B and C runs.

    Raises ``ValueError`` if the plan holds anything but data and subset
    switches (a function character, subset A) or does not spell ``text``.
    """
    values = code128_values(text)
    subset = _START.get(values[0])
    if subset is None:
        raise ValueError(f"Code 128 plan of {text!r} does not begin with a start character")
    segments: list[Segment] = []
    for value in values[1:]:
        switch = _SWITCH[subset].get(value)
        if switch is not None:
            subset = switch
            continue
        if subset == "C" and value < 100:
            _append(segments, "C", f"{value:02d}")
        elif subset == "B" and value < 95:
            _append(segments, "B", chr(value + 32))
        else:
            raise ValueError(f"Code 128 plan of {text!r} holds value {value} in subset {subset}")
    if "".join(segment.text for segment in segments) != text:
        raise ValueError(f"Code 128 plan does not spell {text!r}")
    return segments


def code128_modules(text: str) -> str:
    """The bar code as a string of ``1`` (bar) and ``0`` (space) modules, no quiet zones."""
    symbols = len(code128_values(text)) + 1  # data, switches and the check character
    code128_segments(text)  # refuse a plan with function characters
    [modules] = barcode.get("code128", text).build()
    if len(modules) != symbols * _MODULES_PER_SYMBOL + _STOP_MODULES or set(modules) != {"0", "1"}:
        raise ValueError(f"python-barcode returned unexpected modules for {text!r}")
    return modules


def zpl_code128_data(text: str) -> str:
    """``^FD`` data for ZPL ``^BC`` (mode N) that encodes exactly ``text``.

    Subsets are invoked explicitly, following python-barcode's plan, and
    ``>``, ``^`` and ``~`` are escaped with their invocation codes, so the
    printer makes the same symbol as the PDF.
    """
    parts = []
    for index, segment in enumerate(code128_segments(text)):
        parts.append((_ZPL_SWITCH if index else _ZPL_START)[segment.subset])
        if segment.subset == "C":
            parts.append(segment.text)
        else:
            parts.append("".join(_ZPL_ESCAPES.get(ch, ch) for ch in segment.text))
    return "".join(parts)


def _append(segments: list[Segment], subset: str, chunk: str) -> None:
    if segments and segments[-1].subset == subset:
        segments[-1] = Segment(subset, segments[-1].text + chunk)
    else:
        segments.append(Segment(subset, chunk))


def _require_code128_text(text: str) -> None:
    if not isinstance(text, str) or not text:
        raise ValueError("a Code 128 bar code needs a non-empty text")
    bad = [ch for ch in text if not 32 <= ord(ch) <= 126]
    if bad:
        raise ValueError(f"plain Code 128 here carries printable ASCII only, not {bad!r}")


# --------------------------------------------------------------------------
# Data Matrix ECC 200
# --------------------------------------------------------------------------


def datamatrix_matrix(text: str) -> list[list[bool]]:
    """Data Matrix ECC 200 symbol of ``text`` as rows of modules (True = dark).

    The smallest square symbol that holds the data is chosen by zxing-cpp;
    the quiet zone is left to the caller.  ``text`` is printable ASCII (an
    ISBT 128 message), and the symbol may be at most 48×48 modules.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("a Data Matrix symbol needs a non-empty text")
    bad = [ch for ch in text if not 32 <= ord(ch) <= 126]
    if bad:
        raise ValueError(f"Data Matrix text must be printable ASCII here, not {bad!r}")
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix, forceSquare=True)
    if symbol.text != text or symbol.symbology_identifier != "]d1":
        raise ValueError(f"zxing-cpp made an unexpected Data Matrix for {text!r}")
    image = _pixels(symbol.to_image(scale=1, add_quiet_zones=False))
    rows, cols = len(image), len(image[0]) if image else 0
    if rows != cols:
        raise ValueError(f"zxing-cpp made a {rows}x{cols} Data Matrix, not a square one")
    if rows > MAX_DATAMATRIX_MODULES:
        raise ValueError(
            f"text needs a {rows}x{rows} Data Matrix, larger than the "
            f"{MAX_DATAMATRIX_MODULES}x{MAX_DATAMATRIX_MODULES} the labels hold"
        )
    return [[value < 128 for value in row] for row in image]


def _pixels(image: zxingcpp.Image) -> list[list[int]]:
    """The grey values of a one-channel zxing-cpp image, row by row. The image has the
    buffer protocol, which zxing-cpp's type stub does not declare: hence the casts."""
    return cast(list[list[int]], memoryview(cast("Buffer", image)).tolist())
