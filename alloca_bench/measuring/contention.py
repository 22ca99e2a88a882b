"""The stack under threads: alloca beside malloc (glibc as it is, and with a single arena, the
contention case) and malloc@NAME of every installed allocator, at 1 and 2 threads, interleaved
in one run of the runner.  What the report's section "the stack under threads" is written
from; usable alone (gather_threads) for the same comparison at other sizes or counts."""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from alloca_bench.mallocs import allocators
from alloca_bench.measuring.threads import Column, check_plan, measure_team
from alloca_bench.measuring.validate import check_options
from alloca_bench.results.threads import ThreadsResult
from alloca_bench.sizes import loguniform

# glibc gives each thread an arena of its own (up to 8 x CPUs); one arena for all makes the
# threads share its lock: the contention case of glibc's bench-malloc-thread.
CONTENTION_TUNABLES = "glibc.malloc.arena_max=1"
THREADS = (1, 2)
SIZES: tuple = (64, loguniform(16, 64 << 10, seed=1))
ONE_ARENA = "malloc arena_max=1"


def variants(names: Optional[Iterable[str]] = None) -> list[Column]:
    """The columns: baseline (the control: a call that touches no memory, so its efficiency is
    what the machine gives N threads), alloca, malloc, malloc with one arena, then malloc@NAME
    for the allocators `names` (default: every one installed except glibc, which serves plain
    malloc)."""
    names = [n for n in allocators() if n != "glibc"] if names is None else list(names)
    return ([Column("baseline", "baseline"), Column("alloca", "alloca"),
             Column("malloc", "malloc"), Column(ONE_ARENA, "malloc", CONTENTION_TUNABLES)]
            + [Column(f"malloc@{n}", f"malloc@{n}") for n in names])


def gather_threads(threads: Sequence[int] = THREADS, sizes: Sequence = SIZES, *,
                   repeats: int = 11, pattern: str = "same", processes: int = 1,
                   allocator_names: Optional[Iterable[str]] = None) -> ThreadsResult:
    """Every variant at every size and thread count, in interleaved rounds of one runner run:
    a ThreadsResult whose strategies are the variants' labels (params["variants"] maps each to
    its strategy and tunables).  Stack variants cannot run pattern cross/hold: their cells are
    "unavailable"."""
    columns = variants(allocator_names)
    plan = check_plan(columns, sizes, threads, pattern, "pages")
    options = check_options(repeats, 1, "fresh", processes, None, None)
    return measure_team(plan, options, params={
        "variants": {c.label: {"strategy": c.strategy, "tunables": c.tunables}
                     for c in columns}})
