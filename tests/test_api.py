"""alloca_bench.measuring.api: measure() and sweep(): validation, the stack guard, calibration,
status per cell, Ctrl-C."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.measuring import MAX_ITERATIONS, api, loop_stack_span
from alloca_bench import native
from alloca_bench.exceptions import NativeError, StackLimitError

SMALL = dict(iterations=50, repeats=3)


@pytest.mark.parametrize("size, exc, text", [
    (0, ValueError, "size must be between 1 and .*, got 0"),
    (-4096, ValueError, "got -4096"),
    (1 << 60, ValueError, "got 1152921504606846976"),
    (64.0, TypeError, "size must be an int, not float"),
    ("64", TypeError, "not str"),
    (True, TypeError, "not bool"),
])
def test_bad_sizes_name_the_value_and_the_limit(size, exc, text):
    with pytest.raises(exc, match=text):
        ab.measure("malloc", size=size)


@pytest.mark.parametrize("kwargs, text", [
    (dict(strategy="sbrk"), "unknown strategy 'sbrk': choose from baseline"),
    (dict(touch="half"), "touch must be one of none, first, pages, full, not 'half'"),
    (dict(iterations=0), "iterations must be between 1 and"),
    (dict(repeats=0), "repeats must be between 1 and"),
    (dict(stack_size=1024), "stack_size must be between 65536 and"),
    (dict(heap="rust"), "heap must be one of fresh, aged, host, host-ctypes, not 'rust'"),
])
def test_bad_arguments_are_value_errors(kwargs, text):
    args = dict(strategy="malloc", size=64, **SMALL)
    args.update(kwargs)
    with pytest.raises(ValueError, match=text):
        ab.measure(args.pop("strategy"), **args)


def test_measure_returns_one_sample_per_batch():
    result = ab.measure("alloca", size=4096, touch="pages", iterations=1000, repeats=9)
    assert result.ns_per_op.shape == result.faults_per_op.shape == (9,)
    assert result.iterations == 1000 and result.size == 4096 and result.touch == "pages"
    assert np.all(result.ns_per_op > 0)
    assert result.median() > 0 and result.err_pct() >= 0


def test_auto_iterations_runs_many_ops_per_batch_for_a_fast_kernel():
    """malloc of 64 B takes well under a microsecond: a ~2 ms batch holds thousands of ops."""
    result = ab.measure("malloc", size=64, iterations="auto", repeats=3)
    assert 1000 < result.iterations <= MAX_ITERATIONS


def test_measure_with_heap_host_ctypes_runs_through_the_ctypes_binding(monkeypatch):
    calls = {"cffi": 0, "ctypes": 0}
    for name in calls:
        bound = native.binding(name)
        original = bound._run

        def counted(*args, _original=original, _name=name):
            calls[_name] += 1
            return _original(*args)

        monkeypatch.setattr(bound, "_run", counted)
    result = ab.measure("vla", size=256, heap="host-ctypes", **SMALL)
    assert result.params["binding"] == "ctypes"
    assert calls["ctypes"] >= 1 and calls["cffi"] == 0


def test_64_mib_alloca_is_refused_on_the_main_thread_with_the_remedy():
    with pytest.raises(StackLimitError) as info:
        ab.measure("alloca", size=64 << 20)
    text = str(info.value)
    assert "67108864 bytes" in text and "stack_size=" in text and "bytes are left" in text
    assert isinstance(info.value, ValueError)


def test_64_mib_alloca_runs_on_a_worker_with_a_large_stack():
    result = ab.measure("alloca", size=64 << 20, stack_size=128 << 20, iterations=2, repeats=2)
    assert np.all(result.ns_per_op > 0)


def test_stack_headroom_is_below_the_main_thread_limit(python_child):
    import resource
    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    headroom = ab.stack_headroom()
    assert 0 < headroom
    if soft != resource.RLIM_INFINITY:
        assert headroom < soft
    # In a fresh interpreter: glibc hands a new thread a cached bigger stack when an earlier
    # thread of this process had one (a 16 MiB stack serves a 4 MiB request).
    code = "import alloca_bench as ab; print(ab.stack_headroom(stack_size=4 << 20))"
    child = python_child(code, check=True)
    assert 0 < int(child.stdout) <= 4 << 20


def test_mmap_faults_every_page_it_touches():
    result = ab.measure("mmap", size=1 << 20, touch="pages", iterations=5, repeats=3)
    assert np.median(result.faults_per_op) >= 256


def test_stack_pages_do_not_fault_after_warm_up():
    result = ab.measure("alloca", size=1 << 20, touch="pages", iterations=20, repeats=5)
    assert np.median(result.faults_per_op) == 0


def test_more_touching_never_means_fewer_faults():
    faults = [np.median(ab.measure("mmap", size=64 << 10, touch=t, iterations=20,
                                   repeats=3).faults_per_op) for t in ab.TOUCHES]
    assert faults == sorted(faults)
    assert faults[0] == 0 and faults[-1] >= 16


def test_sweep_arrays_have_strategy_size_iterations_repeat_axes():
    r = ab.sweep(sizes=[4096, 64], strategies=("alloca", "malloc"), iterations=(1, 100),
                 repeats=4)
    assert r.strategies == ("baseline", "alloca", "malloc")
    assert r.sizes.tolist() == [64, 4096]
    assert r.iterations == (1, 100)
    assert r.ns_per_op.shape == r.faults_per_op.shape == (3, 2, 2, 4)
    assert r.batch_iterations[:, :, 0].tolist() == [[1, 1]] * 3
    assert r.complete and not np.isnan(r.ns_per_op).any()
    assert r.median().shape == r.net().shape == (3, 2, 2)
    assert np.all(r.net()[0] == 0)


def test_sweep_records_machine_build_and_timing():
    r = ab.sweep(sizes=[64], strategies=("alloca",), repeats=3)
    assert r.machine["build_package_version"] == ab.__version__
    assert r.machine["stack_headroom"] > 0 and "cpu_model" in r.machine
    assert 0 < r.timing["in_batch_s"] <= r.timing["wall_s"]
    assert 0 < r.timing["in_batch_fraction"] <= 1


def test_sweep_refuses_a_stack_size_too_big_before_measuring_in_this_process():
    with pytest.raises(StackLimitError):
        ab.sweep(sizes=[64, 64 << 20], strategies=("malloc", "alloca"), repeats=3, heap="host")


def test_in_the_runner_a_refused_cell_is_recorded_and_the_others_measured():
    r = ab.sweep(sizes=[64, 64 << 20], strategies=("alloca",), iterations=10, repeats=3)
    a = r.strategies.index("alloca")
    assert r.status[a, :, 0].tolist() == ["ok", "failed"]
    reason = r.reasons[("alloca", 64 << 20, 10)]
    assert "bytes are left" in reason and "stack_size=" in reason
    assert np.isnan(r.ns_per_op[a, 1]).all() and not np.isnan(r.ns_per_op[a, 0]).any()
    assert (r.process[a, 1] == -1).all() and not r.complete


def test_sweep_rejects_bad_axes():
    with pytest.raises(ValueError, match="sizes is empty"):
        ab.sweep(sizes=[], repeats=3)
    with pytest.raises(ValueError, match="distinct"):
        ab.sweep(sizes=[64], strategies=("malloc", "malloc"), repeats=3)
    with pytest.raises(ValueError, match="iterations must be between"):
        ab.sweep(sizes=[64], iterations=(1, 0), repeats=3)


def _fail_on_call(monkeypatch, exc, *, after=None, strategy=None):
    """Make the cffi binding raise `exc` on the call after `after` calls, or for `strategy`."""
    real = native._CffiBinding.run
    calls = {"n": 0}

    def run(self, name, *args, **kwargs):
        calls["n"] += 1
        if (after is not None and calls["n"] > after) or name == strategy:
            raise exc
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(native._CffiBinding, "run", run)


def test_ctrl_c_returns_what_was_measured_marked_incomplete(monkeypatch):
    _fail_on_call(monkeypatch, KeyboardInterrupt(), after=20)
    r = ab.sweep(sizes=[64, 128], strategies=("alloca",), iterations=10, repeats=5, heap="host")
    assert not r.complete and "interrupted" in r.status
    measured = ~np.isnan(r.ns_per_op)
    assert measured.any() and not measured.all()
    short = [key for key, reason in r.reasons.items() if "Ctrl-C" in reason]
    assert short and all("of 5 rounds" in r.reasons[key] for key in short)


def test_after_ctrl_c_in_this_process_a_second_one_cannot_lose_the_result(monkeypatch):
    """While the interrupted host sweep builds its Result, SIGINT is ignored; then restored."""
    _fail_on_call(monkeypatch, KeyboardInterrupt(), after=20)
    seen = []
    real = api.Result
    monkeypatch.setattr(api, "Result",
                        lambda **kw: seen.append(signal.getsignal(signal.SIGINT)) or real(**kw))
    before = signal.getsignal(signal.SIGINT)
    r = ab.sweep(sizes=[64, 128], strategies=("alloca",), iterations=10, repeats=5, heap="host")
    assert "interrupted" in r.status and seen == [signal.SIG_IGN]
    assert signal.getsignal(signal.SIGINT) is before


def test_a_failing_strategy_is_recorded_and_the_others_go_on(monkeypatch):
    _fail_on_call(monkeypatch, NativeError("malloc of 64 bytes: no memory"), strategy="malloc")
    r = ab.sweep(sizes=[64], strategies=("alloca", "malloc"), iterations=10, repeats=3,
                 heap="host")
    assert r.status[:, 0, 0].tolist() == ["ok", "ok", "failed"]
    assert r.reasons == {("malloc", 64, 10): "malloc of 64 bytes: no memory"}
    assert not r.complete
    assert not np.isnan(r.ns_per_op[r.strategies.index("alloca")]).any()
    assert np.isnan(r.ns_per_op[r.strategies.index("malloc")]).all()


def test_alloca_in_a_loop_keeps_every_buffer_until_return():
    spans = [loop_stack_span("alloca", 4096, count) for count in (1, 10, 100)]
    assert spans[0] >= 4096 and spans[1] >= 10 * 4096 and spans[2] >= 100 * 4096


def test_a_vla_in_a_loop_is_released_every_iteration():
    assert loop_stack_span("vla", 4096, 100) < 2 * 4096


def test_loop_span_is_guarded_and_runs_on_a_big_worker_stack():
    reserved = r"100 x alloca in a loop, each of 1048576 bytes \(the compiler reserves 10485\d+"
    with pytest.raises(StackLimitError, match=reserved):
        loop_stack_span("alloca", 1 << 20, 100)
    assert loop_stack_span("alloca", 1 << 20, 100, stack_size=128 << 20) >= 100 << 20
    with pytest.raises(ValueError, match="'malloc'"):
        loop_stack_span("malloc", 64, 2)


def _interrupted_child(call: str, busy_for, cpu_s: float = 0.5) -> str:
    """Start `call` in a child interpreter, send it SIGINT (Ctrl-C) once it (and the processes
    it started) used `cpu_s` CPU seconds in the C run; return what it printed.  A child still
    running 60 s after the signal (the Ctrl-C
    did not stop the C loop) fails the test."""
    code = textwrap.dedent(f"""
        import signal
        import alloca_bench as ab
        # a background job's child inherits SIGINT ignored: Ctrl-C works as in a terminal here
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("go", flush=True)
        try:
            m = {call}
            print("kept", len(m.ns_per_op), m.status, m.ns_per_op.min() > 0)
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "go"
        busy_for(child.pid, cpu_s)
        child.send_signal(signal.SIGINT)
        return child.communicate(timeout=60)[0]
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("kwargs", ["heap='host'", "heap='host', stack_size=1 << 20",
                                    "heap='host-ctypes'"])
