"""alloca_bench: what N bytes of scratch memory cost from the stack (alloca, VLA) versus the
heap (malloc, calloc, mmap) on this machine, measured in C and returned as numpy arrays.

Results open, compare and plot without the compiled module: when it is missing or stale, only
the names that measure (measure, sweep, ...) raise, naming the reason."""
from alloca_bench import kallsyms, sizes
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
    UnsupportedPlatformError,
    WorkerError,
)
from alloca_bench.machine import machine_info
from alloca_bench.results import Measurement, Result, load, load_all
from alloca_bench.strategies import STRATEGIES, TOUCHES

_MEASURING = ("BUILD_INFO", "ffi_overhead", "loop_stack_span", "measure", "stack_headroom",
              "sweep", "threads")
try:
    from alloca_bench.measuring import loop_stack_span, measure, stack_headroom, sweep
    from alloca_bench.measuring.threads import threads
    from alloca_bench.native import BUILD_INFO, ffi_overhead
except ImportError as _error:  # no compiled module here, or one from another build
    _NATIVE_ERROR = _error

    def __getattr__(name: str):
        if name in _MEASURING:
            if isinstance(_NATIVE_ERROR, UnsupportedPlatformError):
                raise UnsupportedPlatformError(f"alloca_bench.{name}: {_NATIVE_ERROR}")
            raise ImportError(f"alloca_bench.{name} needs the compiled extension, which did not "
                              f"load: {_NATIVE_ERROR} (reinstall: pip install -e .)")
        raise AttributeError(f"module 'alloca_bench' has no attribute {name!r}")

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
    "UnsupportedPlatformError",
    "WorkerError",
    "__version__",
    "allocators",
    "compare",
    "ffi_overhead",
    "kallsyms",
    "load",
    "load_all",
    "loop_stack_span",
    "machine_info",
    "measure",
    "sizes",
    "stack_headroom",
    "sweep",
    "threads",
]
