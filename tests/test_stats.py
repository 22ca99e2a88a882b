"""alloca_bench.results._stats: err% is nanobench's, percentiles, the bimodality test and the
one bootstrap (paired or not, hierarchical over processes)."""
from math import comb

import numpy as np
import pytest

from alloca_bench.results._stats import (
    bimodal,
    bootstrap_medians,
    cell_stats,
    err_pct,
    interval,
    nanmedian,
    percentiles,
)


def test_err_pct_is_nanobenchs_median_absolute_percentage_error():
    """nanobench: median of |x - median| / x.  MAD over the median would give 10%."""
    assert err_pct(np.array([9.0, 10, 10, 11, 30])) == pytest.approx(100 / 11)
    grid = np.array([[9.0, 10, 10, 11, 30], [1, 1, 1, 1, np.nan]])
    assert err_pct(grid, axis=1) == pytest.approx([100 / 11, 0])


def test_nan_cells_give_nan_without_warnings(recwarn):
    empty = np.full((2, 3), np.nan)
    assert np.isnan(nanmedian(empty, axis=1)).all() and np.isnan(err_pct(empty, axis=1)).all()
    assert np.isnan(percentiles(empty, [25, 75], axis=1)).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_bimodal_finds_two_separated_groups_a_small_err_pct_hides():
    rng = np.random.default_rng(0)
    two = np.r_[rng.normal(100, 1, 13), rng.normal(245, 2, 8)]  # 21 samples from 99 to 249
    assert bimodal(two) and err_pct(two) < 5
    assert not bimodal(rng.normal(100, 5, 21))
    assert not bimodal(np.r_[rng.normal(100, 1, 20), 300.0])  # one outlier is not a group


def test_cell_stats_uses_pyperfs_vocabulary():
    x = np.array([1.0, 2, 3, 4, 5, np.nan])
    got = cell_stats(x, np.array([0, 0, 1, 1, 2, 2]))
    assert got["n"] == 5 and got["processes"] == 3
    assert (got["min"], got["p25"], got["median"], got["p75"], got["max"]) == (1, 2, 3, 4, 5)
    assert got["mean"] == 3 and got["stdev"] == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    assert cell_stats(np.full(3, np.nan))["n"] == 0


def test_paired_bootstrap_cancels_what_rounds_share():
    """Two kernels that drift together: the paired ratio's interval is narrow, the unpaired
    one is not."""
    rng = np.random.default_rng(1)
    drift = 1 + 0.3 * rng.random(30)
    a, b = 10 * drift, 20 * drift * (1 + 0.001 * rng.standard_normal(30))
    paired = bootstrap_medians([a, b], [None], paired=True)
    loose = bootstrap_medians([a, b], [None, None], paired=False)
    width = [np.subtract(*interval(r[1] / r[0])[::-1]) for r in (paired, loose)]
    assert width[0] < 0.2 * width[1]
    with pytest.raises(ValueError, match="same number of rounds"):
        bootstrap_medians([a, b[:5]], [None], paired=True)


def test_hierarchical_interval_holds_the_spread_between_processes():
    """8 processes, each with its own offset and tight batches: resampling batches only gives
    an interval much narrower than resampling processes first."""
    rng = np.random.default_rng(2)
    process = np.repeat(np.arange(8), 10)
    x = 100 * (1 + 0.05 * rng.standard_normal(8))[process] * (1 + 0.001 * rng.random(80))
    flat = interval(bootstrap_medians([x], [None], paired=False)[0])
    hier = interval(bootstrap_medians([x], [process], paired=False)[0])
    assert (hier[1] - hier[0]) > 2 * (flat[1] - flat[0])
    assert hier[0] <= np.median(x) <= hier[1]


def test_too_few_samples_give_no_interval():
    boot = bootstrap_medians([np.array([1.0, np.nan, 2.0])], [None], paired=False)
    assert np.isnan(boot).all() and np.isnan(interval(boot)[0]).all()


def test_bootstrap_is_deterministic_for_a_seed():
    x = np.arange(20.0)
    one = bootstrap_medians([x], [None], paired=False, rng=np.random.default_rng(5))
    two = bootstrap_medians([x], [None], paired=False, rng=np.random.default_rng(5))
    assert np.array_equal(one, two)


def _direct_replicates(arrays, process, resamples, rng):
    """The bootstrap spelled out, one replicate at a time: draw k processes with replacement,
    then each chosen process's own number of samples from it with replacement."""
    groups = [np.flatnonzero(process == p) for p in np.unique(process)]
    out = np.empty((len(arrays), resamples))
    for t in range(resamples):
        chosen = rng.integers(0, len(groups), len(groups))
        drawn = np.concatenate([rng.choice(groups[c], len(groups[c])) for c in chosen])
        out[:, t] = [np.median(x[drawn]) for x in arrays]
    return out


