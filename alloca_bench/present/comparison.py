"""A Comparison (analysis.compare) in words: what was compared and how to read it, a row per
cell with each ratio, its interval and its mark, as text or HTML."""
from __future__ import annotations

import csv
import html
import io
import json
from typing import Any, Sequence

import numpy as np

from alloca_bench.analysis.checks import MIN_PROCESSES
from alloca_bench.analysis.comparison_model import ComparisonData
from alloca_bench.present._format import (format_interval, format_number, format_ratio,
                                          format_rows, format_size, left_out_note,
                                          shown_blocks)

# What "same machine" covers, named in the header.
_KEY_GROUPS = ("CPU", "kernel", "libc", "limits", "environment", "build flags")


def comparison_text(c: ComparisonData) -> str:
    """The header and the table."""
    return f"{comparison_header(c)}\n\n{comparison_table(c)}"


def comparison_header(c: ComparisonData) -> str:
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
    ref_kernel = _kernel_text(c.kernels[c.reference]) if c.kernels else ""
    for k in c.others if c.kernels else ():
        if c.kernels[k] != c.kernels[c.reference]:  # different work: not the allocation alone
            lines.append(f"kernel of {c.labels[k]} differs from {ref}'s: {ref_kernel} -> "
                         f"{_kernel_text(c.kernels[k])}")
    for k, names, moved in c.drift():
        low, high = _ratio_text(float(np.min(moved))), _ratio_text(float(np.max(moved)))
        lines.append(
            f"drift: same machine and build, yet kernels that call no allocator "
            f"({', '.join(names)}) moved {low if low == high else f'{low}..{high}'} in "
            f"{moved.size} cell(s) from {ref} to {c.labels[k]}: changes of that order are the "
            f"machine's state, not the allocator; normalize='alloca' (--normalize alloca) "
            f"compares ratios measured within each run instead")
    return "\n".join(lines)


def _kernel_text(kernel: tuple[str, str] | None) -> str:
    """"name (sha256 abcdef123456)" of a user kernel, or what ran without one."""
    return f"{kernel[0]} (sha256 {kernel[1][:12]})" if kernel else "none (a touch mode)"


def comparison_table(c: ComparisonData, strategies: Sequence[str] | None = None,
                     width: int = 120) -> str:
    """A row per (size, iterations, strategy): each result's median and each other result's
    ratio to the reference with its interval and mark; a last row with the geometric mean.
    When that is wider than `width` characters (many results, long labels), a row per result
    as well, with one median and one ratio column, which fits for any number of results.
    `strategies`: only those (default all).  Sizes x iterations that no result measured at
    all are left out, and counted."""
    chosen = chosen_strategies(c, strategies)
    table = format_rows(*_wide_rows(c, chosen))
    if max(len(line) for line in table.splitlines()) > width:
        table = format_rows(*_long_rows(c, chosen), left=4)
    return table + left_out_note(c.unmeasured)


def chosen_strategies(c: ComparisonData, strategies: Sequence[str] | None) -> list[int]:
    """Indices of `strategies` on the comparison's axis (all when None); ValueError names
    the ones it does not hold."""
    if strategies is None:
        return list(range(len(c.strategies)))
    unknown = [name for name in strategies if name not in c.strategies]
    if unknown or not strategies:
        raise ValueError(f"strategies {unknown or list(strategies)} are not in this "
                         f"comparison; it holds {', '.join(c.strategies)}")
    return [c.strategies.index(name) for name in strategies]


def _unit(c: ComparisonData) -> str:
    return f"x {c.normalize}" if c.normalize else "ns/op"


def _wide_rows(c: ComparisonData, chosen: list[int]) -> tuple[list[str], list[list[str]]]:
    headers = ["size", "iterations", "strategy"]
    headers += [f"{label} {_unit(c)}" for label in c.labels]
    headers += [f"{c.labels[k]}/{c.labels[c.reference]}" for k in c.others]
    rows = []
    for z, size, i, it in shown_blocks(c.sizes, c.iterations, c.unmeasured):
        for s in chosen:
            row = [format_size(int(size)), str(it), c.strategies[s]]
            row += [format_number(c.value[k, s, z, i]) for k in range(len(c.labels))]
            row += [_cell(c, k, (s, z, i)) for k in c.others]
            rows.append(row)
    for s in chosen:
        geo = ["geomean", "", c.strategies[s]] + [""] * len(c.labels)
        geo += [_geomean_cell(c, k, s) for k in c.others]
        rows.append(geo)
    return headers, rows


