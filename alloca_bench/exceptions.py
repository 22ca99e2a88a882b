"""Exceptions raised by alloca_bench; each also subclasses the builtin a caller would expect."""
from __future__ import annotations

from alloca_bench.options import MAX_SIZE


class AllocaBenchError(Exception):
    """Base class of every error alloca_bench raises on purpose."""


class StackLimitError(AllocaBenchError, ValueError):
    """An alloca/VLA of this size would overrun the calling thread's stack."""

    @classmethod
    def for_size(cls, strategy: str, size: int, headroom: int, margin: int,
                 stack_size: int = 0, *, need: int | None = None,
                 largest: int | None = None) -> "StackLimitError":
        """The error for `size` bytes when `headroom` bytes are left and `margin` must stay free.
        `need` is what the compiler reserves for it (default: `size`); `largest` the largest
        size the guard lets through (default: headroom - margin)."""
        where = f"a worker thread with stack_size={stack_size}" if stack_size else "this thread"
        need = size if need is None else need
        largest = max(headroom - margin, 0) if largest is None else largest
        reserved = f" (the compiler reserves {need} bytes)" if need != size else ""
        fits = (f"the largest safe size is {largest} bytes" if largest
                else "no size fits")
        text = (f"{strategy} of {size} bytes{reserved} does not fit on the stack of {where}: "
                f"{headroom} bytes are left and {margin} must stay free, so {fits}. ")
        # A worker thread needs the buffer, the margin and about 1 MiB for the rest.
        wanted = need + margin + (1 << 20)
        if wanted > MAX_SIZE:
            return cls(text + f"No stack_size accepted (at most {MAX_SIZE} bytes: half the "
                              "memory, or 1 GiB) holds it: measure this size on the heap.")
        suggested = min(_next_power_of_two(wanted), MAX_SIZE)
        return cls(text + f"Pass stack_size= (for example stack_size={suggested}) "
                          f"to run on a worker thread with that much stack.")


def _next_power_of_two(n: int) -> int:
    return 1 << max(n - 1, 1).bit_length()


class StrategyUnavailableError(AllocaBenchError, ValueError):
    """The strategy exists but cannot run here (compiler or allocator missing)."""


class KernelError(AllocaBenchError, ValueError):
    """A user kernel that cannot run: it does not compile (the message quotes the compiler's
    first error lines), its function is missing (the message names the functions found), or
    there is no C compiler (the message names the package to install)."""


class NativeError(AllocaBenchError, RuntimeError):
    """The C layer reported a failure (for example mmap or malloc returned nothing)."""


class BuildMismatchError(AllocaBenchError, ImportError):
    """The compiled extension was built from another version of alloca_bench."""


class UnsupportedPlatformError(AllocaBenchError, ImportError):
    """Measuring needs Linux (per-thread rusage, pthread_getattr_np, /proc); results still open
    anywhere."""


class ResultFileError(AllocaBenchError, ValueError):
    """A saved result file is damaged, of an unknown schema, or not a result at all."""


class WorkerError(AllocaBenchError, RuntimeError):
    """The runner (or another child process) running a strategy crashed, hung or returned
    garbage."""


class KallsymsFormatError(AllocaBenchError, ValueError):
    """A kallsyms-format (or Module.symvers) file has a malformed line; the message names it."""
