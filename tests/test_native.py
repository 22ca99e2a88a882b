"""alloca_bench.native: both bindings of the one shared object, status codes, build info."""
import os
import re
import threading

import numpy as np
import pytest

import alloca_bench
from alloca_bench import native
from alloca_bench._csrc_hash import csrc_sha256
from alloca_bench._native import lib
from alloca_bench.exceptions import NativeError, StackLimitError, StrategyUnavailableError

CSRC = os.path.join(os.path.dirname(__file__), os.pardir, "csrc")


def test_names_come_from_c():
    assert native.STRATEGIES[:7] == ("baseline", "fixed", "alloca", "vla", "malloc", "calloc",
                                     "mmap")
    assert native.TOUCHES == ("none", "first", "pages", "full", "kernel")
    assert native.STACK_STRATEGIES == {"alloca", "vla", "alloca_probed", "vla_probed"}


def test_build_info_names_version_flags_and_compiler():
    info = native.BUILD_INFO
    assert info["package_version"] == alloca_bench.__version__
    assert "-fno-stack-protector" in info["compile_args"]
    assert "-fno-stack-clash-protection" in info["compile_args"]
    assert info["compiler"]
    assert len(info["csrc_sha256"]) == 64


@pytest.mark.skipif(not os.path.isdir(CSRC), reason="no csrc/ beside the package")
def test_build_info_hash_matches_the_sources_in_this_checkout():
    assert csrc_sha256(CSRC) == native.BUILD_INFO["csrc_sha256"], \
        "csrc/ changed since the build: run pip install -e ."


@pytest.mark.parametrize("binding", native.BINDINGS)
def test_run_returns_one_value_per_batch(binding):
    batches = native.binding(binding).run("malloc", "pages", 4096, 100, 7)
    for array in (batches.ns_per_op, batches.minor_faults_per_op, batches.major_faults_per_op):
        assert array.shape == (7,) and array.dtype == np.float64
    assert np.all(batches.ns_per_op > 0)


@pytest.mark.parametrize("binding", native.BINDINGS)
def test_touching_every_page_of_a_fresh_mapping_faults_once_per_page(binding):
    """mmap gives fresh pages on every op: touch "pages" faults once per 4 KiB page, touch
    "none" never (more pages touched never means fewer faults)."""
    bound = native.binding(binding)
    pages = bound.run("mmap", "pages", 16 * native.TOUCH_STRIDE, 50, 3).minor_faults_per_op
    untouched = bound.run("mmap", "none", 16 * native.TOUCH_STRIDE, 50, 3).minor_faults_per_op
    assert np.all(pages >= 16) and np.all(untouched < 1)


@pytest.mark.parametrize("binding", native.BINDINGS)
def test_c_guard_refuses_an_alloca_larger_than_the_stack(binding):
    bound = native.binding(binding)
    with pytest.raises(StackLimitError, match=r"alloca of 67108864 bytes .* largest safe size"):
        bound.run("alloca", "full", 64 << 20, 1, 1)


@pytest.mark.parametrize("binding", native.BINDINGS)
def test_worker_thread_headroom_is_close_to_its_stack_size(binding):
    headroom = native.binding(binding).stack_headroom(8 << 20)
    assert (8 << 20) - (64 << 10) < headroom <= 8 << 20


def test_both_bindings_see_the_same_main_thread_stack():
    cffi, ctypes = (native.binding(b).stack_headroom() for b in native.BINDINGS)
    assert abs(cffi - ctypes) < 64 << 10


def test_an_unknown_binding_is_a_value_error():
    with pytest.raises(ValueError, match="'rust'"):
        native.binding("rust")


@pytest.mark.parametrize("status, exc", [
    (lib.AB_ESTACK, StackLimitError),
    (lib.AB_EUNAVAILABLE, StrategyUnavailableError),
    (lib.AB_EBADSIZE, ValueError),
    (lib.AB_ENOMEM, NativeError),
    (lib.AB_ETHREAD, NativeError),
])
def test_ensure_turns_status_codes_into_exceptions(status, exc):
    with pytest.raises(exc, match="context"):
        native.ensure(status, "context")


def test_ensure_maps_each_status_to_its_exception():
    assert native.ensure(lib.AB_OK, "context") is None
    with pytest.raises(StackLimitError, match="^ab_run: the allocation does not fit"):
        native.ensure(lib.AB_ESTACK, "ab_run")
    with pytest.raises(ValueError, match="size must be at least 1 byte"):
        native.ensure(lib.AB_EBADSIZE, "ab_run")
    with pytest.raises(native.NativeError, match="returned no memory"):
        native.ensure(lib.AB_ENOMEM, "ab_run")


def test_ffi_overhead_is_the_best_loop_per_call_of_each_binding(monkeypatch):
    """With a clock that advances 1000 ns per reading, each loop of 10 calls reads 100 ns/call."""
    ticks = iter(range(0, 10**9, 1000))
    monkeypatch.setattr(native.time, "perf_counter_ns", lambda: next(ticks))
    assert native.ffi_overhead(calls=10, repeats=2) == {"cffi": 100.0, "ctypes": 100.0}


