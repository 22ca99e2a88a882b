"""A crossover in words: where one strategy stops beating another (the sentences and table of
a Crossover, what str(crossover) prints); present.summary builds on them."""
from __future__ import annotations

import numpy as np

from alloca_bench.analysis.crossover_model import TIE, CrossoverData, label_runs
from alloca_bench.present._format import (format_interval, format_number, format_rows,
                                          format_size, format_size_span)
from alloca_bench.results._stats import MIN_SAMPLES


def crossover_sentences(cross: CrossoverData) -> list[str]:
    """The verdict per run of sizes, in words a design review can quote."""
    out = []
    for first, last, w in cross.segments():
        span = format_size_span(cross.sizes, first, last)
        span = span[0].upper() + span[1:]  # it opens a sentence
        if w == TIE:
            out.append(f"{span}, {cross.a} and {cross.b} are within {cross.tolerance:.0%} or "
                       f"within noise of each other ({cross.b}/{cross.a} = "
                       f"{_spread(cross, first, last)}).")
        elif w == cross.a:
            out.append(f"{span}, {cross.a} is {_spread(cross, first, last)} faster than "
                       f"{cross.b}.")
        else:
            out.append(f"{span}, {cross.b} is {_spread(cross, first, last, invert=True)} "
                       f"faster than {cross.a}.")
    edge = borderline(cross)
    if edge.any():
        spans = [format_size_span(cross.sizes, a, b) for a, b, _ in
                 label_runs(["x" if e else "" for e in edge])]
        out.append(f"Borderline {' and '.join(spans)}: the interval reaches across the "
                   f"{cross.tolerance:.0%} bar, so a rerun may call it the other way.")
    few = cross.too_few_rounds()
    for n in sorted(set(cross.rounds[few].tolist())):
        at = [format_size(int(s)) for s in cross.sizes[few & (cross.rounds == n)]]
        out.append(f"No interval at {', '.join(at)}: {rounds_text(n)} per cell measured there, an "
                   f"interval needs at least {MIN_SAMPLES} (repeats={MIN_SAMPLES} or more).")
    missing = [format_size(int(s)) for s, w, f in zip(cross.sizes, cross.winner, few)
               if not w and not f]
    if missing:
        out.append(f"Not measured (sweep incomplete or failed): {', '.join(missing)}.")
    segments = cross.segments()
    for (p0, p1, old), (q0, _, new) in zip(segments, segments[1:]):
        if old == new:  # the same verdict on both sides of an unmeasured size
            continue
        last, first = int(cross.sizes[p1]), int(cross.sizes[q0])
        if old == TIE:
            tied = format_size_span(cross.sizes, p0, p1)
            out.append(f"{new} starts beating {_other(cross, new)} at {format_size(first)} "
                       f"({tied}: no practical difference).")
        else:
            then = f"{new} is faster" if new != TIE else "the two are within noise"
            out.append(f"{old} stops beating {_other(cross, old)} after {format_size(last)}: "
                       f"from {format_size(first)} on {then}.")
    return out


def borderline(cross: CrossoverData) -> np.ndarray:
    """Per size, whether its interval holds the bar between a verdict and a tie (1 +
    tolerance either way), so that a rerun may give the other verdict: bool, shape (size,)."""
    bars = (1 + cross.tolerance, 1 / (1 + cross.tolerance))
    with np.errstate(invalid="ignore"):
        return np.array([cross.winner[z] != "" and any(cross.low[z] < bar < cross.high[z]
                                                       for bar in bars)
                         for z in range(len(cross.sizes))], dtype=bool)


def _spread(cross: CrossoverData, first: int, last: int, invert: bool = False) -> str:
    """The winner's factor over sizes first..last (the table's "faster" column): one value
    with its interval, or the range; for a tie, the speed-up itcross."""
    if invert or cross.winner[first] != TIE:
        got = [cross.factor(z) for z in range(first, last + 1)]
    else:
        got = [(cross.speedup[z], cross.low[z], cross.high[z]) for z in range(first, last + 1)]
    if first == last:
        return format_interval(*got[0])
    x = [g[0] for g in got]
    return f"{format_number(float(np.nanmin(x)), 3)}x..{format_number(float(np.nanmax(x)), 3)}x"


def rounds_text(n: int) -> str:
    """'1 round', '2 rounds'."""
    return f"{n} round{'s' if n != 1 else ''}"


def _other(cross: CrossoverData, name: str) -> str:
    return cross.b if name == cross.a else cross.a


def faults_sentence(cross: CrossoverData) -> str:
    """Page faults per op of each side, at the sizes where they were largest."""
    parts = []
    for name, faults in ((cross.a, cross.faults_a), (cross.b, cross.faults_b)):
        if not np.isfinite(faults).any():
            parts.append(f"{name} was not measured")
            continue
        z = int(np.nanargmax(faults))
        if faults[z] == 0:
            parts.append(f"{name} 0 at every size")
        else:
            parts.append(f"{name} up to {format_number(faults[z], 3)} "
                         f"(at {format_size(int(cross.sizes[z]))})")
    return "Page faults per op (median over rounds, warm): " + "; ".join(parts) + "."


def crossover_table(cross: CrossoverData) -> str:
    """A row per size: both medians, the speed-up (b/a) with its interval, the winner and
    by how much (the numbers the sentences quote; "(borderline)" where the interval holds the
    tolerance's bar; "no interval (2 rounds)" where too few rounds give none), faults."""
    headers = ["size", f"{cross.a} ns/op", f"{cross.b} ns/op",
               f"speed-up {cross.b}/{cross.a} [{cross.confidence:.0%}]", "faster",
               f"{cross.a} faults/op", f"{cross.b} faults/op"]
    rows, edge, few = [], borderline(cross), cross.too_few_rounds()
    for z, size in enumerate(cross.sizes):
        w = str(cross.winner[z])
        faster = {"": "missing", TIE: TIE}.get(w) or f"{w} {format_number(cross.factor(z)[0], 3)}x"
        if few[z]:
            faster = f"no interval ({rounds_text(int(cross.rounds[z]))})"
        faster += " (borderline)" if edge[z] else ""
        rows.append([format_size(int(size)), format_number(cross.ns_a[z]),
                     format_number(cross.ns_b[z]),
                     format_interval(cross.speedup[z], cross.low[z], cross.high[z]), faster,
                     format_number(cross.faults_a[z], 3), format_number(cross.faults_b[z], 3)])
    return format_rows(headers, rows, left=1)


def crossover_text(cross: CrossoverData) -> str:
    """The sentences, then the table."""
    return " ".join(crossover_sentences(cross)) + "\n\n" + crossover_table(cross)
