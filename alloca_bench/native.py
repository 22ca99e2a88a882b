"""The only module that touches the compiled kernels: cffi (default) and ctypes bindings of the
same shared object, and the translation of C status codes into exceptions."""
from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from alloca_bench.exceptions import UnsupportedPlatformError

if not sys.platform.startswith("linux"):
    raise UnsupportedPlatformError(
        f"alloca_bench measures on Linux only (it needs getrusage(RUSAGE_THREAD), "
        f"pthread_getattr_np and /proc); this is {sys.platform}.  Saved results still open, "
        f"compare and plot here: alloca_bench.load(path)")

from alloca_bench._native import ffi, lib  # noqa: E402 - after the platform check
from alloca_bench._csrc_hash import csrc_sha256
from alloca_bench._version import __version__
from alloca_bench.exceptions import (
    BuildMismatchError,
    NativeError,
    StackLimitError,
    StrategyUnavailableError,
)

BINDINGS = ("cffi", "ctypes")
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
# A size a StackLimitError quotes leaves this much more free, so that it still fits when the
# next call reaches the guard a few frames deeper than the call that measured the headroom, or
# in another process, whose stack top the kernel moves by up to 8 KiB.
STACK_SLACK = 16 << 10
BUILD_INFO: dict = json.loads(ffi.string(lib.ab_build_info()).decode())

# Like pyca/cryptography: a stale extension from another version is refused, not half-used.
if BUILD_INFO["package_version"] != __version__:
    raise BuildMismatchError(
        f"alloca_bench {__version__} found a compiled extension built for "
        f"{BUILD_INFO['package_version']}; reinstall with `pip install -e .` or `pip install .`"
    )


def _warn_if_sources_changed() -> None:
    """In an editable checkout, C edits need a rebuild; say so instead of timing old kernels."""
    csrc = os.path.join(os.path.dirname(__file__), os.pardir, "csrc")
    if os.path.isdir(csrc) and csrc_sha256(csrc) != BUILD_INFO["csrc_sha256"]:
        warnings.warn(
            "csrc/ changed since alloca_bench._native was built: run `pip install -e .` again",
            stacklevel=3,
        )


_warn_if_sources_changed()

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


def stack_need(strategy: str, size: int, count: int = 1) -> int:
    """Bytes of stack `count` buffers of `size` bytes take as the compiler lays them out (only
    "alloca" keeps all `count`; see ab_stack_need): what the stack guard counts."""
    return int(lib.ab_stack_need(STRATEGIES.index(strategy), size, count))


class _Calibration:
    """What ab_calibrate() calls back for each batch: batch(n) gives the ns per op of n ops.
    An exception (Ctrl-C's included) stops the calibration and is raised after it."""

    def __init__(self, batch: Callable[[int], float]) -> None:
        self.batch = batch
        self.error: BaseException | None = None

    def __call__(self, n: int, ns_per_op) -> int:
        try:
            ns_per_op[0] = self.batch(int(n))
        except BaseException as exc:  # raised again once ab_calibrate() has returned
            self.error = exc
            return lib.AB_EINTR
        return lib.AB_OK


@ffi.def_extern()
def _ab_calibrate_batch(ctx, n, ns_per_op) -> int:
    return ffi.from_handle(ctx)(n, ns_per_op)


def calibrate(batch: Callable[[int], float], target_ns: float, max_ops: int) -> int:
    """Ops per batch (1..max_ops) so that one batch lasts about `target_ns`: ab_calibrate(), the
    runner's own rule, with batch(n) running n ops and giving their ns per op."""
    calibration = _Calibration(batch)
    handle = ffi.new_handle(calibration)  # alive until ab_calibrate returns
    out = ffi.new("uint64_t *")
    status = lib.ab_calibrate(lib._ab_calibrate_batch, handle, target_ns, max_ops, out)
    if calibration.error is not None:
        raise calibration.error
    ensure(status, "calibration")
    return int(out[0])


def library_version(path: str) -> str | None:
    """The version the library `path`, already loaded in this process, reports about itself
    (ab_library_version: jemalloc, gperftools, mimalloc, glibc), or None."""
    out = ffi.new("char[256]")
    if not lib.ab_library_version(os.fsencode(path), out, len(out)):
        return None
    return ffi.string(out).decode(errors="replace")


