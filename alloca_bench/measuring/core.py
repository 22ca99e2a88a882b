"""measure() and sweep(): check the arguments, run the kernels in interleaved rounds and gather
the samples into a Measurement or a Result, with the machine's metadata.

heap="fresh"/"aged" (default fresh): in the C runner (measuring.cells, measuring.runner), every
cell in a process of its own, the rounds spread over several runner processes.  heap="host":
in this Python process through the binding (measuring.host)."""
from __future__ import annotations

import numbers
import random
import resource
import time
from typing import Iterable, NamedTuple, Optional, Sequence, Union

import numpy as np

from alloca_bench import native
from alloca_bench import strategies
from alloca_bench.allocators import AllocatorPolicy
from alloca_bench.exceptions import WorkerError
from alloca_bench.machine import busy_cpu_seconds, machine_info, run_conditions
from alloca_bench.measuring._progress import tqdm
from alloca_bench.options import DEFAULT_PROCESSES, DEFAULT_SIZES
from alloca_bench.measuring.validate import (
    MAX_REPEATS,
    check_budget,
    check_int,
    check_iterations,
    check_stack_size,
    check_strategy,
    check_touch,
    guard_stack,
)
from alloca_bench.measuring.cells import (CellSpec, Gathered, InterruptShield, RunnerSetup,
                                        check_heap, run_cells)
from alloca_bench.measuring import threads as team
from alloca_bench.measuring.host import (TARGET_BATCH_NS, check_host, host_params, measure_host,
                                       sweep_host)
from alloca_bench.results.model import Iterations, Measurement, Result
from alloca_bench.strategies import DEFAULT_STRATEGIES

MAX_PROCESSES = 64

IterationsArg = Union[Iterations, Sequence[Iterations]]


class RunOptions(NamedTuple):
    """The arguments measure() and sweep() share, checked: batches per cell, warm-up batches,
    the stack of stack cells (bytes, 0: the calling thread), the allocator policy, the heap
    state, runner processes and the binding of heap="host"."""

    repeats: int
    warmup: int
    stack_size: int
    policy: AllocatorPolicy
    heap: str
    processes: int
    backend: str


def check_run_options(repeats: object, warmup: object, stack_size: object, heap: object,
                      processes: object, backend: str = "cffi", mmap_threshold: object = None,
                      glibc_tunables: object = None, isolate: object = False) -> RunOptions:
    """Validate the shared arguments; each error names the value and the allowed range."""
    native.binding(backend)  # validates the backend name
    return RunOptions(
        repeats=check_int("repeats", repeats, 1, MAX_REPEATS),
        warmup=check_int("warmup", warmup, 0, MAX_REPEATS),
        stack_size=check_stack_size(stack_size),
        policy=AllocatorPolicy.checked(mmap_threshold, glibc_tunables, isolate),
        heap=check_heap(heap), processes=check_int("processes", processes, 1, MAX_PROCESSES),
        backend=backend)


# --- running -------------------------------------------------------------------------------

def machine_metadata(stack_size: int = 0, backend: str = "cffi") -> dict:
    """machine_info() plus how the kernels were built (build_* keys) and the stack headroom
    and margin (bytes) of the thread that measures: what every result records."""
    info = machine_info()
    info.update({f"build_{k}": " ".join(v) if isinstance(v, list) else v
                 for k, v in native.BUILD_INFO.items()})
    info["stack_headroom"] = native.binding(backend).stack_headroom(stack_size)
    info["stack_margin"] = native.STACK_MARGIN
    info.update(run_conditions())
    return info


