"""Threads and patterns (csrc/patterns.c, measure/threads.py): a team cell sends every thread's
sample of a round in one record; sweeps keep each thread's ns/op on a thread axis with
throughput and scaling derived from it; cross/hold run for heap strategies and are refused,
with the reason, for stack strategies; runs above the usable CPUs are marked oversubscribed."""
import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench import native
from alloca_bench.measuring import _framing as framing
from alloca_bench.measuring import runner as client
from alloca_bench.measuring import threads as team
from alloca_bench.measuring.contention import gather_threads
from alloca_bench.measuring.runner_transport import cpus
from alloca_bench.exceptions import WorkerError
from alloca_bench.present.threads import threads_table

MALLOC, CALLOC, MMAP, ALLOCA, BASELINE = (native.STRATEGIES.index(s) for s in (
    "malloc", "calloc", "mmap", "alloca", "baseline"))
FAST = {"touch": 1, "iterations": 2000, "warmup": 1}
QUICK = {"iterations": 2000, "repeats": 3, "warmup": 0, "processes": 1}


def run(cells, rounds):
    records = []
    client.run_plan(framing.plan_text(cells, rounds), lambda k, r: records.append((k, r)))
    return records


def test_a_team_cell_sends_each_threads_sample_in_one_record():
    records = run([{"id": 0, "strategy": MALLOC, "size": 64, "threads": 2, **FAST},
                   {"id": 1, "strategy": ALLOCA, "size": 64, "threads": 1, **FAST}],
                  [(0, [0, 1]), (1, [1, 0])])
    cells = {r["cell"]: r for k, r in records if k == framing.CELL}
    assert (cells[0]["threads"], cells[0]["pattern"], cells[0]["cpus"]) == (2, "same", cpus())
    samples = [r for k, r in records if k == framing.SAMPLE]
    two = [r for r in samples if isinstance(r, tuple)]
    assert len(two) == 2 and all(len(r) == 2 for r in two)
    assert [(s.thread, s.threads, s.cell) for s in two[0]] == [(0, 2, 0), (1, 2, 0)]
    assert all(s.ns_per_op > 0 for r in two for s in r)
    one = [r for r in samples if isinstance(r, framing.Sample)]
    assert [(s.cell, s.thread, s.threads) for s in one] == [(1, 0, 1), (1, 0, 1)]


@pytest.mark.parametrize("pattern", ["cross", "hold"])
def test_cross_and_hold_run_for_every_heap_kernel_and_refuse_the_stack(pattern):
    cells = [{"id": i, "strategy": s, "size": 4096, "threads": 2, "pattern": pattern, **FAST}
             for i, s in enumerate((MALLOC, CALLOC, MMAP, ALLOCA, BASELINE))]
    records = run(cells, [(0, [0, 1, 2, 3, 4])])
    failed = {r["cell"]: r for k, r in records if k == framing.FAILED}
    assert set(failed) == {3} and failed[3]["status"] == native.lib.AB_EUNAVAILABLE
    measured = {r[0].cell for k, r in records if k == framing.SAMPLE}
    assert measured == {0, 1, 2, 4}  # the baseline passes a pointer through the pattern


@pytest.mark.parametrize("field", ["threads=0", "threads=65", "pattern=shared", "window=0",
                                   "dist=normal", "low=x"])
def test_bad_team_fields_are_plan_errors(field):
    key, value = field.split("=")
    plan = framing.plan_text([{"id": 0, "strategy": MALLOC, "touch": 0, "size": 64,
                               key: value}], [])
    with pytest.raises(WorkerError, match=rf"exit status 3.*bad value for cell field {key}"):
        client.run_plan(plan, lambda kind, record: None)


def test_a_thread_run_keeps_a_thread_axis_with_throughput_and_scaling():
    r = gather_threads((2,), (64,), repeats=3, allocator_names=[])
    assert r.complete and r.threads == (1, 2)  # 1 is always measured: the reference
    assert r.thread_ns_per_op.shape == (2, 4, 1, 1, 3, 2)
    assert np.isnan(r.thread_ns_per_op[0, ..., 1]).all()  # one thread: no thread 1
    assert not np.isnan(r.thread_ns_per_op[1]).any()
    # the main arrays are the 1-thread cells
    assert np.array_equal(r.ns_per_op, r.thread_ns_per_op[0, ..., 0])
    # a team's batch lasts at least as long as its slowest thread's
    assert (r.thread_span_ns_per_op[1] >= np.nanmax(r.thread_ns_per_op[1], axis=-1) * 0.999).all()
    assert np.allclose(r.scaling()[0], 1.0)
    assert (r.scaling()[1] > 0).all() and (r.throughput() > 0).all()
    assert r.params["cpus"] == cpus() and r.params["threads"] == [1, 2]
    table = threads_table(r)
    assert "efficiency" in table and " / " in table


