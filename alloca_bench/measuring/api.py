"""measure() and sweep(): check the arguments into a grid of cells and one frozen Options, run
the plan with the one executor through the transport its heap asks for (runner processes for
heap="fresh"/"aged", this process for heap="host"), and gather the samples into a Result (or,
for measure(), the Measurement of its one cell) with the machine's metadata and a status per
cell."""
from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from alloca_bench import native
from alloca_bench.exceptions import AllocaBenchError, WorkerError
from alloca_bench.machine import busy_cpu_seconds, machine_info, run_conditions
from alloca_bench.mallocs import allocators
from alloca_bench.measuring._progress import tqdm, watched
from alloca_bench.measuring.executor import InterruptShield, Samples, execute
from alloca_bench.measuring.host_transport import HostTransport, check_host
from alloca_bench.measuring.plan import Cell, Options, Plan
from alloca_bench.measuring.runner_transport import RunnerTransport
from alloca_bench.measuring.usercode import Kernel, check_kernel_touch, kernel_params
from alloca_bench.measuring.validate import (SizeArg, check_budget, check_iteration_axis,
                                             check_one_iteration, check_options, check_sizes,
                                             check_strategy, check_strategy_axis, guard_stack,
                                             split_size)
from alloca_bench.options import DEFAULT_SIZES
from alloca_bench.results import Iterations, Measurement, Result
from alloca_bench.sizes import SizeDistribution
from alloca_bench.strategies import DEFAULT_STRATEGIES

IterationsArg = Union[Iterations, Sequence[Iterations]]  # or a batch length: "5ms"
Transport = Union[RunnerTransport, HostTransport]


def machine_metadata(stack_size: int = 0, binding: str = "cffi") -> dict:
    """machine_info() plus how the kernels were built (build_* keys) and the stack headroom
    and margin (bytes) of the thread that measures: what every result records.  A headroom
    that cannot be read here (no /proc) is None, with the reason in stack_headroom_error."""
    info = machine_info()
    info.update({f"build_{k}": " ".join(v) if isinstance(v, list) else v
                 for k, v in native.BUILD_INFO.items()})
    try:
        info["stack_headroom"] = native.binding(binding).stack_headroom(stack_size)
    except AllocaBenchError as exc:
        info["stack_headroom"], info["stack_headroom_error"] = None, str(exc)
    info["stack_margin"] = native.STACK_MARGIN
    info.update(run_conditions())
    return info


@dataclass(frozen=True)
class Grid:
    """The cells of a call, checked: strategies x sizes (axis entries; a distribution stands at
    its rounded mean) x iterations, all with one touch mode (or the user's kernel, touch
    "kernel")."""

    strategies: tuple[str, ...]
    sizes: tuple[int, ...]
    dists: dict[int, SizeDistribution]
    iterations: tuple[Iterations, ...]
    touch: str
    kernel: Optional[Kernel] = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.strategies), len(self.sizes), len(self.iterations)

    def cell_size(self, size: int) -> int:
        """The bytes a cell at axis entry `size` asks for: a distribution's high (what the stack
        guard checks), else the size itself."""
        return self.dists[size].high if size in self.dists else size

    def cells(self) -> tuple[Cell, ...]:
        """Every cell, in the order of Result's leading axes."""
        return tuple(Cell(name, self.touch, self.cell_size(size),
                          0 if it == "auto" else it, self.dists.get(size),
                          fields=tuple(self.kernel.plan_fields(name).items())
                          if self.kernel else ())
                     for name in self.strategies for size in self.sizes
                     for it in self.iterations)

    def keys(self) -> list[tuple[str, int, Iterations]]:
        """(strategy, size, iterations) of every cell, in the same order."""
        return [(name, size, it) for name in self.strategies for size in self.sizes
                for it in self.iterations]


def run_grid(grid: Grid, options: Options,
             progress: bool | None = None) -> tuple[Result, Samples]:
    """Check what `grid` would cost and where it may run, run its plan, and build the Result
    (with the executor's Samples, whose errors measure() raises).  progress None: a bar when
    someone watches (measuring._progress.watched).  Whatever can fail after measuring is read
    first: the machine's metadata and ALLOCA_BENCH_ALLOCATORS (each strategy's placement names
    its allocator), so that nothing measured is lost to it."""
    started, busy_at_start = time.perf_counter(), _busy_of_others()
    allocators()  # a malformed ALLOCA_BENCH_ALLOCATORS is refused here, not after measuring
    machine = machine_metadata(options.stack_size, options.binding)
    check_budget(len(grid.strategies), [grid.cell_size(z) for z in grid.sizes], grid.touch,
                 grid.iterations, options.repeats, options.warmup)
    check_host(options, grid.strategies, bool(grid.dists))
    if not options.in_runner:  # refuse before measuring anything, so nothing measured is lost
        for name in grid.strategies:
            guard_stack(name, grid.sizes[-1], options.stack_size, options.binding)
    plan = Plan(grid.cells(), options)
    transport: Transport = (RunnerTransport(options) if options.in_runner
                            else HostTransport(options))
    with InterruptShield() as shield:  # a second Ctrl-C must not lose the first's result
        bar = tqdm(total=len(plan.cells) * options.repeats, unit="batch",
                   disable=not (watched() if progress is None else progress),
                   desc="alloca-bench")
        try:
            got = execute(plan, transport, shield=shield, on_sample=bar.update)
        finally:
            bar.close()
        return _result(grid, plan, transport, got, machine, started, busy_at_start), got


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