def test_ctrl_c_stops_a_billion_iteration_measure(kwargs, busy_for):
    """Each batch of 10**9 ops lasts seconds and 50 of them minutes; Ctrl-C stops it at once
    (the C loop looks at an abort flag between chunks of ops)."""
    out = _interrupted_child(
        f"ab.measure('alloca', 4096, iterations=10**9, repeats=50, warmup=0, {kwargs})",
        busy_for)
    assert out.split("\n")[0] == "KeyboardInterrupt"  # no batch was complete: nothing to keep


@pytest.mark.parametrize("where, repeats", [("heap='host'", 10**6), ("processes=1", 10**5)])
def test_ctrl_c_keeps_the_batches_measured_before_it(where, repeats, busy_for):
    """In this process (host) and in the runner alike, the batches done before Ctrl-C are kept."""
    out = _interrupted_child(
        f"ab.measure('baseline', 64, iterations=100_000, repeats={repeats}, warmup=0, {where})",
        busy_for)
    word, batches, interrupted, positive = out.split()
    assert (word, interrupted, positive) == ("kept", "interrupted", "True")
    assert 0 < int(batches) < repeats


def test_a_run_not_interrupted_says_so():
    assert ab.measure("malloc", 64, heap="host", **SMALL).status == "ok"
    assert ab.measure("malloc", 64, processes=1, **SMALL).status == "ok"


