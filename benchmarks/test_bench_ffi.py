"""The cost of one Python -> C call of an empty C function (`ab_noop`) through each binding.
It stands next to the kernel tables to show why alloca_bench times ops in C: one call costs
more than an alloca.  Each round times CALLS calls in a Python loop (pytest-benchmark divides by
them), so the figure includes the loop, as any Python caller pays it.
"""
import pytest

from alloca_bench import native

CALLS = 10_000
ROUNDS = 21


@pytest.mark.parametrize("binding", native.BINDINGS, ids=lambda b: f"binding={b}")
def test_ffi_call(benchmark, binding):
    noop = native.binding(binding).noop
    benchmark.group = "ffi: one Python->C call of ab_noop"
    benchmark.extra_info.update({"binding": binding, "function": "ab_noop"})
    assert benchmark.pedantic(noop, rounds=ROUNDS, warmup_rounds=1, iterations=CALLS) == 0
