"""Text of threaded results: the per-thread table with throughput and scaling efficiency, and
its header line."""
from __future__ import annotations

from alloca_bench.present._format import format_number, format_rows, size_label
from alloca_bench.results.model import Result


def threads_table(result: Result) -> str:
    """A row per (size, iterations, strategy, thread count): each thread's median ns/op, all
    threads' throughput (millions of ops per second) and the scaling efficiency (throughput at
    N / (N x throughput at 1), paired by round); thread counts above the CPUs the process could
    use are marked oversubscribed.  "same CPU" is Result.same_cpu_efficiency(): thread 0 alone
    over thread 0 beside the others, on the same CPU."""
    per_thread, ops, efficiency = result.thread_median(), result.throughput(), result.scaling()
    same_cpu = result.same_cpu_efficiency()
    over = set(result.oversubscribed())
    headers = ["size", "strategy", "threads", "ns/op per thread", "Mops/s", "efficiency",
               "same CPU"]
    headers += ["CPUs"] if over else []
    rows = []
    for z, size in enumerate(result.sizes):
        for i in range(len(result.iterations)):
            for s, strategy in enumerate(result.strategies):
                for t, n in enumerate(result.threads):
                    each = " / ".join(format_number(x) for x in per_thread[t, s, z, i, :n])
                    rows.append([size_label(result, size), strategy, str(n), each,
                                 format_number(ops[t, s, z, i] / 1e6),
                                 format_number(efficiency[t, s, z, i], 3),
                                 format_number(same_cpu[t, s, z, i], 3)]
                                + (["oversubscribed" if n in over else "ok"] if over else []))
    return format_rows(headers, rows)


def threads_header(result: Result) -> str:
    """One line: the pattern, the CPUs the process could use and which counts exceed them."""
    over = result.oversubscribed()
    text = (f"threads {', '.join(map(str, result.threads))}, pattern="
            f"{result.params.get('pattern', 'same')}, {result.params.get('cpus', '?')} CPU(s) "
            "usable")
    return text + (f"; oversubscribed at {', '.join(map(str, over))} threads" if over else "")
