"""A Comparison (analysis.compare) in words: what was compared and how to read it, a row per
cell with each ratio, its interval and its mark, as text or HTML."""
from __future__ import annotations

import html

import numpy as np

from alloca_bench.analysis.checks import MIN_PROCESSES
from alloca_bench.analysis.compare import Comparison
from alloca_bench.present._format import (format_interval, format_number, format_ratio,
                                          format_rows, format_size, left_out_note,
                                          shown_blocks)

# What "same machine" covers, named in the header.
_KEY_GROUPS = ("CPU", "kernel", "libc", "limits", "environment", "build flags")


def comparison_text(c: Comparison) -> str:
    """The header and the table."""
    return f"{comparison_header(c)}\n\n{comparison_table(c)}"


def comparison_header(c: Comparison) -> str:
    """What was compared, how to read the marks, and what differs between the machines."""
    ref = c.labels[c.reference]
    others = ", ".join(c.labels[k] for k in c.others)
    what = (f"median of the per-round ratio to {c.normalize}" if c.normalize
            else "median ns/op")
    lines = [
        f"compare: {others} against {ref}; touch={c.touch}",
        f"ratio = {what} of each result / {ref}'s; [low, high] = "
        f"{c.confidence:.0%} bootstrap interval (processes, then batches within them)",
        f"n.s. = not significant: the interval contains 1 or the ratio is within "
        f"{1 / (1 + c.threshold):.3g}x..{1 + c.threshold:.3g}x (a change under "
        f"{c.threshold:.0%} either way)",
    ]
    for label, diff in c.differences.items():
        if diff:
            shown = "; ".join(f"{key}: {a!r} -> {b!r}" for key, (a, b) in diff.items())
            lines.append(f"machine of {label} differs from {ref}'s: {shown}")
        else:
            lines.append(f"machine of {label}: same as {ref}'s ({', '.join(_KEY_GROUPS)})")
    for axis, per_label in c.left_out.items():
        for label, values in per_label.items():
            lines.append(f"left out ({axis} not in every result): {label} has {values}")
    few = [f"{label} ({n})" for label, n in zip(c.labels, c.processes) if n < MIN_PROCESSES]
    if few:
        lines.append(f"few processes: the samples of {', '.join(few)} come from fewer than "
                     f"{MIN_PROCESSES} processes, so the intervals miss part of what differs "
                     f"between runs and a rerun can move more than they show; spread the "
                     f"rounds over more processes")
    for k, names, moved in c.drift():
        low, high = _ratio_text(float(np.min(moved))), _ratio_text(float(np.max(moved)))
        lines.append(
            f"drift: same machine and build, yet kernels that call no allocator "
            f"({', '.join(names)}) moved {low if low == high else f'{low}..{high}'} in "
            f"{moved.size} cell(s) from {ref} to {c.labels[k]}: changes of that order are the "
            f"machine's state, not the allocator; normalize='alloca' (--normalize alloca) "
            f"compares ratios measured within each run instead")
    return "\n".join(lines)


def comparison_table(c: Comparison) -> str:
    """A row per (size, iterations, strategy): each result's median and each other result's
    ratio to the reference with its interval and mark; a last row with the geometric mean.
    Sizes x iterations that no result measured at all are left out, and counted."""
    unit = f"x {c.normalize}" if c.normalize else "ns/op"
    headers = ["size", "iterations", "strategy"]
    headers += [f"{label} {unit}" for label in c.labels]
    headers += [f"{c.labels[k]}/{c.labels[c.reference]}" for k in c.others]
    rows = []
    empty = c.unmeasured
    for z, size, i, it in shown_blocks(c.sizes, c.iterations, empty):
        for s, strategy in enumerate(c.strategies):
            row = [format_size(int(size)), str(it), strategy]
            row += [format_number(c.value[k, s, z, i]) for k in range(len(c.labels))]
            row += [_cell(c, k, (s, z, i)) for k in c.others]
            rows.append(row)
    for s, strategy in enumerate(c.strategies):
        geo = ["geomean", "", strategy] + [""] * len(c.labels)
        geo += [_mark(format_interval(c.geomean[k, s], c.geomean_low[k, s],
                                      c.geomean_high[k, s]), bool(c.geomean_significant[k, s]))
                for k in c.others]
        rows.append(geo)
    return format_rows(headers, rows) + left_out_note(empty)


def _cell(c: Comparison, k: int, index: tuple[int, int, int]) -> str:
    if not np.isfinite(c.ratio[k][index]):
        return "missing"
    return _mark(format_interval(c.ratio[k][index], c.low[k][index], c.high[k][index]),
                 bool(c.significant[k][index]))


def _mark(text: str, significant: bool) -> str:
    return text if significant else f"{text} n.s."


def _ratio_text(x: float) -> str:
    return f"{x:.3g}x" if np.isfinite(x) else "-"


def comparison_html(c: Comparison) -> str:
    """Notebook display of an analysis.compare.Comparison: its header, then a row per (size,
    iterations, strategy) with each result's median and each other result's ratio to the
    reference with its interval; significant cells bold, the others marked n.s.; the count of
    significant cells and the geometric mean per strategy last."""
    ref = c.labels[c.reference]
    unit = f"x {c.normalize}" if c.normalize else "ns/op"
    head = "".join(f"<th>{html.escape(label)} {html.escape(unit)}</th>" for label in c.labels)
    head += "".join(f"<th>{html.escape(c.labels[k])}/{html.escape(ref)}</th>" for k in c.others)
    body, empty = [], c.unmeasured
    for z, size, i, it in shown_blocks(c.sizes, c.iterations, empty):
        for s, strategy in enumerate(c.strategies):
            cell = (s, z, i)
            values = "".join(f"<td>{format_number(c.value[(k, *cell)])}</td>"
                             for k in range(len(c.labels)))
            ratios = "".join(_ratio_html(c.ratio[(k, *cell)], c.low[(k, *cell)],
                                         c.high[(k, *cell)], bool(c.significant[(k, *cell)]))
                             for k in c.others)
            body.append(f"<tr><th>{format_size(int(size))}</th><td>{html.escape(str(it))}"
                        f"</td><td>{html.escape(strategy)}</td>{values}{ratios}</tr>")
    counts = "; ".join(
        f"{c.labels[k]}: {int(c.significant[k].sum())} of "
        f"{int((~empty).sum()) * len(c.strategies)} cells "
        "significant, geomean " + ", ".join(
            f"{name} {format_ratio(c.geomean[k, s])} [{c.geomean_low[k, s]:.3g}, "
            f"{c.geomean_high[k, s]:.3g}]" for s, name in enumerate(c.strategies))
        for k in c.others)
    header = "<br>".join(html.escape(line) for line in comparison_header(c).splitlines())
    return (f"<p><small>{header}</small></p>"
            f"<table><tr><th>size</th><th>iterations</th><th>strategy</th>{head}</tr>"
            f"{''.join(body)}</table><p>{html.escape(counts)}</p>")


def _ratio_html(ratio: float, low: float, high: float, significant: bool) -> str:
    if not np.isfinite(ratio):
        return "<td>missing</td>"
    text = f"{format_ratio(ratio)} <small>[{low:.3g}, {high:.3g}]</small>"
    return f"<td><b>{text}</b></td>" if significant else f"<td>{text} n.s.</td>"
