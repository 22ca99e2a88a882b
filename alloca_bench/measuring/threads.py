"""Threads, patterns and size distributions of the runner's team cells (csrc/patterns.h):
checking the arguments, the plan fields of a cell, and which cells a pattern cannot run.

threads=N: N threads of the cell's process meet at a barrier before every batch and each runs
the whole batch; each thread's ns/op is kept.  pattern="same" (each thread frees what it
allocated), "cross" (thread k allocates and touches, thread k+1 mod N frees, through a bounded
single-producer single-consumer ring of AB_RING_SLOTS pointers) or "hold" (a FIFO window of
AB_HOLD_WINDOW_DEFAULT live blocks per thread: the runner's default, which plans leave alone).
Under cross and hold, baseline passes a pointer through the same rings or window without
allocating (the pattern's own cost: net ns/op subtracts it); stack strategies cannot run them.
size= may be a sizes.SizeDistribution (checked in measuring.validate)."""
from __future__ import annotations

import numbers
import os
from typing import Iterable, Optional, Sequence

from alloca_bench import strategies
from alloca_bench.exceptions import WorkerError
from alloca_bench.options import PATTERNS
from alloca_bench.sizes import SizeDistribution

MAX_THREADS = 64  # AB_MAX_THREADS of csrc/patterns.h


def check_pattern(pattern: object) -> str:
    """A free pattern: one of PATTERNS."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, not {pattern!r}")
    return pattern


def check_threads(threads: object) -> Optional[tuple[int, ...]]:
    """The thread-count axis: None (no threads: the plain single-thread cells), or sorted
    distinct counts from 1 to MAX_THREADS, 1 always included (the reference of scaling)."""
    if threads is None:
        return None
    if isinstance(threads, numbers.Integral):
        values: tuple = (threads,)
    elif isinstance(threads, Iterable) and not isinstance(threads, str):
        values = tuple(threads)
    else:
        raise TypeError(f"threads must be an int or a sequence of ints, not "
                        f"{type(threads).__name__} ({threads!r})")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 1 <= v <= MAX_THREADS:
            raise ValueError(f"threads must be ints from 1 to {MAX_THREADS}, got {threads!r}")
    if not values:
        raise ValueError("threads is empty: give at least one thread count")
    return tuple(sorted({int(v) for v in values} | {1}))


def refusal(strategy: str, pattern: str) -> Optional[str]:
    """Why `strategy` cannot run `pattern`, or None when it can."""
    if pattern != "same" and strategies.is_stack(strategy):
        what = ("free a block on another thread" if pattern == "cross"
                else "keep blocks alive after the op")
        return (f"{strategy} cannot run pattern={pattern!r}: it would have to {what}, and a "
                "stack allocation lives exactly as long as the frame that made it (it is "
                "released when its function returns, on its own thread)")
    return None


def team_fields(threads: int, pattern: str, dist: Optional[SizeDistribution]) -> dict:
    """Plan fields of a team cell; {} for a plain cell (threads 0, same, fixed size)."""
    fields: dict = {}
    if threads:
        fields["threads"] = threads
    if pattern != "same":
        fields["pattern"] = pattern
    if dist is not None:
        fields.update(dist.plan_fields())
    return fields


def team_params(thread_axis: Optional[Sequence[int]], pattern: str,
                dists: dict[int, SizeDistribution], specs: Sequence, cells: Sequence) -> dict:
    """params of team cells: the thread axis, CPUs this process may use, the thread counts
    above them (oversubscribed), the pattern, the size distributions (by the sizes-axis entry
    they stand at); WorkerError when a size table the runner drew (its CELL records, `cells`,
    one per spec) differs from the one alloca_bench.sizes draws."""
    n_cpus = len(os.sched_getaffinity(0))  # CPUs this process may run on
    params = {"pattern": pattern, "cpus": n_cpus,
              "threads": list(thread_axis) if thread_axis else None,
              "oversubscribed": [t for t in thread_axis or () if t > n_cpus]}
    if dists:
        params["size_distributions"] = {str(z): str(d) for z, d in dists.items()}
        for spec, cell in zip(specs, cells):
            drawn = cell.get("size_sequence") if cell else None
            if spec.dist is not None and drawn is not None and drawn != spec.dist.fingerprint():
                raise WorkerError(f"the runner drew another size table for {spec.dist} than "
                                  f"alloca_bench.sizes ({drawn} vs {spec.dist.fingerprint()})")
    return params
