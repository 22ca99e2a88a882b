"""Where one strategy stops beating another in one Result (crossover): the speed-up per size
with its interval, the winner per size and the faults of each side, as numbers
(crossover_model.CrossoverData) that str() words through present.answers, and the largest
allocation the stack guard lets through.

The speed-up is the ratio of the two medians the tables show (b ns/op / a ns/op).  When both
ran interleaved in the same rounds its interval resamples those rounds together (paired, so
drift cancels), processes first and then rounds within them; a result whose strategies did not
run interleaved (a pytest-benchmark file) resamples each side on its own.
"""
from __future__ import annotations

import numpy as np

from alloca_bench.analysis.crossover_model import TIE, CrossoverData
from alloca_bench.results._stats import (
    bootstrap_medians,
    check_confidence,
    check_fraction,
    check_resamples,
    check_seed,
    interval,
    median_of,
)
from alloca_bench.results.model import ResultData
from alloca_bench.results.status import Iterations


class Crossover(CrossoverData):
    """The numbers of a crossover (see CrossoverData), printed in words: str() gives the
    verdict per run of sizes, then a row per size."""

    def __str__(self) -> str:
        """The verdict per run of sizes in words, then a row per size (present.answers)."""
        from alloca_bench.present.answers import crossover_text

        return crossover_text(self)

    __repr__ = __str__


def crossover(result: ResultData, a: str = "alloca", b: str = "malloc",
              iterations: Iterations | None = None, confidence: float = 0.95,
              tolerance: float = 0.05, resamples: int = 2000, seed: int | None = 0) -> Crossover:
    """Where `a` stops beating `b` in `result` (see Crossover).  `iterations` may be omitted
    when the result has one iterations count."""
    confidence = check_confidence(confidence)
    resamples = check_resamples(resamples)
    tolerance = check_fraction("tolerance", tolerance, 1, "0.05 = 5%")
    seed = check_seed(seed)
    if a == b:
        raise ValueError(f"crossover needs two different strategies, got {a!r} twice")
    sa, sb = (result._strategy_index(name) for name in (a, b))
    i = result._iteration_index(iterations)
    rng = np.random.default_rng(seed)
    # A file whose strategies ran one after another (pytest-benchmark) has no shared rounds.
    paired = result.interleaved
    n = len(result.sizes)
    speedup, low, high = (np.full(n, np.nan) for _ in range(3))
    winner = np.full(n, "", dtype=object)
    rounds = np.zeros(n, dtype=np.int64)
    for z in range(n):
        xa, xb = result.ns_per_op[sa, z, i], result.ns_per_op[sb, z, i]
        pa, pb = result.process[sa, z, i], result.process[sb, z, i]
        ok_a, ok_b = np.isfinite(xa), np.isfinite(xb)
        rounds[z] = (ok_a & ok_b).sum() if paired else min(ok_a.sum(), ok_b.sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            speedup[z] = median_of(xb) / median_of(xa)
        if not np.isfinite(speedup[z]) or speedup[z] <= 0:
            speedup[z] = np.nan
            continue
        boot = bootstrap_medians([xa, xb], [pa] if paired else [pa, pb], paired=paired,
                                 resamples=resamples, rng=rng)
        with np.errstate(invalid="ignore", divide="ignore"):
            lo, hi = interval(boot[1] / boot[0], confidence)
        low[z], high[z] = float(lo), float(hi)
        if not np.isfinite(low[z]):
            speedup[z] = np.nan
        elif low[z] > 1 and speedup[z] > 1 + tolerance:
            winner[z] = a
        elif high[z] < 1 and speedup[z] < 1 / (1 + tolerance):
            winner[z] = b
        else:
            winner[z] = TIE
    med = result.median()
    faults = result.median("faults_per_op")
    return Crossover(a=a, b=b, iterations=result.iterations[i], sizes=result.sizes.copy(),
                     ns_a=med[sa, :, i], ns_b=med[sb, :, i], speedup=speedup, low=low,
                     high=high, winner=winner, faults_a=faults[sa, :, i],
                     faults_b=faults[sb, :, i], rounds=rounds, confidence=confidence,
                     tolerance=tolerance, paired=paired)


def largest_safe(machine: dict) -> int | None:
    """About the largest one alloca/VLA the stack guard lets through, in bytes: the recorded
    headroom minus the margin kept free (the guard also counts the compiler's rounding, a few
    bytes, and quotes a size 16 KiB lower still); None when the machine did not record them."""
    headroom, margin = machine.get("stack_headroom"), machine.get("stack_margin")
    if not isinstance(headroom, int) or not isinstance(margin, int):
        return None
    return max(headroom - margin, 0)
