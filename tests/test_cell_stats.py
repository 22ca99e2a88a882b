"""alloca_bench.results.cell_stats: the per-cell statistics behind Result.stats(), and the net
cost of a result whose strategies did not run interleaved."""
import numpy as np


def test_result_stats_has_every_column_per_cell(clean_result):
    r = clean_result()
    st = r.stats()
    for key in ("n", "processes", "min", "p25", "median", "p75", "max", "mean", "stdev",
                "err_pct", "bimodal", "low", "high", "net", "net_low", "net_high", "resolution"):
        assert st[key].shape == (3, 2, 1), key
    assert (st["processes"] == 8).all() and (st["n"] == 24).all()
    assert np.all(st["low"] <= st["median"]) and np.all(st["median"] <= st["high"])
    assert np.isnan(st["net"][0]).all()  # the baseline's own net is 0 by definition: not shown
    assert np.allclose(st["net"][1], 1.5, rtol=0.02)
    assert np.allclose(st["resolution"], 20 / 100_000)
    assert np.allclose(st["median"], r.median())


def test_net_of_a_result_not_run_interleaved_is_a_difference_of_medians(make_result):
    """pytest-benchmark files: strategies ran one after another, so rounds do not pair."""
    ns = np.empty((2, 1, 1, 5))
    ns[0, 0, 0] = [1.0, 9, 1, 9, 1]  # baseline, drifting
    ns[1, 0, 0] = [9.0, 1, 9, 1, 9]  # alloca, drifting the other way
    paired = make_result(ns, strategies=("baseline", "alloca"), sizes=(64,))
    loose = paired.__class__(**{**paired.__dict__, "params": {"interleaved": False}})
    assert paired.net()[1, 0, 0] == 8.0 and paired.stats()["net"][1, 0, 0] == 8.0
    assert loose.net()[1, 0, 0] == 8.0  # 9 - 1
    ns[1, 0, 0] = [1.0, 9, 1, 9, 9]
    loose = make_result(ns, strategies=("baseline", "alloca"), sizes=(64,))
    loose = loose.__class__(**{**loose.__dict__, "params": {"interleaved": False}})
    assert loose.net()[1, 0, 0] == loose.stats()["net"][1, 0, 0] == 9.0 - 1.0
