"""measuring/validate.py: the options and sizes checked into their frozen forms, and the budget a
call may spend, checked before anything runs."""
import os

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.options import DEFAULT_PROCESSES
from alloca_bench.measuring import validate
from alloca_bench.measuring.team import RING_SLOTS, live_blocks
from alloca_bench.measuring.validate import (MAX_LIVE_BYTES, MAX_PAGE_TOUCHES, MAX_SAMPLES, PAGE,
                                             check_budget, check_live_bytes)

MIB = 1 << 20


def test_touches_count_each_thread_once_per_thread_count():
    """2 strategies x threads 1 and 2 touch pages 2 x 3 times per op: a call under the limit
    that way passes, one just over it is refused."""
    pages = MIB // validate.PAGE
    fits = MAX_PAGE_TOUCHES // (2 * 3 * pages)
    check_budget(2, [MIB], "pages", [fits], 1, 0, (1, 2))
    with pytest.raises(ValueError, match=f"touch at least {2 * 3 * pages * (fits + 1)} pages"):
        check_budget(2, [MIB], "pages", [fits + 1], 1, 0, (1, 2))


def test_samples_count_each_thread_counts_figures():
    """A cell of up to 64 threads stores 1 + 64 figures per batch, per thread count."""
    per_round = 2 * 2 * (1 + 64)
    fits = MAX_SAMPLES // per_round
    check_budget(2, [64], "none", [10], fits, 0, (1, 64))
    with pytest.raises(ValueError, match=r"x 2 thread counts x \d+ repeats = "
                                         f"{per_round * (fits + 1)} samples"):
        check_budget(2, [64], "none", [10], fits + 1, 0, (1, 64))