def _long_rows(c: ComparisonData, chosen: list[int]) -> tuple[list[str], list[list[str]]]:
    """A row per (size, iterations, strategy, result); the cell's first row names the cell."""
    ref = c.labels[c.reference]
    headers = ["size", "iterations", "strategy", "result", _unit(c),
               f"ratio to {ref} [{c.confidence:.0%}]"]
    rows = []
    for z, size, i, it in shown_blocks(c.sizes, c.iterations, c.unmeasured):
        for s in chosen:
            for n, k in enumerate([c.reference] + c.others):
                where = [format_size(int(size)), str(it), c.strategies[s]] if n == 0 else [""] * 3
                ratio = "reference" if k == c.reference else _cell(c, k, (s, z, i))
                rows.append(where + [c.labels[k], format_number(c.value[k, s, z, i]), ratio])
    for s in chosen:
        for n, k in enumerate(c.others):
            where = ["geomean", "", c.strategies[s]] if n == 0 else [""] * 3
            rows.append(where + [c.labels[k], "", _geomean_cell(c, k, s)])
    return headers, rows


def _geomean_cell(c: ComparisonData, k: int, s: int) -> str:
    return _mark(format_interval(c.geomean[k, s], c.geomean_low[k, s], c.geomean_high[k, s]),
                 bool(c.geomean_significant[k, s]))


def comparison_records(c: ComparisonData, strategies: Sequence[str] | None = None
                       ) -> list[dict[str, Any]]:
    """A record per (result, strategy, size, iterations) cell: its median (`value`, in
    `unit`), faults per op, and ratio to the reference with its interval and significance;
    None where not measured."""
    def number(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    records = []
    for z, size, i, it in shown_blocks(c.sizes, c.iterations, c.unmeasured):
        for s in chosen_strategies(c, strategies):
            for k, label in enumerate(c.labels):
                cell = (k, s, z, i)
                records.append({
                    "result": label, "reference": c.labels[c.reference],
                    "strategy": c.strategies[s], "size": int(size), "iterations": it,
                    "unit": _unit(c), "value": number(c.value[cell]),
                    "faults_per_op": number(c.faults[cell]), "ratio": number(c.ratio[cell]),
                    "low": number(c.low[cell]), "high": number(c.high[cell]),
                    "significant": bool(c.significant[cell])})
    return records


def comparison_csv(c: ComparisonData, strategies: Sequence[str] | None = None) -> str:
    """comparison_records as CSV, full precision, empty where not measured."""
    records = comparison_records(c, strategies)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]) if records else ["result"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in records)
    return out.getvalue()


def comparison_json(c: ComparisonData, strategies: Sequence[str] | None = None) -> str:
    """The comparison as strict JSON: what was compared, the cells (comparison_records) and
    the geometric means."""
    chosen = chosen_strategies(c, strategies)

    def number(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    return json.dumps({
        "labels": list(c.labels), "reference": c.labels[c.reference], "touch": c.touch,
        "normalize": c.normalize, "confidence": c.confidence, "threshold": c.threshold,
        "cells": comparison_records(c, strategies),
        "geomean": [{"result": c.labels[k], "strategy": c.strategies[s],
                     "ratio": number(c.geomean[k, s]), "low": number(c.geomean_low[k, s]),
                     "high": number(c.geomean_high[k, s]),
                     "significant": bool(c.geomean_significant[k, s])}
                    for k in c.others for s in chosen],
        "differences": {label: {key: list(pair) for key, pair in diff.items()}
                        for label, diff in c.differences.items()},
    }, allow_nan=False, default=str)


def comparison_markdown(c: ComparisonData, strategies: Sequence[str] | None = None) -> str:
    """The wide table (a column per result) in Markdown."""
    headers, rows = _wide_rows(c, chosen_strategies(c, strategies))

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers)] + [line(r) for r in rows])


def _cell(c: ComparisonData, k: int, index: tuple[int, int, int]) -> str:
    if not np.isfinite(c.ratio[k][index]):
        return _missing(c, k, index)
    return _mark(format_interval(c.ratio[k][index], c.low[k][index], c.high[k][index]),
                 bool(c.significant[k][index]))


def _missing(c: ComparisonData, k: int, index: tuple[int, int, int]) -> str:
    """Why a cell has no ratio: the status of the result's cell or of the reference's when
    either is not ok ("failed", "unavailable", ...), else "missing"."""
    for which in (k, c.reference):
        word = str(c.status[(which, *index)])
        if word != "ok":
            return word if which == k else f"{word} in {c.labels[c.reference]}"
    return "missing"


def _mark(text: str, significant: bool) -> str:
    return text if significant else f"{text} n.s."


def _ratio_text(x: float) -> str:
    return f"{x:.3g}x" if np.isfinite(x) else "-"


def comparison_html(c: ComparisonData) -> str:
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
