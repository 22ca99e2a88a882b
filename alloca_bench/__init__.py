"""alloca_bench: what N bytes of scratch memory cost from the stack (alloca, VLA) versus the
heap (malloc, calloc, mmap) on this machine, measured in C and returned as numpy arrays.

The front door holds the names most calls need (``__all__``); everything else is importable from
its subpackage (``alloca_bench.results``, ``alloca_bench.analysis``, ``alloca_bench.measuring``,
``alloca_bench.exceptions``, ``alloca_bench.machine``, ``alloca_bench.native``...).

Results open, compare and plot without the compiled module: when it is missing or stale, only
the names that measure (measure, sweep, stack_headroom) raise, naming the reason."""
from alloca_bench import kallsyms, sizes
from alloca_bench._version import __version__
from alloca_bench.mallocs import allocators
from alloca_bench.analysis.compare import compare
from alloca_bench.analysis.fleet import fleet
from alloca_bench.exceptions import AllocaBenchError, StackLimitError, UnsupportedPlatformError
from alloca_bench.results import Result, load
from alloca_bench.strategies import STRATEGIES, TOUCHES

_MEASURING = ("kernel", "measure", "stack_headroom", "sweep", "threads")
try:
    from alloca_bench.measuring import kernel, measure, stack_headroom, sweep
    from alloca_bench.measuring.threads import threads
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
    "Result",
    "STRATEGIES",
    "StackLimitError",
    "TOUCHES",
    "allocators",
    "compare",
    "fleet",
    "kallsyms",
    "kernel",
    "load",
    "measure",
    "sizes",
    "stack_headroom",
    "sweep",
    "threads",
]
