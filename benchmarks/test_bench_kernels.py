"""Every strategy side by side, one pytest-benchmark table per touch mode and size.

    pytest benchmarks --benchmark-only                 # or `pytest --benchmark-only` at the root
    pytest benchmarks --benchmark-only -k "size=4096" --benchmark-json=a.json

Each round is one C batch of ops (calibrated once per test to ~2 ms) and the reported time is
the C-measured time of ONE op (see alloca_bench.pytest_plugin.c_clock).

The matrix: touch=pages (the default mode) at every size, 16 B to 1 MiB in powers of two plus
131071 and 131073 around glibc's 128 KiB mmap threshold; touch none/first/full at five sizes that
span the cache, page and threshold regimes.  That is 7 strategies x (19 + 3 x 5) sizes = 238
tests, about 20 s on a 2-core VM; the full 4 x 19 grid takes about twice that and makes the
report 76 tables long.

glibc raises its mmap threshold after the first free of an mmapped block, which happens in each
test's calibration: malloc/calloc of 128 KiB and more are therefore measured as a long-running
program sees them, from the heap.  Run with GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072
to pin the threshold (machine_info["alloca_bench"] records it).
"""
import pytest

from alloca_bench import native
from alloca_bench.strategies import STRATEGIES as ALL_STRATEGIES, REFERENCE_STRATEGIES

# Every kernel that allocates, read from the one table.  The reference kernels stay out of the
# tables, so pytest-benchmark's relative column compares allocations (malloc over alloca): the
# fixture measures `baseline` beside each benchmark and records the net figure in extra_info.
STRATEGIES = tuple(name for name in ALL_STRATEGIES if name not in REFERENCE_STRATEGIES)
ALL_SIZES = tuple(sorted({1 << k for k in range(4, 21)} | {131071, 131073}))
FEW_SIZES = (16, 4096, 65536, 131072, 1 << 20)
CASES = [("pages", size) for size in ALL_SIZES] + [
    (touch, size) for touch in ("none", "first", "full") for size in FEW_SIZES]
ROUNDS = 31
WARMUP = 1


def _strategy(name: str):
    unavailable = not native.strategy_available(name)
    return pytest.param(name, id=name, marks=pytest.mark.skipif(
        unavailable, reason=f"{name} is not available in this build (needs gcc >= 8)"))


@pytest.mark.parametrize("strategy", [_strategy(s) for s in STRATEGIES])
@pytest.mark.parametrize("touch,size", [
    pytest.param(touch, size, id=f"touch={touch}-size={size}") for touch, size in CASES])
def test_kernel(alloca_bench_run, strategy, touch, size):
    """One op of `strategy` at `size` bytes, `touch` mode; the main thread's 8 MiB stack holds
    the stack strategies up to 1 MiB."""
    m = alloca_bench_run(strategy, size=size, touch=touch, repeats=ROUNDS, warmup=WARMUP)
    assert m.ns_per_op.ndim == 1 and (m.ns_per_op > 0).all()
    assert (m.faults_per_op >= 0).all()
