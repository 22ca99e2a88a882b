"""Results side by side: runs from different machines, allocators or builds, aligned on what they
share, with the ratio of medians per cell, a bootstrap confidence interval and a significance mark.

Samples of two runs are not paired (they ran at different times), so each cell's interval comes
from resampling both runs' batches independently (percentile bootstrap of the ratio of medians).
That interval only knows the spread *within* each run.  A machine that changes state between runs
(frequency, neighbours) moves every cell at once, which no within-run statistic can see; hence a
cell is only called significant when its interval excludes 1 *and* it moved by more than
`threshold` (asv's `--factor` idea), and `normalize=` compares figures measured relative to
another strategy of the same round, which cancels that drift.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence, Union

import numpy as np

from alloca_bench.machine import IMPORTANT_KEYS, differences
from alloca_bench.present._format import format_number, format_rows, format_size
from alloca_bench.results import Iterations, Result, load
from alloca_bench.strategies import calls_allocator

# Keys whose difference changes what a cell means: the machine's, plus how the kernels were built.
COMPARED_KEYS: tuple[str, ...] = IMPORTANT_KEYS + (
    "build_cc", "build_compiler", "build_compile_args", "build_package_version")
# When these agree, results come from one machine and one build of the kernels, so kernels that
# never call an allocator ran identical code in each: a move of theirs is the machine's drift.
_SAME_CODE_KEYS = ("hostname", "cpu_model", "cpu_count", "build_cc", "build_compiler",
                   "build_compile_args", "build_package_version")
_KEY_GROUPS = ("CPU", "kernel", "libc", "limits", "environment", "build flags")
MIN_SAMPLES = 3  # fewer valid batches than this in a cell: no ratio (NaN)

ResultLike = Union[Result, str, "os.PathLike[str]"]


@dataclass(frozen=True, eq=False)
class Comparison:
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
    geomean: np.ndarray  # shape (result,): geometric mean of ratio over every cell
    geomean_low: np.ndarray
    geomean_high: np.ndarray
    machines: tuple[dict, ...]
    differences: dict = field(default_factory=dict)  # {label: {key: (reference's, its)}}
    left_out: dict = field(default_factory=dict)  # {"strategies"/...: {label: [values]}}

    @property
    def others(self) -> list[int]:
        """Indices of the results compared with the reference."""
        return [k for k in range(len(self.labels)) if k != self.reference]

    def slowdowns(self, pct: float = 0.0) -> list[tuple[str, str, int, Iterations, float]]:
        """Significant slowdowns by more than `pct` percent: (label, strategy, size bytes,
        iterations, ratio) for each cell where a result is slower than the reference."""
        found = []
        for k in self.others:
            hits = self.significant[k] & (self.ratio[k] > 1 + pct / 100)
            for s, z, i in zip(*np.nonzero(hits)):
                found.append((self.labels[k], self.strategies[s], int(self.sizes[z]),
                              self.iterations[i], float(self.ratio[k, s, z, i])))
        return found

    def header(self) -> str:
        """What was compared, how to read the marks, and what differs between the machines."""
        ref = self.labels[self.reference]
        others = ", ".join(self.labels[k] for k in self.others)
        what = (f"median of the per-round ratio to {self.normalize}" if self.normalize
                else "median ns/op")
        lines = [
            f"compare: {others} against {ref}; touch={self.touch}",
            f"ratio = {what} of each result / {ref}'s; [low, high] = "
            f"{self.confidence:.0%} bootstrap interval over the batches",
            f"n.s. = not significant: the interval contains 1 or the change is under "
            f"{self.threshold:.0%}",
        ]
        for label, diff in self.differences.items():
            if diff:
                shown = "; ".join(f"{key}: {a!r} -> {b!r}" for key, (a, b) in diff.items())
                lines.append(f"machine of {label} differs from {ref}'s: {shown}")
            else:
                lines.append(f"machine of {label}: same as {ref}'s ({', '.join(_KEY_GROUPS)})")
        for axis, per_label in self.left_out.items():
            for label, values in per_label.items():
                lines.append(f"left out ({axis} not in every result): {label} has {values}")
        lines += self._drift_notes()
        return "\n".join(lines)

    def _drift_notes(self) -> list[str]:
        """On one machine and build, the kernels that never call an allocator run the same
        code in every result: if they moved, the machine's state did."""
        fixed_code = [s for s, name in enumerate(self.strategies) if not calls_allocator(name)]
        if self.normalize or not fixed_code:
            return []
        notes = []
        for k in self.others:
            diff = self.differences.get(self.labels[k], {})
            if any(key in diff for key in _SAME_CODE_KEYS):
                continue
            moved = self.ratio[k, fixed_code][self.significant[k, fixed_code]]
            if not moved.size:
                continue
            names = ", ".join(self.strategies[s] for s in fixed_code)
            low, high = _ratio_text(float(np.min(moved))), _ratio_text(float(np.max(moved)))
            notes.append(
                f"drift: same machine and build, yet kernels that call no allocator ({names}) "
                f"moved {low if low == high else f'{low}..{high}'} in {moved.size} cell(s) "
                f"from {self.labels[self.reference]} to {self.labels[k]}: changes of that "
                f"order are the machine's state, not the allocator; normalize='alloca' "
                f"(--normalize alloca) compares ratios measured within each run instead")
        return notes

    def table(self) -> str:
        """A row per (size, iterations, strategy): each result's median and each other result's
        ratio to the reference with its interval and mark; a last row with the geometric mean."""
        unit = f"x {self.normalize}" if self.normalize else "ns/op"
        headers = ["size", "iterations", "strategy"]
        headers += [f"{label} {unit}" for label in self.labels]
        headers += [f"{self.labels[k]}/{self.labels[self.reference]}" for k in self.others]
        rows = []
        for z, size in enumerate(self.sizes):
            for i, it in enumerate(self.iterations):
                for s, strategy in enumerate(self.strategies):
                    row = [format_size(int(size)), str(it), strategy]
                    row += [format_number(self.value[k, s, z, i]) for k in range(len(self.labels))]
                    row += [self._cell(k, (s, z, i)) for k in self.others]
                    rows.append(row)
        geo = ["geomean", "", "all cells"] + [""] * len(self.labels)
        geo += [_interval(self.geomean[k], self.geomean_low[k], self.geomean_high[k],
                          self._is_significant(self.geomean[k], self.geomean_low[k],
                                               self.geomean_high[k]))
                for k in self.others]
        rows.append(geo)
        return format_rows(headers, rows)

    def _cell(self, k: int, index: tuple[int, int, int]) -> str:
        return _interval(self.ratio[k][index], self.low[k][index], self.high[k][index],
                         bool(self.significant[k][index]))

    def _is_significant(self, ratio: float, low: float, high: float) -> bool:
        return bool(_significant(np.float64(ratio), np.float64(low), np.float64(high),
                                 self.threshold))

    def __str__(self) -> str:
        return f"{self.header()}\n\n{self.table()}"

    def __repr__(self) -> str:
        return (f"<alloca_bench.Comparison {', '.join(self.labels)} (reference "
                f"{self.labels[self.reference]}): {len(self.strategies)} strategies x "
                f"{len(self.sizes)} sizes x {len(self.iterations)} iterations; "
                f"{int(self.significant.sum())} significant cells>")

    def _repr_html_(self) -> str:
        """Notebook display: the header and the table, significant cells in bold."""
        from alloca_bench.present.tables import comparison_html

        return comparison_html(self)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Ratio to the reference per size (needs the `plot` extra); returns the Axes."""
        from alloca_bench.present.plot import plot_comparison

        return plot_comparison(self, ax=ax, **kwargs)


def compare(*results: ResultLike, reference: int | str = 0, normalize: str | None = None,
            labels: Sequence[str] | None = None, confidence: float = 0.95,
            threshold: float = 0.10, resamples: int = 2000, seed: int | None = 0) -> Comparison:
    """Compare results (Result objects or paths of saved ones) with `reference` (an index or a
    label) on the strategies, sizes and iterations they all share.

    ratio = median of a result / median of the reference, per cell, with a `confidence`
    bootstrap interval from `resamples` resamplings of the batches; significant when the
    interval excludes 1 and the ratio moved by more than `threshold` (0.10 = 10%).  With
    `normalize="alloca"` each batch is first divided by that strategy's batch of the same
    round, so a change of the machine's state between runs cancels (use it to compare
    allocators or builds run at different times); the normalizing strategy and baseline are
    left out."""
    loaded, default_labels = _load_all(results)
    labels = _check_labels(labels, default_labels)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    if not 0 <= threshold < 10:
        raise ValueError(f"threshold must be a fraction between 0 and 10 (0.1 = 10%), "
                         f"got {threshold}")
    if isinstance(resamples, bool) or not isinstance(resamples, int) \
            or not 100 <= resamples <= 10**6:
        raise ValueError(f"resamples must be an int from 100 to 1000000, got {resamples!r}")
    ref = _reference_index(reference, labels)
    strategies, sizes, iterations, left_out = _align(loaded, labels)
    if normalize is not None:
        if normalize not in strategies:
            raise ValueError(f"normalize={normalize!r} is not a strategy every result has: "
                             f"{list(strategies)}")
        # baseline / alloca says how an empty call compares with an alloca: nothing about
        # the allocators being compared, so it goes too.
        strategies = tuple(s for s in strategies if s not in (normalize, "baseline"))
        if not strategies:
            raise ValueError(f"nothing left to compare once {normalize!r} is used to normalize")

    samples = np.stack([_cells(r, strategies, sizes, iterations, normalize) for r in loaded])
    faults = np.stack([_cells(r, strategies, sizes, iterations, None, "faults_per_op")
                       for r in loaded])
    rng = np.random.default_rng(seed)
    value = _nanmedian(samples)
    replicates = np.stack([_boot_medians(samples[k], resamples, rng)
                           for k in range(len(loaded))])  # (result, cell dims..., resamples)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = value / value[ref]
        boot = replicates / replicates[ref]
    alpha = 1 - confidence
    low, high = _quantiles(boot, alpha)
    significant = _significant(ratio, low, high, threshold)
    geomean, geo_low, geo_high = _geomeans(ratio, boot, alpha)
    return Comparison(
        labels=labels, reference=ref, strategies=strategies,
        sizes=np.array(sizes, dtype=np.int64), iterations=iterations, touch=loaded[0].touch,
        normalize=normalize, confidence=confidence, threshold=threshold, value=value,
        faults=_nanmedian(faults), ratio=ratio, low=low, high=high, significant=significant,
        geomean=geomean, geomean_low=geo_low, geomean_high=geo_high,
        machines=tuple(r.machine for r in loaded),
        differences={labels[k]: differences(loaded[ref].machine, loaded[k].machine,
                                            COMPARED_KEYS)
                     for k in range(len(loaded)) if k != ref},
        left_out=left_out,
    )


# --- alignment -------------------------------------------------------------------------------

def _load_all(results: Sequence[ResultLike]) -> tuple[list[Result], list[str]]:
    if len(results) < 2:
        raise ValueError(f"compare needs at least two results, got {len(results)}")
    loaded, names = [], []
    for k, item in enumerate(results):
        if isinstance(item, Result):
            loaded.append(item)
            names.append(chr(ord("a") + k) if k < 26 else f"r{k}")
        elif isinstance(item, (str, os.PathLike)):
            loaded.append(load(item))
            names.append(os.path.splitext(os.path.basename(os.fspath(item)))[0])
        else:
            raise TypeError(f"compare takes Result objects or paths of saved results, not "
                            f"{type(item).__name__} (argument {k + 1})")
    return loaded, names


def _check_labels(labels: Sequence[str] | None, default: list[str]) -> tuple[str, ...]:
    if labels is None:
        labels = default
    labels = tuple(str(label) for label in labels)
    if len(labels) != len(default):
        raise ValueError(f"{len(labels)} labels for {len(default)} results")
    if len(set(labels)) != len(labels):
        # Two files with one name in different folders: fall back to letters plus the name.
        labels = tuple(f"{chr(ord('a') + k)}:{label}" for k, label in enumerate(labels))
    return labels


def _reference_index(reference: int | str, labels: tuple[str, ...]) -> int:
    if isinstance(reference, str):
        if reference not in labels:
            raise ValueError(f"reference {reference!r} is not one of the labels {list(labels)}")
        return labels.index(reference)
    if isinstance(reference, bool) or not isinstance(reference, int) \
            or not 0 <= reference < len(labels):
        raise ValueError(f"reference must be a label or an index from 0 to {len(labels) - 1}, "
                         f"got {reference!r}")
    return reference


def _align(results: list[Result], labels: tuple[str, ...]):
    """The strategies, sizes and iterations every result has (in the first result's order),
    what each result has beyond them, or a ValueError saying what does not line up."""
    touches = {r.touch for r in results}
    if len(touches) > 1:
        shown = ", ".join(f"{label} touch={r.touch!r}" for label, r in zip(labels, results))
        raise ValueError(f"these results measured different touch modes ({shown}): a cell "
                         "means something else in each; compare results of one touch mode")
    axes = {
        "strategies": [tuple(r.strategies) for r in results],
        "sizes": [tuple(int(s) for s in r.sizes) for r in results],
        "iterations": [tuple(r.iterations) for r in results],
    }
    shared, left_out = {}, {}
    for axis, values in axes.items():
        common = [v for v in values[0] if all(v in other for other in values[1:])]
        if not common:
            shown = "; ".join(f"{label} has {list(v)}" for label, v in zip(labels, values))
            raise ValueError(f"these results have no {axis} in common, so there is nothing to "
                             f"compare: {shown}")
        shared[axis] = tuple(common)
        extra = {label: [v for v in vals if v not in common] for label, vals in zip(labels, values)}
        extra = {label: v for label, v in extra.items() if v}
        if extra:
            left_out[axis] = extra
    return shared["strategies"], shared["sizes"], shared["iterations"], left_out


def _cells(result: Result, strategies: Sequence[str], sizes: Sequence[int],
           iterations: Sequence[Iterations], normalize: str | None,
           what: str = "ns_per_op") -> np.ndarray:
    """The samples of the aligned cells: shape (strategy, size, iterations, repeat)."""
    s_idx = [result.strategies.index(s) for s in strategies]
    z_idx = [int(np.flatnonzero(result.sizes == z)[0]) for z in sizes]
    i_idx = [result.iterations.index(i) for i in iterations]
    data = getattr(result, what)
    picked = data[np.ix_(s_idx, z_idx, i_idx)]
    if normalize is not None:
        n = result.strategies.index(normalize)
        with np.errstate(invalid="ignore", divide="ignore"):
            # Paired by round: both batches ran back to back in the same machine state.
            picked = picked / data[np.ix_([n], z_idx, i_idx)]
    return picked


# --- statistics ------------------------------------------------------------------------------

def _nanmedian(samples: np.ndarray) -> np.ndarray:
    """Median over the last axis, NaN where fewer than MIN_SAMPLES values are valid."""
    valid = np.sum(np.isfinite(samples), axis=-1)
    with np.errstate(invalid="ignore"):
        out = np.full(samples.shape[:-1], np.nan)
        ok = valid >= MIN_SAMPLES
        if ok.any():
            out[ok] = np.nanmedian(samples[ok], axis=-1)
    return out


def _boot_medians(samples: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of `resamples` resamplings (with replacement) of each cell's valid samples:
    shape samples.shape[:-1] + (resamples,), NaN for cells with too few samples."""
    cells = samples.shape[:-1]
    out = np.full(cells + (resamples,), np.nan)
    for index in np.ndindex(*cells):
        x = samples[index]
        x = x[np.isfinite(x)]
        if len(x) >= MIN_SAMPLES:
            out[index] = np.median(x[rng.integers(0, len(x), size=(resamples, len(x)))], axis=1)
    return out


def _quantiles(boot: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(boot).all(axis=-1)
        low = np.full(boot.shape[:-1], np.nan)
        high = np.full(boot.shape[:-1], np.nan)
        if ok.any():
            q = np.quantile(boot[ok], [alpha / 2, 1 - alpha / 2], axis=-1)
            low[ok], high[ok] = q[0], q[1]
    return low, high


def _significant(ratio: np.ndarray, low: np.ndarray, high: np.ndarray,
                 threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        excludes_one = (low > 1) | (high < 1)
        large = np.abs(np.log(ratio)) > np.log1p(threshold)
    return np.asarray(excludes_one & large & np.isfinite(ratio))


def _geomeans(ratio: np.ndarray, boot: np.ndarray, alpha: float):
    """Geometric mean over every cell a result has, per result, with its interval: each
    bootstrap replicate combines one resampled ratio per cell, so the cells' own spreads add up."""
    n = ratio.shape[0]
    geo, lo, hi = (np.full(n, np.nan) for _ in range(3))
    for k in range(n):
        ok = np.isfinite(ratio[k]) & np.isfinite(boot[k]).all(axis=-1)
        if not ok.any():
            continue
        geo[k] = np.exp(np.mean(np.log(ratio[k][ok])))
        reps = np.exp(np.mean(np.log(boot[k][ok]), axis=0))
        lo[k], hi[k] = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return geo, lo, hi


def _ratio_text(x: float) -> str:
    return f"{x:.3g}x" if np.isfinite(x) else "-"


def _interval(ratio: float, low: float, high: float, significant: bool) -> str:
    if not np.isfinite(ratio):
        return "missing"
    mark = "" if significant else " n.s."
    return f"{_ratio_text(ratio)} [{low:.3g}, {high:.3g}]{mark}"