def _interrupted_runner(rounds_done):
    """A RunnerTransport.run stand-in: Ctrl-C after `rounds_done` of the cell's rounds."""
    def run(self, cells, iterations, rounds, sink):
        sink.prepared(0, 50, None)
        for r, _ in list(rounds)[:rounds_done]:
            sink.sample(0, r, (7.0 + r, 0.0, 0.0))
        raise KeyboardInterrupt
    return run


def test_ctrl_c_in_the_runner_keeps_the_batches_measured_before_it(monkeypatch):
    monkeypatch.setattr(api.RunnerTransport, "run", _interrupted_runner(2))
    m = ab.measure("malloc", 64, iterations=50, repeats=5, processes=1)
    assert m.ns_per_op.tolist() == [7.0, 8.0] and m.faults_per_op.tolist() == [0.0, 0.0]
    assert m.status == "interrupted" and m.params["process"] == [0, 0]
    assert m.reason == "interrupted (Ctrl-C) after 2 of 5 rounds"
    monkeypatch.setattr(api.RunnerTransport, "run", _interrupted_runner(0))
    with pytest.raises(KeyboardInterrupt):
        ab.measure("malloc", 64, iterations=50, repeats=5)


def test_measure_raises_the_error_of_its_failed_cell_from_the_same_path_as_sweep():
    with pytest.raises(ab.StackLimitError, match="bytes are left"):
        ab.measure("alloca", 64 << 20, iterations=10, warmup=0)
    m = ab.measure("malloc", 4096, touch="none", repeats=4, processes=2, iterations=10)
    assert m.params["process"] == [0, 0, 1, 1] and m.params["heap"] == "fresh"


