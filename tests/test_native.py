"""alloca_bench.native: both bindings of the one shared object, status codes, build info."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import alloca_bench
from alloca_bench import native
from alloca_bench._native import lib
from alloca_bench.exceptions import NativeError, StackLimitError, StrategyUnavailableError

CSRC = os.path.join(os.path.dirname(__file__), os.pardir, "csrc")


def test_names_come_from_c():
    assert native.STRATEGIES[:7] == ("baseline", "fixed", "alloca", "vla", "malloc", "calloc",
                                     "mmap")
    assert native.TOUCHES == ("none", "first", "pages", "full")
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
    assert native._csrc_sha256(CSRC) == native.BUILD_INFO["csrc_sha256"], \
        "csrc/ changed since the build: run pip install -e ."


@pytest.mark.parametrize("backend", native.BACKENDS)
def test_run_returns_one_value_per_batch(backend):
    batches = native.binding(backend).run("malloc", "pages", 4096, 100, 7)
    for array in (batches.ns_per_op, batches.minor_faults_per_op, batches.major_faults_per_op):
        assert array.shape == (7,) and array.dtype == np.float64
    assert np.all(batches.ns_per_op > 0)


@pytest.mark.parametrize("backend", native.BACKENDS)
def test_touching_every_page_of_a_fresh_mapping_faults_once_per_page(backend):
    """mmap gives fresh pages on every op: touch "pages" faults once per 4 KiB page, touch
    "none" never (more pages touched never means fewer faults)."""
    bound = native.binding(backend)
    pages = bound.run("mmap", "pages", 16 * native.TOUCH_STRIDE, 50, 3).minor_faults_per_op
    untouched = bound.run("mmap", "none", 16 * native.TOUCH_STRIDE, 50, 3).minor_faults_per_op
    assert np.all(pages >= 16) and np.all(untouched < 1)


@pytest.mark.parametrize("backend", native.BACKENDS)
def test_c_guard_refuses_an_alloca_larger_than_the_stack(backend):
    bound = native.binding(backend)
    with pytest.raises(StackLimitError, match=r"alloca of 67108864 bytes .* largest safe size"):
        bound.run("alloca", "full", 64 << 20, 1, 1)


@pytest.mark.parametrize("backend", native.BACKENDS)
def test_worker_thread_headroom_is_close_to_its_stack_size(backend):
    headroom = native.binding(backend).stack_headroom(8 << 20)
    assert (8 << 20) - (64 << 10) < headroom <= 8 << 20


def test_both_bindings_see_the_same_main_thread_stack():
    cffi, ctypes = (native.binding(b).stack_headroom() for b in native.BACKENDS)
    assert abs(cffi - ctypes) < 64 << 10


def test_unknown_backend_is_a_value_error():
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
def test_alloca_up_to_the_guard_limit_does_not_crash(strategy, stack_size):
    """The largest size the guard lets through, fully written, must not SIGSEGV (run in a child
    so a crash shows as a failed test, not a dead test session)."""
    code = textwrap.dedent(f"""
        from alloca_bench import native
        bound = native.binding()
        size = bound.stack_headroom({stack_size}) - native.STACK_MARGIN - 16384
        bound.run({strategy!r}, "full", size, 2, 2, {stack_size})
        try:
            bound.run({strategy!r}, "full", size + 64 * 1024 + 16384, 1, 1, {stack_size})
        except native.StackLimitError:
            print("refused")
    """)
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "refused"


@pytest.mark.parametrize("backend", native.BACKENDS)
def test_stack_loop_is_guarded_in_c(backend):
    bound = native.binding(backend)
    assert bound.stack_loop("vla", 1 << 20, 1000) < 2 << 20
    with pytest.raises(StackLimitError, match="1000 x alloca in a loop"):
        bound.stack_loop("alloca", 1 << 20, 1000)


def test_the_strategy_table_matches_the_compiled_enum():
    """strategies.py and the C enum list the same names in the same order, and the kinds agree
    with what C guards as stack strategies."""
    from alloca_bench import strategies

    assert native.STRATEGIES == strategies.STRATEGIES
    assert native.TOUCHES == strategies.TOUCHES
    assert native.STACK_STRATEGIES == frozenset(strategies.STACK_STRATEGIES)
