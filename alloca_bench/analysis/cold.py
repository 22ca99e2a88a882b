"""Cold beside warm: the first batch of each fresh process against the median of the later
ones, for a sweep run in the runner with warmup=0 and explicit iterations."""
from __future__ import annotations

import numpy as np

from alloca_bench.results._stats import nanmedian
from alloca_bench.results.model import ResultData


def cold_and_warm(result: ResultData) -> dict[str, np.ndarray]:
    """Arrays of shape (strategy, size): "cold_ns" and "cold_faults", sample 0 of the first
    iteration count (the first batch of a fresh process); "warm_ns" and "warm_faults", the
    median of the last iteration count (of its later samples when there is only one count).
    Cells never measured stay NaN."""
    last = len(result.iterations) - 1
    skip = 1 if last == 0 else 0  # with a single count, its sample 0 is the cold one
    warm, faults = (np.full(result.ns_per_op.shape[:2], np.nan) for _ in range(2))
    if result.repeats > skip:
        warm = nanmedian(result.ns_per_op[:, :, last, skip:], axis=2)
        faults = nanmedian(result.faults_per_op[:, :, last, skip:], axis=2)
    return {"cold_ns": result.ns_per_op[:, :, 0, 0],
            "cold_faults": result.faults_per_op[:, :, 0, 0],
            "warm_ns": warm, "warm_faults": faults}