def test_measure_and_sweep_take_at_most_12_parameters_and_no_thread_options():
    """DESIGN v3: sweep at most 12 parameters, kernel= and cpus= among them; no progress= (a
    bar shows while someone watches), binding= (heap="host-ctypes") or min_time= (a duration
    as iterations=) either."""
    import inspect

    for function in (ab.measure, ab.sweep):
        names = inspect.signature(function).parameters
        assert len(names) <= 12 and {"kernel", "cpus"} <= set(names)
        assert not {"threads", "pattern", "isolate", "backend", "binding", "mmap_threshold",
                    "progress", "min_time"} & set(names)


def test_sweep_takes_a_numpy_int_for_iterations_like_measure():
    r = ab.sweep(sizes=[64], strategies=["malloc"], iterations=np.int64(5), repeats=2)
    assert r.iterations == (5,) and r.batch_iterations.tolist() == [[[5]], [[5]]]


@pytest.mark.parametrize("kwargs, text", [
    (dict(sizes=5), "sizes must be a sequence of ints"),
    (dict(strategies=5), "strategies must be a sequence of names"),
    (dict(iterations=5.0), "iterations must be 'auto', an int, a duration such as '5ms' or a "),
])
def test_sweep_says_which_argument_has_the_wrong_type(kwargs, text):
    with pytest.raises(TypeError, match=text):
        ab.sweep(**kwargs)


