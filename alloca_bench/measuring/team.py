"""Team cells of the runner (csrc/patterns.h): the checks of thread counts, patterns and size
distributions, the plan fields of a team cell, and which cells a pattern cannot run.

A team of N threads of one runner process meets at a barrier before every batch and each thread
runs the whole batch.  pattern="same" (each thread frees what it allocated), "cross" (thread k
allocates and touches, thread k+1 mod N frees, through a bounded single-producer
single-consumer ring of AB_RING_SLOTS pointers) or "hold" (a FIFO window of
AB_HOLD_WINDOW_DEFAULT live blocks per thread: the runner's default, which plans leave alone).
Under cross and hold, baseline passes a pointer through the same rings or window without
allocating (the pattern's own cost); stack strategies cannot run them.  A size may be a
sizes.SizeDistribution."""
from __future__ import annotations

import numbers
import os
from typing import Iterable, Optional, Sequence, Union

from alloca_bench import strategies
from alloca_bench.exceptions import WorkerError
from alloca_bench.measuring.validate import check_size
from alloca_bench.options import PATTERNS
from alloca_bench.sizes import SizeDistribution

MAX_THREADS = 64  # AB_MAX_THREADS of csrc/patterns.h
SizeArg = Union[int, SizeDistribution]


def cpus() -> int:
    """CPUs this process may run on (its affinity mask)."""
    return len(os.sched_getaffinity(0))


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


def split_size(size: SizeArg) -> tuple[int, Optional[SizeDistribution]]:
    """(bytes the stack guard checks, the distribution or None) of a size= argument."""
    if isinstance(size, SizeDistribution):
        check_size(size.high)
        return size.high, size
    return check_size(size), None


def check_sizes(sizes: Iterable[SizeArg]) -> tuple[list[int], dict[int, SizeDistribution]]:
    """The sorted sizes axis and the distributions by the axis entry they stand at: their mean
    size in bytes, rounded (what a plot's x axis means); ValueError when a distribution and a
    size (or two distributions) would share an entry."""
    plain, dists = set(), {}
    for size in sizes:
        _, dist = split_size(size)
        value = round(dist.mean()) if dist is not None else size
        if value in dists or (dist is not None and value in plain):
            other = dists.get(value, value)
            raise ValueError(f"sizes: {dist or size} and {other} both stand at {value} B on "
                             "the sizes axis: measure them in separate sweeps")
        (plain.add(value) if dist is None else dists.__setitem__(value, dist))
    return sorted(plain | set(dists)), dists


def cell_size(size: int, dists: dict[int, SizeDistribution]) -> int:
    """The bytes a cell at sizes-axis entry `size` asks for: a distribution's high (what the
    stack guard checks), else the size itself."""
    return dists[size].high if size in dists else size


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
    n_cpus = cpus()
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
