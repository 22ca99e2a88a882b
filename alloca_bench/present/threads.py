"""A ThreadsResult in words and figures: the per-thread table with throughput and the
efficiencies, its header line, the lines of cells that are not "ok", and the scaling plot."""
from __future__ import annotations

from typing import Any

from alloca_bench.present._format import format_number, format_rows, size_label
from alloca_bench.present.plot import _legend, _pyplot, strategy_styles
from alloca_bench.results.threads_model import ThreadsResultData


def threads_table(result: ThreadsResultData) -> str:
    """A row per (size, strategy, thread count): each thread's median ns/op, all threads'
    throughput (millions of ops per second), the scaling efficiency (throughput at N / (N x
    throughput at 1), paired by round) and the same-CPU efficiency (thread 0 alone over thread
    0 beside the others, on the same CPU); a cell that is not "ok" shows its status; counts
    above the usable CPUs are marked oversubscribed."""
    per_thread, ops, efficiency = result.median(), result.throughput(), result.scaling()
    same_cpu = result.same_cpu_efficiency()
    over = set(result.oversubscribed)
    headers = ["size", "strategy", "threads", "ns/op per thread", "Mops/s", "efficiency",
               "same CPU"] + (["CPUs"] if over else [])
    rows = []
    for z, size in enumerate(result.sizes):
        for s, strategy in enumerate(result.strategies):
            for t, n in enumerate(result.threads):
                cell = (s, z, t)
                each = " / ".join(format_number(x) for x in per_thread[cell][:n])
                if result.status[cell] != "ok" and not ops[cell] > 0:
                    each = str(result.status[cell])
                rows.append([size_label(result, size), strategy, str(n), each,
                             format_number(ops[cell] / 1e6),
                             format_number(efficiency[cell], 3),
                             format_number(same_cpu[cell], 3)]
                            + (["oversubscribed" if n in over else "ok"] if over else []))
    return format_rows(headers, rows)


def threads_header(result: ThreadsResultData) -> str:
    """One line: thread counts, pattern, touch, rounds, the CPUs the process could use and
    which counts exceed them."""
    over = result.oversubscribed
    text = (f"threads {', '.join(map(str, result.threads))}, pattern={result.pattern}, "
            f"touch={result.touch}, {result.repeats} rounds per cell over "
            f"{result.params.get('processes', 1)} process(es), "
            f"{result.params.get('cpus', '?')} CPU(s) usable")
    return text + (f"; oversubscribed at {', '.join(map(str, over))} threads" if over else "")


def status_lines(result: ThreadsResultData) -> list[str]:
    """'unavailable: alloca at 64 B, 2 threads: <reason>' for every cell that is not "ok"."""
    lines = []
    for s, strategy in enumerate(result.strategies):
        for z, size in enumerate(result.sizes):
            for t, n in enumerate(result.threads):
                status = str(result.status[s, z, t])
                if status != "ok":
                    why = result.reasons.get((strategy, int(size), n), "")
                    lines.append(f"{status}: {strategy} at {size_label(result, size)}, "
                                 f"{n} thread{'s' if n > 1 else ''}: {why}")
    return lines


def plot_threads(result: ThreadsResultData, ax: Any = None, **kwargs: Any) -> Any:
    """Scaling efficiency against the thread count, a line per strategy (a line style per
    size), with the ideal 1.0 dashed and the legend right of the panel; `kwargs` go to each
    line.  Returns the Axes."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    efficiency = result.scaling()
    styles = strategy_styles(result.strategies)
    dashes = ("-", "--", ":", "-.")
    for s, strategy in enumerate(result.strategies):
        for z, size in enumerate(result.sizes):
            label = strategy if len(result.sizes) == 1 else \
                f"{strategy}, {size_label(result, size)}"
            ax.plot(result.threads, efficiency[s, z], marker="o", color=styles[strategy][0],
                    linestyle=dashes[z % len(dashes)], label=label, **kwargs)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xticks(result.threads)
    ax.set_xlabel("threads")
    ax.set_ylabel("scaling efficiency (1.0: N threads, N times the work)")
    ax.set_title(f"pattern={result.pattern}, touch={result.touch}")
    ax.set_ylim(bottom=0)
    _legend(ax)  # right of the panel, as in every plot: "best" may stand on a line
    return ax