def _result(grid: Grid, plan: Plan, transport: Transport, got: Samples, machine: dict,
            started: float, busy_at_start: Optional[float]) -> Result:
    o = plan.options
    shape, full = grid.shape, grid.shape + (o.repeats,)
    headroom = transport.stack_headroom(got)
    if headroom:  # the main thread that ran the stack cells: the runner's, not this process's
        machine["stack_headroom"] = headroom
    keys = grid.keys()
    reasons = {keys[c]: text for c, text in got.reasons().items()}
    wall, busy_at_end = time.perf_counter() - started, _busy_of_others()
    if busy_at_start is not None and busy_at_end is not None and wall > 0:
        # the CPUs other programs kept busy while this ran (the loaded-machine warning)
        machine["other_cpus_busy"] = round(max(0.0, busy_at_end - busy_at_start) / wall, 2)
    return Result(
        strategies=grid.strategies, sizes=np.array(grid.sizes, dtype=np.int64),
        iterations=grid.iterations, touch=grid.touch,
        batch_iterations=got.iterations.reshape(shape),
        status=np.array(got.status).reshape(shape), reasons=reasons, machine=machine,
        params={"repeats": o.repeats, "binding": o.binding, "stack_size": o.stack_size,
                "target_batch_ns": o.target_ns, "warmup": o.warmup, "heap": o.heap,
                "affinity": list(o.cpus) if o.cpus is not None else None,
                **transport.params(grid.strategies, plan.cells, got),
                **_distribution_params(grid, plan.cells, got),
                **kernel_params(grid.kernel, got.records)},
        timing={"wall_s": wall, "in_batch_s": got.in_batch_ns / 1e9,
                "in_batch_fraction": got.in_batch_ns / 1e9 / wall if wall > 0 else 0.0},
        process=got.process.reshape(full),
        ns_per_op=got.ns_per_op.reshape(full),
        faults_per_op=(got.minor_faults_per_op + got.major_faults_per_op).reshape(full),
        major_faults_per_op=got.major_faults_per_op.reshape(full))


def _distribution_params(grid: Grid, cells: Sequence[Cell], got: Samples) -> dict:
    """params["size_distributions"] (by the sizes-axis entry each stands at); WorkerError when
    a size table the runner drew (its CELL records) differs from alloca_bench.sizes'."""
    if not grid.dists:
        return {}
    for cell, record in zip(cells, got.records):
        drawn = record.get("size_sequence") if record else None
        if cell.dist is not None and drawn is not None and drawn != cell.dist.fingerprint():
            raise WorkerError(f"the runner drew another size table for {cell.dist} than "
                              f"alloca_bench.sizes ({drawn} vs {cell.dist.fingerprint()})")
    return {"size_distributions": {str(z): str(d) for z, d in grid.dists.items()}}


def measure(strategy: str, size: SizeArg, *, touch: str = "pages",
            iterations: Iterations = "auto", repeats: int = 31, warmup: int = 1,
            heap: str = "fresh", processes: int | None = None,
            stack_size: int | None = None, glibc_tunables: str | None = None,
            kernel: Kernel | None = None, cpus: Iterable[int] | None = None) -> Measurement:
    """Measure one kernel: a sweep of one cell, without the baseline.  `repeats` rounds, each
    one timed batch of `iterations` ops (calibrated to ~2 ms per batch when "auto", to the
    length given by a duration such as "5ms"), after
    `warmup` discarded batches (in the runner a quarter as long as a timed one); ns/op and
    faults/op per round, params["process"] the runner process of each.  The options are
    sweep()'s.

    Raises the cell's error when it failed (StackLimitError when `size` does not fit on the
    stack, WorkerError when its process died or hung...).  Ctrl-C returns the batches
    completed before it, with status "interrupted" (KeyboardInterrupt when none was)."""
    high, dist = split_size(size)
    entry = round(dist.mean()) if dist is not None else high  # as on a sweep's sizes axis
    count, target_ns = check_one_iteration(iterations)
    grid = Grid((check_strategy(strategy),), (entry,), {entry: dist} if dist else {}, (count,),
                check_kernel_touch(kernel, touch, heap), kernel)
    options = check_options(repeats, warmup, heap, processes, stack_size, glibc_tunables,
                            cpus, target_ns)
    result, got = run_grid(grid, options)
    if got.status[0] == "failed":
        raise got.errors[0]
    kept = got.process[0] >= 0
    if not kept.any():
        raise KeyboardInterrupt
    cell = result.sel(strategy, grid.sizes[0])
    return Measurement(
        strategy=cell.strategy, size=cell.size, touch=cell.touch, iterations=cell.iterations,
        ns_per_op=cell.ns_per_op[kept], faults_per_op=cell.faults_per_op[kept],
        major_faults_per_op=cell.major_faults_per_op[kept],
        params={**result.params, "process": got.process[0][kept].tolist()},
        status=cell.status, reason=cell.reason)


