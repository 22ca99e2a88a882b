"""One home for the statistics of samples: NaN-aware medians, err%, percentiles, a bimodality
test and the one bootstrap (hierarchical: processes, then batches within them).

err% is nanobench's: the median absolute percentage error (MdAPE), median of |x - median| / x,
in percent (nanobench.h, `Result::medianAbsolutePercentError`); nanobench marks a row unstable at
5%.  It is not MAD over the median: for [9, 10, 10, 11, 30] MdAPE is 9.09%, MAD/median 10%.

Intervals resample processes first, then batches within each chosen process (a two-level
bootstrap), so the spread between processes (heap layout, code placement, the VM's state), which
is what differs between two runs of one command, is inside the interval.  A result from one
process falls back to resampling its batches, and the warnings say so.
"""
from __future__ import annotations

import numbers
import warnings
from typing import Sequence

import numpy as np

MIN_SAMPLES = 3  # fewer valid samples than this in a cell: no median, no interval (NaN)
UNSTABLE_ERR_PCT = 5.0  # nanobench's threshold
DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95


def nanmedian(samples: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """Median ignoring NaN; a cell with no sample at all (interrupted, failed) stays NaN
    without numpy's "All-NaN slice" warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(samples, axis=axis, keepdims=keepdims)


def err_pct(samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """nanobench's err%: median over samples of |x - median| / x, in percent (MdAPE)."""
    med = nanmedian(samples, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * nanmedian(np.abs(samples - med) / np.abs(samples), axis=axis)


def percentiles(samples: np.ndarray, q: Sequence[float], axis: int = -1) -> np.ndarray:
    """NaN-ignoring percentiles (q in 0..100), stacked on a new first axis."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(samples, q, axis=axis)


def bimodal(samples: np.ndarray) -> bool:
    """Whether the samples form two separated groups: some gap between consecutive sorted
    values has at least max(3, 20%) of the samples on each side (fewer are outliers) and is
    wider than 5% of the median and than 3x the spread (median absolute deviation) of either
    group.  A median with a small err% can sit in one group of such samples and hide the
    other."""
    x = np.sort(samples[np.isfinite(samples)])
    n = len(x)
    least = max(3, int(np.ceil(0.2 * n)))
    if n < 2 * least:
        return False
    med = float(np.median(x))
    for i in range(least - 1, n - least):
        gap = x[i + 1] - x[i]
        if gap <= 0.05 * abs(med):
            continue
        left, right = x[: i + 1], x[i + 1:]
        spread = max(np.median(np.abs(left - np.median(left))),
                     np.median(np.abs(right - np.median(right))))
        if gap > 3 * spread:
            return True
    return False


def cells_stats(samples: np.ndarray, process: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """cell_stats of every cell at once, the samples along the last axis (a Result's
    ns_per_op: shape (strategy, size, iterations, round)): arrays of the leading shape.
    Computed with whole-array calls, so a result of many small cells costs time in
    proportion to its samples, not a Python call per cell."""
    samples = np.asarray(samples, dtype=np.float64)
    ok = np.isfinite(samples)
    n = ok.sum(axis=-1)
    if process is None:
        procs = (n > 0).astype(np.int64)
    else:  # distinct process indices among each cell's valid samples
        tagged = np.sort(np.where(ok, np.asarray(process), -1), axis=-1)
        procs = ((tagged >= 0) & (np.diff(tagged, axis=-1, prepend=-1) != 0)).sum(axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p25, med, p75 = np.nanpercentile(samples, [25, 50, 75], axis=-1)
        out = {"n": n, "processes": procs, "min": np.nanmin(samples, axis=-1, initial=np.inf,
                                                           where=ok),
               "p25": p25, "median": med, "p75": p75,
               "max": np.nanmax(samples, axis=-1, initial=-np.inf, where=ok),
               "mean": np.nanmean(samples, axis=-1),
               "stdev": np.where(n > 1, np.nanstd(samples, axis=-1, ddof=1), 0.0),
               "err_pct": err_pct(samples)}
    empty = n == 0
    for key in ("min", "max", "stdev"):
        out[key] = np.where(empty, np.nan, out[key])
    # bimodal needs twice 3 samples at least (see bimodal): smaller cells are never bimodal
    out["bimodal"] = np.zeros(n.shape, dtype=bool)
    for index in zip(*np.nonzero(n >= 6)):
        out["bimodal"][index] = bimodal(samples[index])
    return out


def cell_stats(samples: np.ndarray, process: np.ndarray | None = None) -> dict[str, float]:
    """pyperf's and pytest-benchmark's vocabulary for one cell: n, processes, min, p25, median,
    p75, max, mean, stdev, err% and the bimodality flag (NaN samples are left out)."""
    stats = cells_stats(np.asarray(samples)[None],
                        None if process is None else np.asarray(process)[None])
    return {k: (v[0].item()) for k, v in stats.items()}


# --- the bootstrap ---------------------------------------------------------------------------
#
# One replicate draws k processes with replacement, then each chosen process's own number of
# samples from it with replacement; its value is the median of everything drawn.  A process
# chosen w times thus contributes w * size draws, uniform over its samples, so a replicate is
# fully described by how many times each sample was drawn, and its median by the draws that
# rank in the middle once the samples are sorted.  Two samplers of that same distribution:
# _split_medians (one array) finds the middle draws by halving the sorted samples and drawing,
# per process, how many of its draws fall in the lower half (binomial, as multinomial counts
# split): ~log2(n) vectorized steps instead of n draws per replicate; _counted_medians (paired
# arrays share the draws, small cells, or too many processes) draws every sample and counts.

_CHUNK = 1 << 21  # array elements one block of replicates may use (bounds memory: ~16 MB each)


def _resampled_medians(arrays: Sequence[np.ndarray], process: np.ndarray, resamples: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Hierarchical bootstrap replicates of the median of each array (all valid, same length,
    sharing the resampled positions): shape (len(arrays), resamples)."""
    _, group, sizes = np.unique(process, return_inverse=True, return_counts=True)
    group, n = group.reshape(-1), len(process)
    # Halving costs ~log2(n) binomials per process and replicate, counting one draw per sample:
    # halving wins from some 4 * log2(n) samples per process (measured).
    if len(arrays) == 1 and sizes.max() > 4 * (n - 1).bit_length() \
            and (n + 1) * len(sizes) <= _CHUNK:
        return _split_medians(arrays[0], group, sizes, resamples, rng)[None]
    return _counted_medians(arrays, group, sizes, resamples, rng)


def _draws_per_process(r: int, sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(r, k): how many samples each replicate draws from each of the k processes, having
    chosen k processes with replacement."""
    k = len(sizes)
    chosen = rng.integers(0, k, size=(r, k)) + k * np.arange(r)[:, None]
    return np.bincount(chosen.ravel(), minlength=r * k).reshape(r, k) * sizes


def _split_medians(x: np.ndarray, group: np.ndarray, sizes: np.ndarray, resamples: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Replicates of the median of x by halving: each replicate tracks the two middle draws
    (one when the draw count is odd) down to one sorted sample each.  Draws from process g
    inside the sorted positions [lo, hi) are uniform over g's samples there, so the number in
    [lo, mid) is binomial given the number in [lo, hi); once the two middle draws sit in
    different halves their searches go on independently."""
    n, k = len(x), len(sizes)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    below = np.zeros((n + 1, k), dtype=np.int64)  # below[i, g]: g's samples among the i lowest
    below[np.arange(1, n + 1), group[order]] = 1
    below = np.cumsum(below, axis=0)
    out = np.empty(resamples)
    step = max(1, _CHUNK // (16 * k))
    for start in range(0, resamples, step):
        r = min(step, resamples - start)
        drawn = _draws_per_process(r, sizes, rng)
        total = drawn.sum(axis=1)
        rank = np.stack([(total - 1) // 2, total // 2])  # of the middle draws, within [lo, hi)
        count = np.stack([drawn, drawn])  # (2, r, k): each process's draws within [lo, hi)
        lo, hi = np.zeros((2, r), dtype=np.int64), np.full((2, r), n)
        for _ in range((n - 1).bit_length()):
            mid = (lo + hi) // 2
            inside = below[hi] - below[lo]
            p = (below[mid] - below[lo]) / np.maximum(inside, 1)
            left = np.empty_like(count)
            left[0] = rng.binomial(count[0], p[0])
            apart = lo[0] != lo[1]
            left[1] = left[0]
            left[1, apart] = rng.binomial(count[1, apart], p[1, apart])
            lower = left.sum(axis=-1)
            down = rank < lower
            rank = np.where(down, rank, rank - lower)
            count = np.where(down[..., None], left, count - left)
            lo, hi = np.where(down, lo, mid), np.where(down, mid, hi)
        out[start:start + r] = (xs[lo[0]] + xs[lo[1]]) / 2
    return out


def _counted_medians(arrays: Sequence[np.ndarray], group: np.ndarray, sizes: np.ndarray,
                     resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Replicates of the median of each array from one set of drawn positions: draw every
    sample, count how often each position was drawn, and find the middle draws in each array's
    sorted order by cumulative counts."""
    n, k, m = len(group), len(sizes), int(sizes.max())
    members = np.argsort(group, kind="stable")  # positions, process by process
    first = np.cumsum(sizes) - sizes
    orders = [np.append(np.argsort(x, kind="stable"), n) for x in arrays]  # pads count last
    out = np.empty((len(arrays), resamples))
    step = max(1, _CHUNK // (k * m))
    for start in range(0, resamples, step):
        r = min(step, resamples - start)
        chosen = rng.integers(0, k, size=(r, k, 1))
        if sizes.min() == m:  # every process has m samples: nothing to pad
            pos = members[first[chosen] + rng.integers(0, m, size=(r, k, m))]
            total = np.full(r, k * m)
        else:  # a chosen process with fewer than m samples pads with position n (not counted)
            own = sizes[chosen]
            pick = (rng.random((r, k, m)) * own).astype(np.int64)
            pos = np.where(np.arange(m) < own, members[first[chosen] + pick], n)
            total = own.sum(axis=(1, 2))
        pos = pos.reshape(r, k * m) + (n + 1) * np.arange(r)[:, None]
        counts = np.bincount(pos.ravel(), minlength=r * (n + 1)).reshape(r, n + 1)
        counts[:, n] = 0
        before = np.cumsum(total) - total  # draws in the replicates before, then the ranks
        middle = [before + (total - 1) // 2, before + total // 2]
        row = (n + 1) * np.arange(r)
        for j, (x, order) in enumerate(zip(arrays, orders)):
            running = np.cumsum(counts.take(order, axis=1))  # row after row
            low, high = (x[order[np.searchsorted(running, v, side="right") - row]]
                         for v in middle)
            out[j, start:start + r] = (low + high) / 2
    return out


def bootstrap_medians(samples: Sequence[np.ndarray], process: Sequence[np.ndarray | None],
                      *, paired: bool, resamples: int = DEFAULT_RESAMPLES,
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """Bootstrap replicates of the median of each 1-D array in `samples`: shape
    (len(samples), resamples), all NaN for an array with fewer than MIN_SAMPLES valid values.

    paired=True: the arrays are the same rounds of different kernels (same length, one process
    array: process[0]); one set of resampled rounds serves all of them, so what the rounds share
    (drift) cancels in a ratio, and rounds with a NaN in any array are left out.
    paired=False: each array is resampled on its own, with its own process array (two runs).
    A process array of None means one process (batches only)."""
    rng = np.random.default_rng(0) if rng is None else rng
    arrays = [np.asarray(x, dtype=np.float64) for x in samples]
    out = np.full((len(arrays), resamples), np.nan)
    if paired:
        if len({len(x) for x in arrays}) > 1:
            raise ValueError("paired samples must have the same number of rounds, got "
                             f"{[len(x) for x in arrays]}")
        ok = np.all([np.isfinite(x) for x in arrays], axis=0)
        if ok.sum() < MIN_SAMPLES:
            return out
        proc = _process_of(process[0], len(arrays[0]))[ok]
        return _resampled_medians([x[ok] for x in arrays], proc, resamples, rng)
    if len(process) != len(arrays):
        raise ValueError(f"{len(arrays)} sample arrays but {len(process)} process arrays")
    for j, (x, proc) in enumerate(zip(arrays, process)):
        ok = np.isfinite(x)
        if ok.sum() >= MIN_SAMPLES:
            out[j] = _resampled_medians([x[ok]], _process_of(proc, len(x))[ok], resamples,
                                        rng)[0]
    return out


def _process_of(process: np.ndarray | None, n: int) -> np.ndarray:
    if process is None:
        return np.zeros(n, dtype=np.int64)
    process = np.asarray(process)
    if process.shape != (n,):
        raise ValueError(f"process has shape {process.shape}, expected ({n},)")
    return process


def interval(replicates: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
             ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap replicates along the last axis; NaN where any
    replicate is NaN (too few samples)."""
    alpha = 1 - confidence
    replicates = np.asarray(replicates, dtype=np.float64)
    low = np.full(replicates.shape[:-1], np.nan)
    high = np.full(replicates.shape[:-1], np.nan)
    ok = np.isfinite(replicates).all(axis=-1)
    if ok.any():
        q = np.quantile(replicates[ok], [alpha / 2, 1 - alpha / 2], axis=-1)
        low[ok], high[ok] = q[0], q[1]
    return low, high


def median_of(samples: np.ndarray) -> float:
    """The median of a cell's valid samples, NaN with fewer than MIN_SAMPLES."""
    x = samples[np.isfinite(samples)]
    return float(np.median(x)) if len(x) >= MIN_SAMPLES else np.nan


def _real(value: object) -> bool:
    """Whether `value` is a number (numpy's included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_confidence(confidence: float) -> float:
    """A confidence level strictly between 0 and 1, or ValueError naming it."""
    if not _real(confidence) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    return float(confidence)


def check_fraction(name: str, value: float, high: float, example: str) -> float:
    """A fraction from 0 to `high` (exclusive) as a float, or ValueError naming `name`, its
    value and how to read one (`example`: "0.05 = 5%")."""
    if not _real(value) or not 0 <= value < high:
        raise ValueError(f"{name} must be a fraction from 0 to {high:g} ({example}), got "
                         f"{value!r}")
    return float(value)


def check_seed(seed: int | None) -> int | None:
    """A bootstrap seed: None (fresh entropy each call) or an int >= 0; TypeError or
    ValueError naming it."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be None or an int, not {type(seed).__name__} ({seed!r})")
    if seed < 0:
        raise ValueError(f"seed must be None or an int >= 0, got {seed!r}")
    return int(seed)


def check_resamples(resamples: int) -> int:
    """A resample count from 100 to 10**6, or ValueError naming it."""
    if isinstance(resamples, bool) or not isinstance(resamples, numbers.Integral) \
            or not 100 <= resamples <= 10**6:
        raise ValueError(f"resamples must be an int from 100 to 1000000, got {resamples!r}")
    return int(resamples)