def test_a_sweep_too_big_to_hold_is_refused_before_it_allocates():
    with pytest.raises(ValueError, match=r"= 85000000 samples; one call holds at most 4194304"):
        ab.sweep(repeats=10**6)


def test_a_call_touching_too_many_pages_is_refused_before_it_starts():
    with pytest.raises(ValueError, match=r"touch at least 8388608000 pages .* at most 268435456"):
        ab.measure("malloc", 1 << 30, iterations=1000, repeats=31)
    with pytest.raises(ValueError, match="size must be between 1 and 1073741824"):
        ab.measure("malloc", 1 << 31)


def test_a_malformed_allocators_variable_is_refused_before_measuring(monkeypatch):
    """ALLOCA_BENCH_ALLOCATORS is read when each strategy's placement is named, after the
    rounds: a bad value threw the whole sweep away, even without a malloc@ strategy."""
    ran = []
    monkeypatch.setattr(api, "execute", lambda *a, **k: ran.append(1))
    monkeypatch.setenv("ALLOCA_BENCH_ALLOCATORS", "bogus")
    with pytest.raises(ValueError, match="ALLOCA_BENCH_ALLOCATORS entry 'bogus'"):
        ab.sweep(sizes=[64], strategies=["malloc"], iterations=10, repeats=2)
    assert ran == []