def _ks_distance(a, b):
    """Largest gap between the empirical distribution functions of a and b."""
    grid = np.union1d(a, b)
    cdf = [np.searchsorted(np.sort(v), grid, side="right") / len(v) for v in (a, b)]
    return np.abs(cdf[0] - cdf[1]).max()


@pytest.mark.parametrize("n, paired", [(15, False), (41, False), (41, True)])
def test_bootstrap_of_one_process_follows_the_exact_distribution_of_the_median(n, paired):
    """For n distinct values (n odd) resampled n at a time, the median is at most the i-th
    lowest value exactly when at least (n + 1) / 2 draws are: P = P(Binomial(n, i / n) >=
    (n + 1) / 2).  Small and large cells, paired or not, take different code paths."""
    x = np.random.default_rng(7).permutation(np.linspace(10, 20, n))
    arrays = [x, np.random.default_rng(8).random(n)] if paired else [x]
    boot = bootstrap_medians(arrays, [None], paired=paired, resamples=20_000)[0]
    exact = [sum(comb(n, j) * (i / n) ** j * (1 - i / n) ** (n - j)
                 for j in range((n + 1) // 2, n + 1)) for i in range(1, n + 1)]
    got = np.searchsorted(np.sort(boot), np.sort(x), side="right") / len(boot)
    assert np.abs(got - exact).max() < 0.02  # Kolmogorov: 0.014 at 1 in 1,000


@pytest.mark.parametrize("sizes", [(3, 7, 40, 5, 60), (4, 9, 6, 2, 8, 5), (80,), (30, 30, 30)])
def test_hierarchical_bootstrap_matches_resampling_done_one_replicate_at_a_time(sizes):
    """Processes (of unequal sizes or not) with their own offsets, one array and a paired
    ratio: the replicates and intervals match the direct implementation within Monte-Carlo
    error."""
    rng = np.random.default_rng(4)
    process = np.repeat(np.arange(len(sizes)), sizes)
    x = 100 * (1 + 0.05 * rng.standard_normal(len(sizes)))[process] \
        * (1 + 0.02 * rng.standard_normal(len(process)))
    y = x * (1 + 0.01 * rng.standard_normal(len(process)))
    ref = _direct_replicates([x, y], process, 4000, np.random.default_rng(1))
    one = bootstrap_medians([x], [process], paired=False, resamples=4000)[0]
    both = bootstrap_medians([x, y], [process], paired=True, resamples=4000)
    for new, old in ((one, ref[0]), (both[0], ref[0]), (both[1] / both[0], ref[1] / ref[0])):
        assert _ks_distance(new, old) < 0.05  # two samples of 4,000: 0.05 at 1 in 10,000
        # The few processes make the distribution lumpy: its tails move in steps.
        (low, high), (ref_low, ref_high) = interval(new), interval(old)
        assert abs(low - ref_low) < 0.2 * (ref_high - ref_low)
        assert abs(high - ref_high) < 0.2 * (ref_high - ref_low)


def test_bootstrap_of_a_huge_cell_works_in_bounded_blocks():
    """100,000 paired rounds, 300 resamples: a table of every replicate would take 240 MB per
    array; the bootstrap works through blocks of replicates instead."""
    import tracemalloc
    x = np.random.default_rng(0).lognormal(3, 0.1, 100_000)
    tracemalloc.start()
    try:
        boot = bootstrap_medians([x, 2 * x], [None], paired=True, resamples=300)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 150 * 2**20
    assert np.allclose(boot[1], 2 * boot[0]) and np.isfinite(boot).all()


def test_cells_stats_of_a_whole_array_equal_cell_stats_of_each_cell():
    """The whole-array form (what Result.stats() uses, so many small cells cost time per
    sample, not per Python call) gives each cell's cell_stats, NaN and processes included."""
    from alloca_bench.results._stats import cells_stats

    rng = np.random.default_rng(3)
    x = rng.lognormal(2, 0.3, (4, 3, 12))
    x[0, 0] = np.nan
    x[1, 1, :10] = np.nan
    x[2, 2, ::2] = np.nan
    x[3, 0, 6:] *= 3  # two groups
    proc = rng.integers(0, 3, x.shape)
    every = cells_stats(x, proc)
    for index in np.ndindex(4, 3):
        one = cell_stats(x[index], proc[index])
        for key, value in one.items():
            np.testing.assert_equal(every[key][index], value, err_msg=f"{key} at {index}")
