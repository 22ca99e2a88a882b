"""The measurements of `alloca-bench report`: a sweep, first calls in fresh processes (cold
pages) and the stack after many allocas, both plans of the runner (warmup=0, explicit
iterations: every cell a fresh process), allocas and VLAs made in a loop, and the stack guard
refusing a size past the headroom.  Rendering them is present.report's job."""
from __future__ import annotations

import math
import threading
from typing import Optional, Sequence

import numpy as np

from alloca_bench.exceptions import AllocaBenchError, StackLimitError
from alloca_bench.measuring.api import machine_metadata, measure, sweep
from alloca_bench.measuring.contention import gather_threads
from alloca_bench.measuring.executor import Samples, execute
from alloca_bench.measuring.plan import Cell, Options, Plan
from alloca_bench.measuring.runner_transport import RunnerTransport
from alloca_bench.measuring.validate import loop_stack_span, stack_fits, stack_headroom
from alloca_bench.native import STACK_MARGIN
from alloca_bench.options import REPORT_SIZES
from alloca_bench.results.evidence import Evidence
from alloca_bench.results.result import Result

# fixed (a preallocated buffer) prices the touch alone: what is left is the allocation.
REPORT_STRATEGIES = ("alloca", "vla", "malloc", "calloc", "mmap", "fixed")
COLD_STRATEGIES = ("alloca", "malloc", "mmap")
COLD_SIZES: tuple[int, ...] = (4096, 64 << 10, 1 << 20)
WARM_ITERATIONS = 100  # ops per batch of the warm figures beside the first calls
COLD_ROUNDS = 5  # rounds of the cold plan: the first two are the first and second calls
GROWTH_SIZE = 1 << 20
LOOP_SIZE = 16 << 10  # bytes per iteration of the loop measurement
LOOP_COUNTS = (1, 8, 64)  # iterations: at most 1 MiB of stack for alloca
THREAD_REPEATS = 11  # rounds of the threads section (its cells are many: keep it short)


def _run_plan(cells: Sequence[Cell], repeats: int) -> Samples:
    """`cells` in one runner, `repeats` rounds, no warm-up unless a cell's fields ask.
    Ctrl-C stops the report (KeyboardInterrupt): a first call cut short is no first call."""
    options = Options(repeats=repeats, warmup=0, processes=1)
    got = execute(Plan(tuple(cells), options), RunnerTransport(options))
    if got.interrupted:
        raise KeyboardInterrupt
    return got


def cold_calls(strategies: Sequence[str] = COLD_STRATEGIES,
               sizes: Sequence[int] = COLD_SIZES) -> dict:
    """{(strategy, size): figures} of the first calls in a fresh process: faults and ns of the
    first call, faults of the second (one op per batch, no warm-up), and the median faults and
    ns per op of another fresh process after a warm-up ({"error": why} for a failed cell)."""
    keys = [(s, int(z)) for s in strategies for z in sizes]
    cells = [Cell(s, "pages", z, 1) for s, z in keys]
    cells += [Cell(s, "pages", z, WARM_ITERATIONS, fields=(("warmup", 1),)) for s, z in keys]
    got = _run_plan(cells, COLD_ROUNDS)
    out = {}
    for k, key in enumerate(keys):
        warm = k + len(keys)
        failed = [c for c in (k, warm) if got.status[c] != "ok"]
        if failed:
            out[key] = {"error": got.reasons()[failed[0]]}
            continue
        faults = got.minor_faults_per_op + got.major_faults_per_op
        out[key] = {"first_faults": float(faults[k, 0]), "first_ns": float(got.ns_per_op[k, 0]),
                    "second_faults": float(faults[k, 1]),
                    "warm_faults": float(np.median(faults[warm])),
                    "warm_ns": float(np.median(got.ns_per_op[warm]))}
    return out