def _runner_params(setup: RunnerSetup, names: Sequence[str], specs: Sequence[CellSpec],
                   got: Gathered) -> dict:
    """params of a runner result: policy (every cell is its own process: isolated), where each
    strategy ran, glibc's heap statistics per heap cell and the failures per cell."""
    first = {}
    for spec, cell in zip(specs, got.cells):
        if cell is not None:
            first.setdefault(spec.strategy, cell)
    heap_stats = [{"strategy": spec.strategy, "size": spec.size, **cell["mallinfo2"]}
                  for spec, cell in zip(specs, got.cells)
                  if cell and cell.get("mallinfo2") and strategies.calls_allocator(spec.strategy)]
    layout = [{"strategy": specs[x["cell"]].strategy, "size": specs[x["cell"]].size,
               **{k: v for k, v in x.items() if k != "cell"}} for x in got.layout]
    errors = [{"strategy": specs[f["cell"]].strategy, "size": specs[f["cell"]].size,
               "iterations": specs[f["cell"]].iterations or "auto", "process": f["process"],
               **({"threads": specs[f["cell"]].threads} if specs[f["cell"]].threads else {}),
               "status": f["status"], "reason": f["reason"]} for f in got.failures]
    for error, failure in zip(errors, got.failures):
        if failure["status"] == native.lib.AB_ESTACK and failure.get("headroom") is not None:
            error["reason"] = str(native.stack_limit_error(
                error["strategy"], error["size"], 1, failure["headroom"],
                setup.stack_size if strategies.is_stack(error["strategy"]) else 0))
    return {**setup.policy.describe(), "isolate": True,
            "placement": {name: setup.placement(name, first.get(name), got.hello)
                          for name in names},
            "mallinfo2": heap_stats, "layout": layout, "errors": errors, "runner_cpus": got.cpus,
            "retaken_batches": got.retaken, "preempted_batches": got.preempted}


def _raise_failure(strategy: str, size: int, stack_size: int, failure: dict) -> None:
    """The exception of a failed runner cell: the C status's class, or WorkerError."""
    if failure["status"] is None:
        raise WorkerError(failure["reason"])
    if failure["status"] == native.lib.AB_ESTACK and failure.get("headroom") is not None:
        # With the slack native adds, the largest size it quotes also fits in the next
        # runner, whose stack starts up to 8 KiB apart (the kernel randomises it).
        raise native.stack_limit_error(strategy, size, 1, failure["headroom"], stack_size)
    what = f"{strategy} of {size} bytes in the runner: {failure['reason']}"
    native.ensure(failure["status"], what)
    raise WorkerError(what)


