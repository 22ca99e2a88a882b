"""alloca_bench: what N bytes of scratch memory cost from the stack (alloca, VLA) versus the
heap (malloc, calloc, mmap) on this machine, measured in C and returned as numpy arrays."""
from alloca_bench import kallsyms
from alloca_bench._version import __version__
from alloca_bench.allocators import allocators
from alloca_bench.compare import compare  # via the old module path, so that name stays the function
from alloca_bench.exceptions import (
    AllocaBenchError,
    BuildMismatchError,
    NativeError,
    ResultFileError,
    StackLimitError,
    StrategyUnavailableError,
    WorkerError,
)
from alloca_bench.machine import machine_info
from alloca_bench.measure import (
    STRATEGIES,
    TOUCHES,
    loop_stack_span,
    measure,
    stack_headroom,
    sweep,
)
from alloca_bench.native import BUILD_INFO, ffi_overhead
from alloca_bench.results import Measurement, Result, load

__all__ = [
    "AllocaBenchError",
    "BUILD_INFO",
    "BuildMismatchError",
    "Measurement",
    "NativeError",
    "Result",
    "ResultFileError",
    "STRATEGIES",
    "StackLimitError",
    "StrategyUnavailableError",
    "TOUCHES",
    "WorkerError",
    "__version__",
    "allocators",
    "compare",
    "ffi_overhead",
    "kallsyms",
    "load",
    "loop_stack_span",
    "machine_info",
    "measure",
    "stack_headroom",
    "sweep",
]
