"""Verdicts drawn from intervals: the class of each size for a speed claim ("much faster" only
when the whole interval clears the bar) and the claim's verdict over sizes ("holds up to X" only
when it holds at every smaller measured size; a pattern that comes back after a gap is called
not monotone), so that a headline never contradicts the rows under it."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from alloca_bench.analysis.crossover import Crossover, label_runs
from alloca_bench.present._format import format_size, format_size_span


def speed_classes(cross: Crossover, much: float) -> list[str]:
    """Per size of `cross` (a against b): "much faster" (the interval of the speed-up is at
    least `much`), "faster, <much>x not certain", "slower", "no practical difference", or ""
    when not measured."""
    classes = []
    for z, w in enumerate(cross.winner):
        if not w:
            classes.append("")
        elif w == cross.a and cross.low[z] >= much:
            classes.append("much faster")
        elif w == cross.a:
            classes.append(f"faster, {much:g}x not certain")
        elif w == cross.b:
            classes.append("slower")
        else:
            classes.append("no practical difference")
    return classes


def speed_verdict(classes: Sequence[str], sizes: np.ndarray) -> str:
    """The verdict on "much faster" from the per-size classes (speed_classes)."""
    measured = [z for z, c in enumerate(classes) if c]
    if not measured:
        return "not tested (no size was measured)"
    yes = ["yes" if classes[z] == "much faster" else "no" for z in measured]
    if "no" not in yes:
        return "holds at every measured size"
    if "yes" not in yes:
        return "does not hold here"
    runs = label_runs(yes)  # indices into `measured`
    if len(runs) == 2:
        z = measured[runs[0][1]] if yes[0] == "yes" else measured[runs[1][0]]
        return (f"holds up to {format_size(int(sizes[z]))}, not above" if yes[0] == "yes"
                else f"holds from {format_size(int(sizes[z]))} on, not below")
    held = [format_size_span(sizes, measured[a], measured[b])
            for a, b, label in runs if label == "yes"]
    failed = [format_size_span(sizes, measured[a], measured[b])
              for a, b, label in runs if label == "no"]
    return (f"holds only {' and '.join(held)}, not {' and '.join(failed)}: not monotone in "
            f"size")