def measure(strategy: str, size: team.SizeArg, *, touch: str = "pages",
            iterations: Iterations = "auto", repeats: int = 31, warmup: int = 1,
            stack_size: int | None = None, backend: str = "cffi",
            mmap_threshold: int | None = None, glibc_tunables: str | None = None,
            isolate: bool = False, heap: str = "fresh",
            processes: int = DEFAULT_PROCESSES, threads: int | None = None,
            pattern: str = "same") -> Measurement:
    """Measure one kernel: `repeats` batches of `iterations` ops (calibrated to ~2 ms per batch
    when "auto") after `warmup` discarded batches (in the runner a quarter as long as a timed
    one).  ns/op and faults/op come back per batch.

    heap="fresh" (default) and "aged" run in the C runner, the batches spread over `processes`
    runner processes (params["process"] gives each batch's); heap="host" runs in this process
    (`backend=` picks cffi or ctypes).  Stack strategies raise StackLimitError when `size` does
    not fit; `stack_size=` (bytes) runs them on a worker thread with that much stack.
    `malloc@NAME` runs with the allocator NAME preloaded; `mmap_threshold=` (bytes, pins
    glibc's threshold) and `glibc_tunables=` give malloc/calloc those GLIBC_TUNABLES (both only
    in the runner).  A runner that dies or hangs raises WorkerError.  params["placement"] says
    where it ran.  Ctrl-C returns the batches completed before it, with params["interrupted"]
    True (KeyboardInterrupt when none was complete); with heap="host" it stops the run within
    about a millisecond of ops.

    `threads=N`, `pattern=` and a size distribution (`size=alloca_bench.sizes.loguniform(...)`)
    run in the runner as in sweep(); ns_per_op is then the mean over the N threads of each batch
    and params["thread_ns_per_op"] holds each thread's, per batch."""
    strategy, touch = check_strategy(strategy), check_touch(touch)
    size, dist = team.split_size(size)
    pattern = team.check_pattern(pattern)
    if threads is not None and (isinstance(threads, bool)
                                or not isinstance(threads, numbers.Integral)):
        raise TypeError(f"threads must be one int (a thread count), not "
                        f"{type(threads).__name__} ({threads!r}): sweep() takes several")
    n_threads = 0 if threads is None else team.check_threads(threads)[-1]
    reason = team.refusal(strategy, pattern)
    if reason:
        raise ValueError(reason)
    iterations = check_iterations(iterations)
    repeats, warmup, stack, policy, heap, processes, _ = check_run_options(
        repeats, warmup, stack_size, heap, processes, backend, mmap_threshold, glibc_tunables,
        isolate)
    check_budget(1, [size], touch, [iterations], repeats, warmup,
                 (n_threads,) if n_threads else ())
    check_host(heap, [strategy], policy, n_threads > 0 or pattern != "same" or dist is not None)
    params = {"backend": backend, "stack_size": stack, "warmup": warmup, "heap": heap}
    if heap == "host":
        guard_stack(strategy, size, stack, backend)
        iterations, batches, interrupted = measure_host(strategy, touch, size, iterations,
                                                        repeats, warmup, stack, backend)
        ns, minor, major = batches.ns_per_op, batches.minor_faults_per_op, \
            batches.major_faults_per_op
        params.update(host_params(policy, [strategy]), processes=1,
                      process=[0] * len(ns), interrupted=interrupted)
    else:
        spec = CellSpec(strategy, touch, size, 0 if iterations == "auto" else iterations,
                        n_threads, pattern, dist)
        setup = RunnerSetup(heap, stack, warmup, TARGET_BATCH_NS, policy)
        with InterruptShield() as shield:  # a second Ctrl-C must not lose the first's batches
            got = run_cells([spec], setup, repeats, processes, random.Random(),
                            shield=shield)
            # Ctrl-C keeps the batches taken before it, as with heap="host"
            kept = got.process[0] >= 0 if got.interrupted else slice(None)
            if got.interrupted and not got.process[0][kept].size:
                raise KeyboardInterrupt
            if got.failures and not got.interrupted:
                _raise_failure(strategy, size, stack, got.failures[0])
            ns, minor, major = got.ns_per_op[0][kept], got.minor_faults_per_op[0][kept], \
                got.major_faults_per_op[0][kept]
            iterations = int(got.iterations[0])
            params.update(_runner_params(setup, [strategy], [spec], got),
                          processes=min(processes, repeats),
                          process=got.process[0][kept].tolist(), interrupted=got.interrupted,
                          **team.team_params(n_threads and (n_threads,), pattern,
                                             {round(dist.mean()): dist} if dist else {}, [spec],
                                             got.cells))
            if n_threads:
                params["thread_ns_per_op"] = got.thread_ns_per_op[0][kept].tolist()
                params["span_ns_per_op"] = got.span_ns_per_op[0][kept].tolist()
    return Measurement(  # a distribution's Measurement stands at its mean size, as in sweep()
        strategy=strategy, size=round(dist.mean()) if dist else size, touch=touch,
        iterations=iterations, ns_per_op=ns,
        faults_per_op=minor + major, major_faults_per_op=major, params=params)


def _busy_of_others() -> Optional[float]:
    """CPU-seconds the machine's CPUs have been busy since boot, less this process's and its
    waited-for children's (the runners): what other programs used, or None without
    /proc/stat."""
    busy = busy_cpu_seconds()
    if busy is None:
        return None
    ours = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    return busy - ours


def _normalize_iterations(iterations: IterationsArg) -> tuple[Iterations, ...]:
    single = isinstance(iterations, str) or hasattr(iterations, "__index__")
    if not single and not isinstance(iterations, Iterable):
        raise TypeError(f"iterations must be 'auto', an int or a sequence of them, not "
                        f"{type(iterations).__name__} ({iterations!r})")
    values = (iterations,) if single else iterations
    checked = tuple(check_iterations(v) for v in values)
    if not checked or len(set(checked)) != len(checked):
        raise ValueError(
            f"iterations must be 'auto', an int or distinct values, got {iterations!r}")
    return checked


def _arrays(got: Gathered, shape: tuple) -> dict:
    """Result's sample arrays from the runner's (cell, round) arrays."""
    return {"ns_per_op": got.ns_per_op.reshape(shape),
            "faults_per_op": (got.minor_faults_per_op + got.major_faults_per_op).reshape(shape),
            "major_faults_per_op": got.major_faults_per_op.reshape(shape)}


