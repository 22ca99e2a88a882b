"""Measurement and ResultData: the raw per-batch samples in numpy arrays, their axes, the status
of each cell and the reductions derived from them (median, net, err%, paired ratios, stats()).
The public Result (results.result) adds its files and its notebook conveniences; the layers
above read results through this class, so that the conveniences can import them.

Every array keeps one value per batch: ns per op (wall time of the batch / ops in it) and page
faults per op.  Batches never run (a cell failed, unavailable, interrupted) hold NaN; the status
and its reasons say why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional

import numpy as np

from alloca_bench.results._stats import err_pct, nanmedian
from alloca_bench.results.cell_stats import clock_step_ns, result_stats
from alloca_bench.results.status import cells, check_status, complete_reasons, default_status
from alloca_bench.results.status import Cell, Iterations


@dataclass(frozen=True, eq=False)
class Measurement:
    """One kernel (strategy x touch mode) at one size: `repeats` batches of `iterations` ops."""

    strategy: str
    size: int  # bytes per op
    touch: str
    iterations: int  # ops per batch
    ns_per_op: np.ndarray  # shape (repeats,): wall ns per op, one value per batch
    faults_per_op: np.ndarray  # shape (repeats,): minor + major page faults per op
    major_faults_per_op: np.ndarray  # shape (repeats,)
    params: dict = field(default_factory=dict)  # binding, stack_size, ...
    status: str = "ok"  # one of results.status.STATUSES
    reason: str = ""  # why the status is not "ok"

    def median(self) -> float:
        """Median ns per op over the batches (a batch never run, NaN, is left out)."""
        return float(nanmedian(self.ns_per_op))

    def err_pct(self) -> float:
        """nanobench's err% of ns per op: median of |x - median| / x, in percent (MdAPE)."""
        return float(err_pct(self.ns_per_op))

    def __repr__(self) -> str:
        """The median, err% and faults/op of the batches run (none: left out), their count, and
        the status with its reason when it is not "ok"."""
        batches = int(np.isfinite(self.ns_per_op).sum())
        figures = (f"{self.median():.2f} ns/op ±{self.err_pct():.1f}%, "
                   f"{nanmedian(self.faults_per_op):.3g} faults/op, " if batches else "")
        state = "" if self.status == "ok" else f"; {self.status}: {self.reason}"
        return (f"Measurement({self.strategy!r}, size={self.size}, touch={self.touch!r}: "
                f"{figures}{batches} batches x {self.iterations} ops{state})")


