"""Cells in runner processes: turn (strategy, touch, size, iterations) cells into runner plans,
spread the rounds over `processes` runners (one after another, each round's cells in a fresh
shuffled order), and gather the samples with the process index of each.  A cell that fails is
recorded with its reason and dropped from later rounds; a runner that dies costs the rounds it
had left, not the samples it sent; Ctrl-C stops at once and keeps what was measured."""
from __future__ import annotations

import os
import random
import signal
import threading
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from alloca_bench import native, strategies
from alloca_bench.allocators import AllocatorPolicy, check_allocator, is_libc
from alloca_bench.allocators.policy import placement
from alloca_bench.exceptions import WorkerError
from alloca_bench.measuring import _framing as framing
from alloca_bench.measuring import runner as client
from alloca_bench.measuring import threads as team
from alloca_bench.measuring.host import TARGET_BATCH_NS
from alloca_bench.options import HEAPS
from alloca_bench.sizes import SizeDistribution

# A cell's process silent this long (plus 20 times its longest answer) is hung: the runner kills
# it and fails the cell.
CELL_TIMEOUT_MS = 30_000


def check_heap(heap: object) -> str:
    """A heap state: one of HEAPS."""
    if heap not in HEAPS:
        raise ValueError(f"heap must be one of {', '.join(HEAPS)}, not {heap!r}")
    return heap


@dataclass(frozen=True)
class CellSpec:
    """One cell as the user named it; iterations 0 means calibrate in the runner.  threads 0
    is the plain single-thread cell; >= 1, pattern or dist make a team cell (measuring.threads);
    with dist, `size` is the distribution's high.  tunables: GLIBC_TUNABLES of this cell
    alone (added to the sweep's), so that two settings of one allocator run interleaved."""

    strategy: str
    touch: str
    size: int
    iterations: int
    threads: int = 0
    pattern: str = "same"
    dist: Optional[SizeDistribution] = None
    tunables: Optional[str] = None


@dataclass
class Gathered:
    """Per cell and round: ns/op, faults/op and the process that took the sample (-1: none)."""

    ns_per_op: np.ndarray
    minor_faults_per_op: np.ndarray
    major_faults_per_op: np.ndarray
    process: np.ndarray
    iterations: np.ndarray  # ops per batch of each cell (0: never calibrated)
    # {"cell", "process", "status" (ab_run()'s, None for the runner's own findings: a cell or
    #  runner that died or hung, a wrong allocator), "reason",
    #  "headroom" (bytes of stack left, for a stack guard refusal)}
    failures: list = field(default_factory=list)
    cells: list = field(default_factory=list)  # first CELL record of each cell, or None
    # Per cell, round and thread of its team: ns/op of that thread (NaN: none); ns_per_op etc.
    # above hold the mean over a team's threads.
    thread_ns_per_op: Optional[np.ndarray] = None
    # Per cell and round: the team's batch from its first thread's start to its last one's end,
    # per op of one thread (ns)
    span_ns_per_op: Optional[np.ndarray] = None
    hello: Optional[dict] = None  # the first runner's HELLO record
    cpus: list = field(default_factory=list)  # the CPU each runner was pinned to (-1: none)
    interrupted: bool = False
    in_batch_ns: float = 0.0
    # per cell process: {"cell", "process", "heap_offset" (heap cells), "stack_offset"}, where
    # its ops landed within a page (runner_cell.c)
    layout: list = field(default_factory=list)
    retaken: int = 0  # batch attempts the runner threw away as preempted and ran again
    preempted: int = 0  # samples whose batch was still preempted after its retakes


