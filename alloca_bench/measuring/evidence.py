"""Gathering the evidence of `alloca-bench report`: a sweep, first calls in fresh child processes
(cold pages), the stack after many allocas, allocas and VLAs made in a loop, and the stack guard
refusing a size past the headroom.  Rendering it is present.report's job."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import threading
from typing import Optional, Sequence

import numpy as np

from alloca_bench.exceptions import AllocaBenchError, StackLimitError
from alloca_bench.measuring.contention import gather_threads
from alloca_bench.measuring.core import machine_metadata, measure, sweep
from alloca_bench.measuring.validate import loop_stack_span, stack_fits, stack_headroom
from alloca_bench.native import STACK_MARGIN
from alloca_bench.options import REPORT_SIZES
from alloca_bench.results.evidence import Evidence
from alloca_bench.results.model import Result

# fixed (a preallocated buffer) prices the touch alone: what is left is the allocation.
REPORT_STRATEGIES = ("alloca", "vla", "malloc", "calloc", "mmap", "fixed")
COLD_STRATEGIES = ("alloca", "malloc", "mmap")
COLD_SIZES: tuple[int, ...] = (4096, 64 << 10, 1 << 20)
GROWTH_SIZE = 1 << 20
LOOP_SIZE = 16 << 10  # bytes per iteration of the loop measurement
LOOP_COUNTS = (1, 8, 64)  # iterations: at most 1 MiB of stack for alloca
CHILD_TIMEOUT_S = 120
THREAD_REPEATS = 11  # rounds of the threads section (its cells are many: keep it short)


# --- child processes: fresh stacks and heaps -------------------------------------------------

def _stack_vma() -> dict:
    """The main thread's stack mapping, in bytes: VmStk (its size) from /proc/self/status and
    the Rss of [stack] from /proc/self/smaps; None for what cannot be read."""
    out: dict = {"size": None, "rss": None}
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            found = re.search(r"^VmStk:\s+(\d+) kB", f.read(), re.M)
        out["size"] = int(found.group(1)) * 1024 if found else None
        with open("/proc/self/smaps", encoding="utf-8") as f:
            smaps = f.read()
        at = smaps.find("[stack]")
        rss = re.search(r"^Rss:\s+(\d+) kB", smaps[at:], re.M) if at >= 0 else None
        out["rss"] = int(rss.group(1)) * 1024 if rss else None
    except OSError:
        pass
    return out


def _child_task(task: dict) -> dict:
    """One measurement in this (fresh) process; see _run_child."""
    if task["kind"] == "cold":
        # heap="host": these figures are about this fresh process itself, call after call
        first, second = (measure(task["strategy"], task["size"], iterations=1, repeats=1,
                                 warmup=0, heap="host") for _ in range(2))
        warm = measure(task["strategy"], task["size"], iterations=100, repeats=5, warmup=1,
                       heap="host")
        return {"first_faults": float(first.faults_per_op[0]),
                "first_ns": float(first.ns_per_op[0]),
                "second_faults": float(second.faults_per_op[0]),
                "warm_faults": float(np.median(warm.faults_per_op)),
                "warm_ns": warm.median()}
    before = _stack_vma()
    m = measure("alloca", task["size"], iterations=task["count"], repeats=1, warmup=0,
                heap="host")
    return {"before": before, "after": _stack_vma(), "faults": float(m.faults_per_op[0]),
            "ns": float(m.ns_per_op[0])}


def _child_main() -> None:
    """Entry point of the child: a JSON task in argv[1], a JSON answer on stdout."""
    try:
        answer = _child_task(json.loads(sys.argv[1]))
    except (AllocaBenchError, ValueError, OSError) as exc:
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer))


def _run_child(task: dict) -> dict:
    """Run `task` in a new Python process (a stack and heap nothing has used yet); an answer
    with "error" when it fails, crashes or hangs: the report goes on without it."""
    code = "from alloca_bench.measuring.evidence import _child_main; _child_main()"
    try:
        done = subprocess.run([sys.executable, "-c", code, json.dumps(task)],
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"the child process did not finish in {CHILD_TIMEOUT_S} s"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no message"]
        return {"error": f"the child process exited with status {done.returncode}: {tail[0]}"}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"error": f"the child process printed no answer: {done.stdout[-200:]!r}"}


# --- gathering the evidence ------------------------------------------------------------------

def gather(result: Result | None = None, *, source: str = "measured now",
           sizes: Sequence[int] = REPORT_SIZES, repeats: int = 21, progress: bool = False,
           cold_sizes: Sequence[int] = COLD_SIZES,
           cold_strategies: Sequence[str] = COLD_STRATEGIES,
           growth_size: int = GROWTH_SIZE, threads: bool = True) -> Evidence:
    """Run (or take) the sweep and the extra measurements: first calls in fresh processes at
    `cold_sizes`, the stack after many allocas of `growth_size`, the stack guard, and (with
    `threads`) alloca vs the heap at 1 and 2 threads (measuring.contention)."""
    if result is None:
        result = sweep(sizes=sizes, strategies=REPORT_STRATEGIES, repeats=repeats,
                       progress=progress)
    evidence = Evidence(result=result, source=source, machine_now=machine_metadata())
    here = evidence.machine_now["stack_headroom"]
    for strategy in cold_strategies:
        for size in cold_sizes:
            evidence.cold[(strategy, int(size))] = _run_child(
                {"kind": "cold", "strategy": strategy, "size": int(size)})
    size = int(min(growth_size, max((here - STACK_MARGIN) // 2, 4096)))
    rlimit = evidence.machine_now.get("rlimit_stack_soft")
    # Enough allocas that, were none given back, they would need 4x the stack limit.
    count = max(100, math.ceil(4 * rlimit / size)) if isinstance(rlimit, int) else 100
    evidence.growth = {"size": size, "count": min(count, 100_000),
                       **_run_child({"kind": "growth", "size": size,
                                     "count": min(count, 100_000)})}
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

