"""measure() and sweep(): validate the arguments, guard the stack, calibrate the batch, run the
kernels in interleaved rounds and gather the samples into a Measurement or a Result."""
from __future__ import annotations

import operator
import os
import random
import time
from typing import Callable, Iterable, Sequence, Union

import numpy as np
from tqdm.auto import tqdm

from alloca_bench import native
from alloca_bench.exceptions import AllocaBenchError, StackLimitError, StrategyUnavailableError
from alloca_bench.machine import machine_info
from alloca_bench.result import Iterations, Measurement, Result

STRATEGIES = native.STRATEGIES
TOUCHES = native.TOUCHES
DEFAULT_SIZES: tuple[int, ...] = tuple(1 << k for k in range(4, 21))  # 16 B .. 1 MiB
DEFAULT_STRATEGIES = ("baseline", "alloca", "vla", "malloc", "calloc")
# A sample of 1-10 ms is long enough to dwarf the clock and the Python call around it and short
# enough to take dozens of samples per cell in a few seconds.
TARGET_BATCH_NS = 2e6
MAX_ITERATIONS = 10**9
MAX_REPEATS = 10**6
# Nothing larger than half the machine's memory: a full touch of more could take it down.
MAX_SIZE: int = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2

Runner = Callable[[str, str, int, int, int], native.Batches]
IterationsArg = Union[Iterations, Sequence[Iterations]]


# --- validation ----------------------------------------------------------------------------

