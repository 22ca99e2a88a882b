"""heap="host": measuring in this Python process through the binding (cffi or ctypes), as
measure() and sweep() do when asked to: what it refuses (anything needing a process of its own),
calibration of the ops per batch, and the interleaved in-process sweep."""
from __future__ import annotations

import random
from typing import Any, Callable, Sequence

import numpy as np

from alloca_bench import native
from alloca_bench.allocators import AllocatorPolicy, self_placement, split_strategy
from alloca_bench.exceptions import AllocaBenchError
from alloca_bench.measuring.validate import MAX_ITERATIONS
from alloca_bench.results.model import Iterations

# A sample of 1-10 ms is long enough to dwarf the clock and the Python call around it and short
# enough to take dozens of samples per cell in a few seconds.
TARGET_BATCH_NS = 2e6

# run(strategy, touch, size, iterations, repeats): `repeats` batches of `iterations` ops
Runner = Callable[[str, str, int, int, int], native.Batches]


def in_process_runner(backend: str, stack_size: int) -> Runner:
    """A Runner calling the kernels in this process through `backend`, stack cells on a worker
    thread of `stack_size` bytes of stack (0: the calling thread)."""
    bound = native.binding(backend)

    def run(strategy: str, touch: str, size: int, iterations: int, repeats: int):
        return bound.run(strategy, touch, size, iterations, repeats, stack_size)

    return run


def check_host(heap: str, names: Sequence[str], policy: AllocatorPolicy,
               in_team: bool = False) -> None:
    """heap="host" measures this process's own malloc: ValueError for anything that needs
    another process (malloc@NAME, tunables, isolate, threads/pattern/size distributions)."""
    if heap != "host":
        return
    if in_team:
        raise ValueError("threads=, pattern= and size distributions run in the runner: use "
                         "heap='fresh' or 'aged'")
    other = [n for n in names if split_strategy(n)[1] is not None]
    if other or policy.tunables() or policy.isolate:
        what = (f"strategy {other[0]!r}" if other else "mmap_threshold=/glibc_tunables="
                if policy.tunables() else "isolate=True")
        raise ValueError(f"{what} needs a process of its own: use heap='fresh' or 'aged' (the "
                         "runner); heap='host' measures this Python process's malloc as it is")


def host_params(policy: AllocatorPolicy, names: Sequence[str]) -> dict:
    """params of a host result: the policy and where each strategy ran (this process)."""
    here = self_placement()
    return {**policy.describe(), "placement": {name: here for name in names}}


def calibrate(run: Runner, strategy: str, touch: str, size: int,
              target_ns: float = TARGET_BATCH_NS) -> int:
    """Ops per batch so that one batch of `run` lasts about `target_ns`, by the rule the runner
    calibrates its cells with (native.calibrate: a first op thrown away, a trial batch grown to
    a tenth of the target, the scaled count checked once more at full length)."""
    def ns_per_op(n: int) -> float:
        return float(run(strategy, touch, size, n, 1).ns_per_op[0])

    return native.calibrate(ns_per_op, target_ns, MAX_ITERATIONS)


def measure_host(strategy: str, touch: str, size: int, iterations: Iterations, repeats: int,
                 warmup: int, stack: int, backend: str) -> tuple[int, native.Batches, bool]:
    """(ops per batch, the batches, interrupted) of one kernel in this process.  Ctrl-C keeps
    the batches completed before it (native.Interrupted re-raised when there is none)."""
    run = in_process_runner(backend, stack)
    if iterations == "auto":
        iterations = calibrate(run, strategy, touch, size)
    if warmup:
        run(strategy, touch, size, iterations, warmup)
    try:
        return iterations, run(strategy, touch, size, iterations, repeats), False
    except native.Interrupted as stop:
        if not len(stop.batches.ns_per_op):
            raise  # Ctrl-C before one batch was complete: nothing to keep
        return iterations, stop.batches, True


def sweep_host(names: Sequence[str], sizes: Sequence[int],
               iteration_axis: Sequence[Iterations], touch: str, repeats: int, warmup: int,
               stack: int, backend: str, rng: random.Random,
               bar: Any) -> tuple[dict, np.ndarray, list, bool, float]:
    """The in-process sweep of heap="host" (`bar`: the tqdm progress bar): arrays (ns and
    faults per op), batch counts (ops), errors (params["errors"]: a strategy that fails is
    dropped at the size and iterations named), interrupted, ns in timed batches."""
    shape = (len(names), len(sizes), len(iteration_axis))
    arrays = {k: np.full(shape + (repeats,), np.nan)
              for k in ("ns_per_op", "faults_per_op", "major_faults_per_op")}
    batch_iterations = np.zeros(shape, dtype=np.int64)
    run = in_process_runner(backend, stack)
    errors: dict[str, dict] = {}  # the first failure of each strategy, which then stops
    in_batch_ns = 0.0
    interrupted = False

    def shuffled_live() -> list[int]:  # the strategies not failed yet, in a new order
        live = [s for s in range(len(names)) if names[s] not in errors]
        return rng.sample(live, len(live))

    try:
        for z, size in enumerate(sizes):
            for i, requested in enumerate(iteration_axis):
                bar.set_postfix_str(f"size={size}")
                where = {"size": size, "iterations": requested}
                for s in shuffled_live():
                    try:
                        n = (calibrate(run, names[s], touch, size) if requested == "auto"
                             else requested)
                        batch_iterations[s, z, i] = n
                        if warmup:
                            run(names[s], touch, size, n, warmup)
                    except AllocaBenchError as exc:
                        errors[names[s]] = {**where, "reason": str(exc)}
                for r in range(repeats):
                    for s in shuffled_live():
                        n = int(batch_iterations[s, z, i])
                        try:
                            batch = run(names[s], touch, size, n, 1)
                        except AllocaBenchError as exc:
                            errors[names[s]] = {**where, "reason": str(exc)}
                            continue
                        arrays["ns_per_op"][s, z, i, r] = batch.ns_per_op[0]
                        arrays["major_faults_per_op"][s, z, i, r] = batch.major_faults_per_op[0]
                        arrays["faults_per_op"][s, z, i, r] = (
                            batch.minor_faults_per_op[0] + batch.major_faults_per_op[0])
                        in_batch_ns += float(batch.ns_per_op[0]) * n
                        bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    failures = [{"strategy": name, "size": e["size"], "iterations": e["iterations"],
                 "process": 0, "status": None, "reason": e["reason"]}
                for name, e in errors.items()]
    return arrays, batch_iterations, failures, interrupted, in_batch_ns
