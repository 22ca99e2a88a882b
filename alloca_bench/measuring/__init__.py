"""Measuring: check the arguments into a plan (cells x rounds, one frozen Options), run it with
the one executor through runner processes (heap="fresh"/"aged") or this process (heap="host"),
and gather the samples into a Result with a status per cell; plus the measurements the report
needs.  The only layer besides native.py that runs the kernels."""
from alloca_bench.measuring.api import machine_metadata, measure, sweep
from alloca_bench.measuring.plan import TARGET_BATCH_NS, Cell, Options, Plan
from alloca_bench.measuring.usercode import Kernel, kernel
from alloca_bench.measuring.validate import (
    MAX_ITERATIONS,
    MAX_REPEATS,
    MAX_SIZE,
    guard_stack,
    loop_stack_span,
    stack_headroom,
)

__all__ = [
    "MAX_ITERATIONS", "MAX_REPEATS", "MAX_SIZE", "TARGET_BATCH_NS", "Cell", "Kernel", "Options",
    "Plan", "guard_stack", "kernel", "loop_stack_span", "machine_metadata", "measure", "stack_headroom", "sweep",
]