def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
    value = operator.index(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def check_size(size: object) -> int:
    """A size in bytes: an int from 1 to MAX_SIZE (half the machine's memory)."""
    return _check_int("size", size, 1, MAX_SIZE)


def check_touch(touch: object) -> str:
    if touch not in TOUCHES:
        raise ValueError(f"touch must be one of {', '.join(TOUCHES)}, not {touch!r}")
    return touch


def check_strategy(strategy: object) -> str:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: choose from {', '.join(STRATEGIES)}")
    if not native.strategy_available(strategy):
        raise StrategyUnavailableError(
            f"strategy {strategy!r} is not available in this build (compiler: "
            f"{native.BUILD_INFO['compiler']}; stack-clash probing needs gcc >= 8)")
    return strategy


def check_iterations(iterations: object) -> Iterations:
    if iterations == "auto":
        return "auto"
    return _check_int("iterations", iterations, 1, MAX_ITERATIONS)


def check_stack_size(stack_size: object) -> int:
    """0 for the calling thread, else bytes of stack for a worker thread."""
    if stack_size is None:
        return 0
    return _check_int("stack_size", stack_size, 64 * 1024, MAX_SIZE)


def guard_stack(strategy: str, size: int, stack_size: int, backend: str = "cffi") -> None:
    """Raise StackLimitError before a stack strategy of `size` bytes could overrun the stack."""
    if strategy not in native.STACK_STRATEGIES:
        return
    headroom = native.binding(backend).stack_headroom(stack_size)
    if size + native.STACK_MARGIN > headroom:
        raise StackLimitError.for_size(strategy, size, headroom, native.STACK_MARGIN, stack_size)


def stack_headroom(stack_size: int | None = None, backend: str = "cffi") -> int:
    """Bytes left on this thread's stack (or on a worker thread with `stack_size` bytes).
    An alloca may use all of it but native.STACK_MARGIN bytes."""
    return native.binding(backend).stack_headroom(check_stack_size(stack_size))


# --- running -------------------------------------------------------------------------------

def _in_process_runner(backend: str, stack_size: int) -> Runner:
    bound = native.binding(backend)

    def run(strategy: str, touch: str, size: int, iterations: int, repeats: int):
        return bound.run(strategy, touch, size, iterations, repeats, stack_size)

    return run


def calibrate(run: Runner, strategy: str, touch: str, size: int,
              target_ns: float = TARGET_BATCH_NS) -> int:
    """Ops per batch so that one batch lasts about `target_ns`.  A first op is run and thrown
    away (it may be cold: fresh pages, a first mmap), a trial batch grows until it lasts a tenth
    of the target, and the scaled count is checked once more at full length."""
    def ns_per_op(n: int) -> float:
        return max(float(run(strategy, touch, size, n, 1).ns_per_op[0]), 0.01)

    def scaled(ns: float) -> int:
        return int(min(MAX_ITERATIONS, max(1, round(target_ns / ns))))

    ns_per_op(1)
    n = 1
    ns = ns_per_op(n)
    while ns * n < target_ns / 10 and n < MAX_ITERATIONS:
        n = min(MAX_ITERATIONS, n * 100, max(2 * n, int(target_ns / 10 / ns) + 1))
        ns = ns_per_op(n)
    n = scaled(ns)
    return scaled(ns_per_op(n))


def _machine(backend: str, stack_size: int) -> dict:
    info = machine_info()
    info.update({f"build_{k}": " ".join(v) if isinstance(v, list) else v
                 for k, v in native.BUILD_INFO.items()})
    info["stack_headroom"] = native.binding(backend).stack_headroom(stack_size)
    info["stack_margin"] = native.STACK_MARGIN
    return info


def measure(strategy: str, size: int, *, touch: str = "pages",
            iterations: Iterations = "auto", repeats: int = 31, warmup: int = 1,
            stack_size: int | None = None, backend: str = "cffi") -> Measurement:
    """Measure one kernel: `repeats` batches of `iterations` ops (calibrated to ~2 ms per batch
    when "auto") after `warmup` discarded batches.  ns/op and faults/op come back per batch.

    Stack strategies raise StackLimitError when `size` does not fit; `stack_size=` (bytes)
    runs every batch on a worker thread with that much stack."""
    strategy, size, touch = check_strategy(strategy), check_size(size), check_touch(touch)
    iterations = check_iterations(iterations)
    repeats = _check_int("repeats", repeats, 1, MAX_REPEATS)
    warmup = _check_int("warmup", warmup, 0, MAX_REPEATS)
    stack = check_stack_size(stack_size)
    native.binding(backend)  # validates the backend name
    guard_stack(strategy, size, stack, backend)

    run = _in_process_runner(backend, stack)
    if iterations == "auto":
        iterations = calibrate(run, strategy, touch, size)
    if warmup:
        run(strategy, touch, size, iterations, warmup)
    batches = run(strategy, touch, size, iterations, repeats)
    return Measurement(
        strategy=strategy, size=size, touch=touch, iterations=iterations,
        ns_per_op=batches.ns_per_op,
        faults_per_op=batches.minor_faults_per_op + batches.major_faults_per_op,
        major_faults_per_op=batches.major_faults_per_op,
        params={"backend": backend, "stack_size": stack, "warmup": warmup},
    )


def _normalize_iterations(iterations: IterationsArg) -> tuple[Iterations, ...]:
    values = (iterations,) if iterations == "auto" or isinstance(iterations, int) else iterations
    checked = tuple(check_iterations(v) for v in values)
    if not checked or len(set(checked)) != len(checked):
        raise ValueError(f"iterations must be 'auto', an int or distinct values, got {iterations!r}")
    return checked


def sweep(sizes: Iterable[int] = DEFAULT_SIZES,
          strategies: Sequence[str] = DEFAULT_STRATEGIES, *,
          iterations: IterationsArg = "auto", touch: str = "pages", repeats: int = 21,
          progress: bool = False, stack_size: int | None = None, backend: str = "cffi",
          seed: int | None = None) -> Result:
    """Measure every strategy at every size and iteration count, in interleaved rounds.

    For each (size, iterations) the strategies are calibrated (or warmed up), then measured in
    `repeats` rounds; each round runs one batch of every strategy in a fresh shuffled order, so
    machine drift cancels in paired ratios.  The baseline strategy is always included.  Ctrl-C
    returns what was measured so far, marked incomplete; a strategy that fails is recorded in
    Result.params["errors"] and the others go on."""
    started = time.perf_counter()
    sizes = sorted({check_size(s) for s in sizes})
    if not sizes:
        raise ValueError("sizes is empty: give at least one size in bytes")
    if isinstance(strategies, str):
        strategies = (strategies,)
    names = ["baseline"] + [check_strategy(s) for s in strategies if s != "baseline"]
    if len(set(names)) != len(names):
        raise ValueError(f"strategies must be distinct, got {list(strategies)}")
    touch = check_touch(touch)
    iteration_axis = _normalize_iterations(iterations)
    repeats = _check_int("repeats", repeats, 1, MAX_REPEATS)
    stack = check_stack_size(stack_size)
    native.binding(backend)
    for name in names:  # refuse before measuring anything, so nothing measured is lost
        guard_stack(name, sizes[-1], stack, backend)

    shape = (len(names), len(sizes), len(iteration_axis))
    arrays = {k: np.full(shape + (repeats,), np.nan)
              for k in ("ns_per_op", "faults_per_op", "major_faults_per_op")}
    batch_iterations = np.zeros(shape, dtype=np.int64)
    rng = random.Random(seed)
    run = _in_process_runner(backend, stack)
    errors: dict[str, str] = {}
    in_batch_ns = 0.0
    interrupted = False

    bar = tqdm(total=len(sizes) * len(iteration_axis) * repeats, unit="round",
               disable=None if progress else True, desc="alloca-bench")
    try:
        for z, size in enumerate(sizes):
            for i, requested in enumerate(iteration_axis):
                bar.set_postfix_str(f"size={size}")
                live = [s for s in range(len(names)) if names[s] not in errors]
                for s in rng.sample(live, len(live)):
                    try:
                        if requested == "auto":
                            batch_iterations[s, z, i] = calibrate(run, names[s], touch, size)
                        else:
                            batch_iterations[s, z, i] = requested
                            run(names[s], touch, size, requested, 1)  # warm-up batch
                    except AllocaBenchError as exc:
                        errors[names[s]] = str(exc)
                for r in range(repeats):
                    live = [s for s in range(len(names)) if names[s] not in errors]
                    for s in rng.sample(live, len(live)):
                        n = int(batch_iterations[s, z, i])
                        try:
                            batch = run(names[s], touch, size, n, 1)
                        except AllocaBenchError as exc:
                            errors[names[s]] = str(exc)
                            continue
                        arrays["ns_per_op"][s, z, i, r] = batch.ns_per_op[0]
                        arrays["major_faults_per_op"][s, z, i, r] = batch.major_faults_per_op[0]
                        arrays["faults_per_op"][s, z, i, r] = (
                            batch.minor_faults_per_op[0] + batch.major_faults_per_op[0])
                        in_batch_ns += float(batch.ns_per_op[0]) * n
                    bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()

    wall = time.perf_counter() - started
    return Result(
        strategies=tuple(names), sizes=np.array(sizes, dtype=np.int64),
        iterations=iteration_axis, touch=touch, batch_iterations=batch_iterations,
        complete=not interrupted and not errors and not np.isnan(arrays["ns_per_op"]).any(),
        machine=_machine(backend, stack),
        params={"repeats": repeats, "backend": backend, "stack_size": stack, "seed": seed,
                "target_batch_ns": TARGET_BATCH_NS, "interrupted": interrupted,
                "errors": errors},
        timing={"wall_s": wall, "in_batch_s": in_batch_ns / 1e9,
                "in_batch_fraction": in_batch_ns / 1e9 / wall if wall > 0 else 0.0},
        **arrays,
    )
