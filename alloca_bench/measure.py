"""measure() and sweep(): validate the arguments, guard the stack, calibrate the batch, run the
kernels in interleaved rounds and gather the samples into a Measurement or a Result.

A strategy runs in this process, or in a worker child (alloca_bench.allocators) when it names
an allocator (`malloc@jemalloc`), when glibc settings must stay out of this process
(`mmap_threshold=`, `glibc_tunables=`), or with `isolate=True`; the runner hides which."""
from __future__ import annotations

import operator
import os
import random
import time
import warnings
from typing import Callable, Iterable, Sequence, Union

import numpy as np
from tqdm.auto import tqdm

from alloca_bench import native
from alloca_bench.allocators import AllocatorPolicy, Worker, self_placement, split_strategy
from alloca_bench.exceptions import AllocaBenchError, StrategyUnavailableError
from alloca_bench.machine import machine_info
from alloca_bench.result import Iterations, Measurement, Result, format_rows, format_size

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

def check_int(name: str, value: object, low: int, high: int) -> int:
    """`value` as an int from `low` to `high`; TypeError/ValueError naming it and the range."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
    value = operator.index(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def check_size(size: object) -> int:
    """A size in bytes: an int from 1 to MAX_SIZE (half the machine's memory)."""
    return check_int("size", size, 1, MAX_SIZE)


def check_touch(touch: object) -> str:
    if touch not in TOUCHES:
        raise ValueError(f"touch must be one of {', '.join(TOUCHES)}, not {touch!r}")
    return touch


def check_strategy(strategy: object) -> str:
    """A strategy name: one of STRATEGIES, or malloc@NAME / calloc@NAME with NAME an installed
    allocator (ab.allocators())."""
    if isinstance(strategy, str) and "@" in strategy:
        split_strategy(strategy)  # the kernel must call malloc; the allocator must be installed
        return strategy
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
    return check_int("iterations", iterations, 1, MAX_ITERATIONS)


def check_stack_size(stack_size: object) -> int:
    """0 for the calling thread, else bytes of stack for a worker thread."""
    if stack_size is None:
        return 0
    return check_int("stack_size", stack_size, 64 * 1024, MAX_SIZE)


def _guard(strategy: str, size: int, count: int, stack_size: int, backend: str) -> None:
    """Raise StackLimitError when what the compiler reserves for `count` x `strategy` of `size`
    bytes, plus the margin, is not left (the C guard's own rule)."""
    headroom = native.binding(backend).stack_headroom(stack_size)
    if native.stack_need(strategy, size, count) + native.STACK_MARGIN > headroom:
        raise native.stack_limit_error(strategy, size, count, headroom, stack_size)


def guard_stack(strategy: str, size: int, stack_size: int, backend: str = "cffi") -> None:
    """Raise StackLimitError before a stack strategy of `size` bytes could overrun the stack."""
    if strategy in native.STACK_STRATEGIES:
        _guard(strategy, size, 1, stack_size, backend)


def stack_headroom(stack_size: int | None = None, backend: str = "cffi") -> int:
    """Bytes left on this thread's stack (or on a worker thread with `stack_size` bytes).
    An alloca may use all of it but native.STACK_MARGIN bytes."""
    return native.binding(backend).stack_headroom(check_stack_size(stack_size))


def loop_stack_span(strategy: str, size: int, count: int, *, stack_size: int | None = None,
                    backend: str = "cffi") -> int:
    """Bytes of stack that `count` buffers of `size` bytes, allocated one per iteration of a
    loop inside one function, cover together.  "alloca" memory is released only when the
    function returns, so its span grows with `count` (about count x size); a "vla" declared in
    the loop body is released at the end of each iteration, so its span stays about `size`.
    Raises StackLimitError when the allocations would not fit (checked in C too)."""
    if strategy not in ("alloca", "vla"):
        raise ValueError(f"strategy must be 'alloca' or 'vla', not {strategy!r}")
    size = check_size(size)
    count = check_int("count", count, 1, 2**32 - 1)
    stack = check_stack_size(stack_size)
    _guard(strategy, size, count, stack, backend)
    return native.binding(backend).stack_loop(strategy, size, count, stack)


# --- running -------------------------------------------------------------------------------

def _in_process_runner(backend: str, stack_size: int) -> Runner:
    bound = native.binding(backend)

    def run(strategy: str, touch: str, size: int, iterations: int, repeats: int):
        return bound.run(strategy, touch, size, iterations, repeats, stack_size)

    return run


class _Placements:
    """Where each strategy runs, and one runner that reaches it: this process, or a worker
    child per strategy (per (strategy, size) with isolate), started on first use."""

    def __init__(self, policy: AllocatorPolicy, backend: str, stack_size: int) -> None:
        self.policy = policy
        self._local = _in_process_runner(backend, stack_size)
        self._backend, self._stack = backend, stack_size
        # strategy -> (in a child?, kernel, allocator): looked up once, not on every batch
        self._routes: dict[str, tuple[bool, str, str | None]] = {}
        self._workers: dict[str, Worker] = {}
        self._seen: dict[str, dict] = {}  # placement of each child strategy, from its hello

    def run(self, strategy: str, touch: str, size: int, iterations: int,
            repeats: int) -> native.Batches:
        if strategy not in self._routes:
            self._routes[strategy] = (self.policy.in_child(strategy), *split_strategy(strategy))
        in_child, kernel, allocator = self._routes[strategy]
        if not in_child:
            return self._local(strategy, touch, size, iterations, repeats)
        worker = self._workers.get(strategy)
        if worker is None:
            worker = self._workers[strategy] = Worker(strategy, allocator, self.policy)
        try:
            return worker.run(kernel, touch, size, iterations, repeats, self._stack,
                              self._backend)
        finally:
            # Once per strategy: placement() looks up libraries, too slow for every batch.
            if strategy not in self._seen and worker.hello is not None:
                self._seen[strategy] = worker.placement()

    def next_size(self) -> None:
        """With isolate, the next size starts in fresh children."""
        if self.policy.isolate:
            self.close()

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()

    def describe(self, strategies: Sequence[str]) -> dict:
        """{strategy: {"process": "self"|"child", "allocator", "library", "version",
        "glibc_tunables", "mmap_threshold"}} for Result.params["placement"]."""
        here = self_placement()
        out = {}
        for name in strategies:
            if not self.policy.in_child(name):
                out[name] = here
            elif name in self._seen:
                out[name] = self._seen[name]
            else:  # never started (it failed, or the run was interrupted first)
                out[name] = Worker(name, split_strategy(name)[1], self.policy).placement()
        return out


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


def machine_metadata(stack_size: int = 0, backend: str = "cffi") -> dict:
    """machine_info() plus how the kernels were built (build_* keys) and the stack headroom
    and margin (bytes) of the thread that measures: what every result records."""
    info = machine_info()
    info.update({f"build_{k}": " ".join(v) if isinstance(v, list) else v
                 for k, v in native.BUILD_INFO.items()})
    info["stack_headroom"] = native.binding(backend).stack_headroom(stack_size)
    info["stack_margin"] = native.STACK_MARGIN
    return info


def measure(strategy: str, size: int, *, touch: str = "pages",
            iterations: Iterations = "auto", repeats: int = 31, warmup: int = 1,
            stack_size: int | None = None, backend: str = "cffi",
            mmap_threshold: int | None = None, glibc_tunables: str | None = None,
            isolate: bool = False) -> Measurement:
    """Measure one kernel: `repeats` batches of `iterations` ops (calibrated to ~2 ms per batch
    when "auto") after `warmup` discarded batches.  ns/op and faults/op come back per batch.

    Stack strategies raise StackLimitError when `size` does not fit; `stack_size=` (bytes)
    runs every batch on a worker thread with that much stack.  `malloc@NAME` runs in a child
    with the allocator NAME preloaded; `mmap_threshold=` (bytes, pins glibc's threshold) and
    `glibc_tunables=` ("glibc.malloc.tcache_count=0:...") run malloc/calloc in a child with
    those GLIBC_TUNABLES; `isolate=True` runs any strategy in a fresh child.  A child that
    crashes or hangs raises WorkerError.  params["placement"] says where it ran.  Ctrl-C stops
    the run within about a millisecond of ops and returns the batches completed before it, with
    params["interrupted"] True (KeyboardInterrupt when none was complete)."""
    strategy, size, touch = check_strategy(strategy), check_size(size), check_touch(touch)
    iterations = check_iterations(iterations)
    repeats = check_int("repeats", repeats, 1, MAX_REPEATS)
    warmup = check_int("warmup", warmup, 0, MAX_REPEATS)
    stack = check_stack_size(stack_size)
    policy = AllocatorPolicy.checked(mmap_threshold, glibc_tunables, isolate)
    native.binding(backend)  # validates the backend name
    guard_stack(strategy, size, stack, backend)

    placements = _Placements(policy, backend, stack)
    try:
        run = placements.run
        if iterations == "auto":
            iterations = calibrate(run, strategy, touch, size)
        if warmup:
            run(strategy, touch, size, iterations, warmup)
        interrupted = False
        try:
            batches = run(strategy, touch, size, iterations, repeats)
        except native.Interrupted as stop:
            if not len(stop.batches.ns_per_op):
                raise  # Ctrl-C before one batch was complete: nothing to keep
            batches, interrupted = stop.batches, True
    finally:
        placements.close()
    return Measurement(
        strategy=strategy, size=size, touch=touch, iterations=iterations,
        ns_per_op=batches.ns_per_op,
        faults_per_op=batches.minor_faults_per_op + batches.major_faults_per_op,
        major_faults_per_op=batches.major_faults_per_op,
        params={"backend": backend, "stack_size": stack, "warmup": warmup, **policy.describe(),
                "placement": placements.describe([strategy]), "interrupted": interrupted},
    )


def _normalize_iterations(iterations: IterationsArg) -> tuple[Iterations, ...]:
    values = (iterations,) if iterations == "auto" or isinstance(iterations, int) else iterations
    checked = tuple(check_iterations(v) for v in values)
    if not checked or len(set(checked)) != len(checked):
        raise ValueError(
            f"iterations must be 'auto', an int or distinct values, got {iterations!r}")
    return checked


def sweep(sizes: Iterable[int] = DEFAULT_SIZES,
          strategies: Sequence[str] = DEFAULT_STRATEGIES, *,
          iterations: IterationsArg = "auto", touch: str = "pages", repeats: int = 21,
          progress: bool = False, stack_size: int | None = None, backend: str = "cffi",
          seed: int | None = None, warmup: int = 1, mmap_threshold: int | None = None,
          glibc_tunables: str | None = None, isolate: bool = False) -> Result:
    """Measure every strategy at every size and iteration count, in interleaved rounds.

    For each (size, iterations) the strategies are calibrated when iterations is "auto", then
    get `warmup` discarded batches, then are measured in `repeats` rounds; each round runs one
    batch of every strategy in a fresh shuffled order, so machine drift cancels in paired
    ratios.  The baseline strategy is always included.  Ctrl-C returns what was measured so far,
    marked incomplete; a strategy that fails (a StackLimitError, a crashed or hung worker) is
    recorded in Result.params["errors"] and the others go on.

    Strategies may name an allocator (`malloc@jemalloc`: a worker child with it preloaded, kept
    for the whole sweep, one batch per request so it takes its turn in the rounds).
    `mmap_threshold=` pins glibc's mmap threshold (bytes) and `glibc_tunables=` adds
    GLIBC_TUNABLES, both for malloc/calloc run in a child, never in this process.
    `isolate=True` runs every (strategy, size) in a fresh child: no allocator state leaks from
    one size to the next.  With isolate=True, warmup=0 and explicit iterations, sample 0 of the
    first iteration count is the first batch of a fresh process: the cold cost (cold_table()).
    Result.params records the policy and, per strategy, where it ran ("placement")."""
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
    repeats = check_int("repeats", repeats, 1, MAX_REPEATS)
    warmup = check_int("warmup", warmup, 0, MAX_REPEATS)
    stack = check_stack_size(stack_size)
    policy = AllocatorPolicy.checked(mmap_threshold, glibc_tunables, isolate)
    native.binding(backend)
    for name in names:  # refuse before measuring anything, so nothing measured is lost
        guard_stack(name, sizes[-1], stack, backend)

    shape = (len(names), len(sizes), len(iteration_axis))
    arrays = {k: np.full(shape + (repeats,), np.nan)
              for k in ("ns_per_op", "faults_per_op", "major_faults_per_op")}
    batch_iterations = np.zeros(shape, dtype=np.int64)
    rng = random.Random(seed)
    placements = _Placements(policy, backend, stack)
    run = placements.run
    errors: dict[str, str] = {}
    in_batch_ns = 0.0
    interrupted = False

    bar = tqdm(total=len(sizes) * len(iteration_axis) * repeats, unit="round",
               disable=None if progress else True, desc="alloca-bench")
    try:
        for z, size in enumerate(sizes):
            placements.next_size()
            for i, requested in enumerate(iteration_axis):
                bar.set_postfix_str(f"size={size}")
                live = [s for s in range(len(names)) if names[s] not in errors]
                for s in rng.sample(live, len(live)):
                    try:
                        n = (calibrate(run, names[s], touch, size) if requested == "auto"
                             else requested)
                        batch_iterations[s, z, i] = n
                        if warmup:
                            run(names[s], touch, size, n, warmup)
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
        placements.close()

    wall = time.perf_counter() - started
    return Result(
        strategies=tuple(names), sizes=np.array(sizes, dtype=np.int64),
        iterations=iteration_axis, touch=touch, batch_iterations=batch_iterations,
        complete=not interrupted and not errors and not np.isnan(arrays["ns_per_op"]).any(),
        machine=machine_metadata(stack, backend),
        params={"repeats": repeats, "backend": backend, "stack_size": stack, "seed": seed,
                "target_batch_ns": TARGET_BATCH_NS, "interrupted": interrupted,
                "errors": errors, "warmup": warmup, **policy.describe(),
                "placement": placements.describe(names)},
        timing={"wall_s": wall, "in_batch_s": in_batch_ns / 1e9,
                "in_batch_fraction": in_batch_ns / 1e9 / wall if wall > 0 else 0.0},
        **arrays,
    )


def cold_table(result: Result) -> str:
    """Cold beside warm, for a sweep run with isolate=True, warmup=0 and explicit iterations
    (e.g. iterations=(1, 10_000)): per size and strategy, sample 0 of the first iteration count,
    which is the first batch of a fresh process (fresh pages, a first mmap), beside the median
    of the last iteration count (the later samples when there is only one count)."""
    params = result.params
    if not (params.get("isolate") and params.get("warmup") == 0
            and result.iterations[0] != "auto"):
        raise ValueError(
            "cold figures need sweep(isolate=True, warmup=0, iterations=(1, ...)); this result "
            f"has isolate={params.get('isolate')}, warmup={params.get('warmup')}, "
            f"iterations={list(result.iterations)}")
    last = len(result.iterations) - 1
    skip = 1 if last == 0 else 0  # with a single count, its sample 0 is the cold one
    warm, faults = (np.full(result.ns_per_op.shape[:2], np.nan) for _ in range(2))
    if result.repeats > skip:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells of failed strategies
            warm = np.nanmedian(result.ns_per_op[:, :, last, skip:], axis=2)
            faults = np.nanmedian(result.faults_per_op[:, :, last, skip:], axis=2)
    cold_label = f"cold ns/op (first {result.iterations[0]} op(s))"
    warm_label = f"warm ns/op ({result.iterations[last]} ops/batch)"
    rows = [("size", "strategy", cold_label, "cold faults/op", warm_label, "warm faults/op")]
    for z, size in enumerate(result.sizes):
        for s, name in enumerate(result.strategies):
            rows.append((format_size(int(size)), name, f"{result.ns_per_op[s, z, 0, 0]:.1f}",
                         f"{result.faults_per_op[s, z, 0, 0]:.3g}", f"{warm[s, z]:.1f}",
                         f"{faults[s, z]:.3g}"))
    return format_rows(list(rows[0]), [list(row) for row in rows[1:]], left=2)
