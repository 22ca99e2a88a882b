"""The numbers of a comparison (ComparisonData): results aligned on shared strategies, sizes
and iterations, each compared with the reference, and what they show (slowdowns, drift).
analysis.compare computes them and returns a Comparison (this data with its words and
pictures); present reads comparisons through this class."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from alloca_bench.results.status import Iterations
from alloca_bench.strategies import BY_NAME, calls_allocator, kernel

# When these agree, results come from one machine and one build of the kernels, so kernels that
# never call an allocator ran identical code in each: a move of theirs is the machine's drift.
_SAME_CODE_KEYS = ("hostname", "cpu_model", "cpu_count", "build_cc", "build_compiler",
                   "build_compile_args", "build_package_version")


@dataclass(frozen=True, eq=False)
class ComparisonData:
    """Results aligned on shared strategies, sizes and iterations, each compared with the
    reference.  Arrays have shape (result, strategy, size, iterations); the reference's own
    ratios are 1.  `value` is the median ns/op per cell, or with `normalize` the median of the
    per-round ratio to that strategy (dimensionless)."""

    labels: tuple[str, ...]
    reference: int
    strategies: tuple[str, ...]
    sizes: np.ndarray  # bytes
    iterations: tuple[Iterations, ...]
    touch: str
    normalize: str | None
    confidence: float
    threshold: float  # smallest relative change called significant (0.1 = 10%)
    value: np.ndarray
    faults: np.ndarray  # median faults per op
    ratio: np.ndarray  # value / reference's value
    low: np.ndarray  # bootstrap interval of ratio
    high: np.ndarray
    significant: np.ndarray  # bool: interval excludes 1 and |change| > threshold
    geomean: np.ndarray  # shape (result, strategy): geometric mean of ratio over its cells
    geomean_low: np.ndarray
    geomean_high: np.ndarray
    geomean_significant: np.ndarray  # bool, shape (result, strategy)
    status: np.ndarray  # each result's status of each cell (results.status.STATUSES)
    machines: tuple[dict, ...]
    differences: dict = field(default_factory=dict)  # {label: {key: (reference's, its)}}
    left_out: dict = field(default_factory=dict)  # {"strategies"/...: {label: [values]}}
    processes: tuple[int, ...] = ()  # fewest distinct processes behind a cell, per result
    # per result: (name, sha256) of the user kernel it ran, None for a touch mode
    kernels: tuple[tuple[str, str] | None, ...] = ()

    @property
    def others(self) -> list[int]:
        """Indices of the results compared with the reference."""
        return [k for k in range(len(self.labels)) if k != self.reference]

    def slowdowns(self, pct: float = 0.0, include_allocator_free: bool = False
                  ) -> list[tuple[str, str, int, Iterations, float]]:
        """Significant slowdowns by more than `pct` percent: (label, strategy, size bytes,
        iterations, ratio) for each cell where a result is slower than the reference.  Kernels
        that call no allocator (baseline, fixed, alloca, vla) run the same code in every
        result, so their moves are the machine's: left out unless `include_allocator_free`."""
        if isinstance(pct, bool) or not isinstance(pct, numbers.Real) \
                or not math.isfinite(pct) or pct < 0:
            raise ValueError(f"the slowdown threshold must be a finite percentage >= 0, "
                             f"got {pct!r}")
        keep = self._gated(include_allocator_free)
        found = []
        for k in self.others:
            hits = self.significant[k] & (self.ratio[k] > 1 + pct / 100) \
                & keep[:, None, None]
            for s, z, i in zip(*np.nonzero(hits)):
                found.append((self.labels[k], self.strategies[s], int(self.sizes[z]),
                              self.iterations[i], float(self.ratio[k, s, z, i])))
        return found

    def not_measured(self, include_allocator_free: bool = False
                     ) -> list[tuple[str, str, int, Iterations, str]]:
        """Cells the reference measured (status "ok") that another result did not: (label,
        strategy, size bytes, iterations, that result's status).  A slowdown gate has no ratio
        for them, so it cannot pass them; the kernels kept are those of slowdowns()."""
        gated = self._gated(include_allocator_free)[:, None, None] \
            & (self.status[self.reference] == "ok")
        return [(self.labels[k], self.strategies[s], int(self.sizes[z]), self.iterations[i],
                 str(self.status[k, s, z, i]))
                for k in self.others
                for s, z, i in zip(*np.nonzero(gated & (self.status[k] != "ok")))]

    def _gated(self, include_allocator_free: bool) -> np.ndarray:
        """Per strategy: whether a slowdown gate judges it (see slowdowns())."""
        return np.array([include_allocator_free or self.normalize is not None
                         or not _allocator_free(name) for name in self.strategies])

    def drift(self) -> list[tuple[int, tuple[str, ...], np.ndarray]]:
        """On one machine and build, the kernels that never call an allocator run the same
        code in every result: if they moved, the machine's state did.  Per other result k whose
        machine and build match the reference's: (k, those kernels, their significant ratios),
        when there are any."""
        fixed_code = [s for s, name in enumerate(self.strategies) if _allocator_free(name)]
        if self.normalize or not fixed_code:
            return []
        found = []
        for k in self.others:
            diff = self.differences.get(self.labels[k], {})
            if any(key in diff for key in _SAME_CODE_KEYS):
                continue
            moved = self.ratio[k, fixed_code][self.significant[k, fixed_code]]
            if moved.size:
                found.append((k, tuple(self.strategies[s] for s in fixed_code), moved))
        return found

    @property
    def unmeasured(self) -> np.ndarray:
        """Shape (size, iterations): True where no result has a sample of any strategy (what a
        pytest-benchmark file's per-size iteration counts leave); tables leave those out."""
        return np.isnan(self.value).all(axis=(0, 1))

    def __repr__(self) -> str:
        return (f"<alloca_bench.{type(self).__name__} {', '.join(self.labels)} (reference "
                f"{self.labels[self.reference]}): {len(self.strategies)} strategies x "
                f"{len(self.sizes)} sizes x {len(self.iterations)} iterations; "
                f"{int(self.significant.sum())} significant cells>")


def _allocator_free(name: str) -> bool:
    """A known kernel that calls no allocator (names this version does not know: False)."""
    return kernel(name) in BY_NAME and not calls_allocator(name)