@dataclass(frozen=True)
class RunnerSetup:
    """What every cell of a sweep shares: heap state, stack, warm-up, target and policy."""

    heap: str = "fresh"
    stack_size: int = 0
    warmup: int = 1
    target_ns: float = TARGET_BATCH_NS  # ns per timed batch the runner calibrates to
    policy: AllocatorPolicy = AllocatorPolicy()

    def environment(self, strategy: str) -> dict:
        """Plan fields expect/preload/tunables of a strategy's cells."""
        kernel, allocator = strategies.kernel(strategy), strategies.allocator_of(strategy)
        fields = {}
        if allocator is not None:
            library = check_allocator(allocator)
            fields["expect"] = library
            if not is_libc(library):
                fields["preload"] = library
        tunables = self.policy.tunables()
        if kernel in strategies.MALLOC_STRATEGIES and tunables:
            fields["tunables"] = ":".join(filter(None, (os.environ.get("GLIBC_TUNABLES"),
                                                        tunables)))
        return fields

    def fields(self, spec: CellSpec, iterations: int) -> dict:
        """The plan fields of one cell (without its id)."""
        kernel = strategies.kernel(spec.strategy)
        return {"strategy": strategies.STRATEGIES.index(kernel),
                "touch": strategies.TOUCHES.index(spec.touch), "size": spec.size,
                "iterations": iterations,
                # heap= is for cells whose timed op calls an allocator; the others never do
                "heap": self.heap if strategies.calls_allocator(kernel) else "fresh",
                "warmup": self.warmup, "target_ns": int(self.target_ns),
                "timeout_ms": CELL_TIMEOUT_MS,
                # stack_size= is for stack cells only: heap cells keep the main thread
                "stack_size": self.stack_size if strategies.is_stack(kernel) else 0,
                **self.environment(spec.strategy),
                **team.team_fields(spec.threads, spec.pattern, spec.dist),
                **self.cell_tunables(spec)}

    def cell_tunables(self, spec: CellSpec) -> dict:
        """The tunables= field of a cell with tunables of its own ({} for the others)."""
        if not spec.tunables:
            return {}
        current = self.environment(spec.strategy).get("tunables",
                                                      os.environ.get("GLIBC_TUNABLES"))
        return {"tunables": ":".join(filter(None, (current, spec.tunables)))}

    def placement(self, strategy: str, cell: Optional[dict],
                  hello: Optional[dict] = None) -> dict:
        """Result.params["placement"] of a strategy, from a CELL record of its cells.  When none
        of its cells started: the allocator it names (version unknown), else what served
        malloc in the runner (its HELLO record)."""
        if cell is None:
            expected = self.environment(strategy).get("expect")
            cell = {"malloc_library": expected} if expected else hello
        library = cell.get("malloc_library") if cell else None
        version = cell.get("version") if cell else None
        tunables = self.environment(strategy).get("tunables",
                                                  os.environ.get("GLIBC_TUNABLES"))
        return placement("runner", library, version, tunables, os.environ)


class InterruptShield:
    """After a first Ctrl-C has stopped the runners, ignore further ones until the with-block
    ends (the result is built), so a second Ctrl-C cannot lose what was measured."""

    def __init__(self) -> None:
        self._old = None

    def __enter__(self) -> "InterruptShield":
        return self

    def hold(self) -> None:
        """Ignore SIGINT from now until the with-block ends (main thread only)."""
        if self._old is None and threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def __exit__(self, *exc_info) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None


