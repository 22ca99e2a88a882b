"""measure() and sweep(): calibrate the batch, run the
kernels in interleaved rounds and gather the samples into a Measurement or a Result.

A strategy runs in this process, or in a worker child (alloca_bench.allocators) when it names
an allocator (`malloc@jemalloc`), when glibc settings must stay out of this process
(`mmap_threshold=`, `glibc_tunables=`), or with `isolate=True`; the runner hides which."""
from __future__ import annotations

import os
import random
import time
from typing import Callable, Iterable, Sequence, Union

import numpy as np
from tqdm.auto import tqdm

from alloca_bench import native
from alloca_bench.allocators import AllocatorPolicy, self_placement, split_strategy
from alloca_bench.allocators.worker import Worker
from alloca_bench.exceptions import AllocaBenchError
from alloca_bench.machine import machine_info
from alloca_bench.measure.validate import (MAX_ITERATIONS, MAX_REPEATS, check_int, check_iterations,
                                           check_size, check_stack_size, check_strategy,
                                           check_touch, guard_stack)
from alloca_bench.results.model import Iterations, Measurement, Result
from alloca_bench.strategies import DEFAULT_STRATEGIES

DEFAULT_SIZES: tuple[int, ...] = tuple(1 << k for k in range(4, 21))  # 16 B .. 1 MiB
# A sample of 1-10 ms is long enough to dwarf the clock and the Python call around it and short
# enough to take dozens of samples per cell in a few seconds.
TARGET_BATCH_NS = 2e6

Runner = Callable[[str, str, int, int, int], native.Batches]
IterationsArg = Union[Iterations, Sequence[Iterations]]


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
    info.update(_run_conditions())
    return info


def _run_conditions() -> dict:
    """What the warnings need at the start of a run: the 1-minute load average, whether turbo
    boost is on, and the clock's resolution and read cost (ns).  Stopgap: the clock is measured
    here from Python (clock_getres, and the smallest step between back-to-back
    perf_counter_ns() reads, which includes Python's call overhead) until the C side records
    its own figures."""
    out: dict = {"clock_measured_by": "python"}
    try:
        out["loadavg_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    for path, on in (("/sys/devices/system/cpu/intel_pstate/no_turbo", "0"),
                     ("/sys/devices/system/cpu/cpufreq/boost", "1")):
        try:
            with open(path, encoding="ascii") as f:
                out["cpu_turbo"] = f.read().strip() == on
            break
        except OSError:
            continue
    out["clock_resolution_ns"] = time.clock_getres(time.CLOCK_MONOTONIC) * 1e9
    read = time.perf_counter_ns
    steps = [-(read() - read()) for _ in range(2000)]
    positive = [d for d in steps if d > 0]
    out["clock_read_ns"] = float(min(positive)) if positive else None
    return out


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
    crashes or hangs raises WorkerError.  params["placement"] says where it ran."""
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
        batches = run(strategy, touch, size, iterations, repeats)
    finally:
        placements.close()
    return Measurement(
        strategy=strategy, size=size, touch=touch, iterations=iterations,
        ns_per_op=batches.ns_per_op,
        faults_per_op=batches.minor_faults_per_op + batches.major_faults_per_op,
        major_faults_per_op=batches.major_faults_per_op,
        params={"backend": backend, "stack_size": stack, "warmup": warmup, **policy.describe(),
                "placement": placements.describe([strategy])},
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
