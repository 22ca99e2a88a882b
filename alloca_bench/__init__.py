"""alloca_bench: what N bytes of scratch memory cost from the stack (alloca, VLA) versus the
heap (malloc, calloc, mmap) on this machine, measured in C and returned as numpy arrays.

The front door holds the names most calls need (``__all__``); everything else is importable from
its subpackage (``alloca_bench.results``, ``alloca_bench.analysis``, ``alloca_bench.measuring``,
``alloca_bench.exceptions``, ``alloca_bench.machine``, ``alloca_bench.native``...).

Each name is imported on its first use (PEP 562), so ``import alloca_bench`` and the commands
that need no numpy (``alloca-bench kallsyms``) start as fast as a small script.  Results open,
compare and plot without the compiled module: when it is missing or stale, only the names that
measure (kernel, measure, stack_headroom, sweep, threads) raise, naming the reason."""
import importlib
import importlib.util
from typing import TYPE_CHECKING

from alloca_bench._version import __version__

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

# Where each name of __all__ comes from, imported on first use: an attribute of that module, or
# the module itself (kallsyms, sizes).  The same imports as below, which only static tools read.
_HOMES = {
    "AllocaBenchError": "alloca_bench.exceptions",
    "Result": "alloca_bench.results",
    "STRATEGIES": "alloca_bench.strategies",
    "StackLimitError": "alloca_bench.exceptions",
    "TOUCHES": "alloca_bench.strategies",
    "allocators": "alloca_bench.mallocs",
    "compare": "alloca_bench.analysis.compare",
    "fleet": "alloca_bench.analysis.fleet",
    "kallsyms": "alloca_bench.kallsyms",
    "kernel": "alloca_bench.measuring",
    "load": "alloca_bench.results",
    "measure": "alloca_bench.measuring",
    "sizes": "alloca_bench.sizes",
    "stack_headroom": "alloca_bench.measuring",
    "sweep": "alloca_bench.measuring",
    "threads": "alloca_bench.measuring.threads",
}
_MEASURING = ("kernel", "measure", "stack_headroom", "sweep", "threads")

if TYPE_CHECKING:  # for type checkers and the API reference, which read the source
    from alloca_bench import kallsyms, sizes
    from alloca_bench.analysis.compare import compare
    from alloca_bench.analysis.fleet import fleet
    from alloca_bench.exceptions import AllocaBenchError, StackLimitError
    from alloca_bench.mallocs import allocators
    from alloca_bench.measuring import kernel, measure, stack_headroom, sweep
    from alloca_bench.measuring.threads import threads
    from alloca_bench.results import Result, load
    from alloca_bench.strategies import STRATEGIES, TOUCHES


def __getattr__(name: str):
    """The public `name`, or the subpackage `name` (`ab.results`), imported now and kept in the
    module's globals."""
    if name not in _HOMES:
        if name.startswith("_") or importlib.util.find_spec(f"alloca_bench.{name}") is None:
            raise AttributeError(f"module 'alloca_bench' has no attribute {name!r}")
        return importlib.import_module(f"alloca_bench.{name}")
    try:
        module = importlib.import_module(_HOMES[name])
    except ImportError as error:  # no compiled module here, or one from another build
        if name not in _MEASURING:
            raise
        from alloca_bench.exceptions import UnsupportedPlatformError

        if isinstance(error, UnsupportedPlatformError):
            raise UnsupportedPlatformError(f"alloca_bench.{name}: {error}") from None
        raise ImportError(f"alloca_bench.{name} needs the compiled extension, which did not "
                          f"load: {error} (reinstall: pip install -e .)") from None
    value = module if module.__name__ == f"alloca_bench.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
