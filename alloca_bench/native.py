"""The only module that touches the compiled kernels: cffi (default) and ctypes bindings of the
same shared object, and the translation of C status codes into exceptions."""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from alloca_bench._native import ffi, lib
from alloca_bench._version import __version__
from alloca_bench.exceptions import (
    BuildMismatchError,
    NativeError,
    StackLimitError,
    StrategyUnavailableError,
)

BACKENDS = ("cffi", "ctypes")
STRATEGIES: tuple[str, ...] = tuple(
    ffi.string(lib.ab_strategy_name(i)).decode() for i in range(lib.AB_N_STRATEGIES)
)
TOUCHES: tuple[str, ...] = tuple(
    ffi.string(lib.ab_touch_name(i)).decode() for i in range(lib.AB_N_TOUCHES)
)
STACK_STRATEGIES: frozenset[str] = frozenset(
    name for i, name in enumerate(STRATEGIES) if lib.ab_strategy_uses_stack(i)
)
STACK_MARGIN: int = lib.AB_STACK_MARGIN  # bytes kept free below every alloca/VLA
TOUCH_STRIDE: int = lib.AB_TOUCH_STRIDE  # bytes between two writes of touch "pages"
BUILD_INFO: dict = json.loads(ffi.string(lib.ab_build_info()).decode())

# Like pyca/cryptography: a stale extension from another version is refused, not half-used.
if BUILD_INFO["package_version"] != __version__:
    raise BuildMismatchError(
        f"alloca_bench {__version__} found a compiled extension built for "
        f"{BUILD_INFO['package_version']}; reinstall with `pip install -e .` or `pip install .`"
    )