def test_ffi_overhead_rejects_zero_calls():
    with pytest.raises(ValueError, match="calls=0"):
        native.ffi_overhead(calls=0)


@pytest.mark.parametrize("stack_size", [0, 2 << 20])
@pytest.mark.parametrize("strategy", ["alloca", "vla", "alloca_probed"])
def test_alloca_up_to_the_guard_limit_does_not_crash(strategy, stack_size, python_child):
    """The largest size the guard lets through, fully written, must not SIGSEGV (run in a child
    so a crash shows as a failed test, not a dead test session)."""
    child = python_child(f"""
        from alloca_bench import native
        bound = native.binding()
        size = bound.stack_headroom({stack_size}) - native.STACK_MARGIN - 16384
        bound.run({strategy!r}, "full", size, 2, 2, {stack_size})
        try:
            bound.run({strategy!r}, "full", size + 64 * 1024 + 16384, 1, 1, {stack_size})
        except native.StackLimitError:
            print("refused")
    """, timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "refused"


@pytest.mark.parametrize("binding", native.BINDINGS)
def test_stack_loop_is_guarded_in_c(binding):
    bound = native.binding(binding)
    assert bound.stack_loop("vla", 1 << 20, 1000) < 2 << 20
    with pytest.raises(StackLimitError, match="1000 x alloca in a loop"):
        bound.stack_loop("alloca", 1 << 20, 1000)


SIZES = [*range(1, 70), 100, 255, 256, 257, 1000, 4095, 4096, 4097, 65535, 65536, 65537,
         (1 << 20) + 3]


@pytest.mark.parametrize("size", SIZES)
def test_the_guard_counts_what_the_stack_pointer_really_moves(size):
    """Three allocas in one frame start `step` bytes apart, so their span is 2 * step + size:
    the rounding comes from the real stack pointer, and the guard must count exactly it."""
    span = native.binding().stack_loop("alloca", size, 3)
    step, rest = divmod(span - size, 2)
    assert rest == 0 and step >= size
    assert native.stack_need("alloca", size) == step
    assert native.stack_need("alloca", size, 1000) == 1000 * step
    assert native.stack_need("vla", size, 1000) == step  # one VLA at a time


def test_stack_largest_is_the_guard_boundary():
    headroom = native.binding().stack_headroom()
    for count in (1, 3, 1000):
        largest = lib.ab_stack_largest(lib.AB_ALLOCA, count, headroom)
        assert native.stack_need("alloca", largest, count) + native.STACK_MARGIN <= headroom
        assert native.stack_need("alloca", largest + 1, count) + native.STACK_MARGIN > headroom
    assert lib.ab_stack_largest(lib.AB_ALLOCA, 1, native.STACK_MARGIN) == 0


# The calls of the hardening report that killed the interpreter with SIGSEGV: the guard
# counted size * count while gcc reserves (size + 23) & ~15 bytes per alloca.
CRASHES = {
    "main thread": "loop_stack_span('alloca', 1, 1_000_000)",
    "worker stack": "loop_stack_span('alloca', 16, 400_000, stack_size=8 << 20)",
    "ctypes": "loop_stack_span('alloca', 1, 1_000_000, binding='ctypes')",
    "C guard alone": "native.binding().stack_loop('alloca', 1, 1_000_000)",
    "C guard, worker": "native.binding('ctypes').stack_loop('alloca', 16, 400_000, 8 << 20)",
}


@pytest.mark.parametrize("in_thread", [False, True], ids=["direct", "threading.Thread"])
@pytest.mark.parametrize("call", CRASHES.values(), ids=CRASHES.keys())
def test_loops_of_small_allocas_are_refused_not_a_crash(call, in_thread, python_child):
    child = python_child(f"""
        import threading
        import alloca_bench as ab
        from alloca_bench import native
        from alloca_bench.measuring import loop_stack_span

        def go():
            try:
                {call}
            except ab.StackLimitError as exc:
                print("refused:", exc)

        if {in_thread}:
            thread = threading.Thread(target=go)
            thread.start()
            thread.join()
        else:
            go()
    """)
    assert child.returncode == 0, (child.returncode, child.stderr)
    assert child.stdout.startswith("refused:")


LARGEST = re.compile(r"the largest safe size is (\d+) bytes")


@pytest.mark.parametrize("binding", native.BINDINGS)
@pytest.mark.parametrize("call", [
    "loop_stack_span('alloca', {size}, 400_000, stack_size=8 << 20, binding={binding!r})",
    "loop_stack_span('alloca', {size}, 1000, binding={binding!r})",
    "ab.measure('alloca', {size}, touch='full', iterations=1, repeats=1, warmup=0, "
    "heap={heap!r})",
    "ab.measure('vla_probed', {size}, touch='full', iterations=1, repeats=1, warmup=0, "
    "stack_size=4 << 20, heap={heap!r})",
])
def test_the_largest_safe_size_a_message_quotes_passes_the_guard(call, binding, python_child):
    """Fed back, the size the StackLimitError names runs (fully written, no crash); measure()
    in the runner ("cffi") and in this process through ctypes ("ctypes")."""
    heap = {"cffi": "fresh", "ctypes": "host-ctypes"}[binding]
    child = python_child(f"""
        import re
        import alloca_bench as ab
        from alloca_bench.measuring import loop_stack_span
        try:
            {call.format(size=64 << 20, binding=binding, heap=heap)}
        except ab.StackLimitError as exc:
            print(exc)
            size = int(re.search({LARGEST.pattern!r}, str(exc)).group(1))
            {call.format(size="size", binding=binding, heap=heap)}
            print("ran", size)
    """)
    assert child.returncode == 0, (child.returncode, child.stderr)
    quoted = int(LARGEST.search(child.stdout).group(1))
    assert f"ran {quoted}" in child.stdout


@pytest.mark.parametrize("binding", native.BINDINGS)
def test_threads_get_their_own_outputs(binding):
    """Three threads asking for the headroom of workers of different stack sizes and for loop
    spans of different sizes each get the figure of their own call, never another thread's
    (the C call runs without the GIL).  glibc may hand a worker a larger cached stack, so the
    headroom is only bounded below."""
    bound = native.binding(binding)
    wrong: list = []

    def ask(stack_size: int) -> None:
        for _ in range(150):
            headroom = bound.stack_headroom(stack_size)
            if headroom <= stack_size - (64 << 10):
                wrong.append((stack_size, headroom))
            span = bound.stack_loop("alloca", stack_size >> 10, 3)
            if span != 2 * native.stack_need("alloca", stack_size >> 10) + (stack_size >> 10):
                wrong.append(("span", stack_size, span))

    threads = [threading.Thread(target=ask, args=(mib << 20,)) for mib in (3, 2, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_the_strategy_table_matches_the_compiled_enum():
    """strategies.py and the C enum list the same names in the same order, and the kinds agree
    with what C guards as stack strategies."""
    from alloca_bench import strategies

    assert native.STRATEGIES == strategies.STRATEGIES
    assert native.TOUCHES == strategies.TOUCHES + (strategies.KERNEL_TOUCH,)
    assert native.STACK_STRATEGIES == frozenset(strategies.STACK_STRATEGIES)


def test_other_systems_get_a_clear_error_and_still_open_results(python_child):
    child = python_child("""
        import sys
        sys.platform = "darwin"
        import alloca_bench as ab
        from alloca_bench.exceptions import UnsupportedPlatformError
        assert ab.load and ab.Result  # results still open
        try:
            ab.measure("malloc", 64)
        except UnsupportedPlatformError as exc:
            print(exc)
    """)
    assert child.returncode == 0, child.stderr
    assert "measures on Linux only" in child.stdout and "this is darwin" in child.stdout


def test_calibrate_calls_back_for_each_batch_and_scales_to_the_target():
    """native.calibrate runs the C rule (ab_calibrate, the runner's) on Python batches: a first
    op thrown away, trial batches growing, the scaled count checked once at a quarter length."""
    sizes = []

    def batch(n):
        sizes.append(n)
        return 50.0

    assert native.calibrate(batch, 2e6, 10**9) == 40_000
    assert sizes == [1, 1, 100, 4001, 10_000]  # x100 at most; 4001 x 50 ns >= a tenth


@pytest.mark.parametrize("error", [KeyboardInterrupt(), StackLimitError("no room")])
def test_an_exception_in_a_calibration_batch_stops_it_and_is_raised(error):
    """Ctrl-C or a refusal inside a batch crosses the C calibration loop unchanged, and no
    batch runs after it."""
    calls = []

    def batch(n):
        calls.append(n)
        if len(calls) == 3:
            raise error
        return 1.0

    with pytest.raises(type(error)):
        native.calibrate(batch, 2e6, 10**9)
    assert len(calls) == 3


def test_batch_records_mirror_the_c_struct():
    assert native.BATCH_DTYPE.itemsize == native.ffi.sizeof("struct ab_batch")
    for name in native.BATCH_DTYPE.names:
        assert native.BATCH_DTYPE.fields[name][1] == native.ffi.offsetof("struct ab_batch", name)


@pytest.mark.parametrize("binding", native.BINDINGS)
def test_a_preempted_batch_is_retaken_and_says_so(contended_cpu, binding):
    """Batches of about 30 ms beside a busy process on the same CPU get preempted: each is
    run again up to MAX_RETAKES times, and the one kept is either clean or the last try."""
    got = native.binding(binding).run("baseline", "none", 64, 50_000_000, 4)
    assert got.retakes.max() > 0
    assert np.all((got.switches == 0) | (got.retakes == native.MAX_RETAKES))
    assert np.all(got.retakes <= native.MAX_RETAKES)
    assert np.all(got.cpu_ns_per_op > 0)


def test_a_cold_batch_is_kept_as_it_came(contended_cpu):
    """max_retakes=0 (a cell without warm-up: a retake of its cold first batch would be warm)
    keeps every batch, preempted or not."""
    got = native.binding().run("baseline", "none", 64, 50_000_000, 4, max_retakes=0)
    assert np.all(got.retakes == 0)
