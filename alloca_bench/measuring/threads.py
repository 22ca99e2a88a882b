"""ab.threads(): N threads per cell, meeting at a barrier before every batch, each running the
whole batch and reporting its own ns/op (csrc/patterns.h), gathered into a ThreadsResult with
each cell's status.  measuring.team holds the checks and plan fields of team cells."""
from __future__ import annotations

from typing import Iterable, NamedTuple, Optional, Sequence, Union

import numpy as np

from alloca_bench.exceptions import WorkerError
from alloca_bench.measuring._progress import tqdm, watched
from alloca_bench.measuring.api import machine_metadata
from alloca_bench.measuring.executor import InterruptShield, execute
from alloca_bench.measuring.plan import Cell, Options, Plan
from alloca_bench.measuring.runner_transport import RunnerTransport, cpus
from alloca_bench.measuring.team import check_pattern, check_threads, refusal, team_fields
from alloca_bench.measuring.usercode import Kernel, check_kernel_touch, kernel_params
from alloca_bench.measuring.validate import (SizeArg, check_budget, check_one_iteration,
                                             check_options, check_sizes, check_strategy_axis)
from alloca_bench.results.model import Iterations
from alloca_bench.results.threads import ThreadsResult

DEFAULT_THREADS = (1, 2)


class Column(NamedTuple):
    """One strategy axis entry of a threads run: its label, the strategy it runs and the
    GLIBC_TUNABLES of its cells alone (None: the environment's)."""

    label: str
    strategy: str
    tunables: Optional[str] = None


class TeamPlan(NamedTuple):
    """What a threads run measures: its columns, sizes axis (with the distributions standing
    on it), thread counts, pattern, touch ("kernel" with the user's kernel), ops per thread per
    batch (0: calibrate) and the user's kernel (None: the touch mode alone)."""

    columns: tuple[Column, ...]
    sizes: tuple[int, ...]
    dists: dict
    threads: tuple[int, ...]
    pattern: str
    touch: str = "pages"
    iterations: int = 0
    kernel: Optional[Kernel] = None

    def cells(self) -> list[tuple[Column, int, int]]:
        """(column, size on the axis, thread count) of every cell, in the result's order."""
        return [(column, size, n) for column in self.columns for size in self.sizes
                for n in self.threads]


def threads(strategies: Sequence[str] = ("alloca", "malloc"), sizes: Iterable[SizeArg] = (64,),
            *, threads: Union[int, Sequence[int]] = DEFAULT_THREADS, pattern: str = "same",
            touch: str = "pages", iterations: Iterations = "auto", repeats: int = 11,
            warmup: int = 1, processes: int = 1, stack_size: Optional[int] = None,
            kernel: Optional[Kernel] = None,
            cpus: Optional[Iterable[int]] = None) -> ThreadsResult:
    """Every strategy (baseline, the control, always added) at every size with 1 and with each
    count of `threads` threads of one runner process, pinned to the process's CPUs in turn,
    meeting at a barrier before every batch; every thread runs the whole batch of `iterations`
    ops ("auto": calibrated to about 2 ms; a duration such as "5ms": calibrated to that length)
    and reports its own ns/op.  `cpus=[0, 2]`: the runners start on that set of this process's
    CPUs and the teams' threads are pinned to its CPUs in turn (params["affinity"];
    params["cpus"] counts the CPUs the threads could use).  The cells run in `repeats`
    interleaved rounds (each in a fresh shuffled order) spread over `processes` runners, after
    `warmup` discarded batches.  `pattern` (same, cross, hold) says which thread
    frees a block; stack strategies cannot run cross or hold: those cells are "unavailable",
    with the reason.  A size may be a seeded distribution (alloca_bench.sizes).  `stack_size=`
    (bytes) gives each thread of a stack cell that much stack.  `kernel=alloca_bench.kernel(...)`:
    every op of every thread calls the user's `work(buf, size)` on the buffer its strategy got
    instead of a touch mode, as in sweep(); params["kernel"] records it.  A failed cell (a
    kernel that crashed: its signal) is that cell's status; Ctrl-C returns what was measured,
    the rest "interrupted" or "not_run".  A progress bar shows while someone watches."""
    names = check_strategy_axis(strategies)
    iterations, target_ns = check_one_iteration(iterations)
    plan = check_plan([Column(n, n) for n in names], sizes, threads, pattern, touch,
                      0 if iterations == "auto" else iterations, kernel)
    options = check_options(repeats, warmup, "fresh", processes, stack_size, None, cpus,
                            target_ns)
    return measure_team(plan, options, progress=watched())


def check_plan(columns: Sequence[Column], sizes: Iterable[SizeArg], thread_axis: object,
               pattern: object, touch: object, iterations: int = 0,
               kernel: Optional[Kernel] = None) -> TeamPlan:
    """A TeamPlan from checked arguments; each error names the value and the allowed range."""
    size_axis, dists = check_sizes(sizes)
    if not size_axis:
        raise ValueError("sizes is empty: give at least one size in bytes")
    return TeamPlan(tuple(columns), tuple(size_axis), dists, check_threads(thread_axis),
                    check_pattern(pattern), check_kernel_touch(kernel, touch, "fresh"),
                    iterations, kernel)