def stack_limit_error(strategy: str, size: int, count: int, headroom: int,
                      stack_size: int) -> StackLimitError:
    """The StackLimitError for `count` x `strategy` of `size` bytes with `headroom` bytes left;
    the largest safe size it quotes passes the guard when fed back."""
    index = STRATEGIES.index(strategy)
    largest = int(lib.ab_stack_largest(index, count, max(headroom - STACK_SLACK, 0)))
    if count == 1:  # the alignment of one buffer is a few bytes: not worth a mention
        return StackLimitError.for_size(strategy, size, headroom, STACK_MARGIN, stack_size,
                                        largest=largest)
    return StackLimitError.for_size(f"{count} x {strategy} in a loop, each", size, headroom,
                                    STACK_MARGIN, stack_size,
                                    need=stack_need(strategy, size, count), largest=largest)


@dataclass(frozen=True)
class Batches:
    """Per-batch figures of one ab_run() call, each an array of shape (repeats,)."""

    ns_per_op: np.ndarray
    minor_faults_per_op: np.ndarray
    major_faults_per_op: np.ndarray
    cpu_ns_per_op: np.ndarray  # the measuring thread's CPU time
    switches: np.ndarray  # involuntary context switches in the batch: > 0, it was preempted
    retakes: np.ndarray  # attempts thrown away as preempted before it (at most MAX_RETAKES)


# struct ab_batch, field for field (alloca_bench.h)
BATCH_DTYPE = np.dtype([("ns_per_op", "f8"), ("minflt_per_op", "f8"), ("majflt_per_op", "f8"),
                        ("cpu_ns_per_op", "f8"), ("switches", "u4"), ("retakes", "u4")])