def test_without_threads_the_budget_is_unchanged():
    check_budget(3, [64], "none", [10], MAX_SAMPLES // 3, 0)
    with pytest.raises(ValueError, match=r"^3 strategies x 1 sizes x 1 iteration counts x "):
        check_budget(3, [64], "none", [10], MAX_SAMPLES // 3 + 1, 0)


def test_stack_fits_counts_what_the_compiler_reserves():
    """64 allocas of 16 KiB reserve more than 64 x 16 KiB (alignment): with exactly that plus
    the margin left they do not fit; with what stack_need says they do."""
    need = validate.native.stack_need("alloca", 16 << 10, 64)
    assert need > 64 * (16 << 10)
    margin = validate.native.STACK_MARGIN
    assert not validate.stack_fits("alloca", 16 << 10, 64, 64 * (16 << 10) + margin)
    assert validate.stack_fits("alloca", 16 << 10, 64, need + margin)


def test_the_options_are_checked_once_into_one_frozen_object():
    import dataclasses

    options = validate.check_options(5, 0, "host-ctypes", None, None, None)
    assert (options.repeats, options.warmup, options.heap, options.binding) == (
        5, 0, "host-ctypes", "ctypes")
    assert options.processes == 1 and not options.in_runner  # heap="host": this process
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.repeats = 6
    with pytest.raises(ValueError, match="processes must be between 1 and 64, got 0"):
        validate.check_options(5, 0, "fresh", 0, None, None)


def test_a_distribution_and_a_size_may_not_share_an_axis_entry():
    dist = ab.sizes.uniform(16, 1024)
    mean = round(dist.mean())
    assert validate.check_sizes([dist, 64]) == ([64, mean], {mean: dist})
    with pytest.raises(ValueError, match=f"both stand at {mean} B"):
        validate.check_sizes([dist, mean])
    with pytest.raises(TypeError, match="sizes must be a sequence of ints"):
        validate.check_sizes(64)


def test_the_budget_counts_live_bytes_of_every_thread():
    """64 threads x a buffer of 1/64 of the live budget, touched in full, were accepted: each
    thread keeps its own buffer live."""
    size = MAX_LIVE_BYTES // 64 + PAGE
    check_budget(1, [size], "full", [1], 1, 0, (1, 32))
    with pytest.raises(ValueError, match=rf"a cell of 64 thread\(s\) x 1 live block\(s\) each "
                                         rf"\(pattern='same'\) x {size} bytes"):
        check_budget(1, [size], "full", [1], 1, 0, (1, 64))


def test_the_budget_counts_the_hold_window_and_the_cross_ring():
    """pattern="hold" keeps its window of blocks live per thread (64 of 32 MiB: 2 GiB), "cross"
    a ring of them in flight."""
    size = MAX_LIVE_BYTES // 64 + PAGE
    check_live_bytes([size], (1,), "same")
    for pattern in ("hold", "cross"):
        with pytest.raises(ValueError, match=rf"\(pattern='{pattern}'\)"):
            check_live_bytes([size], (1,), pattern)
    check_live_bytes([size], (1,), "hold", window=63)
    assert live_blocks("hold", 100) == 100 and live_blocks("cross") == RING_SLOTS + 1


def test_cpus_are_sorted_once_each_and_none_means_this_process_own():
    own = sorted(os.sched_getaffinity(0))
    assert validate.check_cpus(None) is None
    assert validate.check_cpus([own[-1], own[0], own[-1]]) == tuple(sorted({own[0], own[-1]}))
    assert validate.check_cpus(range(own[0], own[0] + 1)) == (own[0],)


@pytest.mark.parametrize("cpus, exc, text", [
    ([], ValueError, r"cpus is empty: give at least one of this process's CPUs \(\d"),
    ([1 << 20], ValueError, r"cpus: CPU 1048576 is not one this process may run on \(\d"),
    ([-1], ValueError, r"cpus: CPU -1 is not one this process may run on"),
    ("0-1", TypeError, r"cpus must be an iterable of CPU numbers \(ints\), e.g. \[0, 1\], not "
                       r"str \('0-1'\)"),
    (0, TypeError, "cpus must be an iterable of CPU numbers"),
    ([0.0], TypeError, r"cpus must hold ints \(CPU numbers\), not float \(0.0\)"),
    ([True], TypeError, "not bool"),
])
def test_bad_cpus_name_the_value_and_the_cpus_allowed(cpus, exc, text):
    with pytest.raises(exc, match=text):
        validate.check_cpus(cpus)


def test_a_cpu_list_is_written_in_the_kernels_syntax():
    assert validate.format_cpu_list({7, 0, 1, 2, 3}) == "0-3,7"
    assert validate.format_cpu_list([5]) == "5"


@pytest.mark.parametrize("iterations, axis, target_ns", [
    ("auto", ("auto",), 2e6), (100, (100,), 2e6), ([100, "auto"], (100, "auto"), 2e6),
    ("5ms", ("auto",), 5e6), ("500us", ("auto",), 5e5), ("500µs", ("auto",), 5e5),
    ("0.01s", ("auto",), 1e7), (["50us"], ("auto",), 5e4), ("10s", ("auto",), 1e10),
])
def test_a_duration_is_auto_calibrated_to_that_batch_length(iterations, axis, target_ns):
    assert validate.check_iteration_axis(iterations) == (axis, target_ns)


@pytest.mark.parametrize("iterations, text", [
    ("49us", r"iterations '49us': a batch length must be a duration from 50us to 10s"),
    ("10.5s", r"iterations '10.5s': .* from 50us to 10s"),
    ("5 parsecs", r"iterations '5 parsecs': .* \(units s, ms, us\)"),
    ("5ns", r"iterations '5ns'"),
    (["5ms", 100], r"iterations \['5ms', 100\] mixes a batch length \('5ms'\) with other"),
    (["5ms", "2ms"], "mixes a batch length"),
    (["auto", "5ms"], "mixes a batch length"),
])
def test_a_bad_batch_length_names_the_value_and_the_range(iterations, text):
    with pytest.raises(ValueError, match=text):
        validate.check_iteration_axis(iterations)


def test_the_batch_length_of_one_cell_calls_is_one_value():
    assert validate.check_one_iteration("2ms") == ("auto", 2e6)
    with pytest.raises(TypeError, match="iterations must be 'auto', an int or a duration"):
        validate.check_one_iteration([1, 2])


def test_a_numpy_array_of_iteration_counts_is_a_sequence_of_counts():
    """np.array([10, 20]) is the axis (10, 20) like the list; a 0-d array or a numpy int is one
    count."""
    assert validate.check_iteration_axis(np.array([10, 20])) == ((10, 20), 2e6)
    assert validate.check_iteration_axis(np.array(10)) == ((10,), 2e6)
    assert validate.check_iteration_axis(np.int64(10)) == ((10,), 2e6)
    assert validate.check_one_iteration(np.int64(10)) == (10, 2e6)


def test_a_one_cell_call_refuses_an_array_of_iteration_counts_by_name():
    """measure() takes one count: an array of them is a TypeError naming iterations, never the
    first count taken silently nor numpy's "truth value of an array" error."""
    for array in (np.array([10, 20]), np.array([10])):
        with pytest.raises(TypeError, match=r"iterations must be 'auto', an int or a duration"):
            validate.check_one_iteration(array)


@pytest.mark.parametrize("value", [np.array([64]), np.array([[64, 128]])])
def test_an_array_where_one_int_belongs_is_a_type_error_naming_the_argument(value):
    with pytest.raises(TypeError, match=r"size must be an int, not ndarray"):
        validate.check_size(value)


def test_heap_host_ctypes_is_this_process_through_ctypes():
    for heap, binding in (("host", "cffi"), ("host-ctypes", "ctypes"), ("fresh", "cffi")):
        options = validate.check_options(3, 1, heap, None, None, None)
        assert options.binding == binding and options.in_runner == (heap == "fresh")


def test_an_empty_strategies_axis_is_refused_by_name():
    """strategies=[] is a mistake, not a sweep of the baseline alone (which ['baseline'] asks
    for); a generator is read once and its names are quoted."""
    with pytest.raises(ValueError, match=r"strategies is empty: .* \['baseline'\]"):
        validate.check_strategy_axis([])
    assert validate.check_strategy_axis(["baseline"]) == ("baseline",)
    assert validate.check_strategy_axis(s for s in ("malloc",)) == ("baseline", "malloc")
    with pytest.raises(ValueError, match=r"distinct, got \['malloc', 'malloc'\]"):
        validate.check_strategy_axis(s for s in ("malloc", "malloc"))


@pytest.mark.parametrize("strategy", [None, 3, b"malloc"])
def test_a_strategy_that_is_no_str_is_a_type_error_naming_strategy(strategy):
    """ab.measure(None, 64) is a wrong type, not an unknown name (DESIGN: Errors)."""
    wrong = type(strategy).__name__
    with pytest.raises(TypeError, match=f"strategy must be a str .*, not {wrong}"):
        ab.measure(strategy, 64)
    with pytest.raises(TypeError, match="strategy must be a str"):
        validate.check_strategy_axis(["malloc", strategy])


def test_host_takes_one_process_and_refuses_more_by_name():
    """heap="host" runs in this process: processes left out (None) is 1 there and the
    runner's default elsewhere; processes=3 is refused, not run as one (was silent)."""
    assert validate.check_options(3, 1, "host", None, None, None).processes == 1
    assert validate.check_options(3, 1, "host", 1, None, None).processes == 1
    assert validate.check_options(3, 1, "fresh", None, None, None).processes == DEFAULT_PROCESSES
    for heap in ("host", "host-ctypes"):
        with pytest.raises(ValueError, match=f"processes=3 .* heap={heap!r} runs in this "
                                             "process: leave processes out"):
            validate.check_options(3, 1, heap, 3, None, None)
    with pytest.raises(ValueError, match="processes=3"):
        ab.sweep([64], ["malloc"], heap="host", processes=3, repeats=3)
