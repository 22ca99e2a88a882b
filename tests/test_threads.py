"""ab.threads() (measuring.threads): every strategy at every size with 1 and N threads of one
runner process, interleaved; each thread's ns/op and the team's span kept; cells a pattern
cannot run are "unavailable" with the reason; counts above the usable CPUs oversubscribed;
bad arguments refused before anything runs."""
import os

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.measuring.runner_transport import cpus
from alloca_bench.sizes import loguniform

QUICK = {"iterations": 2000, "repeats": 3, "warmup": 0, "processes": 1}


def test_threads_keeps_each_threads_ns_and_the_teams_span():
    r = ab.threads(["alloca", "malloc"], [64], threads=2, **QUICK)
    assert r.complete and r.threads == (1, 2)  # 1 is always measured: the reference
    assert r.strategies == ("baseline", "alloca", "malloc")  # the control is always added
    assert r.ns_per_op.shape == (3, 1, 2, 3, 2) and r.span_ns_per_op.shape == (3, 1, 2, 3)
    assert np.isnan(r.ns_per_op[:, :, 0, :, 1]).all()  # one thread: no thread 1
    assert not np.isnan(r.ns_per_op[:, :, 1]).any()
    # a team's batch lasts at least as long as its slowest thread's
    assert (r.span_ns_per_op[:, :, 1] >= np.nanmax(r.ns_per_op[:, :, 1], axis=-1) * 0.999).all()
    assert np.allclose(r.scaling()[..., 0], 1.0) and (r.scaling() > 0).all()
    assert (r.batch_iterations == 2000).all() and r.params["cpus"] == cpus()
    assert (r.process[:, :, :, :] == 0).all()


def test_cross_cells_of_the_stack_are_unavailable_with_the_reason_and_the_rest_run():
    r = ab.threads(["alloca", "malloc"], [64], threads=2, pattern="cross", **QUICK)
    assert r.status.tolist() == [[["ok", "ok"]], [["unavailable"] * 2], [["ok", "ok"]]]
    assert "lives exactly as long as the frame" in r.reasons[("alloca", 64, 2)]
    assert np.isnan(r.ns_per_op[1]).all() and not np.isnan(r.ns_per_op[2, :, :, :, 0]).any()
    assert set(r.reasons) == {("alloca", 64, 1), ("alloca", 64, 2)}


def test_counts_above_the_usable_cpus_are_oversubscribed():
    n = cpus() + 1
    r = ab.threads(["malloc"], [64], threads=n, **QUICK)
    assert r.oversubscribed == (n,)


def test_a_size_distribution_stands_at_its_mean_and_is_named():
    dist = loguniform(16, 4096, seed=1)
    r = ab.threads(["malloc"], [dist], threads=2, **QUICK)
    assert r.sizes.tolist() == [round(dist.mean())]
    assert r.params["size_distributions"] == {str(round(dist.mean())): str(dist)}


@pytest.mark.parametrize("bad, error, message", [
    ({"threads": 0}, ValueError, "threads must be ints from 1 to 64"),
    ({"threads": (1, "2")}, ValueError, "threads must be ints"),
    ({"threads": "2"}, TypeError, "threads must be an int or a sequence of ints"),
    ({"pattern": "shared"}, ValueError, "pattern must be one of same, cross, hold"),
    ({"repeats": 0}, ValueError, "repeats"),
    ({"iterations": [1, 2]}, TypeError, "iterations"),
    ({"sizes": 64}, TypeError, "sizes must be a sequence"),
    ({"strategies": ["malloc", "malloc"]}, ValueError, "strategies must be distinct"),
    ({"strategies": None}, TypeError, r"strategies must be a sequence of names, not NoneType"),
    ({"strategies": 5}, TypeError, r"strategies must be a sequence of names, not int \(5\)"),
])
def test_bad_arguments_raise_before_measuring(bad, error, message):
    args = {"strategies": ["malloc"], "sizes": [64], **QUICK, **bad}
    with pytest.raises(error, match=message):
        ab.threads(args.pop("strategies"), args.pop("sizes"), **args)