MAX_RETAKES = lib.AB_MAX_RETAKES


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run in C; `batches` holds the batches completed before the stop (maybe
    none).  A KeyboardInterrupt, so code that does not know it stops as usual."""

    def __init__(self, batches: Batches) -> None:
        super().__init__()
        self.batches = batches


def _batches(out: np.ndarray) -> Batches:
    """Batches from ab_run()'s struct ab_batch array, the batches before the first NaN: those a
    stopped run completed (all of them when none is NaN)."""
    ns = out["ns_per_op"]
    done = int(np.argmax(np.isnan(ns))) if np.isnan(ns).any() else len(ns)
    return Batches(*(out[name][:done].copy() for name in BATCH_DTYPE.names))


class _CtrlC:
    """Lets Ctrl-C stop a C run of the main thread within about a millisecond of ops.

    Python's own SIGINT handler only raises KeyboardInterrupt once the C call returns, but its
    C part writes the signal number to the wakeup fd at once.  While a run is armed that fd is
    a pipe read by a daemon thread, which calls ab_abort() on SIGINT and passes every byte on
    to the wakeup fd set before (asyncio's, for example)."""

    def __init__(self) -> None:
        self._forget()
        # A forked child has the pipe but not the thread reading it: it makes its own.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._write_fd = -1
        self._forward = -1
        self._armed = False

    def _watch(self, read_fd: int) -> None:
        while True:
            data = os.read(read_fd, 512)
            if not data:
                return
            if signal.SIGINT in data:
                lib.ab_abort()
            if self._forward >= 0:
                try:
                    os.write(self._forward, data)
                except OSError:
                    pass

    def _pipe(self) -> int:
        with self._lock:
            if self._write_fd < 0:
                read_fd, write_fd = os.pipe()
                os.set_blocking(write_fd, False)
                threading.Thread(target=self._watch, args=(read_fd,), daemon=True,
                                 name="alloca-bench-ctrl-c").start()
                self._write_fd = write_fd
        return self._write_fd

    def arm(self) -> None:
        """On the main thread with Python's default SIGINT handler: the next runs of this
        thread stop on Ctrl-C.  Elsewhere Ctrl-C never raises here, so nothing is armed."""
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            return
        write_fd = self._pipe()
        lib.ab_abort_watch(1)
        try:
            old = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        except ValueError:  # not the main interpreter
            lib.ab_abort_watch(0)
            return
        self._forward = old if old != write_fd else -1
        self._armed = True

    def disarm(self) -> None:
        """Undo arm(); harmless when not armed or called twice."""
        if self._armed:
            self._armed = False
            signal.set_wakeup_fd(self._forward, warn_on_full_buffer=False)
            self._forward = -1
            lib.ab_abort_watch(0)


_CTRL_C = _CtrlC()


class _Binding:
    """One way of calling the shared object; subclasses differ only in the FFI used."""

    name: str
    noop: Callable[[], int]

    def _run(self, args: tuple, out: np.ndarray) -> int:
        raise NotImplementedError

    def _headroom(self, stack_size: int) -> tuple[int, int]:
        raise NotImplementedError

    def _loop(self, args: tuple) -> tuple[int, int]:
        raise NotImplementedError

    def run(self, strategy: str, touch: str, size: int, iterations: int, repeats: int,
            stack_size: int = 0, max_retakes: int = MAX_RETAKES) -> Batches:
        """Run `repeats` batches of `iterations` ops in C (arguments already validated), a
        preempted batch run again up to `max_retakes` times (0 for a cold batch: its retake
        would be warm)."""
        out = np.zeros(repeats, BATCH_DTYPE)
        out["ns_per_op"] = np.nan
        args = (STRATEGIES.index(strategy), TOUCHES.index(touch), size, iterations, repeats,
                stack_size, max_retakes)
        status = lib.AB_EINTR
        # Ctrl-C raises KeyboardInterrupt anywhere after the C call returns: every path out
        # disarms and keeps the completed batches.
        try:
            _CTRL_C.arm()
            try:
                status = self._run(args, out)
            finally:
                _CTRL_C.disarm()
        except KeyboardInterrupt:
            _CTRL_C.disarm()
            raise Interrupted(_batches(out)) from None
        if status == lib.AB_EINTR:
            raise Interrupted(_batches(out))
        if status == lib.AB_ESTACK:
            raise stack_limit_error(strategy, size, 1, self.stack_headroom(stack_size),
                                    stack_size)
        ensure(status, f"{strategy} of {size} bytes")
        return _batches(out)

    def stack_loop(self, strategy: str, size: int, count: int, stack_size: int = 0) -> int:
        """Bytes of stack spanned by `count` allocations of `size` bytes made in one loop in
        one call ("alloca" keeps them all until return, "vla" one at a time)."""
        status, span = self._loop((STRATEGIES.index(strategy), size, count, stack_size))
        if status == lib.AB_ESTACK:
            raise stack_limit_error(strategy, size, count, self.stack_headroom(stack_size),
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

    def _run(self, args: tuple, out: np.ndarray) -> int:
        return lib.ab_run(*args, ffi.from_buffer("struct ab_batch[]", out))

    # Each call gets its own output cell: the C call runs without the GIL, so a cell shared
    # by the binding would be written by several threads at once.
    def _headroom(self, stack_size: int) -> tuple[int, int]:
        value = ffi.new("size_t *")
        status = lib.ab_stack_headroom(stack_size, value)
        return status, int(value[0])

    def _loop(self, args: tuple) -> tuple[int, int]:
        value = ffi.new("size_t *")
        status = lib.ab_stack_loop(*args, value)
        return status, int(value[0])


class _CtypesBinding(_Binding):
    name = "ctypes"

    def __init__(self) -> None:
        from alloca_bench import _native

        # The same .so that cffi loaded: dlopen hands back the already-mapped object.
        so = ctypes.CDLL(_native.__file__)
        self._ab_run = so.ab_run
        self._ab_run.restype = ctypes.c_int
        self._ab_run.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint64,
                                 ctypes.c_uint32, ctypes.c_size_t, ctypes.c_uint32,
                                 ctypes.c_void_p]
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

    def _run(self, args: tuple, out: np.ndarray) -> int:
        return self._ab_run(*args, out.ctypes.data_as(ctypes.c_void_p))

    def _headroom(self, stack_size: int) -> tuple[int, int]:
        value = ctypes.c_size_t()
        status = self._ab_headroom(stack_size, ctypes.byref(value))
        return status, value.value

    def _loop(self, args: tuple) -> tuple[int, int]:
        value = ctypes.c_size_t()
        status = self._ab_loop(*args, ctypes.byref(value))
        return status, value.value


_BINDINGS: dict[str, _Binding] = {}


def binding(name: str = "cffi") -> _Binding:
    """The binding `name` ("cffi" or "ctypes"), created on first use."""
    if name not in BINDINGS:
        raise ValueError(f"binding must be one of {', '.join(BINDINGS)}, not {name!r}")
    if name not in _BINDINGS:
        _BINDINGS[name] = _CffiBinding() if name == "cffi" else _CtypesBinding()
    return _BINDINGS[name]


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
    for name in BINDINGS:
        noop = binding(name).noop
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter_ns()
            for _ in range(calls):
                noop()
            best = min(best, (time.perf_counter_ns() - start) / calls)
        result[name] = best
    return result
