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


def cell_stats(samples: np.ndarray, process: np.ndarray | None = None) -> dict[str, float]:
    """pyperf's and pytest-benchmark's vocabulary for one cell: n, processes, min, p25, median,
    p75, max, mean, stdev, err% and the bimodality flag (NaN samples are left out)."""
    ok = np.isfinite(samples)
    x = samples[ok]
    procs = 1 if process is None else len(np.unique(np.asarray(process)[ok]))
    if not len(x):
        return {"n": 0, "processes": 0, **{k: np.nan for k in
                ("min", "p25", "median", "p75", "max", "mean", "stdev", "err_pct")},
                "bimodal": False}
    p25, med, p75 = np.percentile(x, [25, 50, 75])
    return {"n": len(x), "processes": procs, "min": float(x.min()), "p25": float(p25),
            "median": float(med), "p75": float(p75), "max": float(x.max()),
            "mean": float(x.mean()), "stdev": float(x.std(ddof=1)) if len(x) > 1 else 0.0,
            "err_pct": float(err_pct(x)), "bimodal": bimodal(x)}


# --- the bootstrap ---------------------------------------------------------------------------

def _indices(process: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Hierarchical resampling of one cell's sample positions: shape (resamples, k * m) for k
    processes of at most m samples; -1 marks padding where a chosen process has fewer than m.
    Each replicate draws k processes with replacement, then each chosen process's own number of
    samples from it with replacement."""
    groups = [np.flatnonzero(process == p) for p in np.unique(process)]
    k, m = len(groups), max(len(g) for g in groups)
    table = np.full((k, m), -1)
    sizes = np.array([len(g) for g in groups])
    for j, g in enumerate(groups):
        table[j, : len(g)] = g
    chosen = rng.integers(0, k, size=(resamples, k))  # processes
    n = sizes[chosen][..., None]  # (R, k, 1)
    pick = np.floor(rng.random((resamples, k, m)) * n).astype(np.int64)
    idx = table[chosen[..., None], pick]
    idx[np.arange(m)[None, None, :] >= n] = -1
    return idx.reshape(resamples, k * m)


def _resampled_medians(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    taken = np.where(idx >= 0, x[np.maximum(idx, 0)], np.nan)
    return nanmedian(taken, axis=1)


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
        idx = _indices(proc, resamples, rng)
        for j, x in enumerate(arrays):
            out[j] = _resampled_medians(x[ok], idx)
        return out
    if len(process) != len(arrays):
        raise ValueError(f"{len(arrays)} sample arrays but {len(process)} process arrays")
    for j, (x, proc) in enumerate(zip(arrays, process)):
        ok = np.isfinite(x)
        if ok.sum() >= MIN_SAMPLES:
            idx = _indices(_process_of(proc, len(x))[ok], resamples, rng)
            out[j] = _resampled_medians(x[ok], idx)
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


def check_confidence(confidence: float) -> float:
    """A confidence level strictly between 0 and 1, or ValueError naming it."""
    if not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    return float(confidence)


def check_resamples(resamples: int) -> int:
    """A resample count from 100 to 10**6, or ValueError naming it."""
    if isinstance(resamples, bool) or not isinstance(resamples, int) \
            or not 100 <= resamples <= 10**6:
        raise ValueError(f"resamples must be an int from 100 to 1000000, got {resamples!r}")
    return resamples