def measure_team(plan: TeamPlan, options: Options, *, progress: bool = False,
                 params: Optional[dict] = None) -> ThreadsResult:
    """Run every cell of `plan` (column x size x thread count) in interleaved rounds of the
    runner with `options` (heap "fresh" or "aged") and gather a ThreadsResult; `params` are
    added to its params."""
    check_budget(len(plan.columns), [_bytes(plan, z) for z in plan.sizes], plan.touch,
                 [plan.iterations or "auto"], options.repeats, options.warmup, plan.threads,
                 plan.pattern)
    got, per_thread, span, placement = _execute(plan, options, progress)
    shape = (len(plan.columns), len(plan.sizes), len(plan.threads))
    keys = [(column.label, size, n) for column, size, n in plan.cells()]
    return ThreadsResult(
        strategies=tuple(c.label for c in plan.columns),
        sizes=np.array(plan.sizes, dtype=np.int64), threads=plan.threads, pattern=plan.pattern,
        touch=plan.touch, ns_per_op=per_thread.reshape(shape + per_thread.shape[1:]),
        span_ns_per_op=span.reshape(shape + span.shape[1:]),
        faults_per_op=(got.minor_faults_per_op + got.major_faults_per_op).reshape(
            shape + span.shape[1:]),
        batch_iterations=got.iterations.reshape(shape),
        process=got.process.reshape(shape + span.shape[1:]),
        status=np.array(got.status).reshape(shape),
        reasons={keys[c]: why for c, why in got.reasons().items()},
        machine=machine_metadata(options.stack_size),
        params={"repeats": options.repeats, "warmup": options.warmup,
                "processes": min(options.processes, options.repeats), "heap": options.heap,
                "stack_size": options.stack_size, "cpus": cpus(options.cpus),
                "affinity": list(options.cpus) if options.cpus is not None else None,
                "runner_cpus": got.cpus, "target_batch_ns": options.target_ns,
                "placement": placement,
                **({"size_distributions": {str(z): str(d) for z, d in plan.dists.items()}}
                   if plan.dists else {}),
                **kernel_params(plan.kernel, got.records), **(params or {})})


def _bytes(plan: TeamPlan, size: int) -> int:
    """The bytes a cell at sizes-axis entry `size` asks for: a distribution's high (what the
    stack guard checks), else the size itself."""
    return plan.dists[size].high if size in plan.dists else size


def _execute(plan: TeamPlan, options: Options, progress: bool) -> tuple:
    """The one use of the executor: every cell in interleaved rounds of the runner; (its
    Samples, each thread's ns/op per cell and round, the team's span per cell and round, the
    placement of each column: what served malloc in its cells)."""
    cells = tuple(Cell(column.strategy, plan.touch, _bytes(plan, size), plan.iterations,
                       plan.dists.get(size), column.tunables,
                       _fields(plan, column.strategy, n),
                       refusal(column.strategy, plan.pattern) or "")
                  for column, size, n in plan.cells())
    per_thread = np.full((len(cells), options.repeats, plan.threads[-1]), np.nan)
    span = np.full((len(cells), options.repeats), np.nan)

    def keep(c: int, r: int, team: tuple) -> None:
        for sample in team:
            per_thread[c, r, sample.thread] = sample.ns_per_op
        span[c, r] = team[0].span_ns_per_op

    transport = RunnerTransport(options)
    bar = tqdm(total=len(cells) * options.repeats, unit="batch",
               disable=not progress, desc="alloca-bench threads")
    try:
        with InterruptShield() as shield:  # a second Ctrl-C must not lose the first's result
            got = execute(Plan(cells, options), transport, shield=shield,
                          on_sample=bar.update, on_raw=keep)
    finally:
        bar.close()
    _check_size_tables(cells, got.records)
    first: dict = {}
    for (column, _, _), record in zip(plan.cells(), got.records):
        if record is not None:
            first.setdefault(column.label, record)
    placement = {c.label: transport.placement(c.strategy, first.get(c.label), got.hello)
                 for c in plan.columns}
    return got, per_thread, span, placement


def _fields(plan: TeamPlan, strategy: str, threads: int) -> tuple:
    """The runner's plan fields of a team cell: its team's, then the kernel's (if any)."""
    kernel = plan.kernel.plan_fields(strategy) if plan.kernel else {}
    return tuple({**team_fields(threads, plan.pattern), **kernel}.items())


def _check_size_tables(cells: Sequence[Cell], records: Sequence) -> None:
    """WorkerError when a size table the runner drew (its CELL records) differs from the one
    alloca_bench.sizes draws."""
    for cell, record in zip(cells, records):
        drawn = record.get("size_sequence") if record else None
        if cell.dist is not None and drawn is not None and drawn != cell.dist.fingerprint():
            raise WorkerError(f"the runner drew another size table for {cell.dist} than "
                              f"alloca_bench.sizes ({drawn} vs {cell.dist.fingerprint()})")
