"""Text, Markdown, CSV and HTML tables of a Result (what `alloca-bench run` prints and a notebook
shows), and the HTML display of a Comparison."""
from __future__ import annotations

import csv
import html
import io
import textwrap

import numpy as np

from alloca_bench.analysis.cold import cold_and_warm
from alloca_bench.present._format import (
    format_net,
    format_number,
    format_pct,
    format_plus_minus,
    format_rate,
    format_ratio,
    format_rows,
    format_size,
    nothing_measured,
    left_out_note,
    measured_rounds,
    shown_blocks,
    size_label,
    status_counts,
    unmeasured,
)
from alloca_bench.present.warnings import result_warnings
from alloca_bench.results.cell_stats import net_bound, within_resolution
from alloca_bench.results.model import ResultData

WIDTH = 100  # characters per line of the warnings under a table


def _result_rows(result: ResultData, reference: str | None) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted rows of result_table (and of its Markdown form)."""
    if reference is None:
        reference = "alloca" if "alloca" in result.strategies else None
    st, faults = result.stats(), result.median("faults_per_op")
    inside, bound = within_resolution(st), net_bound(st)
    headers = ["size", "iterations", "strategy", "ns/op", "±", "err%", "net ns/op", "faults/op"]
    if reference:
        headers.append(f"x {reference}")
    rate = _bytes_per_s(result) if result.touch == "full" else None
    if rate is not None:
        headers.append("bytes/s")
    if not result.complete:
        headers.append("status")
    ratios = _ratios_to(result, reference) if reference else None
    rows, empty = [], unmeasured(result.ns_per_op, (0, 3))
    for z, size, i, it in shown_blocks(result.sizes, result.iterations, empty):
        for s, strategy in enumerate(result.strategies):
            c = (s, z, i)
            label = f"auto={result.batch_iterations[c]}" if it == "auto" else str(it)
            row = [size_label(result, size), label, strategy, format_number(st["median"][c]),
                   format_plus_minus(st["median"][c], st["low"][c], st["high"][c]),
                   format_pct(st["err_pct"][c]),
                   format_net(st["net"][c], bound[c], bool(inside[c])),
                   format_number(faults[c], 3)]
            if ratios is not None:
                row.append(format_ratio(ratios[c]))
            if rate is not None:
                row.append(format_rate(rate[c]))
            if not result.complete:  # the words of every cell not ok are in result.reasons
                row.append("" if result.status[c] == "ok" else str(result.status[c]))
            rows.append(row)
    return headers, rows


def result_table(result: ResultData, reference: str | None = None,
                 with_warnings: bool = True) -> str:
    """A text table, a row per (size, iterations, strategy): median ns/op, ± (the larger half
    of its 95% interval: processes, then batches), err% (nanobench's), net ns/op ("< x" inside
    the measured resolution), faults/op and the ratio of medians to `reference` (default:
    alloca when present), bytes/s for touch "full" (size / median), and when a cell is not ok
    a status column (its word: failed,
    unavailable, interrupted, not_run); sizes x iterations without any sample are left out
    (and counted); the result's warnings under it (`with_warnings`).  A result without any
    sample gets one line: "nothing was measured" and why."""
    if not np.isfinite(result.ns_per_op).any():
        return nothing_measured(result)
    return (format_rows(*_result_rows(result, reference))
            + left_out_note(unmeasured(result.ns_per_op, (0, 3)))
            + (format_warnings(result_warnings(result)) if with_warnings else ""))


def result_markdown(result: ResultData, reference: str | None = None) -> str:
    """result_table as a Markdown (GitHub) table, numbers right-aligned ("nothing was
    measured" and why for a result without any sample)."""
    if not np.isfinite(result.ns_per_op).any():
        return nothing_measured(result)
    headers, rows = _result_rows(result, reference)
    align = ["---" if c < 3 else "---:" for c in range(len(headers))]
    table = "\n".join("| " + " | ".join(cells) + " |" for cells in [headers, align, *rows])
    return (table + left_out_note(unmeasured(result.ns_per_op, (0, 3))).replace("\n", "\n\n")
            + "".join(f"\n\n**Warning:** {w}" for w in result_warnings(result)))


def result_csv(result: ResultData, reference: str | None = None) -> str:
    """One CSV row per (size, iterations, strategy) with full-precision numbers (empty when
    not measured, and the baseline's own net, which is not a cost): size in bytes, ops per
    batch, median ns/op with its 95% interval (ns_per_op_low, ns_per_op_high), err%, net
    ns/op with its interval, faults/op, the ratio of medians to `reference` (default: alloca
    when present), the cell's status and, for touch "full", bytes written per second (size /
    median)."""
    if reference is None:
        reference = "alloca" if "alloca" in result.strategies else None
    st, faults = result.stats(), result.median("faults_per_op")
    ratios = _ratios_to(result, reference) if reference else np.full(faults.shape, np.nan)
    rate = _bytes_per_s(result) if result.touch == "full" else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["size_bytes", "iterations", "ops_per_batch", "strategy", "ns_per_op",
                     "ns_per_op_low", "ns_per_op_high", "err_pct", "net_ns_per_op",
                     "net_ns_per_op_low", "net_ns_per_op_high", "faults_per_op",
                     f"ratio_to_{reference or ''}", "status"]
                    + (["bytes_per_s"] if rate is not None else []))
    columns = [st["median"], st["low"], st["high"], st["err_pct"], st["net"], st["net_low"],
               st["net_high"], faults, ratios] + ([rate] if rate is not None else [])
    for z, size in enumerate(result.sizes):
        for i, it in enumerate(result.iterations):
            for s, strategy in enumerate(result.strategies):
                cell = (s, z, i)
                writer.writerow([int(size), it, int(result.batch_iterations[cell]), strategy,
                                 *(_csv_number(a[cell]) for a in columns[:9]),
                                 str(result.status[cell]),
                                 *(_csv_number(a[cell]) for a in columns[9:])])
    return out.getvalue()


