"""The report's section "the stack under threads": the measured scaling of alloca beside malloc
(glibc as it is and with one arena) and each installed allocator, from a Result with a thread
(measuring.contention.gather_threads).  Written into any document with h/p/table."""
from __future__ import annotations

from typing import Optional

import numpy as np

from alloca_bench.present._format import format_number, size_label
from alloca_bench.present.document import Document
from alloca_bench.results.threads_model import ThreadsResultData


def threads_section(doc: Document, result: Optional[ThreadsResultData],
                    error: Optional[str] = None) -> None:
    """Append the section to `doc` (a report document): intro, a table per size of ns/op at 1
    thread, each thread's ns/op and the efficiency at every larger count, and one sentence per
    size comparing alloca's efficiency with the heap's."""
    doc.h(2, "The stack under threads")
    if result is None:
        doc.p(f"Not measured{': ' + error if error else ''}.")
        return
    cpus, over = result.params.get("cpus"), result.oversubscribed
    doc.p("Each column ran with 1 and with N threads of one process, started together after "
          "a barrier before every batch, each thread running the whole batch; the rounds "
          "interleave every column and thread count. Scaling efficiency is the throughput of "
          "the N threads over N times the throughput of 1 thread, paired by round: 1.0 means "
          "the threads did not slow each other down. An alloca shares nothing between "
          "threads; glibc's malloc gives threads arenas of their own, and `malloc arena_max=1` "
          "(GLIBC_TUNABLES `glibc.malloc.arena_max=1`) makes them share one, the contention "
          "case. Each thread is pinned to a CPU of its own. `baseline` (a call that touches "
          "no memory) is the control: its efficiency is what this machine gave N threads that "
          "share nothing at all (other load and CPUs of unequal speed lower it). The same-CPU "
          "efficiency compares thread 0 with itself: alone, and beside the other threads, on "
          "the same CPU both times; it does not depend on the other CPUs' speed. The process "
          f"could use {cpus} CPU(s)"
          + (f"; {', '.join(map(str, over))} threads oversubscribe them, so those figures "
             "include waiting for a CPU." if over else "."))
    per_thread, efficiency = result.median(), result.scaling()
    same_cpu = result.same_cpu_efficiency()
    counts = result.threads[1:]
    headers = (["column", "ns/op, 1 thread"]
               + [f"ns/op per thread, {n} threads" for n in counts]
               + [f"efficiency at {n}" for n in counts]
               + [f"same-CPU efficiency at {n}" for n in counts])
    for z, size in enumerate(result.sizes):
        doc.p(f"**{size_label(result, size)}**, touch `{result.touch}`:")
        rows = [[f"`{name}`", format_number(per_thread[s, z, 0, 0])]
                + [" / ".join(format_number(x) for x in per_thread[s, z, t, :n])
                   for t, n in enumerate(result.threads) if n > 1]
                + [format_number(efficiency[s, z, t], 3)
                   for t, n in enumerate(result.threads) if n > 1]
                + [format_number(same_cpu[s, z, t], 3)
                   for t, n in enumerate(result.threads) if n > 1]
                for s, name in enumerate(result.strategies)]
        doc.table(headers, rows)
        doc.p(_sentence(result, efficiency[:, z, -1], same_cpu[:, z, -1]))
    gaps = {(name, str(result.status[s, z, t]), result.reasons.get((name, int(size), n), ""))
            for s, name in enumerate(result.strategies) for z, size in enumerate(result.sizes)
            for t, n in enumerate(result.threads) if result.status[s, z, t] != "ok"}
    for name, status, why in sorted(gaps):
        doc.p(f"`{name}` {status}: {why}.")


def _sentence(result: ThreadsResultData, efficiency: np.ndarray, same_cpu: np.ndarray) -> str:
    """alloca's efficiency at the largest count beside the control's and the heap columns',
    and its same-CPU efficiency."""
    n, names = result.threads[-1], list(result.strategies)

    def of(name: str) -> float:
        return float(efficiency[names.index(name)]) if name in names else float("nan")

    mine, control = of("alloca"), of("baseline")
    if not np.isfinite(mine):
        return f"No alloca figure at {n} threads."
    text = f"At {n} threads alloca's efficiency is {mine:.2f}"
    if np.isfinite(control):
        text += f" (the control, baseline: {control:.2f})"
    alone = float(same_cpu[names.index("alloca")])
    if np.isfinite(alone):
        text += f", its same-CPU efficiency {alone:.2f}"
    # Lower as printed: "lower: malloc 1.00" beside alloca's 1.00 would contradict itself.
    below = [f"`{name}` {e:.2f}" for name, e in zip(names, efficiency)
             if name not in ("alloca", "baseline") and np.isfinite(e)
             and round(float(e), 2) < round(mine, 2)]
    return text + ("; lower: " + ", ".join(below) + "." if below
                   else "; no heap column scaled worse in this run.")