def _csrc_sha256(csrc: str) -> str:
    digest = hashlib.sha256()
    for name in sorted(os.listdir(csrc)):
        digest.update(name.encode())
        with open(os.path.join(csrc, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def _warn_if_sources_changed() -> None:
    """In an editable checkout, C edits need a rebuild; say so instead of timing old kernels."""
    csrc = os.path.join(os.path.dirname(__file__), os.pardir, "csrc")
    if os.path.isdir(csrc) and _csrc_sha256(csrc) != BUILD_INFO["csrc_sha256"]:
        warnings.warn(
            "csrc/ changed since alloca_bench._native was built: run `pip install -e .` again",
            stacklevel=3,
        )


_warn_if_sources_changed()

_STRATEGY_ERRORS = {lib.AB_ESTACK, lib.AB_EUNAVAILABLE}


def _message(status: int) -> str:
    return ffi.string(lib.ab_strerror(status)).decode()


def ensure(status: int, what: str) -> None:
    """Raise the exception that matches a C status code (pynacl's ensure()); `what` says which
    call failed and with which arguments."""
    if status == lib.AB_OK:
        return
    text = f"{what}: {_message(status)}"
    if status == lib.AB_ESTACK:
        raise StackLimitError(text)
    if status == lib.AB_EUNAVAILABLE:
        raise StrategyUnavailableError(text)
    if status in (lib.AB_EBADSTRATEGY, lib.AB_EBADTOUCH, lib.AB_EBADSIZE, lib.AB_EBADCOUNT):
        raise ValueError(text)
    raise NativeError(text)


@dataclass(frozen=True)
class Batches:
    """Per-batch figures of one ab_run() call, each an array of shape (repeats,)."""

    ns_per_op: np.ndarray
    minor_faults_per_op: np.ndarray
    major_faults_per_op: np.ndarray


class _Binding:
    """One way of calling the shared object; subclasses differ only in the FFI used."""

    name: str
    noop: Callable[[], int]

    def _run(self, args: tuple, out: tuple[np.ndarray, ...]) -> int:
        raise NotImplementedError

    def _headroom(self, stack_size: int) -> tuple[int, int]:
        raise NotImplementedError

    def _loop(self, args: tuple) -> tuple[int, int]:
        raise NotImplementedError

    def run(self, strategy: str, touch: str, size: int, iterations: int, repeats: int,
            stack_size: int = 0) -> Batches:
        """Run `repeats` batches of `iterations` ops in C (arguments already validated)."""
        out = tuple(np.empty(repeats, dtype=np.float64) for _ in range(3))
        args = (STRATEGIES.index(strategy), TOUCHES.index(touch), size, iterations, repeats,
                stack_size)
        status = self._run(args, out)
        if status == lib.AB_ESTACK:
            raise StackLimitError.for_size(strategy, size, self.stack_headroom(stack_size),
                                           STACK_MARGIN, stack_size)
        ensure(status, f"{strategy} of {size} bytes")
        return Batches(*out)

    def stack_loop(self, strategy: str, size: int, count: int, stack_size: int = 0) -> int:
        """Bytes of stack spanned by `count` allocations of `size` bytes made in one loop in
        one call ("alloca" keeps them all until return, "vla" one at a time)."""
        status, span = self._loop((STRATEGIES.index(strategy), size, count, stack_size))
        if status == lib.AB_ESTACK:
            need = size * count if strategy == "alloca" else size
            raise StackLimitError.for_size(f"{count} x {strategy} in a loop", need,
                                           self.stack_headroom(stack_size), STACK_MARGIN,
                                           stack_size)
        ensure(status, f"{count} x {strategy} of {size} bytes in a loop")
        return span

    def stack_headroom(self, stack_size: int = 0) -> int:
        """Bytes left below the caller's frame (on a worker with `stack_size` bytes if > 0)."""
        status, headroom = self._headroom(stack_size)
        ensure(status, f"stack headroom with stack_size={stack_size}")
        return headroom


class _CffiBinding(_Binding):
    name = "cffi"

    def __init__(self) -> None:
        self.noop = lib.ab_noop
        self._out = ffi.new("size_t *")

    def _run(self, args: tuple, out: tuple[np.ndarray, ...]) -> int:
        return lib.ab_run(*args, *(ffi.from_buffer("double[]", a) for a in out))

    def _headroom(self, stack_size: int) -> tuple[int, int]:
        status = lib.ab_stack_headroom(stack_size, self._out)
        return status, int(self._out[0])

    def _loop(self, args: tuple) -> tuple[int, int]:
        status = lib.ab_stack_loop(*args, self._out)
        return status, int(self._out[0])


class _CtypesBinding(_Binding):
    name = "ctypes"

    def __init__(self) -> None:
        import alloca_bench._native as native_module

        # The same .so that cffi loaded: dlopen hands back the already-mapped object.
        so = ctypes.CDLL(native_module.__file__)
        dptr = ctypes.POINTER(ctypes.c_double)
        self._ab_run = so.ab_run
        self._ab_run.restype = ctypes.c_int
        self._ab_run.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint64,
                                 ctypes.c_uint32, ctypes.c_size_t, dptr, dptr, dptr]
        self._ab_headroom = so.ab_stack_headroom
        self._ab_headroom.restype = ctypes.c_int
        self._ab_headroom.argtypes = [ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
        self._ab_loop = so.ab_stack_loop
        self._ab_loop.restype = ctypes.c_int
        self._ab_loop.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_size_t,
                                  ctypes.POINTER(ctypes.c_size_t)]
        self.noop = so.ab_noop
        self.noop.restype = ctypes.c_int
        self.noop.argtypes = []
        self._dptr = dptr

    def _run(self, args: tuple, out: tuple[np.ndarray, ...]) -> int:
        return self._ab_run(*args, *(a.ctypes.data_as(self._dptr) for a in out))

    def _headroom(self, stack_size: int) -> tuple[int, int]:
        value = ctypes.c_size_t()
        status = self._ab_headroom(stack_size, ctypes.byref(value))
        return status, value.value

    def _loop(self, args: tuple) -> tuple[int, int]:
        value = ctypes.c_size_t()
        status = self._ab_loop(*args, ctypes.byref(value))
        return status, value.value


_BINDINGS: dict[str, _Binding] = {}


def binding(backend: str = "cffi") -> _Binding:
    """The binding named `backend` ("cffi" or "ctypes"), created on first use."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend not in _BINDINGS:
        _BINDINGS[backend] = _CffiBinding() if backend == "cffi" else _CtypesBinding()
    return _BINDINGS[backend]


def strategy_available(strategy: str) -> bool:
    """True when this build can run `strategy` (the probed ones need gcc)."""
    return bool(lib.ab_strategy_available(STRATEGIES.index(strategy)))


def ffi_overhead(calls: int = 200_000, repeats: int = 5) -> dict[str, float]:
    """Cost of one Python -> C call of an empty function, in ns, per binding (best of
    `repeats` loops of `calls` calls).  It is larger than an alloca, which is why every
    per-op figure in alloca_bench is timed in C around whole batches."""
    if calls < 1 or repeats < 1:
        raise ValueError(f"calls and repeats must be >= 1, got calls={calls}, repeats={repeats}")
    result = {}
    for backend in BACKENDS:
        noop = binding(backend).noop
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter_ns()
            for _ in range(calls):
                noop()
            best = min(best, (time.perf_counter_ns() - start) / calls)
        result[backend] = best
    return result
