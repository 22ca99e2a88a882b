"""ab.threads(): N threads per cell, meeting at a barrier before every batch, each running the
whole batch and reporting its own ns/op (csrc/patterns.h), gathered into a ThreadsResult with
each cell's status.  measuring.team holds the checks and plan fields of team cells."""
from __future__ import annotations

import random
from typing import Iterable, NamedTuple, Optional, Sequence, Union

import numpy as np

from alloca_bench import native, strategies
from alloca_bench.exceptions import WorkerError
from alloca_bench.measuring._progress import tqdm
from alloca_bench.measuring.cells import CellSpec, InterruptShield, RunnerSetup, run_cells
from alloca_bench.measuring.core import machine_metadata
from alloca_bench.measuring.host import TARGET_BATCH_NS
from alloca_bench.measuring.team import (MAX_THREADS, SizeArg, cell_size, check_pattern,
                                         check_sizes, check_threads, cpus, refusal)
from alloca_bench.measuring.validate import (MAX_REPEATS, check_budget, check_int,
                                             check_iterations, check_stack_size,
                                             check_strategy, check_touch)
from alloca_bench.results.model import Iterations
from alloca_bench.results.threads import ThreadsResult

DEFAULT_THREADS = (1, 2)
MAX_PROCESSES = 64

class Column(NamedTuple):
    """One strategy axis entry of a threads run: its label, the strategy it runs and the
    GLIBC_TUNABLES of its cells alone (None: the environment's)."""

    label: str
    strategy: str
    tunables: Optional[str] = None


class TeamPlan(NamedTuple):
    """What a threads run measures: its columns, sizes axis (with the distributions standing
    on it), thread counts, pattern, touch, ops per batch (0: calibrate) and stack of stack
    cells (bytes, 0: the runner's default)."""

    columns: tuple[Column, ...]
    sizes: tuple[int, ...]
    dists: dict
    threads: tuple[int, ...]
    pattern: str
    touch: str = "pages"
    iterations: int = 0
    stack_size: int = 0


def threads(strategies: Sequence[str] = ("alloca", "malloc"), sizes: Iterable[SizeArg] = (64,),
            *, threads: Union[int, Sequence[int]] = DEFAULT_THREADS, pattern: str = "same",
            touch: str = "pages", iterations: Iterations = "auto", repeats: int = 11,
            warmup: int = 1, processes: int = 1, stack_size: Optional[int] = None,
            seed: Optional[int] = None, progress: bool = False) -> ThreadsResult:
    """Every strategy (baseline, the control, always added) at every size with 1 and with each
    count of `threads` threads of one runner process, pinned to the process's CPUs in turn,
    meeting at a barrier before every batch; every thread runs the whole batch of `iterations`
    ops ("auto": calibrated to about 2 ms) and reports its own ns/op.  The cells run in
    `repeats` interleaved rounds (shuffled by `seed`) spread over `processes` runners, after
    `warmup` discarded batches.  `pattern` (same, cross, hold) says which thread frees a block;
    stack strategies cannot run cross or hold: those cells are "unavailable", with the reason.
    A size may be a seeded distribution (alloca_bench.sizes).  `stack_size=` (bytes) gives each
    thread of a stack cell that much stack.  A failed cell is that cell's status; Ctrl-C
    returns what was measured, the rest marked interrupted or not_run."""
    if isinstance(strategies, str):
        strategies = (strategies,)
    names = ["baseline"] + [check_strategy(s) for s in strategies if s != "baseline"]
    if len(set(names)) != len(names):
        raise ValueError(f"strategies must be distinct, got {list(strategies)}")
    iterations = check_iterations(iterations)
    plan = check_plan([Column(n, n) for n in names], sizes, threads, pattern, touch,
                      0 if iterations == "auto" else iterations, stack_size)
    return measure_team(plan, repeats=repeats, warmup=warmup, processes=processes, seed=seed,
                        progress=progress)


