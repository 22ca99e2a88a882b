"""The stack under threads: alloca beside malloc (glibc as it is, and with a single arena, the
contention case) and malloc@NAME of every installed allocator, at 1 and 2 threads, interleaved
in one run of the runner.  What the report's section "the stack under threads" is written
from; usable alone (gather_threads) for the same comparison at other sizes or counts."""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import numpy as np

from alloca_bench.mallocs import allocators
from alloca_bench.measuring import threads
from alloca_bench.measuring.api import machine_metadata
from alloca_bench.measuring.executor import Samples, execute
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
    strategy and tunables), with the thread axis (Result.scaling()).  Stack variants cannot
    run pattern cross/hold: their cells are "unavailable", with the reason."""
    thread_axis = threads.check_threads(thread_counts)
    size_axis, dists = check_sizes(sizes)
    pattern = threads.check_pattern(pattern)
    columns = variants(allocator_names)
    cells = tuple(Cell(strategy, "pages", dists[z].high if z in dists else z, 0, dists.get(z),
                       tunables, tuple(threads.team_fields(t, pattern, None).items()),
                       threads.refusal(strategy, pattern) or "")
                  for t in thread_axis for _, strategy, tunables in columns for z in size_axis)
    options = Options(repeats=repeats, processes=processes)
    full = (len(thread_axis), len(columns), len(size_axis), 1, repeats)
    per_thread = np.full((len(cells), repeats, max(thread_axis)), np.nan)
    span = np.full((len(cells), repeats), np.nan)

    def keep(c: int, r: int, team: tuple) -> None:
        for s in team:
            per_thread[c, r, s.thread] = s.ns_per_op
        span[c, r] = team[0].span_ns_per_op

    got = execute(Plan(cells, options), RunnerTransport(options), on_raw=keep)
    labels = tuple(label for label, _, _ in columns)
    minor, major = (a.reshape(full) for a in (got.minor_faults_per_op, got.major_faults_per_op))
    status, reasons = _status_over_threads(got, thread_axis, labels, size_axis)
    return Result(
        strategies=labels, sizes=np.array(size_axis, dtype=np.int64),
        iterations=("auto",), touch="pages", ns_per_op=got.ns_per_op.reshape(full)[0],
        faults_per_op=(minor + major)[0], major_faults_per_op=major[0],
        batch_iterations=got.iterations.reshape(full[:-1])[0], status=status, reasons=reasons,
        machine=machine_metadata(), process=got.process.reshape(full)[0],
        params={"repeats": repeats, "heap": "fresh", "processes": processes,
                "variants": {label: {"strategy": s, "tunables": t} for label, s, t in columns},
                **threads.team_params(thread_axis, pattern, dists, cells, got.records)},
        threads=thread_axis,
        thread_ns_per_op=per_thread.reshape(full + (max(thread_axis),)),
        thread_span_ns_per_op=span.reshape(full))


def _status_over_threads(got: Samples, thread_axis: Sequence[int], labels: Sequence[str],
                         sizes: Sequence[int]) -> tuple[np.ndarray, dict]:
    """Status per (variant, size): the first one that is not "ok" over the thread counts, its
    reason prefixed "with N threads: " past one thread."""
    shape = (len(thread_axis), len(labels), len(sizes), 1)
    per_count = np.array(got.status).reshape(shape)
    words = got.reasons()
    status, reasons = per_count[0].copy(), {}
    for t, v, z in zip(*np.nonzero(per_count[..., 0] != "ok")):
        key = (labels[v], int(sizes[z]), "auto")
        if key in reasons:
            continue
        status[v, z, 0] = per_count[t, v, z, 0]
        text = words[int(np.ravel_multi_index((t, v, z, 0), shape))]
        reasons[key] = text if thread_axis[t] == 1 else f"with {thread_axis[t]} threads: {text}"
    return status, reasons
