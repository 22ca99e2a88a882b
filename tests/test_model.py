"""alloca_bench.results.model: the data of a result (ResultData, Measurement): shapes, the
reductions (median, net, ratio, err%), one cell as a Measurement, and the checks of the fields.
The public Result is a ResultData, so the tests build it."""
import numpy as np
import pytest

from alloca_bench.results import Measurement, Result
from alloca_bench.results._stats import err_pct
from alloca_bench.results.model import ResultData


def test_the_public_result_is_its_data_with_conveniences(known_result):
    """present/ and analysis/ read a ResultData; the Result they get is one."""
    r = known_result()
    assert isinstance(r, ResultData) and type(r) is Result
    assert not hasattr(ResultData, "table") and not hasattr(ResultData, "save")
    assert repr(r).startswith("<alloca_bench.Result touch='pages'")


def test_reductions_have_strategy_size_iterations_shape(known_result):
    r = known_result()
    assert r.median().shape == r.net().shape == r.err_pct().shape == (3, 2, 1)
    assert r.repeats == 4


def test_net_subtracts_the_baseline_of_the_same_round(known_result):
    r = known_result()
    assert r.net()[0].tolist() == [[0.0], [0.0]]
    assert r.net()[1, 0, 0] == 2.0
    assert r.net()[2, 0, 0] == np.median([8.0, 29, 30, 31])


def test_ratio_is_the_ratio_of_the_medians_the_table_shows(known_result):
    r = known_result()
    assert np.all(r.ratio("alloca", "alloca") == 1.0)
    assert r.ratio("malloc", "alloca")[0, 0] == np.median([9.0, 30, 31, 32]) / 3
    assert np.allclose(r.ratio("malloc", "alloca"), r.median()[2] / r.median()[1])


def test_err_pct_is_nanobenchs_median_absolute_percentage_error():
    assert err_pct(np.array([9.0, 10, 10, 11, 30])) == pytest.approx(9.0909, abs=1e-4)
    assert err_pct(np.array([5.0, 5, 5])) == 0.0
    m = Measurement("alloca", 64, "pages", 10, np.array([9.0, 10, 10, 11, 30]),
                    np.zeros(5), np.zeros(5))
    assert m.err_pct() == pytest.approx(100 / 11)


def test_faults_median(known_result):
    assert known_result().median("faults_per_op")[2].tolist() == [[0.0], [2.0]]
    with pytest.raises(ValueError, match="unknown array"):
        known_result().median("bytes")


def test_sel_gives_one_cell_as_a_measurement(known_result):
    cell = known_result().sel("malloc", 64)
    assert cell.strategy == "malloc" and cell.size == 64 and cell.iterations == 1000
    assert cell.ns_per_op.tolist() == [9.0, 30, 31, 32]
    with pytest.raises(KeyError, match="size 65"):
        known_result().sel("malloc", 65)
    with pytest.raises(KeyError, match="'mmap'"):
        known_result().sel("mmap", 64)


def test_shapes_are_checked(known_result):
    r = known_result()
    with pytest.raises(ValueError, match="expected"):
        Result(strategies=r.strategies, sizes=r.sizes[:1], iterations=r.iterations,
               touch="pages", ns_per_op=r.ns_per_op, faults_per_op=r.faults_per_op,
               major_faults_per_op=r.major_faults_per_op, batch_iterations=r.batch_iterations)


@pytest.mark.parametrize("args, text", [
    ((["alloca", "malloc"], 64), "strategy must be one name"),
    (("alloca", [64, 4096]), "size must be one int"),
    (("alloca", 64.0), "size must be one int"),
    (("alloca", 64, [1, 2]), "iterations must be 'auto' or one int"),
])
def test_sel_given_several_values_is_a_type_error(known_result, args, text):
    with pytest.raises(TypeError, match=text):
        known_result().sel(*args)


def test_a_measurement_with_a_missing_batch_leaves_it_out(make_result):
    ns = np.array([[[[1.0, 2.0, 3.0, np.nan]]]])
    m = make_result(ns, strategies=("alloca",), sizes=(64,)).sel("alloca", 64)
    assert m.median() == 2.0
    assert "2.00 ns/op" in repr(m) and "3 batches" in repr(m)


def test_status_and_reason_of_a_cell_reach_its_measurement(known_result):
    r = known_result(complete=False)
    assert not r.complete and r.status.shape == (3, 2, 1)
    assert (r.sel("malloc", 1 << 20).status, r.sel("malloc", 1 << 20).reason) == (
        "interrupted", "interrupted (Ctrl-C)")
    assert (r.sel("malloc", 64).status, r.sel("malloc", 64).reason) == ("ok", "")
    assert known_result().complete


def test_the_repr_of_a_cell_that_is_not_ok_says_its_status_and_reason():
    """A failed cell reads as failed with its reason in a notebook, not as "nan ns/op"."""
    nan = np.full(3, np.nan)
    failed = Measurement("alloca", 64 << 20, "pages", 10, nan, nan, nan, status="failed",
                         reason="alloca of 67108864 bytes does not fit on the stack")
    assert "nan" not in repr(failed)
    assert repr(failed).endswith("0 batches x 10 ops; failed: alloca of 67108864 bytes does "
                                 "not fit on the stack)")
    cut = np.array([2.0, np.nan, np.nan])
    interrupted = Measurement("malloc", 64, "pages", 10, cut, cut * 0, cut * 0,
                              status="interrupted", reason="interrupted (Ctrl-C)")
    assert "2.00 ns/op" in repr(interrupted)
    assert repr(interrupted).endswith("1 batches x 10 ops; interrupted: interrupted (Ctrl-C))")
    ok = Measurement("malloc", 64, "pages", 10, cut, cut * 0, cut * 0)
    assert repr(ok).endswith("1 batches x 10 ops)")


def test_a_status_grid_of_the_wrong_shape_is_refused(known_result):
    r = known_result()
    with pytest.raises(ValueError, match="status has shape"):
        Result(strategies=r.strategies, sizes=r.sizes, iterations=r.iterations, touch="pages",
               ns_per_op=r.ns_per_op, faults_per_op=r.faults_per_op,
               major_faults_per_op=r.major_faults_per_op, batch_iterations=r.batch_iterations,
               status=np.full((3, 1, 1), "ok"))