def spread(repeats: int, processes: int) -> list[range]:
    """The rounds of each process: contiguous blocks as equal as they can be."""
    processes = min(processes, repeats)
    return [range(p * repeats // processes, (p + 1) * repeats // processes)
            for p in range(processes)]


def run_cells(specs: Sequence[CellSpec], setup: RunnerSetup, repeats: int, processes: int,
              rng: random.Random, on_sample: Callable[[], None] = lambda: None,
              shield: Optional[InterruptShield] = None,
              refused: Optional[dict] = None) -> Gathered:
    """Measure every cell `repeats` times over `processes` runners started one after another.
    Process 0 calibrates the cells with iterations 0; later processes reuse its counts.  A
    missing or mismatched runner raises before anything runs.  `refused` ({cell index:
    reason}) are never run: they are failures with status AB_EUNAVAILABLE."""
    client.runner_build_info()
    n = len(specs)
    shape = (n, repeats)
    out = Gathered(*(np.full(shape, np.nan) for _ in range(3)),
                   process=np.full(shape, -1, dtype=np.int64),
                   iterations=np.array([s.iterations for s in specs], dtype=np.int64),
                   cells=[None] * n,
                   thread_ns_per_op=np.full(shape + (max(s.threads for s in specs) or 1,),
                                            np.nan),
                   span_ns_per_op=np.full(shape, np.nan))
    failed: set[int] = set(refused or {})
    out.failures += [{"cell": c, "process": None, "status": native.lib.AB_EUNAVAILABLE,
                      "reason": reason, "headroom": None, "refused": True}
                     for c, reason in (refused or {}).items()]
    for p, rounds in enumerate(spread(repeats, processes)):
        live = [c for c in range(n) if c not in failed]
        if not live:
            break
        # positions in `live`, drawn as rng.sample(live, ...) would (it picks by position)
        plan_rounds = [(r, rng.sample(range(len(live)), len(live))) for r in rounds]
        # Warm-ups may overlap (nothing is timed before the first round), calibrations not.
        calibrating = any(out.iterations[c] == 0 for c in live)
        plan = framing.plan_text(
            [{"id": k, **setup.fields(specs[c], int(out.iterations[c]))}
             for k, c in enumerate(live)], plan_rounds,
            setup_parallel=1 if calibrating else team.cpus())

        def handle(kind: int, record, p: int = p, live: list = live) -> None:
            if isinstance(record, (framing.Sample, tuple)):
                team_samples = record if isinstance(record, tuple) else (record,)
                c, r, k = live[team_samples[0].cell], team_samples[0].round, len(team_samples)
                for s in team_samples:
                    out.thread_ns_per_op[c, r, s.thread] = s.ns_per_op
                out.span_ns_per_op[c, r] = team_samples[0].span_ns_per_op
                # plain floats, not numpy: this runs once per sample as records arrive
                out.ns_per_op[c, r] = sum(s.ns_per_op for s in team_samples) / k
                out.minor_faults_per_op[c, r] = sum(s.minor_faults_per_op
                                                    for s in team_samples) / k
                out.major_faults_per_op[c, r] = sum(s.major_faults_per_op
                                                    for s in team_samples) / k
                out.process[c, r] = p
                out.in_batch_ns += out.ns_per_op[c, r] * float(out.iterations[c])
                out.retaken += sum(s.retakes for s in team_samples)
                out.preempted += any(s.switches for s in team_samples)
                on_sample()
            elif kind == framing.HELLO:
                out.hello = out.hello or record
                out.cpus.append(record.get("cpu", -1))
            elif kind == framing.CELL:
                c = live[record["cell"]]
                out.iterations[c] = out.iterations[c] or record["iterations"]
                out.cells[c] = out.cells[c] or record
                out.layout.append({"cell": c, "process": p,
                                   **{k: record[k] for k in ("heap_offset", "stack_offset")
                                      if k in record}})
            elif kind == framing.FAILED:
                c = live[record["cell"]]
                failed.add(c)
                status = record["status"]
                out.failures.append({"cell": c, "process": p,
                                     # the runner's own findings are not a kernel's status
                                     "status": None if status <= framing.CELL_LOST else status,
                                     "reason": record["reason"],
                                     "headroom": record.get("headroom")})

        try:
            client.run_plan(plan, handle)
        except WorkerError as exc:
            for c in live:  # every cell that lost rounds in this runner
                if c not in failed and np.isnan(out.ns_per_op[c, rounds.start:rounds.stop]).any():
                    out.failures.append({"cell": c, "process": p, "status": None,
                                         "reason": str(exc), "headroom": None})
        except KeyboardInterrupt:  # the runner is already dead (run_plan kills it)
            if shield is not None:
                shield.hold()
            out.interrupted = True
            break
    return out
