"""Verdicts drawn from intervals: the class of each size for a speed claim ("much faster" only
when the whole interval clears the bar, "borderline" when the bar lies inside the interval)
and the claim's verdict over sizes ("holds up to X" only when it holds at every smaller
measured size; a pattern that comes back after a gap is called not monotone; borderline sizes
are named apart and never flip it), so that a headline never contradicts the rows under it."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from alloca_bench.analysis.crossover_model import CrossoverData, label_runs
from alloca_bench.present._format import format_size, format_size_span

MUCH = "much faster"
BORDERLINE = "borderline"  # the first word of the class of a size whose interval holds the bar


def speed_classes(cross: CrossoverData, much: float) -> list[str]:
    """Per size of `cross` (a against b): "much faster" (the interval of the speed-up is at
    least `much`), "faster, under <much>x" (the whole interval is under it), "borderline:
    <much>x inside the interval", "slower", "no practical difference", or "" when not
    measured."""
    classes = []
    for z, w in enumerate(cross.winner):
        if not w:
            classes.append("")
        elif w == cross.a and cross.low[z] >= much:
            classes.append(MUCH)
        elif w == cross.a and cross.high[z] < much:
            classes.append(f"faster, under {much:g}x")
        elif w == cross.a:
            classes.append(f"{BORDERLINE}: {much:g}x inside the interval")
        elif w == cross.b:
            classes.append("slower")
        else:
            classes.append("no practical difference")
    return classes


def speed_verdict(classes: Sequence[str], sizes: np.ndarray) -> str:
    """The verdict on "much faster" from the per-size classes (speed_classes): borderline
    sizes count neither way and are named after it."""
    measured = [z for z, c in enumerate(classes) if c]
    if not measured:
        return "not tested (no size was measured)"
    edge = [z for z in measured if classes[z].startswith(BORDERLINE)]
    note = ("; borderline " + " and ".join(
        format_size_span(sizes, a, b) for a, b, label in label_runs(
            ["x" if z in edge else "" for z in range(len(classes))]))
            + " (the bar lies inside the interval)") if edge else ""
    decided = [z for z in measured if z not in edge]
    if not decided:
        return "borderline at every measured size (the bar lies inside each interval)"
    yes = ["yes" if classes[z] == MUCH else "no" for z in decided]
    if "no" not in yes:
        return ("holds at every measured size" if not edge
                else "holds at every other measured size") + note
    if "yes" not in yes:
        return "does not hold here" + note
    runs = label_runs(yes)  # indices into `decided`
    if len(runs) == 2:
        z = decided[runs[0][1]] if yes[0] == "yes" else decided[runs[1][0]]
        return (f"holds up to {format_size(int(sizes[z]))}, not above" if yes[0] == "yes"
                else f"holds from {format_size(int(sizes[z]))} on, not below") + note
    held = [format_size_span(sizes, decided[a], decided[b])
            for a, b, label in runs if label == "yes"]
    failed = [format_size_span(sizes, decided[a], decided[b])
              for a, b, label in runs if label == "no"]
    return (f"holds only {' and '.join(held)}, not {' and '.join(failed)}: not monotone in "
            f"size" + note)