def stack_growth(size: int, count: int) -> dict:
    """The main thread's stack mapping (VmStk, Rss of [stack], bytes) of a fresh runner process
    before its first op and after `count` allocas of `size` bytes, each in a call that returned
    ({"error": why} when the cell failed)."""
    # The warm-up batch runs a quarter of the cell's ops: `count` allocas.
    got = _run_plan([Cell("alloca", "pages", size, 4 * count,
                          fields=(("report_stack", 1), ("warmup", 1)))], 1)
    if got.status[0] != "ok":
        return {"size": size, "count": count, "error": got.reasons()[0]}
    record = got.records[0]
    return {"size": size, "count": count, "before": record.get("stack_start") or {},
            "after": record.get("stack") or {}}


def gather(result: Result | None = None, *, source: str = "measured now",
           sizes: Sequence[int] = REPORT_SIZES, repeats: int = 21, progress: bool = False,
           cold_sizes: Sequence[int] = COLD_SIZES,
           cold_strategies: Sequence[str] = COLD_STRATEGIES,
           growth_size: int = GROWTH_SIZE, threads: bool = True) -> Evidence:
    """Run (or take) the sweep and the extra measurements: first calls in fresh processes at
    `cold_sizes`, the stack after many allocas of `growth_size` (both in the runner), the
    stack guard, and (with `threads`) alloca vs the heap at 1 and 2 threads
    (measuring.contention)."""
    if result is None:
        result = sweep(sizes=sizes, strategies=REPORT_STRATEGIES, repeats=repeats,
                       progress=progress)
    evidence = Evidence(result=result, source=source, machine_now=machine_metadata())
    here = evidence.machine_now["stack_headroom"]
    evidence.cold = cold_calls(cold_strategies, cold_sizes)
    size = int(min(growth_size, max((here - STACK_MARGIN) // 2, 4096)))
    rlimit = evidence.machine_now.get("rlimit_stack_soft")
    # Enough allocas that, were none given back, they would need 4x the stack limit.
    count = max(100, math.ceil(4 * rlimit / size)) if isinstance(rlimit, int) else 100
    evidence.growth = stack_growth(size, min(count, 100_000))
    evidence.loop = _loop_spans(here)
    # Before _try_guard: glibc caches the stack of a finished thread and hands it to the next
    # one when big enough, so a thread started after the guard's worker would get its 16 MiB.
    evidence.thread_headroom = _thread_headroom()
    evidence.guard = _try_guard()
    if threads:
        try:
            evidence.threads = gather_threads(repeats=min(repeats, THREAD_REPEATS))
        except AllocaBenchError as exc:
            evidence.threads_error = str(exc)
    return evidence


def _loop_spans(headroom: int, size: int = LOOP_SIZE) -> dict:
    """Stack covered by `count` buffers of `size` bytes allocated in one loop in one call, for
    alloca and for a VLA declared in the loop body (measured in C, behind the stack guard)."""
    counts = [c for c in LOOP_COUNTS if stack_fits("alloca", size, c, headroom)]
    try:
        return {"size": size, "counts": counts,
                **{s: [loop_stack_span(s, size, c) for c in counts] for s in ("alloca", "vla")}}
    except AllocaBenchError as exc:
        return {"error": str(exc)}


def _try_guard() -> dict:
    """Ask for an alloca bigger than this thread's headroom: the guard must refuse it.  Then
    run that size on a worker thread with a stack large enough, as the message suggests."""
    size = stack_headroom()
    out: dict = {"size": size}
    try:
        measure("alloca", size, iterations=1, repeats=1, warmup=0, heap="host")
    except StackLimitError as exc:
        out["message"] = str(exc)
    bigger = 1 << (size + STACK_MARGIN + (1 << 20)).bit_length()
    try:
        m = measure("alloca", size, iterations=1, repeats=1, warmup=0, stack_size=bigger,
                    heap="host")
        out.update(worker_stack=bigger, worker_ns=float(m.ns_per_op[0]),
                   worker_faults=float(m.faults_per_op[0]))
    except AllocaBenchError as exc:
        out.update(worker_stack=bigger, worker_error=str(exc))
    return out


def _thread_headroom() -> Optional[int]:
    """Stack headroom inside a thread started by Python's threading module (default size)."""
    box: list = []

    def probe() -> None:
        try:
            box.append(stack_headroom())
        except AllocaBenchError:
            pass

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return box[0] if box else None

