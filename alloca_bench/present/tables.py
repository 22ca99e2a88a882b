"""Text and HTML tables of a Result: what `alloca-bench run` prints and a notebook shows."""
from __future__ import annotations

import html
import warnings

import numpy as np

from alloca_bench.present._format import (
    format_number,
    format_pct,
    format_ratio,
    format_rows,
    format_size,
)
from alloca_bench.present.threads import size_label
from alloca_bench.results.model import Result


def result_table(result: Result, reference: str | None = None) -> str:
    """A text table, a row per (size, iterations, strategy): median ns/op, err%, net ns/op,
    faults/op and the paired ratio to `reference` (default: alloca when present)."""
    if reference is None:
        reference = "alloca" if "alloca" in result.strategies else None
    med, err, faults = result.median(), result.err_pct(), result.median("faults_per_op")
    net = result.net() if "baseline" in result.strategies else None
    headers = ["size", "iterations", "strategy", "ns/op", "err%", "net ns/op", "faults/op"]
    if reference:
        headers.append(f"x {reference}")
    ratios = result.ratio_to(reference) if reference else None
    rows = []
    for z, size in enumerate(result.sizes):
        for i, it in enumerate(result.iterations):
            for s, strategy in enumerate(result.strategies):
                label = f"auto={result.batch_iterations[s, z, i]}" if it == "auto" else str(it)
                net_text = format_number(net[s, z, i]) if net is not None else "-"
                row = [size_label(result, size), label, strategy, format_number(med[s, z, i]),
                       format_pct(err[s, z, i]), net_text, format_number(faults[s, z, i], 3)]
                if ratios is not None:
                    row.append(format_ratio(ratios[s, z, i]))
                rows.append(row)
    return format_rows(headers, rows)


def result_html(result: Result) -> str:
    """Notebook display: median ns/op (err%) and faults/op per size and strategy."""
    med, err, faults = result.median(), result.err_pct(), result.median("faults_per_op")
    head = "".join(f"<th>{html.escape(s)}</th>" for s in result.strategies)
    body = []
    for z, size in enumerate(result.sizes):
        for i, it in enumerate(result.iterations):
            cells = "".join(
                f"<td>{format_number(med[s, z, i])} ±{format_pct(err[s, z, i])}"
                f"<br><small>{format_number(faults[s, z, i], 3)} faults</small></td>"
                for s in range(len(result.strategies)))
            body.append(f"<tr><th>{format_size(int(size))}</th><td>{it}</td>{cells}</tr>")
    state = "" if result.complete else " <b>(incomplete: interrupted)</b>"
    return (
        f"<p>alloca_bench result, touch <code>{html.escape(result.touch)}</code>, "
        f"{result.repeats} batches per cell, median ns/op ± err%{state}; "
        f"{html.escape(str(result.machine.get('cpu_model', '')))}</p>"
        f"<table><tr><th>size</th><th>iterations</th>{head}</tr>{''.join(body)}</table>"
    )


def cold_table(result: Result) -> str:
    """Cold beside warm, for a sweep run with isolate=True, warmup=0 and explicit iterations
    (e.g. iterations=(1, 10_000)): per size and strategy, sample 0 of the first iteration count,
    which is the first batch of a fresh process (fresh pages, a first mmap), beside the median
    of the last iteration count (the later samples when there is only one count)."""
    params = result.params
    if not (params.get("isolate") and params.get("warmup") == 0
            and result.iterations[0] != "auto"):
        raise ValueError(
            "cold figures need sweep(isolate=True, warmup=0, iterations=(1, ...)); this result "
            f"has isolate={params.get('isolate')}, warmup={params.get('warmup')}, "
            f"iterations={list(result.iterations)}")
    last = len(result.iterations) - 1
    skip = 1 if last == 0 else 0  # with a single count, its sample 0 is the cold one
    warm, faults = (np.full(result.ns_per_op.shape[:2], np.nan) for _ in range(2))
    if result.repeats > skip:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells of failed strategies
            warm = np.nanmedian(result.ns_per_op[:, :, last, skip:], axis=2)
            faults = np.nanmedian(result.faults_per_op[:, :, last, skip:], axis=2)
    cold_label = f"cold ns/op (first {result.iterations[0]} op(s))"
    warm_label = f"warm ns/op ({result.iterations[last]} ops/batch)"
    rows = [("size", "strategy", cold_label, "cold faults/op", warm_label, "warm faults/op")]
    for z, size in enumerate(result.sizes):
        for s, name in enumerate(result.strategies):
            rows.append((format_size(int(size)), name, f"{result.ns_per_op[s, z, 0, 0]:.1f}",
                         f"{result.faults_per_op[s, z, 0, 0]:.3g}", f"{warm[s, z]:.1f}",
                         f"{faults[s, z]:.3g}"))
    return format_rows(list(rows[0]), [list(row) for row in rows[1:]], left=2)
