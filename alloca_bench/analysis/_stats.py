"""One home for the statistics of samples: NaN-aware medians and err%."""
from __future__ import annotations

import warnings

import numpy as np


def nanmedian(samples: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """Median ignoring NaN; a cell with no sample at all (interrupted, failed) stays NaN
    without numpy's "All-NaN slice" warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(samples, axis=axis, keepdims=keepdims)


def err_pct(samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """nanobench's err%: the median absolute deviation from the median, in % of the median."""
    med = nanmedian(samples, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * nanmedian(np.abs(samples - med), axis=axis) / np.squeeze(med, axis)
