"""alloca_bench.measuring.host_transport: heap="host" refuses what needs a process of its own,
calibrates by the runner's rule and runs on the CPUs asked only while it measures."""
import os

import pytest

import alloca_bench as ab
from alloca_bench.measuring import MAX_ITERATIONS, TARGET_BATCH_NS
from alloca_bench.measuring.host_transport import affinity, calibrate

SMALL = dict(iterations=50, repeats=3)


def test_calibration_scales_the_batch_to_the_target_duration():
    """A kernel of 50 ns/op gets target / 50 ops per batch; one too slow for the target, 1."""
    def run_at(ns):
        return lambda n: float(ns)

    assert calibrate(run_at(50)) == TARGET_BATCH_NS / 50
    assert calibrate(run_at(1e9)) == 1
    fastest = min(TARGET_BATCH_NS / 0.02, MAX_ITERATIONS)
    assert calibrate(run_at(0.02)) == fastest


def test_host_refuses_what_needs_a_process_of_its_own():
    with pytest.raises(ValueError, match="heap='fresh' or 'aged'"):
        ab.measure("malloc@glibc", 64, heap="host", **SMALL)
    with pytest.raises(ValueError, match="glibc_tunables= needs a process of its own"):
        ab.sweep(sizes=[64], heap="host", glibc_tunables="glibc.malloc.tcache_count=0",
                 **SMALL)
    with pytest.raises(ValueError, match="size distributions run in the runner"):
        ab.sweep(sizes=[ab.sizes.loguniform(16, 4096)], heap="host", **SMALL)
    with pytest.raises(ValueError,
                       match="heap must be one of fresh, aged, host, host-ctypes, not 'old'"):
        ab.measure("malloc", 64, heap="old")
    with pytest.raises(ValueError, match="processes must be between 1 and"):
        ab.sweep(sizes=[64], processes=0, **SMALL)


def test_affinity_holds_inside_the_block_and_is_given_back_on_any_way_out():
    before = os.sched_getaffinity(0)
    last = sorted(before)[-1]
    with affinity(None):
        assert os.sched_getaffinity(0) == before
    for exc in (KeyboardInterrupt, RuntimeError):
        with pytest.raises(exc):
            with affinity((last,)):
                assert os.sched_getaffinity(0) == {last}
                raise exc
        assert os.sched_getaffinity(0) == before
