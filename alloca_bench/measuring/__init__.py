"""Measuring: validate the arguments, guard the stack, calibrate, run the kernels in interleaved
rounds (in the C runner's processes, or in this process for heap="host") and gather the samples
into a Result; plus the extra evidence the report needs.  The only layer besides native.py that
runs the kernels."""
from alloca_bench.measuring.cells import HEAPS
from alloca_bench.measuring.core import (
    DEFAULT_PROCESSES,
    DEFAULT_SIZES,
    check_run_options,
    machine_metadata,
    measure,
    sweep,
)
from alloca_bench.measuring.host import TARGET_BATCH_NS, calibrate
from alloca_bench.measuring.usercode import Kernel, kernel
from alloca_bench.measuring.validate import (
    MAX_ITERATIONS,
    MAX_REPEATS,
    MAX_SIZE,
    check_int,
    check_iterations,
    check_size,
    check_stack_size,
    check_strategy,
    check_touch,
    guard_stack,
    loop_stack_span,
    stack_headroom,
)
from alloca_bench.present.tables import cold_table  # its old home, kept for old imports
from alloca_bench.strategies import DEFAULT_STRATEGIES, STRATEGIES, TOUCHES

__all__ = [
    "DEFAULT_PROCESSES", "DEFAULT_SIZES", "DEFAULT_STRATEGIES", "HEAPS", "Kernel",
    "MAX_ITERATIONS",
    "MAX_REPEATS", "MAX_SIZE",
    "STRATEGIES", "TARGET_BATCH_NS", "TOUCHES", "calibrate", "check_run_options",
    "check_int", "check_iterations",
    "check_size", "check_stack_size", "check_strategy", "check_touch", "cold_table",
    "guard_stack", "kernel", "loop_stack_span", "machine_metadata", "measure", "stack_headroom", "sweep",
]