def test_threads_above_the_usable_cpus_are_oversubscribed():
    n = cpus() + 1
    r = gather_threads((n,), (64,), repeats=2, allocator_names=[])
    assert r.params["oversubscribed"] == [n] == r.oversubscribed()
    assert "oversubscribed" in threads_table(r)


def test_thread_counts_may_be_numpy_ints_and_nothing_else():
    assert team.check_threads(np.int64(2)) == team.check_threads(np.array([2])) == (1, 2)
    assert all(type(t) is int for t in team.check_threads(np.arange(1, 4)))  # plain JSON ints
    with pytest.raises(TypeError, match=r"threads must be an int or a sequence of ints, not str"):
        team.check_threads("2")


@pytest.mark.parametrize("bad, message", [
    ({"thread_counts": 0}, "threads must be ints from 1 to 64"),
    ({"thread_counts": (1, "2")}, "threads must be ints"),
    ({"pattern": "shared"}, "pattern must be one of same, cross, hold"),
])
def test_bad_thread_arguments_raise_before_measuring(bad, message):
    with pytest.raises(ValueError, match=message):
        gather_threads(**{"sizes": (64,), "repeats": 2, "allocator_names": [], **bad})


def test_scaling_comes_from_the_teams_span_paired_by_round(make_result):
    """1 thread at 10 ns/op; 2 threads at 10 ns/op each but one after the other (the team's
    batch spans 20 ns/op): the same total work as 1 thread, efficiency 0.5."""
    ns = np.full((3, 2, 1, 4), 10.0)
    r = make_result(ns)
    per_thread = np.full((2,) + ns.shape + (2,), np.nan)
    per_thread[0, ..., 0] = 10.0
    per_thread[1] = 10.0
    span = np.stack([np.full(ns.shape, 10.0), np.full(ns.shape, 20.0)])
    span[:, :, :, :, 3] *= 3  # a slow round slows both counts: pairing cancels it
    r = ab.Result(**{**r.__dict__, "threads": (1, 2), "thread_ns_per_op": per_thread,
                     "thread_span_ns_per_op": span})
    assert np.allclose(r.scaling()[1], 0.5) and np.allclose(r.throughput()[1], 1e8)
    assert np.allclose(r.thread_median()[1], 10.0)
    with pytest.raises(ValueError, match="thread_span_ns_per_op must come with"):
        ab.Result(**{**r.__dict__, "thread_span_ns_per_op": None})
    again = ab.Result.from_dict(r.to_dict())
    assert again.threads == (1, 2) and np.allclose(again.scaling(), r.scaling(), equal_nan=True)
    with pytest.raises(ValueError, match="no thread axis"):
        make_result(ns).scaling()


def test_same_cpu_efficiency_ignores_a_slower_other_cpu(make_result):
    """Thread 1's CPU runs 30% slower: the span (and scaling) suffer, thread 0 does not; when
    thread 0 itself slows down beside the other (contention), the same-CPU figure says so."""
    ns = np.full((3, 2, 1, 4), 10.0)
    base = make_result(ns)
    per_thread = np.full((2,) + ns.shape + (2,), np.nan)
    per_thread[0, ..., 0] = 10.0
    per_thread[1, ..., 0], per_thread[1, ..., 1] = 10.0, 13.0
    span = np.stack([np.full(ns.shape, 10.0), np.full(ns.shape, 13.0)])
    r = ab.Result(**{**base.__dict__, "threads": (1, 2), "thread_ns_per_op": per_thread,
                     "thread_span_ns_per_op": span})
    assert np.allclose(r.scaling()[1], 10 / 13) and np.allclose(r.same_cpu_efficiency()[1], 1)
    per_thread[1, ..., 0] = 20.0  # contention: thread 0 takes twice as long beside thread 1
    r = ab.Result(**{**r.__dict__, "thread_ns_per_op": per_thread})
    assert np.allclose(r.same_cpu_efficiency()[1], 0.5)
    assert np.allclose(r.same_cpu_efficiency()[0], 1)


def test_plain_cells_get_no_team_fields_so_the_default_run_is_unchanged():
    from alloca_bench.measuring.plan import Cell, Options
    from alloca_bench.measuring.runner_transport import RunnerTransport

    fields = RunnerTransport(Options()).fields(Cell("malloc", "pages", 64), 0)
    assert not {"threads", "pattern", "window", "dist", "low", "seed"} & set(fields)
    assert "tunables" not in fields


def test_a_hold_cell_leaves_the_window_to_the_runners_default():
    """The hold window has one home, AB_HOLD_WINDOW_DEFAULT of csrc/patterns.h: the plan does
    not repeat it."""
    assert team.team_fields(2, "hold", None) == {"threads": 2, "pattern": "hold"}