@dataclass(frozen=True, eq=False)
class ResultData:
    """The data of a sweep: arrays of shape (strategy, size, iterations, repeat) and their axes.

    `iterations` is the requested axis (ints, or "auto"); `batch_iterations`, of shape
    (strategy, size, iterations), holds the ops per batch really run in each cell.
    """

    strategies: tuple[str, ...]
    sizes: np.ndarray  # bytes, int64
    iterations: tuple[Iterations, ...]
    touch: str
    ns_per_op: np.ndarray
    faults_per_op: np.ndarray
    major_faults_per_op: np.ndarray
    batch_iterations: np.ndarray
    machine: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # repeats, binding, stack_size, seed, ...
    timing: dict = field(default_factory=dict)  # wall_s, in_batch_s, in_batch_fraction
    # Same shape as ns_per_op: the index of the process that took each sample (-1: none).
    # None means one process: 0 wherever a sample exists.
    process: Optional[np.ndarray] = None
    # Shape (strategy, size, iterations): one of results.status.STATUSES per cell; None: "ok"
    # where a cell has a sample, "not_run" where it has none.
    status: Optional[np.ndarray] = None
    # The words for every cell whose status is not "ok", keyed (strategy, size, iterations);
    # a cell given none gets a default word for its status.
    reasons: Optional[dict[Cell, str]] = None

    def __post_init__(self) -> None:
        shape = (len(self.strategies), len(self.sizes), len(self.iterations))
        for name in ("ns_per_op", "faults_per_op", "major_faults_per_op"):
            array = getattr(self, name)
            if array.ndim != 4 or array.shape[:3] != shape:
                raise ValueError(f"{name} has shape {array.shape}, expected {shape} + (repeats,)")
        if self.process is None:
            object.__setattr__(self, "process", np.where(np.isnan(self.ns_per_op), -1, 0))
        object.__setattr__(self, "process", np.asarray(self.process, dtype=np.int64))
        if self.process.shape != self.ns_per_op.shape:
            raise ValueError(f"process has shape {self.process.shape}, expected "
                             f"{self.ns_per_op.shape} (that of ns_per_op)")
        if self.batch_iterations.shape != shape:
            raise ValueError(
                f"batch_iterations has shape {self.batch_iterations.shape}, expected {shape}")
        self._set_status(shape)

    def _set_status(self, shape: tuple[int, int, int]) -> None:
        status = (default_status(self.ns_per_op) if self.status is None
                  else check_status(self.status, shape))
        keys = cells(self.strategies, self.sizes, self.iterations)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "reasons",
                           complete_reasons(status, dict(self.reasons or {}), keys))

    @property
    def complete(self) -> bool:
        """Whether every cell is "ok"."""
        return bool((self.status == "ok").all())

    # --- axes ------------------------------------------------------------------------------

    @property
    def repeats(self) -> int:
        """Batches per cell."""
        return self.ns_per_op.shape[3]

    def _strategy_index(self, strategy: str) -> int:
        if strategy not in self.strategies:
            raise KeyError(f"strategy {strategy!r} is not in this result: {self.strategies}")
        return self.strategies.index(strategy)

    def _index(self, strategy: str, size: int,
               iterations: Iterations | None = None) -> tuple[int, int, int]:
        _one_cell(strategy, size, iterations)
        s = self._strategy_index(strategy)
        found = np.flatnonzero(self.sizes == size)
        if not len(found):
            raise KeyError(f"size {size} is not in this result: {self.sizes.tolist()}")
        return s, int(found[0]), self._iteration_index(iterations)

    def _iteration_index(self, iterations: Iterations | None) -> int:
        """Index of `iterations` on the axis; None is allowed when there is one count."""
        if iterations is None:
            if len(self.iterations) > 1:
                raise KeyError(f"this result has several iteration counts {self.iterations}: "
                               "pass iterations=")
            return 0
        if iterations not in self.iterations:
            raise KeyError(f"iterations {iterations!r} not in this result: {self.iterations}")
        return self.iterations.index(iterations)

    def sel(self, strategy: str, size: int, iterations: Iterations | None = None) -> Measurement:
        """The Measurement of one cell (iterations may be omitted when there is one count)."""
        s, z, i = self._index(strategy, size, iterations)
        return Measurement(
            strategy=strategy, size=int(self.sizes[z]), touch=self.touch,
            iterations=int(self.batch_iterations[s, z, i]),
            ns_per_op=self.ns_per_op[s, z, i].copy(),
            faults_per_op=self.faults_per_op[s, z, i].copy(),
            major_faults_per_op=self.major_faults_per_op[s, z, i].copy(),
            params=dict(self.params), status=str(self.status[s, z, i]),
            reason=self.reasons.get((strategy, int(self.sizes[z]), self.iterations[i]), ""),
        )

    # --- reductions ------------------------------------------------------------------------

    def median(self, what: str = "ns_per_op") -> np.ndarray:
        """Median over repeats of `what` (an array name): shape (strategy, size, iterations)."""
        return nanmedian(self._array(what), axis=3)

    def err_pct(self) -> np.ndarray:
        """nanobench's err% of ns per op (median of |x - median| / x, in percent: MdAPE),
        shape (strategy, size, iterations)."""
        return err_pct(self.ns_per_op, axis=3)

    def net(self, baseline: str = "baseline") -> np.ndarray:
        """ns per op minus the baseline kernel's, paired by round (both ran in the same round,
        so drift cancels), median over rounds: shape (strategy, size, iterations).  A result
        whose strategies did not run interleaved (params["interleaved"] False: a
        pytest-benchmark file) has no shared rounds: the difference of the medians."""
        b = self._strategy_index(baseline)
        if not self.interleaved:
            return self.median() - self.median()[b : b + 1]
        return nanmedian(self.ns_per_op - self.ns_per_op[b : b + 1], axis=3)

    @property
    def interleaved(self) -> bool:
        """Whether the strategies ran in shared rounds (so samples pair by round)."""
        return bool(self.params.get("interleaved", True))

    def ratio(self, numerator: str, denominator: str) -> np.ndarray:
        """Ratio of the medians of numerator and denominator ns per op (the medians the tables
        show), shape (size, iterations); 2.0 means the numerator costs twice as much.  Its
        interval (analysis.crossover) resamples the rounds both ran in together."""
        a = self._strategy_index(numerator)
        b = self._strategy_index(denominator)
        with np.errstate(invalid="ignore", divide="ignore"):
            return nanmedian(self.ns_per_op[a], axis=2) / nanmedian(self.ns_per_op[b], axis=2)

    def stats(self) -> dict[str, np.ndarray]:
        """Per cell, arrays of shape (strategy, size, iterations): n, processes, min, p25,
        median, p75, max, mean, stdev, err_pct (nanobench's), bimodal (bool: the samples form
        separated groups), low/high (95% interval of the median: processes, then batches),
        and, with a baseline, net/net_low/net_high (minus the baseline of the same round) and
        resolution (ns per op one clock step makes); all ns per op."""
        return dict(self._stats)

    @cached_property
    def _stats(self) -> dict[str, np.ndarray]:
        base = self.strategies.index("baseline") if "baseline" in self.strategies else None
        return result_stats(self.ns_per_op, self.process, self.batch_iterations,
                            baseline=base, clock_step=clock_step_ns(self.machine),
                            interleaved=self.interleaved)

    def __repr__(self) -> str:
        state = "complete" if self.complete else "INCOMPLETE"
        return (
            f"<alloca_bench.{type(self).__name__} touch={self.touch!r} "
            f"strategies={list(self.strategies)} "
            f"sizes={int(self.sizes[0])}..{int(self.sizes[-1])} B "
            f"({len(self.sizes)}) iterations={list(self.iterations)} repeats={self.repeats} "
            f"{state}; machine={self.machine.get('cpu_model', '?')!r}>"
        )

    def _array(self, what: str) -> np.ndarray:
        if what not in ("ns_per_op", "faults_per_op", "major_faults_per_op"):
            raise ValueError(f"unknown array {what!r}: use ns_per_op, faults_per_op or "
                             "major_faults_per_op")
        return getattr(self, what)


def _one_cell(strategy: object, size: object, iterations: object) -> None:
    """TypeError unless the arguments name one cell: a list would silently pick its first."""
    def is_int(value: object) -> bool:
        return not isinstance(value, bool) and hasattr(value, "__index__")

    if not isinstance(strategy, str):
        raise TypeError(f"strategy must be one name (str), not {type(strategy).__name__} "
                        f"({strategy!r}): sel() returns one cell")
    if not is_int(size):
        raise TypeError(f"size must be one int (bytes), not {type(size).__name__} ({size!r}): "
                        "sel() returns one cell")
    if not (iterations is None or is_int(iterations)
            or (isinstance(iterations, str) and iterations == "auto")):
        raise TypeError(f"iterations must be 'auto' or one int, not {type(iterations).__name__} "
                        f"({iterations!r}): sel() returns one cell")
