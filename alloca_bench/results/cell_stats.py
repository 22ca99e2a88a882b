"""Per-cell statistics of a grid of samples (what Result.stats() returns): the distribution of
each cell, the hierarchical interval of its median, and its net cost against the measured
resolution.  Works on the arrays, so the result classes can call it."""
from __future__ import annotations

import numpy as np

from alloca_bench.results._stats import (MIN_SAMPLES, bootstrap_medians, cells_stats, interval,
                                        median_of)

_KEYS = ("n", "processes", "min", "p25", "median", "p75", "max", "mean", "stdev", "err_pct")


def clock_step_ns(machine: dict) -> float | None:
    """The smallest time step a batch can measure (ns): the larger of the clock's resolution
    and the cost of reading it, as recorded in the machine metadata; None when not recorded."""
    steps = [machine.get(k) for k in ("clock_resolution_ns", "clock_read_ns")]
    steps = [float(v) for v in steps if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return max(steps) if steps else None


def result_stats(ns_per_op: np.ndarray, process: np.ndarray, batch_iterations: np.ndarray, *,
                 baseline: int | None, clock_step: float | None, interleaved: bool,
                 resamples: int = 1000) -> dict[str, np.ndarray]:
    """See Result.stats(): arrays of shape (strategy, size, iterations) from ns per op and the
    process of each sample (shape (strategy, size, iterations, repeat)), the ops per batch of
    each cell, the index of the baseline strategy (None: no net), the clock step in ns (None:
    not recorded) and whether the strategies ran in shared rounds.  Seeded, so the same
    result always gives the same intervals."""
    shape = ns_per_op.shape[:3]
    out = {k: np.full(shape, np.nan) for k in _KEYS + ("low", "high", "net", "net_low",
                                                       "net_high", "resolution")}
    out["bimodal"] = np.zeros(shape, dtype=bool)
    rng = np.random.default_rng(0)
    every = cells_stats(ns_per_op, process)
    for k in _KEYS + ("bimodal",):
        out[k][...] = every[k]
    for index in np.ndindex(*shape):
        if clock_step is not None:
            out["resolution"][index] = clock_step / max(int(batch_iterations[index]), 1)
        if every["n"][index] < MIN_SAMPLES:  # no interval and no net: skip the calls
            continue
        boot = bootstrap_medians([ns_per_op[index]], [process[index]], paired=False,
                                 resamples=resamples, rng=rng)
        low, high = interval(boot)
        out["low"][index], out["high"][index] = low[0], high[0]
        if baseline is not None and index[0] != baseline:  # the baseline's net is 0
            _, z, i = index
            out["net"][index], boot = _net(ns_per_op[index], ns_per_op[baseline, z, i],
                                           process[index], process[baseline, z, i],
                                           interleaved, resamples, rng)
            low, high = interval(boot)
            out["net_low"][index], out["net_high"][index] = float(low), float(high)
    return out


def _net(x: np.ndarray, y: np.ndarray, proc: np.ndarray, base_proc: np.ndarray,
         interleaved: bool, resamples: int, rng: np.random.Generator
         ) -> tuple[float, np.ndarray]:
    """A cell's net cost (samples x, processes proc) over the baseline's samples y of the same
    size and iterations, and its bootstrap replicates: the median of the per-round differences
    (drift cancels); strategies that did not run interleaved (pytest-benchmark) pair nothing:
    the difference of the two medians."""
    if interleaved:
        diff = x - y
        net = median_of(diff)
        return net, bootstrap_medians([diff], [proc], paired=False, resamples=resamples,
                                      rng=rng)[0]
    net = median_of(x) - median_of(y)
    both = bootstrap_medians([x, y], [proc, base_proc], paired=False, resamples=resamples,
                             rng=rng)
    return net, both[0] - both[1]


def within_resolution(stats: dict[str, np.ndarray]) -> np.ndarray:
    """Cells whose net cost cannot be told from zero: its interval reaches down to the
    resolution (one clock step per op), or to zero when the resolution is not recorded."""
    floor = np.where(np.isfinite(stats["resolution"]), stats["resolution"], 0.0)
    with np.errstate(invalid="ignore"):
        return np.isfinite(stats["net"]) & ((stats["net_low"] <= floor)
                                            | ~np.isfinite(stats["net_low"]) & (stats["net"]
                                                                                 <= floor))


def net_bound(stats: dict[str, np.ndarray]) -> np.ndarray:
    """For cells within the resolution, the bound to print as "< x ns": the upper end of the
    net's interval, at least one resolution step and never negative."""
    parts = [stats["net_high"], stats["resolution"], stats["net_high"] - stats["net_low"]]
    with np.errstate(invalid="ignore"):
        return np.fmax.reduce([np.where(np.isfinite(p), p, 0.0) for p in parts])
