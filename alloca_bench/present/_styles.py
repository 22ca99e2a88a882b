"""One look per file (or machine) when several are drawn together: colour, dash and marker,
and the ticks of a log axis that step evenly.

The fleet page's SVG and the matplotlib plots of several files read the same table, so a file
keeps its look from one view to the next.  Colours cycle every 8, dashes every 32 and markers
shift by one every 32, so the first 256 series all differ in at least one of the three.  Where
colour already means something else (a strategy), series_pattern gives dash and marker alone.
"""
from __future__ import annotations

import math
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


def series_pattern(k: int) -> tuple[tuple[float, ...], str]:
    """(dashes, marker) of the k-th series where colour is taken: a marker of its own for the
    first 8, the pair distinct for k < 32."""
    return DASHES[(k + k // len(MARKERS)) % len(DASHES)], MARKERS[k % len(MARKERS)]


# Steps between ticks, in powers of two: 256x, 16x, 4x, 2x, 1.41x, 1.19x, 1.09x, 1.04x.
_LOG2_STEPS = (8, 4, 2, 1, 1 / 2, 1 / 4, 1 / 8, 1 / 16)


def _ladder(lo: float, hi: float, step: float) -> list[float]:
    """Powers 2**(k * step) between 2**lo and 2**hi."""
    return [2.0 ** (k * step) for k in range(math.ceil(lo / step - 1e-9),
                                             math.floor(hi / step + 1e-9) + 1)]


def even_log_ticks(low: float, high: float, most: int = 8, whole: bool = False) -> list[float]:
    """Ticks on a log axis from `low` to `high` (> 0) one constant factor apart, through 1: the
    finest step of _LOG2_STEPS that puts at most `most` ticks in the range (2x: 0.5, 1, 2, 4;
    1.41x: 0.707, 1, 1.41, 2; 4x: 0.25, 1, 4, 16).  `whole`: powers of two only (2, 4, 8 ns),
    or where fewer than two fit, the widest finer step that puts two in the range."""
    if not (0 < low <= high and math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"a log axis needs 0 < low <= high, got {low!r}..{high!r}")
    lo, hi = math.log2(low), math.log2(high)
    if whole:
        for step in [s for s in _LOG2_STEPS if s >= 1][::-1] + [s for s in _LOG2_STEPS if s < 1]:
            ticks = _ladder(lo, hi, step)
            if 2 <= len(ticks) <= most:
                return ticks
    for step in reversed(_LOG2_STEPS):
        ticks = _ladder(lo, hi, step)
        if len(ticks) <= most:
            return ticks
    return ticks
