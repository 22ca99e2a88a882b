"""One look per file (or machine) when several are drawn together: colour, dash and marker.

The fleet page's SVG and the matplotlib plots of several files read the same table, so a file
keeps its look from one view to the next.  Colours cycle every 8, dashes every 32 and markers
shift by one every 32, so the first 256 series all differ in at least one of the three.
"""
from __future__ import annotations

from dataclasses import dataclass

# Okabe-Ito's colour-blind safe palette (its yellow, too pale on white, swapped for brown).
COLORS: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
                           "#000000", "#8C564B")
# On/off lengths in line widths; () is a solid line.
DASHES: tuple[tuple[float, ...], ...] = ((), (6, 3), (1.5, 2), (8, 3, 1.5, 3))
# matplotlib marker codes; the SVG page draws the same shapes.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")


@dataclass(frozen=True)
class SeriesStyle:
    color: str  # "#rrggbb"
    dashes: tuple[float, ...]  # on/off lengths in line widths; () solid
    marker: str  # one of MARKERS


def series_style(k: int) -> SeriesStyle:
    """The look of the k-th series (k from 0): distinct for k < 256."""
    return SeriesStyle(color=COLORS[k % len(COLORS)],
                       dashes=DASHES[(k // len(COLORS)) % len(DASHES)],
                       marker=MARKERS[(k + k // (len(COLORS) * len(DASHES))) % len(MARKERS)])
