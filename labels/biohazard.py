"""The biohazard symbol, defined once, as a monochrome bitmap (SPEC.md §6).

21 CFR 1271.3(h): the biohazard legend is the universal biohazard *symbol*
with the word BIOHAZARD.  The label renderers print the word as text and draw
this bitmap beside it — the PDF as an image, the ZPL as a ``^GF`` graphic
field — so both outputs show the very same picture.

Construction (Baldwin, Science 1967; the dimensioned drawing reproduced in
biosafety manuals), in units of A, the symbol's centre at the origin, one
crescent pointing up and the others at 210° and 330°:

* each crescent is a disc of diameter 30A (:data:`OUTER_RADIUS` 15A) whose
  centre lies 11A from the symbol's centre, less a disc of diameter 21A
  (:data:`INNER_RADIUS` 10.5A) whose centre lies 15A out on the same axis —
  the inner disc all but touches the outer one at the tip;
* a central circle of diameter 6A is left open, and gaps of width A
  (:data:`GAP`) cut each crescent on its axis: at the tip (the two horns of the
  crescent) and from the central circle to the crescent's hollow;
* a ring of inner radius 11A and width 3.5A lies under the crescents and shows
  only inside each hollow, kept a gap A from the crescent's inner edge (so it
  is interrupted where it meets the crescents).

The symbol reaches 26A up, 20.5A down and 24.5A to either side of its
centre; the bitmap is a square of side :data:`EXTENT` = 52A, the symbol's
centre :data:`CENTRE_DROP` = 2.75A below the bitmap's, so the symbol sits in
the middle of it.  Pure: no Flask, no database, no drawing
library.
"""

from __future__ import annotations

import math
from functools import lru_cache

BIOHAZARD_LEGEND = "BIOHAZARD"
"""The word printed beside the symbol (21 CFR 1271.3(h))."""

OUTER_RADIUS = 15.0
OUTER_OFFSET = 11.0
INNER_RADIUS = 10.5
INNER_OFFSET = 15.0
CENTRE_RADIUS = 3.0
RING_INNER = 11.0
RING_WIDTH = 3.5
GAP = 1.0
EXTENT = 52.0
"""Side of the square (in A) that holds the whole symbol."""
CENTRE_DROP = 2.75
"""How far (in A) the symbol's centre lies below the bitmap's centre."""

_AXES = tuple(
    (math.cos(math.radians(angle)), math.sin(math.radians(angle))) for angle in (90, 210, 330)
)

Bitmap = tuple[tuple[bool, ...], ...]
"""Rows from top to bottom; ``True`` is a dark pixel."""


def is_dark(x: float, y: float) -> bool:
    """Whether the point (x, y), in units of A with y upwards and the symbol's
    centre at the origin, is inside the symbol's dark area."""
    r = math.hypot(x, y)
    if r <= CENTRE_RADIUS:
        return False
    crescent = False
    ring_shows = False
    for ax, ay in _AXES:
        along = x * ax + y * ay
        across = abs(-x * ay + y * ax)
        to_inner = math.hypot(x - INNER_OFFSET * ax, y - INNER_OFFSET * ay)
        to_outer = math.hypot(x - OUTER_OFFSET * ax, y - OUTER_OFFSET * ay)
        if along > 0 and across < GAP / 2:
            # on a crescent's axis: the gaps at its tip and to the centre
            # cut every crescent; only the ring may show here
            crescent = False
            ring_shows = to_inner < INNER_RADIUS - GAP
            break
        if to_outer <= OUTER_RADIUS and to_inner >= INNER_RADIUS:
            crescent = True
        if to_inner < INNER_RADIUS - GAP:
            ring_shows = True
    on_ring = RING_INNER <= r <= RING_INNER + RING_WIDTH
    return crescent or (on_ring and ring_shows)


@lru_cache(maxsize=16)
def symbol_bitmap(side_px: int) -> Bitmap:
    """The symbol as a ``side_px`` × ``side_px`` monochrome bitmap.

    Each pixel is dark when the majority of a 3 × 3 grid of samples in it is,
    so the bitmap is the symbol's area at that resolution.
    """
    if side_px < 8:
        raise ValueError(f"a biohazard symbol needs at least 8 pixels, not {side_px}")
    unit = EXTENT / side_px
    offsets = (1 / 6, 1 / 2, 5 / 6)
    rows = []
    for row in range(side_px):
        cells = []
        for col in range(side_px):
            dark = sum(
                is_dark(
                    (col + dx) * unit - EXTENT / 2,
                    EXTENT / 2 + CENTRE_DROP - (row + dy) * unit,
                )
                for dx in offsets
                for dy in offsets
            )
            cells.append(dark >= 5)
        rows.append(tuple(cells))
    return tuple(rows)


def zpl_graphic_field(bitmap: Bitmap) -> str:
    """The bitmap as a ZPL ``^GF`` command in ASCII hex (``^GFA,total,total,
    bytes per row,data``): rows packed eight pixels a byte, first pixel in the
    high bit, a set bit printed black."""
    if not bitmap or not bitmap[0]:
        raise ValueError("an empty bitmap is no graphic")
    per_row = -(-len(bitmap[0]) // 8)
    data = []
    for row in bitmap:
        bits = "".join("1" if dark else "0" for dark in row).ljust(per_row * 8, "0")
        data.append(f"{int(bits, 2):0{per_row * 2}X}")
    total = per_row * len(bitmap)
    return f"^GFA,{total},{total},{per_row},{''.join(data)}"
