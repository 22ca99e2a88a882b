"""The stack under threads: alloca beside malloc (glibc as it is, and with a single arena, the
contention case) and malloc@NAME of every installed allocator, at 1 and 2 threads, interleaved
in one run of the runner.  What the report's section "the stack under threads" is written
from; usable alone (gather_threads) for the same comparison at other sizes or counts."""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import numpy as np

from alloca_bench.allocators import allocators
from alloca_bench.measuring import threads
from alloca_bench.measuring.api import machine_metadata
from alloca_bench.measuring.executor import execute
from alloca_bench.measuring.plan import Cell, Options, Plan
from alloca_bench.measuring.runner_transport import RunnerTransport
from alloca_bench.measuring.validate import check_sizes
from alloca_bench.results.model import Result
from alloca_bench.sizes import loguniform

# glibc gives each thread an arena of its own (up to 8 x CPUs); one arena for all makes the
# threads share its lock: the contention case of glibc's bench-malloc-thread.
CONTENTION_TUNABLES = "glibc.malloc.arena_max=1"
THREADS = (1, 2)
SIZES: tuple = (64, loguniform(16, 64 << 10, seed=1))
ONE_ARENA = "malloc arena_max=1"


def variants(names: Optional[Iterable[str]] = None) -> list[tuple[str, str, Optional[str]]]:
    """(label, strategy, GLIBC_TUNABLES of its cells) of each column: baseline (the control: a
    call that touches no memory, so its efficiency is what the machine gives N threads), alloca,
    malloc, malloc with one arena, then malloc@NAME for the allocators `names` (default: every
    one installed except glibc, which serves plain malloc)."""
    names = [n for n in allocators() if n != "glibc"] if names is None else list(names)
    return ([("baseline", "baseline", None), ("alloca", "alloca", None),
             ("malloc", "malloc", None),
             (ONE_ARENA, "malloc", CONTENTION_TUNABLES)]
            + [(f"malloc@{n}", f"malloc@{n}", None) for n in names])


def gather_threads(thread_counts: Sequence[int] = THREADS, sizes: Sequence = SIZES, *,
                   repeats: int = 11, pattern: str = "same", processes: int = 1,
                   allocator_names: Optional[Iterable[str]] = None) -> Result:
    """Every variant at every size and thread count, in interleaved rounds of one runner run:
    a Result whose strategies are the variants' labels (params["variants"] maps each to its
    strategy and tunables), with the thread axis (Result.scaling()).  Stack variants refuse
    pattern cross/hold (params["unavailable"])."""
    thread_axis = threads.check_threads(thread_counts)
    size_axis, dists = check_sizes(sizes)
    pattern = threads.check_pattern(pattern)
    columns = variants(allocator_names)
    cells = [Cell(strategy, "pages", dists[z].high if z in dists else z, 0, dists.get(z),
                  tunables, tuple(threads.team_fields(t, pattern, None).items()))
             for t in thread_axis for _, strategy, tunables in columns for z in size_axis]
    refused = {k: reason for k, cell in enumerate(cells)
               if (reason := threads.refusal(cell.strategy, pattern))}
    options = Options(repeats=repeats, processes=processes)
    plan = Plan(tuple(c for k, c in enumerate(cells) if k not in refused), options)
    run = [k for k in range(len(cells)) if k not in refused]  # plan cell -> cells index
    full = (len(thread_axis), len(columns), len(size_axis), 1, repeats)
    per_thread = np.full((len(cells), repeats, max(thread_axis)), np.nan)
    span = np.full((len(cells), repeats), np.nan)

    def keep(c: int, r: int, team: tuple) -> None:
        for s in team:
            per_thread[run[c], r, s.thread] = s.ns_per_op
        span[run[c], r] = team[0].span_ns_per_op

    got = execute(plan, RunnerTransport(options), on_raw=keep)
    arrays = {name: np.full((len(cells), repeats), np.nan)
              for name in ("ns", "minor", "major", "process", "iterations")}
    arrays["process"][:] = -1
    for name, source in (("ns", got.ns_per_op), ("minor", got.minor_faults_per_op),
                         ("major", got.major_faults_per_op), ("process", got.process)):
        arrays[name][run] = source
    iterations = np.zeros(len(cells), dtype=np.int64)
    iterations[run] = got.iterations
    labels = [label for label, _, _ in columns]

    def label(k: int) -> str:
        return labels[(k // len(size_axis)) % len(columns)]

    errors = [{"strategy": label(run[c]), "size": cells[run[c]].size,
               "threads": dict(cells[run[c]].fields)["threads"], "reason": str(e)}
              for c, e in got.errors.items()]
    unavailable = [{"strategy": label(k), "size": cells[k].size,
                    "threads": dict(cells[k].fields)["threads"], "reason": reason}
                   for k, reason in refused.items()]
    records = [None] * len(cells)
    for c, record in enumerate(got.records):
        records[run[c]] = record
    minor, major = arrays["minor"].reshape(full), arrays["major"].reshape(full)
    return Result(
        strategies=tuple(labels), sizes=np.array(size_axis, dtype=np.int64),
        iterations=("auto",), touch="pages", ns_per_op=arrays["ns"].reshape(full)[0],
        faults_per_op=(minor + major)[0], major_faults_per_op=major[0],
        batch_iterations=iterations.reshape(full[:-1])[0],
        machine=machine_metadata(),
        process=arrays["process"].astype(np.int64).reshape(full)[0],
        params={"repeats": repeats, "heap": "fresh", "processes": processes,
                "variants": {label: {"strategy": s, "tunables": t} for label, s, t in columns},
                "errors": errors, "unavailable": unavailable, "interrupted": got.interrupted,
                **threads.team_params(thread_axis, pattern, dists, cells, records)},
        threads=thread_axis,
        thread_ns_per_op=per_thread.reshape(full + (max(thread_axis),)),
        thread_span_ns_per_op=span.reshape(full))
