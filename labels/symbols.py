"""Bar code symbols for labels: Code 128 and Data Matrix ECC 200 (SPEC.md §6).

Pure functions that turn a text into modules (bars, squares); the label
renderers draw them.  Written here rather than borrowed so that the PDF and
the ZPL label use the very same Code 128 plan:

* Code 128 (ISO/IEC 15417) is plain: subsets B and C only, never FNC1, so a
  reader reports ``]C0``.  Runs of digits go to subset C when that makes the
  symbol shorter (ISO/IEC 15417 Annex E rules).
* :func:`zpl_code128_data` writes the same plan as ZPL ``^BC`` field data
  with explicit invocation codes: ``>:`` start B, ``>;`` start C, ``>5``
  switch to C, ``>6`` switch to B.  In ``^BC`` data ``>`` is the escape
  character; the Zebra table gives the Code 128 value of each escape:
  ``>0`` = 30 = ``>``, ``><`` = 62 = ``^``, ``>=`` = 94 = ``~``.  So a data
  ``>`` is written ``>0`` (``><`` would print ``^``); this was confirmed by
  rendering with a printer-faithful ZPL renderer and decoding the result.
* Data Matrix is ECC 200 (ISO/IEC 16022), square symbols 10×10 to 48×48,
  ASCII encodation with digit pairs, no FNC1 (a reader reports ``]d1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Code 128 symbol widths (bar, space, bar, space, bar, space) for values 0-106.
_CODE128_WIDTHS = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 "
    "221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 "
    "221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 "
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 "
    "231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 "
    "231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 "
    "111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 "
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 "
    "114131 311141 411131 211412 211214 211232 2331112"
).split()

START_B, START_C = 104, 105
CODE_B, CODE_C = 100, 99
STOP = 106
QUIET_ZONE_MODULES = 10
"""Minimum quiet zone of an ISBT 128 linear bar code (ST-001 §6.1.3)."""

# ZPL ^BC invocation codes for the characters that cannot be written plainly.
_ZPL_ESCAPES = {">": ">0", "^": "><", "~": ">="}


@dataclass(frozen=True)
class Segment:
    """A run of text encoded in one Code 128 subset (``"B"`` or ``"C"``)."""

    subset: str
    text: str


def code128_segments(text: str) -> list[Segment]:
    """Split ``text`` into subset B and C runs, the shortest plain Code 128 plan."""
    _require_code128_text(text)
    segments: list[Segment] = []
    i = 0
    while i < len(text):
        run = _digit_run(text, i)
        at_start, at_end = i == 0, i + run == len(text)
        if run >= 4 and (at_start or at_end or run >= 6) or (run == len(text) == 2):
            if run % 2:
                _append(segments, "B", text[i])
                i += 1
                run -= 1
            _append(segments, "C", text[i : i + run])
            i += run
        else:
            step = max(run, 1)
            _append(segments, "B", text[i : i + step])
            i += step
    return segments


def code128_values(text: str) -> list[int]:
    """Symbol values of ``text``: start, data, switches and check (no stop)."""
    segments = code128_segments(text)
    values = [START_C if segments[0].subset == "C" else START_B]
    for index, segment in enumerate(segments):
        if index:
            values.append(CODE_C if segment.subset == "C" else CODE_B)
        values.extend(_segment_values(segment))
    checksum = values[0] + sum(pos * value for pos, value in enumerate(values) if pos)
    values.append(checksum % 103)
    return values


def code128_modules(text: str) -> str:
    """The bar code as a string of ``1`` (bar) and ``0`` (space) modules, no quiet zones."""
    widths = "".join(_CODE128_WIDTHS[v] for v in code128_values(text)) + _CODE128_WIDTHS[STOP]
    out = []
    for index, width in enumerate(widths):
        out.append(("1" if index % 2 == 0 else "0") * int(width))
    return "".join(out)


def zpl_code128_data(text: str) -> str:
    """``^FD`` data for ZPL ``^BC`` (mode N) that encodes exactly ``text``.

    Subsets are invoked explicitly and ``>``, ``^`` and ``~`` are escaped with
    their invocation codes, so the printer makes the same symbol as the PDF.
    """
    parts = []
    for index, segment in enumerate(code128_segments(text)):
        if index == 0:
            parts.append(">;" if segment.subset == "C" else ">:")
        else:
            parts.append(">5" if segment.subset == "C" else ">6")
        if segment.subset == "C":
            parts.append(segment.text)
        else:
            parts.append("".join(_ZPL_ESCAPES.get(ch, ch) for ch in segment.text))
    return "".join(parts)


def _segment_values(segment: Segment) -> list[int]:
    if segment.subset == "C":
        return [int(segment.text[j : j + 2]) for j in range(0, len(segment.text), 2)]
    return [ord(ch) - 32 for ch in segment.text]


def _append(segments: list[Segment], subset: str, chunk: str) -> None:
    if segments and segments[-1].subset == subset:
        segments[-1] = Segment(subset, segments[-1].text + chunk)
    else:
        segments.append(Segment(subset, chunk))


def _digit_run(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end].isdigit() and text[end].isascii():
        end += 1
    return end - start


def _require_code128_text(text: str) -> None:
    if not isinstance(text, str) or not text:
        raise ValueError("a Code 128 bar code needs a non-empty text")
    bad = [ch for ch in text if not 32 <= ord(ch) <= 126]
    if bad:
        raise ValueError(f"plain Code 128 here carries printable ASCII only, not {bad!r}")


# --------------------------------------------------------------------------
# Data Matrix ECC 200
# --------------------------------------------------------------------------

# (symbol size, data region size, data codewords, error correction codewords)
_DM_SIZES = (
    (10, 8, 3, 5),
    (12, 10, 5, 7),
    (14, 12, 8, 10),
    (16, 14, 12, 12),
    (18, 16, 18, 14),
    (20, 18, 22, 18),
    (22, 20, 30, 20),
    (24, 22, 36, 24),
    (26, 24, 44, 28),
    (32, 14, 62, 36),
    (36, 16, 86, 42),
    (40, 18, 114, 48),
    (44, 20, 144, 56),
    (48, 22, 174, 68),
)

_GF_EXP = [0] * 512
_GF_LOG = [0] * 256


def _init_galois_field() -> None:
    value = 1
    for power in range(255):
        _GF_EXP[power] = value
        _GF_LOG[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x12D
    for power in range(255, 512):
        _GF_EXP[power] = _GF_EXP[power - 255]


_init_galois_field()


def datamatrix_matrix(text: str) -> list[list[bool]]:
    """Data Matrix ECC 200 symbol of ``text`` as rows of modules (True = dark).

    The smallest square symbol that holds the data is chosen; the quiet zone
    is left to the caller.
    """
    data = _dm_ascii_codewords(text)
    size, region, capacity, ecc_count = _dm_size_for(len(data))
    codewords = _dm_pad(data, capacity)
    codewords += _reed_solomon(codewords, ecc_count)
    regions_per_side = size // (region + 2)
    mapping = _dm_place(codewords, region * regions_per_side)
    return _dm_assemble(mapping, size, region)


def _dm_ascii_codewords(text: str) -> list[int]:
    if not isinstance(text, str) or not text:
        raise ValueError("a Data Matrix symbol needs a non-empty text")
    out: list[int] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ord(ch) > 127:
            raise ValueError(f"Data Matrix text must be ASCII here, not {ch!r}")
        pair = text[i : i + 2]
        if len(pair) == 2 and pair.isdigit() and pair.isascii():
            out.append(130 + int(pair))
            i += 2
        else:
            out.append(ord(ch) + 1)
            i += 1
    return out


def _dm_size_for(count: int) -> tuple[int, int, int, int]:
    for entry in _DM_SIZES:
        if entry[2] >= count:
            return entry
    raise ValueError(f"text needs {count} codewords, more than a 48x48 symbol holds")


def _dm_pad(data: list[int], capacity: int) -> list[int]:
    padded = list(data)
    if len(padded) < capacity:
        padded.append(129)
    while len(padded) < capacity:
        position = len(padded) + 1
        value = 129 + ((149 * position) % 253) + 1
        padded.append(value - 254 if value > 254 else value)
    return padded


def _reed_solomon(data: Sequence[int], ecc_count: int) -> list[int]:
    generator = [1]
    for power in range(1, ecc_count + 1):
        generator = _poly_times_root(generator, _GF_EXP[power])
    remainder = [0] * ecc_count
    for codeword in data:
        factor = codeword ^ remainder[0]
        remainder = remainder[1:] + [0]
        if factor:
            for j in range(ecc_count):
                remainder[j] ^= _gf_mul(generator[j + 1], factor)
    return remainder


def _poly_times_root(poly: list[int], root: int) -> list[int]:
    """Multiply ``poly`` (highest degree first) by ``(x + root)`` in GF(256)."""
    result = poly + [0]
    for j, coefficient in enumerate(poly):
        result[j + 1] ^= _gf_mul(coefficient, root)
    return result


def _gf_mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _GF_EXP[_GF_LOG[a] + _GF_LOG[b]]


class _Placement:
    """ISO/IEC 16022 Annex F module placement of codewords in the mapping matrix."""

    def __init__(self, codewords: Sequence[int], size: int) -> None:
        self.codewords = codewords
        self.rows = self.cols = size
        self.grid: list[list[int | None]] = [[None] * size for _ in range(size)]

    def module(self, row: int, col: int, index: int, bit: int) -> None:
        if row < 0:
            row += self.rows
            col += 4 - ((self.rows + 4) % 8)
        if col < 0:
            col += self.cols
            row += 4 - ((self.cols + 4) % 8)
        value = self.codewords[index]
        self.grid[row][col] = (value >> (8 - bit)) & 1

    def utah(self, row: int, col: int, index: int) -> None:
        offsets = ((-2, -2), (-2, -1), (-1, -2), (-1, -1), (-1, 0), (0, -2), (0, -1), (0, 0))
        for bit, (dr, dc) in enumerate(offsets, start=1):
            self.module(row + dr, col + dc, index, bit)

    def corner(self, positions: Sequence[tuple[int, int]], index: int) -> None:
        for bit, (row, col) in enumerate(positions, start=1):
            self.module(row, col, index, bit)

    def corners(self, row: int, col: int) -> list[tuple[tuple[int, int], ...]]:
        r, c = self.rows, self.cols
        found = []
        if row == r and col == 0:
            found.append(((r - 1, 0), (r - 1, 1), (r - 1, 2), (0, c - 2),
                          (0, c - 1), (1, c - 1), (2, c - 1), (3, c - 1)))
        if row == r - 2 and col == 0 and c % 4:
            found.append(((r - 3, 0), (r - 2, 0), (r - 1, 0), (0, c - 4),
                          (0, c - 3), (0, c - 2), (0, c - 1), (1, c - 1)))
        if row == r - 2 and col == 0 and c % 8 == 4:
            found.append(((r - 3, 0), (r - 2, 0), (r - 1, 0), (0, c - 2),
                          (0, c - 1), (1, c - 1), (2, c - 1), (3, c - 1)))
        if row == r + 4 and col == 2 and c % 8 == 0:
            found.append(((r - 1, 0), (r - 1, c - 1), (0, c - 3), (0, c - 2),
                          (0, c - 1), (1, c - 3), (1, c - 2), (1, c - 1)))
        return found

    def run(self) -> list[list[int]]:
        index, row, col = 0, 4, 0
        while True:
            for positions in self.corners(row, col):
                self.corner(positions, index)
                index += 1
            while True:
                if row < self.rows and col >= 0 and self.grid[row][col] is None:
                    self.utah(row, col, index)
                    index += 1
                row, col = row - 2, col + 2
                if not (row >= 0 and col < self.cols):
                    break
            row, col = row + 1, col + 3
            while True:
                if row >= 0 and col < self.cols and self.grid[row][col] is None:
                    self.utah(row, col, index)
                    index += 1
                row, col = row + 2, col - 2
                if not (row < self.rows and col >= 0):
                    break
            row, col = row + 3, col + 1
            if not (row < self.rows or col < self.cols):
                break
        if self.grid[self.rows - 1][self.cols - 1] is None:
            self.grid[self.rows - 1][self.cols - 1] = 1
            self.grid[self.rows - 2][self.cols - 2] = 1
        return [[cell or 0 for cell in line] for line in self.grid]


def _dm_place(codewords: Sequence[int], size: int) -> list[list[int]]:
    return _Placement(codewords, size).run()


def _dm_assemble(mapping: list[list[int]], size: int, region: int) -> list[list[bool]]:
    symbol = [[False] * size for _ in range(size)]
    block = region + 2
    for top in range(0, size, block):
        for left in range(0, size, block):
            _draw_finder(symbol, top, left, block)
    for r, line in enumerate(mapping):
        for c, bit in enumerate(line):
            row = (r // region) * block + 1 + r % region
            col = (c // region) * block + 1 + c % region
            symbol[row][col] = bool(bit)
    return symbol


def _draw_finder(symbol: list[list[bool]], top: int, left: int, block: int) -> None:
    for k in range(block):
        symbol[top + block - 1][left + k] = True  # solid bottom edge
        symbol[top + k][left] = True  # solid left edge
        symbol[top][left + k] = k % 2 == 0  # alternating top edge
        symbol[top + k][left + block - 1] = k % 2 == 1  # alternating right edge
    symbol[top + block - 1][left + block - 1] = True