def sweep(sizes: Iterable[SizeArg] = DEFAULT_SIZES,
          strategies: Sequence[str] = DEFAULT_STRATEGIES, *, iterations: IterationsArg = "auto",
          touch: str = "pages", repeats: int = 21, warmup: int = 1, heap: str = "fresh",
          processes: int | None = None, stack_size: int | None = None,
          glibc_tunables: str | None = None, kernel: Kernel | None = None,
          cpus: Iterable[int] | None = None) -> Result:
    """Measure every strategy at every size and iteration count, in interleaved rounds.

    Each (strategy, size, iterations) cell is calibrated when iterations is "auto" (to about
    2 ms per batch; a duration instead, "5ms", "500us" or "0.01s", from 50 us to 10 s, is "auto"
    calibrated to that length: params["target_batch_ns"]), gets `warmup` discarded batches (in
    the runner a quarter as long as a timed one, in every runner process), then one timed batch
    in each of `repeats` rounds; each round runs every cell once in a fresh shuffled order, so
    machine drift cancels in paired ratios.  The baseline strategy is always included.

    heap="fresh" (default): the C runner, every cell in a process of its own whose heap is a
    just-started C program's; "aged": the same after the documented ageing workload; "host":
    this Python process as it is, through the cffi binding ("host-ctypes": through ctypes;
    params["binding"] says which).  In the runner the rounds are spread over `processes`
    runner processes run one after another (default 5; the host heaps run
    in this process alone: processes 1, more is a ValueError); Result.process holds the process
    index of every sample.  `stack_size=` (bytes) runs stack cells on one worker
    thread with that much stack (heap cells keep the main thread).  `malloc@NAME` preloads the
    allocator NAME for its cells; `glibc_tunables=` sets GLIBC_TUNABLES for malloc/calloc cells
    (glibc.malloc.mmap_threshold=BYTES pins glibc's threshold).  With warmup=0 and explicit
    iterations, sample 0 of a cell is the first batch of a fresh process: the cold cost.  A
    size may be a seeded distribution (alloca_bench.sizes): it stands at its mean size
    (rounded) on the sizes axis, params["size_distributions"] names it, and the stack guard
    checks its largest size.  A progress bar shows while someone watches (a terminal or a
    notebook; ALLOCA_BENCH_PROGRESS=0 or 1 decides instead).

    `cpus=[0, 2]` (CPU numbers this process may run on): each runner process starts on that set
    and stays on one CPU of it (params["runner_cpus"]); with heap="host" the thread that runs
    the batches has that affinity during the call and its own back afterwards.  params["affinity"]
    records the set (None: not asked), as ab.threads() does.

    `kernel=alloca_bench.kernel(source)`: every op calls the user's `work(buf, size)` on the
    buffer its strategy got (touch "kernel"; include "fixed" for the work on a buffer allocated
    once), in the runner only; the guard adds the stack the kernel was measured to use, and
    params["kernel"] records its name, hash and source (or library).

    Result.status says per cell "ok", "failed" (refused by the stack guard, out of memory, its
    process killed, a kernel that crashed or hung: the others go on), or "interrupted" (Ctrl-C
    returns what was measured so far); Result.reasons the words for each cell that is not
    "ok"."""
    axis, dists = check_sizes(sizes)
    iteration_axis, target_ns = check_iteration_axis(iterations)
    grid = Grid(check_strategy_axis(strategies), tuple(axis), dists, iteration_axis,
                check_kernel_touch(kernel, touch, heap), kernel)
    options = check_options(repeats, warmup, heap, processes, stack_size, glibc_tunables,
                            cpus, target_ns)
    return run_grid(grid, options)[0]