class _NoProc:
    """The binding of a machine without /proc: its stack headroom cannot be read."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def stack_headroom(self, stack_size=0):
        raise NativeError("cannot read /proc/self/maps")


def test_a_stack_headroom_that_cannot_be_read_is_recorded_not_raised_over_the_samples(
        monkeypatch):
    real = native.binding
    monkeypatch.setattr(native, "binding", lambda *a: _NoProc(real(*a)))
    r = ab.sweep(sizes=[64], strategies=["malloc", "calloc"], iterations=10, repeats=2)
    assert r.complete and not np.isnan(r.ns_per_op).any()
    assert r.machine["stack_headroom_error"] == "cannot read /proc/self/maps"


@pytest.mark.parametrize("heap", ["fresh", "host"])
def test_a_result_counts_the_batches_retaken_as_preempted(contended_cpu, heap):
    """Batches beside a busy process on the same CPU are retaken, in the runner and in this
    process, and the result counts the retakes and the batches still preempted after them."""
    m = ab.measure("baseline", 64, iterations=50_000_000, repeats=3, warmup=1, heap=heap)
    assert m.params["retaken_batches"] > 0
    assert 0 <= m.params["preempted_batches"] <= 3


def test_every_cell_process_says_where_its_ops_landed_within_a_page():
    """params["layout"]: per cell and process, the page offset of the frame the ops run below
    and, for heap cells, of the block malloc hands out: what to set a two-state figure beside."""
    r = ab.sweep(sizes=[64], strategies=("malloc", "vla"), touch="none", iterations=1000,
                 repeats=2, processes=2)
    got = {(x["strategy"], x["process"]): x for x in r.params["layout"]}
    assert set(got) == {(s, p) for s in ("baseline", "malloc", "vla") for p in (0, 1)}
    assert all(0 <= x["stack_offset"] < 4096 for x in got.values())
    assert all(0 <= got["malloc", p]["heap_offset"] < 4096 for p in (0, 1))
    assert "heap_offset" not in got["vla", 0]



@pytest.mark.parametrize("heap", ["fresh", "host"])
def test_without_warm_up_no_batch_is_retaken(contended_cpu, heap):
    """warmup=0: a cell's first batch is its cold cost, which a retake would replace with a warm
    one, so preempted batches are kept (and counted)."""
    m = ab.measure("baseline", 64, iterations=50_000_000, repeats=3, warmup=0, heap=heap)
    assert m.params["retaken_batches"] == 0


LAST_CPU = sorted(os.sched_getaffinity(0))[-1]


def test_the_runners_run_on_the_cpus_asked_and_the_params_survive_save_and_load(tmp_path):
    r = ab.sweep(sizes=[64], strategies=["malloc"], iterations="1ms", repeats=2, processes=2,
                 cpus=[LAST_CPU])
    assert r.params["affinity"] == [LAST_CPU] and r.params["runner_cpus"] == [LAST_CPU] * 2
    assert r.params["target_batch_ns"] == 1e6 and r.iterations == ("auto",)
    back = ab.load(r.save(tmp_path / "r.json"))
    assert (back.params["affinity"], back.params["target_batch_ns"]) == ([LAST_CPU], 1e6)


def test_without_cpus_or_a_duration_the_params_say_so():
    r = ab.sweep(sizes=[64], strategies=["malloc"], **SMALL, processes=1)
    assert r.params["affinity"] is None and r.params["target_batch_ns"] == 2e6


def _affinity_seen(monkeypatch, exc=None):
    """Record the calling thread's CPUs during every C batch of the host transport (and raise
    `exc` from the third call when given)."""
    seen = []
    real = native._CffiBinding.run

    def run(self, *args, **kwargs):
        seen.append(os.sched_getaffinity(0))
        if exc is not None and len(seen) > 2:
            raise exc
        return real(self, *args, **kwargs)

    monkeypatch.setattr(native._CffiBinding, "run", run)
    return seen


@pytest.mark.parametrize("exc", [None, KeyboardInterrupt(), RuntimeError("boom")])
def test_heap_host_measures_on_the_cpus_asked_and_gives_the_thread_its_own_back(monkeypatch,
                                                                                exc):
    before = os.sched_getaffinity(0)
    seen = _affinity_seen(monkeypatch, exc)
    if isinstance(exc, RuntimeError):
        with pytest.raises(RuntimeError, match="boom"):
            ab.sweep(sizes=[64], strategies=["alloca"], heap="host", cpus=[LAST_CPU], **SMALL)
    else:
        r = ab.sweep(sizes=[64], strategies=["alloca"], heap="host", cpus=[LAST_CPU], **SMALL)
        assert r.params["affinity"] == [LAST_CPU] and r.complete == (exc is None)
    assert seen and all(cpus == {LAST_CPU} for cpus in seen)
    assert os.sched_getaffinity(0) == before


def test_a_longer_batch_length_calibrates_proportionally_more_ops():
    """"5ms" asks for 2.5 times the ops of "2ms" in the same cell: loose bounds, as calibration
    runs on a shared machine (an invariant of the rule, not a timing)."""
    counts = {}
    for length in ("2ms", "5ms", "2ms", "5ms"):  # interleaved
        m = ab.measure("alloca", 64, iterations=length, repeats=1, heap="host")
        counts.setdefault(length, []).append(m.iterations)
        assert m.params["target_batch_ns"] == float(length[0]) * 1e6
    ratio = np.median(counts["5ms"]) / np.median(counts["2ms"])
    assert 1.5 < ratio < 4, counts