def _bytes_per_s(result: ResultData) -> np.ndarray:
    """Bytes per second of every cell (size / median ns per op); NaN for the baseline, which
    writes nothing."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = result.sizes[None, :, None] / result.median() * 1e9
    if "baseline" in result.strategies:
        rate[result.strategies.index("baseline")] = np.nan
    return rate


def _csv_number(x: float) -> str:
    """Full precision; empty for a cell never measured."""
    return repr(float(x)) if np.isfinite(x) else ""


def format_warnings(found: tuple[str, ...] | list[str], indent: str = "",
                    width: int = WIDTH) -> str:
    """The warnings as lines to print under a table, each wrapped at `width` characters,
    starting at `indent` and indented two more after its first line ("" when there are
    none)."""
    return "".join("\n" + textwrap.fill(f"WARNING {w}", width, initial_indent=indent,
                                        subsequent_indent=indent + "  ",
                                        break_on_hyphens=False, break_long_words=False)
                   for w in found)


def result_html(result: ResultData) -> str:
    """Notebook display, a row per size and iterations and a column per strategy: median
    ns/op ± the larger half of its 95% interval (as in result_table), err% and faults/op; a
    cell that is not "ok" says its status (its reason on hover)."""
    st, faults = result.stats(), result.median("faults_per_op")
    head = "".join(f"<th>{html.escape(s)}</th>" for s in result.strategies)
    body, empty = [], unmeasured(result.ns_per_op, (0, 3))

    def cell(c: tuple[int, int, int]) -> str:
        status = str(result.status[c])
        why = html.escape(result.reasons.get(
            (result.strategies[c[0]], int(result.sizes[c[1]]), result.iterations[c[2]]), ""))
        if not np.isfinite(result.ns_per_op[c]).any():
            return f'<td title="{why}">{"-" if status == "ok" else html.escape(status)}</td>'
        state = "" if status == "ok" else f'<br><small title="{why}">{status}</small>'
        return (f"<td>{format_number(st['median'][c])} "
                f"{format_plus_minus(st['median'][c], st['low'][c], st['high'][c])}"
                f"<br><small>err% {format_pct(st['err_pct'][c])}, "
                f"{format_number(faults[c], 3)} faults</small>{state}</td>")

    for z, size, i, it in shown_blocks(result.sizes, result.iterations, empty):
        cells = "".join(cell((s, z, i)) for s in range(len(result.strategies)))
        body.append(f"<tr><th>{html.escape(size_label(result, size))}</th><td>{it}</td>"
                    f"{cells}</tr>")
    if not np.isfinite(result.ns_per_op).any():
        return f"<p>alloca_bench result: {html.escape(nothing_measured(result))}</p>"
    state = "" if result.complete else (
        f" <b>(incomplete: {html.escape(status_counts(result))})</b>")
    notes = "".join(f"<p><b>warning</b> {html.escape(w)}</p>" for w in result_warnings(result))
    return (
        f"<p>alloca_bench result, touch <code>{html.escape(result.touch)}</code>, "
        f"{measured_rounds(result)} per cell, median ns/op ± the larger half of its 95% "
        f"interval{state}; {html.escape(str(result.machine.get('cpu_model', '')))}</p>"
        f"<table><tr><th>size</th><th>iterations</th>{head}</tr>{''.join(body)}</table>{notes}"
    )


def cold_table_applies(result: ResultData) -> bool:
    """Whether sample 0 of each cell is a cold first call: the cells ran in the runner (each in
    a fresh process), without warm-up, with explicit iterations."""
    params = result.params
    return bool(params.get("heap") in ("fresh", "aged") and params.get("warmup") == 0
                and result.iterations[0] != "auto")


def cold_table(result: ResultData) -> str:
    """Cold beside warm, for a sweep run in the runner with warmup=0 and explicit iterations
    (e.g. iterations=(1, 10_000)): per size and strategy, sample 0 of the first iteration count,
    which is the first batch of a fresh process (fresh pages, a first mmap), beside the median
    of the last iteration count (the later samples when there is only one count)."""
    params = result.params
    if not cold_table_applies(result):
        raise ValueError(
            "cold figures need sweep(heap='fresh', warmup=0, iterations=(1, ...)); this result "
            f"has heap={params.get('heap')!r}, warmup={params.get('warmup')}, "
            f"iterations={list(result.iterations)}")
    last = len(result.iterations) - 1
    got = cold_and_warm(result)
    cold_label = f"cold ns/op (first {result.iterations[0]} op(s))"
    warm_label = f"warm ns/op ({result.iterations[last]} ops/batch)"
    rows = [("size", "strategy", cold_label, "cold faults/op", warm_label, "warm faults/op")]
    for z, size in enumerate(result.sizes):
        for s, name in enumerate(result.strategies):
            rows.append((format_size(int(size)), name, f"{got['cold_ns'][s, z]:.1f}",
                         f"{got['cold_faults'][s, z]:.3g}", f"{got['warm_ns'][s, z]:.1f}",
                         f"{got['warm_faults'][s, z]:.3g}"))
    return format_rows(list(rows[0]), [list(row) for row in rows[1:]], left=2)


def _ratios_to(result: ResultData, reference: str) -> np.ndarray:
    """Ratio of medians of every strategy to `reference`: shape (strategy, size, iterations)."""
    return np.stack([result.ratio(s, reference) for s in result.strategies])
