"""Results side by side: runs from different machines, allocators or builds, aligned on what they
share, with the ratio of medians per cell, a bootstrap confidence interval and a significance mark.

Samples of two runs are not paired (they ran at different times), so each run is resampled on its
own: hierarchically, its processes first and then the batches within each process
(results._stats), so the interval holds what differs between processes, which is what differs
between two runs of one command.  A run from a single process can only show the spread of its
batches (its warnings say so); hence a cell is only called significant when its interval excludes
1 *and* it moved by more than `threshold` (asv's `--factor` idea), and `normalize=` compares
figures measured relative to another strategy of the same round, which cancels drift.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from alloca_bench.machine import IMPORTANT_KEYS, differences
from alloca_bench.analysis._align import (
    ResultLike,
    align,
    cell_status,
    cells,
    check_labels,
    check_match,
    load_all,
    reference_index,
)
from alloca_bench.analysis.comparison_model import ComparisonData
from alloca_bench.results._stats import (
    bootstrap_medians,
    check_confidence,
    check_fraction,
    check_resamples,
    check_seed,
    interval,
    median_of,
    nanmedian,
)
from alloca_bench.results import Result

# Keys whose difference changes what a cell means: the machine's, plus how the kernels were built.
COMPARED_KEYS: tuple[str, ...] = IMPORTANT_KEYS + (
    "build_cc", "build_compiler", "build_compile_args", "build_package_version")
# Replicates compare() keeps at once (one per result, strategy and resample: 8 bytes each, 128
# MiB in all); the cells are resampled one at a time.
MAX_REPLICATES = 1 << 24


class Comparison(ComparisonData):
    """Results aligned and compared with the reference (see ComparisonData), with their
    words and pictures: table(), str(), the notebook display and plot()."""

    def table(self) -> str:
        """A row per (size, iterations, strategy): each result's median and each other
        result's ratio to the reference with its interval and mark (present.comparison)."""
        from alloca_bench.present.comparison import comparison_table

        return comparison_table(self)

    def __str__(self) -> str:
        """What was compared, how to read it, and the table (present.comparison)."""
        from alloca_bench.present.comparison import comparison_text

        return comparison_text(self)

    def _repr_html_(self) -> str:
        """Notebook display: the header and the table, significant cells in bold."""
        from alloca_bench.present.comparison import comparison_html

        return comparison_html(self)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Ratio to the reference per size (needs the `plot` extra); returns the Axes."""
        from alloca_bench.present.plot import plot_comparison

        return plot_comparison(self, ax=ax, **kwargs)


def compare(*results: ResultLike, reference: int | str = 0, normalize: str | None = None,
            labels: Sequence[str] | None = None, confidence: float = 0.95,
            threshold: float = 0.10, resamples: int = 2000, seed: int | None = 0,
            match: Mapping[str, str] | None = None) -> Comparison:
    """Compare results (Result objects or paths of saved ones) with `reference` (an index or a
    label) on the strategies, sizes and iterations they all share.

    ratio = median of a result / median of the reference, per cell, with a `confidence`
    bootstrap interval from `resamples` resamplings of each result (processes, then batches
    within them); significant when the interval excludes 1 and the ratio moved by more than
    `threshold` (0.10 = 10%).  Results may have different numbers of rounds.  With
    `normalize="alloca"` each batch is first divided by that strategy's batch of the same
    round, so a change of the machine's state between runs cancels (use it to compare
    allocators or builds run at different times); the normalizing strategy and baseline are
    left out.  `match={"malloc@glibc": "malloc@jemalloc"}` lines up strategies whose names
    differ: each result uses the first name if it has it, else the second (row "A=B")."""
    loaded, default_labels = load_all(results)
    labels = check_labels(labels, default_labels)
    confidence = check_confidence(confidence)
    threshold = check_fraction("threshold", threshold, 10, "0.1 = 10%")
    resamples = check_resamples(resamples)
    seed = check_seed(seed)
    ref = reference_index(reference, labels)
    names, sizes, iterations, left_out = align(loaded, labels, check_match(match))
    rows = _compared_rows(tuple(names), normalize)
    if len(loaded) * len(rows) * resamples > MAX_REPLICATES:
        raise ValueError(f"compare: {len(loaded)} results x {len(rows)} strategies x "
                         f"{resamples} resamples would keep more than {MAX_REPLICATES} "
                         "bootstrap replicates in memory; pass fewer resamples= or compare "
                         "fewer results or strategies at once")
    own = [[names[row][k] for row in rows] for k in range(len(loaded))]
    norm = None if normalize is None else [names[normalize][k] for k in range(len(loaded))]
    shape = (len(loaded), len(rows), len(sizes), len(iterations))
    value, faults = np.full(shape, np.nan), np.full(shape, np.nan)
    status = np.stack([cell_status(r, own[k], sizes, iterations) for k, r in enumerate(loaded)])
    samples = [cells(r, own[k], sizes, iterations, None if norm is None else norm[k])
               for k, r in enumerate(loaded)]
    for k, r in enumerate(loaded):
        x = samples[k][0]
        for cell in np.ndindex(*shape[1:]):
            value[(k,) + cell] = median_of(x[cell])
        faults[k] = nanmedian(cells(r, own[k], sizes, iterations, None, "faults_per_op")[0],
                              axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = value / value[ref]
    low, high, logs, centre, counted = _intervals(samples, ratio, ref, resamples, confidence,
                                                  seed)
    significant = _significant(ratio, low, high, threshold)
    geomean, geo_low, geo_high = _geomeans(logs, centre, counted, confidence)
    geo_significant = _significant(geomean, geo_low, geo_high, threshold)
    return Comparison(
        labels=labels, reference=ref, strategies=rows,
        sizes=np.array(sizes, dtype=np.int64), iterations=iterations, touch=loaded[0].touch,
        normalize=normalize, confidence=confidence, threshold=threshold, value=value,
        faults=faults, ratio=ratio, low=low, high=high, significant=significant,
        geomean=geomean, geomean_low=geo_low, geomean_high=geo_high,
        geomean_significant=geo_significant, status=status,
        machines=tuple(r.machine for r in loaded),
        differences={labels[k]: differences(loaded[ref].machine, loaded[k].machine,
                                            COMPARED_KEYS)
                     for k in range(len(loaded)) if k != ref},
        left_out=left_out,
        processes=tuple(_fewest_processes(r) for r in loaded),
        kernels=tuple(_kernel_of(r) for r in loaded),
    )


# --- statistics ------------------------------------------------------------------------------

def _compared_rows(rows: tuple[str, ...], normalize: str | None) -> tuple[str, ...]:
    """The strategies compared: every shared one, less `normalize` and baseline when
    normalizing (baseline / alloca says how an empty call compares with an alloca: nothing
    about the allocators being compared)."""
    if normalize is None:
        return rows
    if normalize not in rows:
        raise ValueError(f"normalize={normalize!r} is not a strategy every result has: "
                         f"{list(rows)}")
    kept = tuple(r for r in rows if r not in (normalize, "baseline"))
    if not kept:
        raise ValueError(f"nothing left to compare once {normalize!r} is used to normalize")
    return kept


def _intervals(samples: Sequence[tuple], ratio: np.ndarray, ref: int, resamples: int,
               confidence: float, seed: int | None) -> tuple[np.ndarray, ...]:
    """Per cell, the bootstrap interval of each result's ratio to the reference (low, high),
    and per result and strategy the sums of log replicates, of log ratios and the cell count
    that the geomeans need.  Replicates one cell at a time (each cell its own seeded stream):
    memory proportional to the samples, not cells x resamples (190 x 190 cells x 2000
    resamples: gigabytes)."""
    shape = ratio.shape
    low, high = np.full(shape, np.nan), np.full(shape, np.nan)
    logs = np.zeros(shape[:2] + (resamples,))
    centre = np.zeros(shape[:2])
    counted = np.zeros(shape[:2], dtype=np.int64)
    base = np.random.SeedSequence().entropy if seed is None else seed
    for c, cell in enumerate(np.ndindex(*shape[1:])):
        rng = np.random.default_rng([base, c])
        boot = np.stack([bootstrap_medians([x[cell]], [process[cell]], paired=False,
                                           resamples=resamples, rng=rng)[0]
                         for x, process in samples])
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = boot / boot[ref]
        at = (slice(None),) + cell
        low[at], high[at] = interval(boot, confidence)
        ok = np.isfinite(ratio[at]) & np.isfinite(boot).all(axis=-1)
        logs[ok, cell[0]] += np.log(boot[ok])
        centre[ok, cell[0]] += np.log(ratio[at][ok])
        counted[ok, cell[0]] += 1
    return low, high, logs, centre, counted


def _significant(ratio: np.ndarray, low: np.ndarray, high: np.ndarray,
                 threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        excludes_one = (low > 1) | (high < 1)
        large = np.abs(np.log(ratio)) > np.log1p(threshold)
    return np.asarray(excludes_one & large & np.isfinite(ratio))


def _geomeans(logs: np.ndarray, centre: np.ndarray, counted: np.ndarray, confidence: float):
    """Geometric mean per result and strategy over that strategy's cells with a ratio and
    replicates (`counted` of them; `centre`: the sum of the logs of their ratios), with its
    interval: each bootstrap replicate combines one resampled ratio per cell (`logs`: the sum
    of their logs), so the cells' own spreads add up.  The replicates are centred on the
    estimate (their median moved onto it, in logs): a mean of skewed cells (a few slow rounds
    in one process) drifts off the medians it averages, and an interval beside its own
    estimate says nothing.  Shape (result, strategy)."""
    shape = counted.shape
    geo, lo, hi = (np.full(shape, np.nan) for _ in range(3))
    for k, s in np.ndindex(*shape):
        if not counted[k, s]:
            continue
        log_geo = centre[k, s] / counted[k, s]
        geo[k, s] = np.exp(log_geo)
        log_reps = logs[k, s] / counted[k, s]
        low, high = interval(np.exp(log_reps - np.median(log_reps) + log_geo), confidence)
        lo[k, s], hi[k, s] = float(low), float(high)
    return geo, lo, hi


def _kernel_of(result: Result) -> tuple[str, str] | None:
    """(name, sha256) of the user kernel a result ran (params["kernel"]), None for a touch
    mode."""
    kernel = result.params.get("kernel")
    return (kernel["name"], kernel["sha256"]) if kernel else None


def _fewest_processes(result: Result) -> int:
    """The fewest distinct processes behind any measured cell of `result`."""
    counts = [len(np.unique(p[p >= 0])) for p in result.process.reshape(-1, result.repeats)]
    counts = [c for c in counts if c]
    return min(counts) if counts else 0
