"""results.threads_model.ThreadsResultData, the data of a ThreadsResult: per-thread ns/op and
the team's span per (strategy, size, thread count, round); scaling and throughput from the
span, paired by round; same-CPU efficiency from thread 0; a status per cell with the words of
every cell not "ok"."""
import numpy as np
import pytest

from alloca_bench.results import ThreadsResult
from alloca_bench.results.threads_model import ThreadsResultData


def test_the_public_threads_result_is_its_data_with_conveniences(make_threads_result):
    """present/ reads a ThreadsResultData; the ThreadsResult it gets is one."""
    r = make_threads_result()
    assert isinstance(r, ThreadsResultData) and type(r) is ThreadsResult
    assert not hasattr(ThreadsResultData, "table") and not hasattr(ThreadsResultData, "save")
    assert repr(r).startswith("<alloca_bench.ThreadsResult pattern=")


def test_scaling_comes_from_the_teams_span_paired_by_round(make_threads_result):
    """2 threads at 10 ns/op each but one after the other (the team's batch spans 20 ns/op):
    the work of one thread, efficiency 0.5; a slow round slows both counts and cancels."""
    r = make_threads_result()
    slow = r.span_ns_per_op.copy()
    slow[..., 3] *= 3
    r = make_threads_result(span_ns_per_op=slow)
    assert np.allclose(r.scaling()[..., 0], 1) and np.allclose(r.scaling()[..., 1], 0.5)
    assert r.throughput().shape == (2, 1, 2) and np.allclose(r.throughput()[..., 1], 1e8)
    assert np.allclose(r.median()[:, :, 1], 10.0) and np.isnan(r.median()[:, :, 0, 1]).all()


def test_same_cpu_efficiency_ignores_a_slower_other_cpu(make_threads_result):
    """Thread 1's CPU runs 30 % slower: the span (and scaling) suffer, thread 0 does not; when
    thread 0 itself slows down beside the other (contention), the same-CPU figure says so."""
    r = make_threads_result(per_thread_two=10.0, span_two=13.0)
    assert np.allclose(r.scaling()[..., 1], 10 / 13)
    assert np.allclose(r.same_cpu_efficiency(), 1)
    slower = r.ns_per_op.copy()
    slower[:, :, 1, :, 0] = 20.0
    r = make_threads_result(ns_per_op=slower)
    assert np.allclose(r.same_cpu_efficiency()[..., 1], 0.5)


def test_counts_above_the_usable_cpus_are_oversubscribed(make_threads_result):
    assert make_threads_result(cpus=1).oversubscribed == (2,)
    assert make_threads_result(cpus=2).oversubscribed == ()


def test_the_status_defaults_to_ok_where_a_cell_has_samples_else_not_run(make_threads_result):
    span = make_threads_result().span_ns_per_op.copy()
    span[1, 0, 1] = np.nan
    r = make_threads_result(span_ns_per_op=span)
    assert r.status.tolist() == [[["ok", "ok"]], [["ok", "not_run"]]] and not r.complete
    assert r.reasons == {("malloc", 64, 2): "not run"}  # every cell not ok has its words
    assert make_threads_result().complete


@pytest.mark.parametrize("change, message", [
    ({"threads": (2, 3)}, "threads must be distinct increasing counts starting at 1"),
    ({"pattern": "shared"}, "pattern must be one of same, cross, hold"),
    ({"span_ns_per_op": np.ones((2, 1, 2, 3))}, r"span_ns_per_op has shape \(2, 1, 2, 3\)"),
    ({"status": np.full((2, 1, 2), "lost")}, "status holds"),
])
def test_wrong_fields_raise_naming_the_field(make_threads_result, change, message):
    with pytest.raises(ValueError, match=message):
        make_threads_result(**change)