def check_plan(columns: Sequence[Column], sizes: Iterable[SizeArg], thread_axis: object,
               pattern: object, touch: object, iterations: int = 0,
               stack_size: object = None) -> TeamPlan:
    """A TeamPlan from checked arguments; each error names the value and the allowed range."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
        raise TypeError(f"sizes must be a sequence of ints (bytes), not "
                        f"{type(sizes).__name__} ({sizes!r})")
    size_axis, dists = check_sizes(sizes)
    if not size_axis:
        raise ValueError("sizes is empty: give at least one size in bytes")
    counts = check_threads(thread_axis)
    if counts is None:
        raise ValueError(f"threads must be ints from 1 to {MAX_THREADS}, got None")
    return TeamPlan(tuple(columns), tuple(size_axis), dists, counts, check_pattern(pattern),
                    check_touch(touch), iterations, check_stack_size(stack_size))


def measure_team(plan: TeamPlan, *, repeats: int = 11, warmup: int = 1, processes: int = 1,
                 seed: Optional[int] = None, progress: bool = False,
                 params: Optional[dict] = None) -> ThreadsResult:
    """Run every cell of `plan` (column x size x thread count) in interleaved rounds of the
    runner and gather a ThreadsResult; `params` are added to its params."""
    repeats = check_int("repeats", repeats, 1, MAX_REPEATS)
    warmup = check_int("warmup", warmup, 0, MAX_REPEATS)
    processes = check_int("processes", processes, 1, MAX_PROCESSES)
    check_budget(len(plan.columns), [cell_size(z, plan.dists) for z in plan.sizes], plan.touch,
                 [plan.iterations or "auto"], repeats, warmup, plan.threads)
    cells = [(column, size, n) for column in plan.columns for size in plan.sizes
             for n in plan.threads]
    refused = {k: reason for k, (column, _, _) in enumerate(cells)
               if (reason := refusal(column.strategy, plan.pattern))}
    got, placement = _run_cells(plan, cells, refused, repeats, warmup, processes, seed,
                                progress)
    shape = (len(plan.columns), len(plan.sizes), len(plan.threads))
    status, reasons = _statuses(plan, cells, got, repeats)
    n_cpus = cpus()
    return ThreadsResult(
        strategies=tuple(c.label for c in plan.columns),
        sizes=np.array(plan.sizes, dtype=np.int64), threads=plan.threads, pattern=plan.pattern,
        touch=plan.touch,
        ns_per_op=got.thread_ns_per_op.reshape(shape + (repeats, plan.threads[-1])),
        span_ns_per_op=got.span_ns_per_op.reshape(shape + (repeats,)),
        faults_per_op=(got.minor_faults_per_op + got.major_faults_per_op).reshape(
            shape + (repeats,)),
        batch_iterations=got.iterations.reshape(shape), process=got.process.reshape(
            shape + (repeats,)),
        status=status.reshape(shape), reasons=reasons,
        machine=machine_metadata(plan.stack_size),
        params={"repeats": repeats, "warmup": warmup, "processes": min(processes, repeats),
                "seed": seed, "heap": "fresh", "stack_size": plan.stack_size,
                "cpus": n_cpus, "runner_cpus": got.cpus, "placement": placement,
                **({"size_distributions": {str(z): str(d) for z, d in plan.dists.items()}}
                   if plan.dists else {}),
                **(params or {})})


def _run_cells(plan: TeamPlan, cells: list, refused: dict, repeats: int, warmup: int,
               processes: int, seed: Optional[int], progress: bool) -> tuple:
    """The one use of the runner client: every cell in interleaved rounds; (Gathered, the
    placement of each column: what served malloc in its cells)."""
    specs = [CellSpec(column.strategy, plan.touch, cell_size(size, plan.dists), plan.iterations,
                      n, plan.pattern, plan.dists.get(size), column.tunables)
             for column, size, n in cells]
    setup = RunnerSetup(stack_size=plan.stack_size, warmup=warmup, target_ns=TARGET_BATCH_NS)
    bar = tqdm(total=len(specs) * repeats, unit="batch", disable=None if progress else True,
               desc="alloca-bench threads")
    try:
        with InterruptShield() as shield:  # a second Ctrl-C must not lose the first's result
            got = run_cells(specs, setup, repeats, processes, random.Random(seed),
                            on_sample=bar.update, shield=shield, refused=refused)
    finally:
        bar.close()
    _check_size_tables(specs, got.cells)
    first: dict = {}
    for (column, _, _), record in zip(cells, got.cells):
        if record is not None:
            first.setdefault(column.label, record)
    placement = {c.label: setup.placement(c.strategy, first.get(c.label), got.hello)
                 for c in plan.columns}
    return got, placement


def _check_size_tables(specs: Sequence, records: Sequence) -> None:
    """WorkerError when a size table the runner drew (its CELL records) differs from the one
    alloca_bench.sizes draws."""
    for spec, record in zip(specs, records):
        drawn = record.get("size_sequence") if record else None
        if spec.dist is not None and drawn is not None and drawn != spec.dist.fingerprint():
            raise WorkerError(f"the runner drew another size table for {spec.dist} than "
                              f"alloca_bench.sizes ({drawn} vs {spec.dist.fingerprint()})")


def _statuses(plan: TeamPlan, cells: list, got, repeats: int) -> tuple[np.ndarray, dict]:
    """The status of every cell (flat, in `cells` order) and the reasons of those not "ok"."""
    status = np.full(len(cells), "ok", dtype="<U11")
    reasons: dict = {}
    for failure in got.failures:
        c = failure["cell"]
        column, size, n = cells[c]
        key = (column.label, size, n)
        if key in reasons:
            continue
        status[c] = "unavailable" if failure.get("refused") else "failed"
        reasons[key] = _reason(column.strategy, cell_size(size, plan.dists), plan.stack_size,
                               failure)
    for c, (column, size, n) in enumerate(cells):
        if status[c] != "ok":
            continue
        done = int(np.isfinite(got.span_ns_per_op[c]).sum())
        if done == repeats:
            continue
        if got.interrupted:
            status[c] = "interrupted" if done else "not_run"
            reasons[(column.label, size, n)] = (
                f"interrupted (Ctrl-C) after {done} of {repeats} rounds" if done
                else "interrupted (Ctrl-C) before it ran")
        else:
            status[c] = "failed"
            reasons[(column.label, size, n)] = f"{done} of {repeats} rounds measured"
    return status, reasons


def _reason(strategy: str, size: int, stack_size: int, failure: dict) -> str:
    """The words of a failed cell; a stack guard refusal as StackLimitError says it."""
    if failure["status"] == native.lib.AB_ESTACK and failure.get("headroom") is not None:
        return str(native.stack_limit_error(strategy, size, 1, failure["headroom"],
                                            stack_size if strategies.is_stack(strategy) else 0))
    return failure["reason"]
