"""results.threads.ThreadsResult: per-thread ns/op and the team's span per (strategy, size,
thread count, round); scaling and throughput from the span, paired by round; same-CPU
efficiency from thread 0; a status per cell; saved as its own kind and loaded back by ab.load."""
import json

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.exceptions import ResultFileError
from alloca_bench.results import ThreadsResult
from alloca_bench.results.io import from_dict


def made(per_thread_two=10.0, span_two=20.0, strategies=("baseline", "malloc"), rounds=4,
         cpus=2, **kwargs):
    """1 thread at 10 ns/op (span 10), 2 threads at `per_thread_two` each and a team span of
    `span_two` ns/op, for every strategy, at one size (64 B)."""
    cells = (len(strategies), 1, 2)
    per_thread = np.full(cells + (rounds, 2), np.nan)
    per_thread[:, :, 0, :, 0] = 10.0
    per_thread[:, :, 1] = per_thread_two
    span = np.empty(cells + (rounds,))
    span[:, :, 0], span[:, :, 1] = 10.0, span_two
    fields = dict(strategies=strategies, sizes=np.array([64]), threads=(1, 2),
                  pattern="same", touch="pages", ns_per_op=per_thread, span_ns_per_op=span,
                  faults_per_op=np.zeros(cells + (rounds,)),
                  batch_iterations=np.full(cells, 1000), params={"cpus": cpus})
    return ThreadsResult(**{**fields, **kwargs})


def test_scaling_comes_from_the_teams_span_paired_by_round():
    """2 threads at 10 ns/op each but one after the other (the team's batch spans 20 ns/op):
    the work of one thread, efficiency 0.5; a slow round slows both counts and cancels."""
    r = made()
    slow = r.span_ns_per_op.copy()
    slow[..., 3] *= 3
    r = made(span_ns_per_op=slow)
    assert np.allclose(r.scaling()[..., 0], 1) and np.allclose(r.scaling()[..., 1], 0.5)
    assert r.throughput().shape == (2, 1, 2) and np.allclose(r.throughput()[..., 1], 1e8)
    assert np.allclose(r.median()[:, :, 1], 10.0) and np.isnan(r.median()[:, :, 0, 1]).all()


def test_same_cpu_efficiency_ignores_a_slower_other_cpu():
    """Thread 1's CPU runs 30 % slower: the span (and scaling) suffer, thread 0 does not; when
    thread 0 itself slows down beside the other (contention), the same-CPU figure says so."""
    r = made(per_thread_two=10.0, span_two=13.0)
    assert np.allclose(r.scaling()[..., 1], 10 / 13)
    assert np.allclose(r.same_cpu_efficiency(), 1)
    slower = r.ns_per_op.copy()
    slower[:, :, 1, :, 0] = 20.0
    r = made(ns_per_op=slower)
    assert np.allclose(r.same_cpu_efficiency()[..., 1], 0.5)


def test_counts_above_the_usable_cpus_are_oversubscribed():
    assert made(cpus=1).oversubscribed == (2,) and made(cpus=2).oversubscribed == ()


def test_the_status_defaults_to_ok_where_a_cell_has_samples_else_not_run():
    span = made().span_ns_per_op.copy()
    span[1, 0, 1] = np.nan
    r = made(span_ns_per_op=span)
    assert r.status.tolist() == [[["ok", "ok"]], [["ok", "not_run"]]] and not r.complete
    assert r.reasons == {("malloc", 64, 2): "not run"}  # every cell not ok has its words
    assert made().complete


@pytest.mark.parametrize("change, message", [
    ({"threads": (2, 3)}, "threads must be distinct increasing counts starting at 1"),
    ({"pattern": "shared"}, "pattern must be one of same, cross, hold"),
    ({"span_ns_per_op": np.ones((2, 1, 2, 3))}, r"span_ns_per_op has shape \(2, 1, 2, 3\)"),
    ({"status": np.full((2, 1, 2), "lost")}, "status holds"),
])
def test_wrong_fields_raise_naming_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        made(**change)


def test_it_saves_as_its_own_kind_and_ab_load_returns_a_threads_result(tmp_path):
    status = np.array([[["ok", "ok"]], [["unavailable", "unavailable"]]])
    reasons = {("malloc", 64, 1): "no", ("malloc", 64, 2): "no"}
    r = made(status=status, reasons=reasons)
    r.save(tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["kind"] == "threads" and data["schema"] == "alloca_bench.result"
    back = ab.load(tmp_path / "t.json")
    assert isinstance(back, ThreadsResult) and back.threads == (1, 2)
    assert back.reasons == reasons and (back.status == status).all()
    np.testing.assert_array_equal(back.ns_per_op, r.ns_per_op)
    assert np.allclose(back.scaling(), r.scaling(), equal_nan=True)
    with pytest.raises(ResultFileError, match="is a threads result"):
        from_dict(data)


@pytest.mark.parametrize("path, value, message", [
    (("threads",), [2, 3], "threads must rise from 1"),
    (("arrays", "ns_per_op"), [[1.0]], "arrays.ns_per_op must have shape"),
    (("status",), [["ok"]], r"status must have shape \(2, 1, 2\)"),
    (("reasons",), [{"strategy": "malloc"}], "reasons must be a list of"),
    (("schema_version",), 2, "upgrade alloca_bench"),
])
def test_a_damaged_threads_file_names_the_field(tmp_path, replaced, path, value, message):
    made().save(tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text())
    (tmp_path / "bad.json").write_text(json.dumps(replaced(data, path, value)))
    with pytest.raises(ResultFileError, match=message):
        ab.load(tmp_path / "bad.json")
