"""alloca_bench.analysis.cold: the cold figure is the first batch of the first iteration count,
the warm one the median of the last count (of its later batches when there is one count)."""
import numpy as np

from alloca_bench.analysis.cold import cold_and_warm


def test_cold_is_sample_0_of_the_first_count_and_warm_the_median_of_the_last(make_result):
    ns = np.ones((3, 2, 2, 3))
    ns[:, :, 0, 0] = 50.0  # the first call of each fresh process
    ns[:, :, 1] = [[4.0, 5.0, 9.0]] * 2
    got = cold_and_warm(make_result(ns, iterations=(1, 1000)))
    assert (got["cold_ns"] == 50.0).all() and (got["warm_ns"] == 5.0).all()


def test_with_one_count_the_warm_median_leaves_out_the_cold_sample(make_result):
    ns = np.ones((3, 2, 1, 4))
    ns[:, :, 0] = [100.0, 2.0, 3.0, 4.0]
    got = cold_and_warm(make_result(ns, iterations=(1,)))
    assert (got["cold_ns"] == 100.0).all() and (got["warm_ns"] == 3.0).all()
