"""ThreadsResultData: N threads per cell (ab.threads), each thread's ns/op per round, the team's
span, and what is derived from them: throughput, scaling efficiency, same-CPU efficiency.

Axes: (strategy, size, threads, round), plus the thread of the team for the per-thread array.
A team of N threads meets at a barrier before each batch and every thread runs the whole batch;
the span is the wall time from its first thread's start to its last one's end, per op of one
thread.  The public ThreadsResult (results.threads) adds its file and its notebook conveniences;
the layers above read threads results through this class."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from alloca_bench.options import PATTERNS
from alloca_bench.results import status as cell_status
from alloca_bench.results._stats import nanmedian


@dataclass(frozen=True, eq=False)
class ThreadsResultData:
    """The data of a threads question: cells of strategy x size x thread count; `threads`
    starts at 1 (the reference of scaling).  The status of each cell is one of
    results.status.STATUSES, and `reasons` holds the words of every cell that is not "ok" (a
    default word where none is given), keyed (strategy, size in bytes, thread count)."""

    strategies: tuple[str, ...]
    sizes: np.ndarray  # bytes, int64 (a size distribution stands at its mean, rounded)
    threads: tuple[int, ...]
    pattern: str  # same, cross or hold (measuring.team)
    touch: str
    # shape (strategy, size, threads, round, max(threads)): ns/op of thread k of the team in
    # each round; NaN for k >= the cell's thread count and for rounds never run
    ns_per_op: np.ndarray
    span_ns_per_op: np.ndarray  # shape (strategy, size, threads, round): the team's span, ns/op
    faults_per_op: np.ndarray  # shape (strategy, size, threads, round): mean over the threads
    batch_iterations: np.ndarray  # shape (strategy, size, threads): ops per thread per batch
    # shape (strategy, size, threads, round): the runner process of each sample (-1: none)
    process: Optional[np.ndarray] = None
    status: Optional[np.ndarray] = None  # shape (strategy, size, threads)
    reasons: Optional[dict] = None
    machine: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # repeats, processes, cpus, seed, ...

    def __post_init__(self) -> None:
        threads = tuple(int(t) for t in self.threads)
        object.__setattr__(self, "threads", threads)
        if not threads or threads[0] != 1 or list(threads) != sorted(set(threads)):
            raise ValueError(f"threads must be distinct increasing counts starting at 1, not "
                             f"{threads}")
        if self.pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, not "
                             f"{self.pattern!r}")
        cells = (len(self.strategies), len(self.sizes), len(threads))
        rounds = self.ns_per_op.shape[3] if self.ns_per_op.ndim == 5 else 0
        want = {"ns_per_op": cells + (rounds, threads[-1]),
                "span_ns_per_op": cells + (rounds,), "faults_per_op": cells + (rounds,),
                "batch_iterations": cells}
        if rounds < 1:
            raise ValueError(f"ns_per_op has shape {self.ns_per_op.shape}, expected "
                             f"{cells} + (rounds, {threads[-1]})")
        if self.process is None:
            object.__setattr__(self, "process", np.where(np.isnan(self.span_ns_per_op), -1, 0))
        object.__setattr__(self, "process", np.asarray(self.process, dtype=np.int64))
        want["process"] = cells + (rounds,)
        for name, shape in want.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected "
                                 f"{shape}")
        status = (cell_status.default_status(self.span_ns_per_op) if self.status is None
                  else cell_status.check_status(self.status, cells))
        keys = [(s, int(z), t) for s in self.strategies for z in self.sizes for t in threads]
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "reasons",
                           cell_status.complete_reasons(status, dict(self.reasons or {}), keys))

    # --- axes ------------------------------------------------------------------------------

    @property
    def repeats(self) -> int:
        """Rounds per cell."""
        return self.ns_per_op.shape[3]

    @property
    def complete(self) -> bool:
        """Whether every cell was measured ("ok")."""
        return bool((self.status == "ok").all())

    @property
    def oversubscribed(self) -> tuple[int, ...]:
        """The thread counts above the CPUs the measuring process could use (their threads
        waited for a CPU as well as for each other)."""
        cpus = self.params.get("cpus")
        return tuple(t for t in self.threads if cpus and t > cpus)

    # --- reductions ------------------------------------------------------------------------

    def median(self) -> np.ndarray:
        """Median over rounds of each thread's ns/op: shape (strategy, size, threads,
        max(threads)); NaN past a cell's thread count."""
        return nanmedian(self.ns_per_op, axis=3)

    def _round_throughput(self) -> np.ndarray:
        """Ops per second of all threads of a cell together, per round: N x 1e9 / the team's
        span per op, shape (strategy, size, threads, round)."""
        n = np.array(self.threads, dtype=float).reshape(1, 1, -1, 1)
        with np.errstate(divide="ignore"):
            return n * 1e9 / self.span_ns_per_op

    def throughput(self) -> np.ndarray:
        """Ops per second of all threads of a cell together, median over rounds: shape
        (strategy, size, threads)."""
        return nanmedian(self._round_throughput(), axis=3)

    def scaling(self) -> np.ndarray:
        """Scaling efficiency: throughput at N threads over N x throughput at 1 thread, paired
        by round (both ran in the same round), median over rounds: shape (strategy, size,
        threads).  1.0: N threads do N times the work of one; 0.5: half of that."""
        ops = self._round_throughput()
        n = np.array(self.threads, dtype=float).reshape(1, 1, -1, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return nanmedian(ops / (n * ops[:, :, :1]), axis=3)

    def same_cpu_efficiency(self) -> np.ndarray:
        """Thread 0's ns/op alone over its ns/op beside N-1 other threads, paired by round,
        median over rounds: shape (strategy, size, threads).  Thread 0 runs on the process's
        first CPU at every count, so this compares a thread with itself on one CPU: 1.0 means
        the others did not slow it down.  Unlike scaling(), it does not move when the other
        CPUs run at another speed (as a VM's may)."""
        first = self.ns_per_op[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return nanmedian(first[:, :, :1] / first, axis=3)

    def __repr__(self) -> str:
        state = "complete" if self.complete else "INCOMPLETE"
        return (f"<alloca_bench.{type(self).__name__} pattern={self.pattern!r} "
                f"touch={self.touch!r} "
                f"strategies={list(self.strategies)} sizes={self.sizes.tolist()} "
                f"threads={list(self.threads)} repeats={self.repeats} {state}; "
                f"machine={self.machine.get('cpu_model', '?')!r}>")