def sweep(sizes: Iterable[team.SizeArg] = DEFAULT_SIZES,
          strategies: Sequence[str] = DEFAULT_STRATEGIES, *,
          iterations: IterationsArg = "auto", touch: str = "pages", repeats: int = 21,
          progress: bool = False, stack_size: int | None = None, backend: str = "cffi",
          seed: int | None = None, warmup: int = 1, mmap_threshold: int | None = None,
          glibc_tunables: str | None = None, isolate: bool = False, heap: str = "fresh",
          processes: int = DEFAULT_PROCESSES, threads: int | Sequence[int] | None = None,
          pattern: str = "same") -> Result:
    """Measure every strategy at every size and iteration count, in interleaved rounds.

    Each (strategy, size, iterations) cell is calibrated when iterations is "auto", gets
    `warmup` discarded batches (in the runner a quarter as long as a timed one, in every runner
    process), then one batch per round; each round runs every cell once in a
    fresh shuffled order, so machine drift cancels in paired ratios.  The baseline strategy is
    always included.

    heap="fresh" (default): the C runner, every cell in a process of its own whose heap is a
    just-started C program's; "aged": the same after the documented ageing workload; "host":
    this Python process as it is (`backend=` picks the binding).  In the runner the rounds are
    spread over `processes` runner processes run one after another; Result.process holds the
    process index of every sample.  `stack_size=` runs stack cells on one worker thread with
    that much stack (heap cells keep the main thread).  `malloc@NAME` preloads the allocator
    NAME for its cells; `mmap_threshold=` (bytes) and `glibc_tunables=` set GLIBC_TUNABLES for
    malloc/calloc cells.  With warmup=0 and explicit iterations, sample 0 of a cell is the first
    batch of a fresh process: the cold cost (cold_table()).

    `threads=(1, 2)` (a sweep axis; 1 is always added: the reference of scaling) runs every
    cell again with N threads of its process meeting at a barrier before each batch; the arrays
    keep the 1-thread cells, Result.thread_ns_per_op every thread's ns/op and Result.scaling()
    the efficiency.  `pattern="cross"`/`"hold"` (measuring.threads) change how heap cells free;
    stack cells cannot run them and are listed in params["unavailable"] with the reason.  A
    size may be a seeded distribution (alloca_bench.sizes): it stands at its mean size
    (rounded) on the sizes axis, params["size_distributions"] names it, and the stack guard
    checks its largest size.

    A cell that fails (refused by the stack guard, out of memory, its process or runner
    killed) is listed in Result.params["errors"] with its reason and the others go on; Ctrl-C
    returns what was measured so far, marked incomplete."""
    started = time.perf_counter()
    busy_at_start = _busy_of_others()
    if isinstance(sizes, str) or not isinstance(sizes, Iterable):
        raise TypeError(f"sizes must be a sequence of ints (bytes), not "
                        f"{type(sizes).__name__} ({sizes!r})")
    sizes, dists = team.check_sizes(sizes)
    if not sizes:
        raise ValueError("sizes is empty: give at least one size in bytes")
    if isinstance(strategies, str):
        strategies = (strategies,)
    if not isinstance(strategies, Iterable):
        raise TypeError(f"strategies must be a sequence of names, not "
                        f"{type(strategies).__name__} ({strategies!r})")
    names = ["baseline"] + [check_strategy(s) for s in strategies if s != "baseline"]
    if len(set(names)) != len(names):
        raise ValueError(f"strategies must be distinct, got {list(strategies)}")
    touch = check_touch(touch)
    iteration_axis = _normalize_iterations(iterations)
    repeats, warmup, stack, policy, heap, processes, _ = check_run_options(
        repeats, warmup, stack_size, heap, processes, backend, mmap_threshold, glibc_tunables,
        isolate)
    thread_axis, pattern = team.check_threads(threads), team.check_pattern(pattern)
    check_budget(len(names), [team.cell_size(z, dists) for z in sizes], touch,
                 iteration_axis, repeats, warmup, thread_axis or ())
    check_host(heap, names, policy,
                thread_axis is not None or pattern != "same" or bool(dists))
    if heap == "host":
        for name in names:  # refuse before measuring anything, so nothing measured is lost
            guard_stack(name, sizes[-1], stack, backend)

    rng = random.Random(seed)
    counts = thread_axis or (0,)  # cells of every thread count, the counts' axis first
    specs = [CellSpec(name, touch, team.cell_size(size, dists), 0 if it == "auto" else it, t,
                      pattern, dists.get(size))
             for t in counts for name in names for size in sizes for it in iteration_axis]
    refused = {k: reason for k, spec in enumerate(specs)
               if (reason := team.refusal(spec.strategy, pattern))}
    bar = tqdm(total=len(specs) * repeats, unit="batch", disable=None if progress else True,
               desc="alloca-bench")
    shape = (len(names), len(sizes), len(iteration_axis))
    thread_arrays: dict = {}
    with InterruptShield() as shield:  # a second Ctrl-C must not lose the first's result
        try:
            if heap == "host":
                arrays, batch_iterations, errors, interrupted, in_batch_ns = sweep_host(
                    names, sizes, iteration_axis, touch, repeats, warmup, stack, backend, rng,
                    bar)
                if interrupted:
                    shield.hold()
                process = np.where(np.isnan(arrays["ns_per_op"]), -1, 0)
                params = {**host_params(policy, names), "errors": errors, "processes": 1}
            else:
                setup = RunnerSetup(heap, stack, warmup, TARGET_BATCH_NS, policy)
                got = run_cells(specs, setup, repeats, processes, rng, on_sample=bar.update,
                                shield=shield, refused=refused)
                full = (len(counts),) + shape + (repeats,)
                arrays = {k: v[0] for k, v in _arrays(got, full).items()}
                batch_iterations = got.iterations.reshape(full[:-1])[0]
                process = got.process.reshape(full)[0]
                interrupted, in_batch_ns = got.interrupted, got.in_batch_ns
                params = {**_runner_params(setup, names, specs, got),
                          "processes": min(processes, repeats)}
                flags = [bool(f.get("refused")) for f in got.failures]
                params["unavailable"] = [e for e, r in zip(params["errors"], flags) if r]
                params["errors"] = [e for e, r in zip(params["errors"], flags) if not r]
                if thread_axis or pattern != "same" or dists:
                    params.update(team.team_params(thread_axis, pattern, dists, specs,
                                                   got.cells))
                if thread_axis:
                    thread_arrays = {
                        "threads": thread_axis,
                        "thread_ns_per_op": got.thread_ns_per_op.reshape(
                            full + got.thread_ns_per_op.shape[-1:]),
                        "thread_span_ns_per_op": got.span_ns_per_op.reshape(full)}
                    params["thread_batch_iterations"] = got.iterations.reshape(
                        full[:-1]).tolist()
        finally:
            bar.close()

        machine = machine_metadata(stack, backend)
        if heap != "host" and not stack and got.hello and got.hello.get("stack_headroom"):
            # the main thread that ran the stack cells: the runner's, not this process's
            machine["stack_headroom"] = got.hello["stack_headroom"]
        wall = time.perf_counter() - started
        busy_at_end = _busy_of_others()
        if busy_at_start is not None and busy_at_end is not None and wall > 0:
            machine["other_cpus_busy"] = round(max(0.0, busy_at_end - busy_at_start) / wall, 2)
        measured = np.ones(len(specs), dtype=bool)
        measured[list(refused)] = False
        missing = np.isnan(arrays["ns_per_op"]) if heap == "host" else \
            np.isnan(got.ns_per_op[measured])
        return Result(
            strategies=tuple(names), sizes=np.array(sizes, dtype=np.int64),
            iterations=iteration_axis, touch=touch, batch_iterations=batch_iterations,
            complete=not interrupted and not params["errors"] and not missing.any(),
            machine=machine,
            params={"repeats": repeats, "backend": backend, "stack_size": stack, "seed": seed,
                    "target_batch_ns": TARGET_BATCH_NS, "interrupted": interrupted,
                    "warmup": warmup, "heap": heap, **params},
            timing={"wall_s": wall, "in_batch_s": in_batch_ns / 1e9,
                    "in_batch_fraction": in_batch_ns / 1e9 / wall if wall > 0 else 0.0},
            process=process,
            **thread_arrays,
            **arrays,
        )
