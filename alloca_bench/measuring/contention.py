"""The stack under threads: alloca beside malloc (glibc as it is, and with a single arena, the
contention case) and malloc@NAME of every installed allocator, at 1 and 2 threads, interleaved
in one run of the runner.  What the report's section "the stack under threads" is written
from; usable alone (gather_threads) for the same comparison at other sizes or counts."""
from __future__ import annotations

import random
from typing import Iterable, Optional, Sequence

import numpy as np

from alloca_bench.allocators import allocators
from alloca_bench.measuring import threads as team
from alloca_bench.measuring.cells import CellSpec, RunnerSetup, run_cells
from alloca_bench.measuring.core import machine_metadata
from alloca_bench.measuring.host import TARGET_BATCH_NS
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


def gather_threads(threads: Sequence[int] = THREADS, sizes: Sequence = SIZES, *,
                   repeats: int = 11, pattern: str = "same", processes: int = 1,
                   allocator_names: Optional[Iterable[str]] = None,
                   seed: Optional[int] = None) -> Result:
    """Every variant at every size and thread count, in interleaved rounds of one runner run:
    a Result whose strategies are the variants' labels (params["variants"] maps each to its
    strategy and tunables), with the thread axis (Result.scaling()).  Stack variants refuse
    pattern cross/hold (params["unavailable"])."""
    thread_axis = team.check_threads(threads)
    size_axis, dists = team.check_sizes(sizes)
    pattern = team.check_pattern(pattern)
    columns = variants(allocator_names)
    specs = [CellSpec(strategy, "pages", team.cell_size(z, dists), 0, t, pattern, dists.get(z),
                      tunables)
             for t in thread_axis for _, strategy, tunables in columns for z in size_axis]
    refused = {k: reason for k, spec in enumerate(specs)
               if (reason := team.refusal(spec.strategy, pattern))}
    got = run_cells(specs, RunnerSetup(target_ns=TARGET_BATCH_NS), repeats, processes,
                    random.Random(seed), refused=refused)
    full = (len(thread_axis), len(columns), len(size_axis), 1, repeats)
    labels = [label for label, _, _ in columns]

    def errors(which: bool) -> list:
        return [{"strategy": labels[(f["cell"] // len(size_axis)) % len(columns)],
                 "size": specs[f["cell"]].size, "threads": specs[f["cell"]].threads,
                 "reason": f["reason"]} for f in got.failures if bool(f.get("refused")) == which]

    minor, major = (a.reshape(full) for a in (got.minor_faults_per_op, got.major_faults_per_op))
    return Result(
        strategies=tuple(labels), sizes=np.array(size_axis, dtype=np.int64),
        iterations=("auto",), touch="pages", ns_per_op=got.ns_per_op.reshape(full)[0],
        faults_per_op=(minor + major)[0], major_faults_per_op=major[0],
        batch_iterations=got.iterations.reshape(full[:-1])[0],
        complete=not got.interrupted and not errors(False),
        machine=machine_metadata(), process=got.process.reshape(full)[0],
        params={"repeats": repeats, "heap": "fresh", "processes": processes,
                "variants": {label: {"strategy": s, "tunables": t} for label, s, t in columns},
                "errors": errors(False), "unavailable": errors(True),
                **team.team_params(thread_axis, pattern, dists, specs, got.cells)},
        threads=thread_axis,
        thread_ns_per_op=got.thread_ns_per_op.reshape(full + got.thread_ns_per_op.shape[-1:]),
        thread_span_ns_per_op=got.span_ns_per_op.reshape(full))