def test_ctrl_c_keeps_each_threads_figures_and_names_the_cells_it_cut_short(monkeypatch):
    """The executor stopped after round 0 (Ctrl-C): every cell keeps its round-0 figures per
    thread, and its status and reason are keyed (strategy, size, thread count)."""
    from alloca_bench.measuring import threads as module
    from alloca_bench.measuring._framing import Sample
    from alloca_bench.measuring.executor import Samples

    def interrupted(plan, transport, *, shield=None, on_sample=None, on_raw=None):
        n, repeats = len(plan.cells), plan.options.repeats
        got = Samples(*(np.full((n, repeats), np.nan) for _ in range(3)),
                      process=np.full((n, repeats), -1), iterations=np.full(n, 100),
                      records=[None] * n, interrupted=True)
        for c, cell in enumerate(plan.cells):
            k = dict(cell.fields)["threads"]
            got.ns_per_op[c, 0], got.minor_faults_per_op[c, 0] = 5.0, 0.0
            got.major_faults_per_op[c, 0], got.process[c, 0] = 0.0, 0
            on_raw(c, 0, tuple(Sample(c, 0, 5.0 + t, 0, 0, t, k, 7.0) for t in range(k)))
        got.status = ["interrupted"] * n
        return got

    monkeypatch.setattr(module, "execute", interrupted)
    r = ab.threads(["malloc"], [64], threads=2, **QUICK)
    assert (r.status == "interrupted").all() and not r.complete
    assert r.reasons[("malloc", 64, 2)] == "interrupted (Ctrl-C) after 1 of 3 rounds"
    assert r.ns_per_op[1, 0, 1, 0].tolist() == [5.0, 6.0]
    assert np.isnan(r.ns_per_op[..., 1:, :]).all()  # rounds 1 and 2 never ran
    assert r.span_ns_per_op[1, 0, :, 0].tolist() == [7.0, 7.0]


# ---- kernel=: the user's own function, as in sweep() ----------------------------------------

STRIDE_64 = """
#include <stddef.h>
void work(char *buf, size_t n) { for (size_t i = 0; i < n; i += 64) buf[i] = (char)i; }
void null_write(char *buf, size_t n) { (void)buf; (void)n; *(volatile char *)0 = 1; }
"""


@pytest.fixture
def stride_kernel(tmp_path, monkeypatch):
    """The kernel writing one byte every 64, compiled into a cache of the test's own."""
    monkeypatch.setenv("ALLOCA_BENCH_CACHE", str(tmp_path / "cache"))
    return ab.kernel(STRIDE_64)


def test_a_kernel_runs_in_every_thread_and_is_recorded_and_saved(stride_kernel, tmp_path):
    r = ab.threads(["alloca", "malloc"], [4096], threads=2, kernel=stride_kernel, **QUICK)
    assert r.complete and r.touch == "kernel"
    assert not np.isnan(r.ns_per_op[:, :, 1]).any()  # both threads of every 2-thread cell
    recorded = r.params["kernel"]
    assert recorded["sha256"] == stride_kernel.sha256 and recorded["source"] == STRIDE_64
    assert recorded["stack_bytes"] > 0  # measured in the cells' processes
    r.save(tmp_path / "t.json")
    loaded = ab.load(tmp_path / "t.json")
    assert loaded.touch == "kernel" and loaded.params["kernel"] == recorded


def test_a_kernel_writing_through_null_is_that_cells_signal_and_the_others_run(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv("ALLOCA_BENCH_CACHE", str(tmp_path / "cache"))
    k = ab.kernel(STRIDE_64, function="null_write")
    r = ab.threads(["malloc"], [64], threads=2, kernel=k, **QUICK)
    assert r.status.tolist() == [[["ok", "ok"]], [["failed", "failed"]]]  # baseline, malloc
    assert "signal 11" in r.reasons[("malloc", 64, 2)]


def test_a_kernel_replaces_touch_and_must_be_a_kernel(stride_kernel):
    with pytest.raises(ValueError, match="kernel= replaces the touch mode"):
        ab.threads(["malloc"], [64], kernel=stride_kernel, touch="full", **QUICK)
    with pytest.raises(TypeError, match="kernel must be an alloca_bench.kernel"):
        ab.threads(["malloc"], [64], kernel="work", **QUICK)


def test_threads_takes_at_most_12_parameters_and_no_progress():
    """A bar shows while someone watches (measuring._progress.watched), as in sweep()."""
    import inspect

    names = inspect.signature(ab.threads).parameters
    assert len(names) <= 12 and "kernel" in names and "progress" not in names


def test_a_team_on_the_cpus_asked_counts_them_and_records_the_set():
    """With one CPU asked, two threads share it: oversubscribed, whatever the machine has."""
    last = sorted(os.sched_getaffinity(0))[-1]
    r = ab.threads(["malloc"], [64], threads=2, cpus=[last],
                   **{**QUICK, "iterations": "1ms"})
    assert r.params["affinity"] == [last] and r.params["cpus"] == 1
    assert r.params["runner_cpus"] == [last] and r.params["target_batch_ns"] == 1e6
    assert r.oversubscribed == (2,) and r.complete
