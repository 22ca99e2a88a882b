"""The one executor: runs a plan (cells x rounds) through a transport (runner processes, or this
process for heap="host") and gathers raw samples with their process index and a status per
cell.  It spreads the rounds over processes, draws each round's shuffled order, drops a failed
cell from later processes, keeps what a runner sent before it died, and on Ctrl-C stops at once
and keeps what was measured.  The transports differ in how a process runs its cells, nothing
else: each calls back Sink's methods as its cells are prepared, sampled or fail."""
from __future__ import annotations

import random
import signal
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Protocol, Sequence

import numpy as np

from alloca_bench.exceptions import WorkerError
from alloca_bench.measuring.plan import Cell, Plan


class Sink(Protocol):
    """What a transport reports while one process runs (k: the cell's index in that process's
    list)."""

    def hello(self, record: dict) -> None: ...

    def prepared(self, k: int, iterations: int, record: Optional[dict]) -> None: ...

    def sample(self, k: int, round_index: int, figures: tuple[float, float, float],
               raw: object = None) -> None: ...

    def failed(self, k: int, error: Exception) -> None: ...


class Transport(Protocol):
    """Runs one process's share of a plan: prepare (calibrate, warm up) `cells`, then each
    round's cells in the order given, reporting to `sink`."""

    def run(self, cells: Sequence[Cell], iterations: Sequence[int],
            rounds: Iterable[tuple[int, Sequence[int]]], sink: Sink) -> None: ...


@dataclass
class Samples:
    """Per cell and round: ns/op, faults/op and the process that took the sample (-1: none);
    per cell: ops per batch, status (results.status.STATUSES) and, for a failed cell, its
    error."""

    ns_per_op: np.ndarray
    minor_faults_per_op: np.ndarray
    major_faults_per_op: np.ndarray
    process: np.ndarray
    iterations: np.ndarray
    status: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)  # {cell index: the exception of its failure}
    unavailable: dict = field(default_factory=dict)  # {cell index: why it cannot run here}
    records: list = field(default_factory=list)  # each cell's first CELL record (runner) or None
    hello: Optional[dict] = None  # the first runner's HELLO record
    cpus: list = field(default_factory=list)  # the CPU each runner was pinned to (-1: none)
    interrupted: bool = False
    in_batch_ns: float = 0.0

    def reasons(self) -> dict[int, str]:
        """The words for every cell whose status is not "ok", by cell index."""
        out = {}
        for c, word in enumerate(self.status):
            if word == "failed":
                out[c] = str(self.errors[c])
            elif word == "unavailable":
                out[c] = self.unavailable[c]
            elif word == "interrupted":
                done = int((self.process[c] >= 0).sum())
                out[c] = f"interrupted (Ctrl-C) after {done} of {self.process.shape[1]} rounds"
            elif word == "not_run":
                out[c] = "not run"
        return out


class InterruptShield:
    """After a first Ctrl-C has stopped the measuring, ignore further ones until the with-block
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


class _Process:
    """The Sink of one process: maps its cell positions to the plan's cells."""

    def __init__(self, out: Samples, live: list[int], index: int, dropped: set,
                 on_sample: Callable[[], None], on_raw: Optional[Callable]) -> None:
        self.out, self.live, self.index, self.dropped = out, live, index, dropped
        self.on_sample, self.on_raw = on_sample, on_raw

    def hello(self, record: dict) -> None:
        self.out.hello = self.out.hello or record
        self.out.cpus.append(record.get("cpu", -1))

    def prepared(self, k: int, iterations: int, record: Optional[dict]) -> None:
        c = self.live[k]
        self.out.iterations[c] = self.out.iterations[c] or iterations
        if record is not None and self.out.records[c] is None:
            self.out.records[c] = record

    def sample(self, k: int, round_index: int, figures: tuple[float, float, float],
               raw: object = None) -> None:
        c, out = self.live[k], self.out
        # plain floats, not numpy: this runs once per sample as they arrive
        out.ns_per_op[c, round_index], out.minor_faults_per_op[c, round_index], \
            out.major_faults_per_op[c, round_index] = figures
        out.process[c, round_index] = self.index
        out.in_batch_ns += figures[0] * float(out.iterations[c])
        if raw is not None and self.on_raw is not None:
            self.on_raw(c, round_index, raw)
        self.on_sample()

    def failed(self, k: int, error: Exception) -> None:
        c = self.live[k]
        self.dropped.add(c)  # a cell that failed runs in no later process
        self.out.errors.setdefault(c, error)


def execute(plan: Plan, transport: Transport, *, shield: Optional[InterruptShield] = None,
            on_sample: Callable[[], None] = lambda: None,
            on_raw: Optional[Callable[[int, int, object], None]] = None) -> Samples:
    """Run `plan` through `transport`: process p runs its block of rounds (Plan.spread), each
    round's live cells in a new shuffled order; the first process calibrates the cells with
    iterations 0 and later ones reuse its counts.  A cell that fails is "failed" (its samples
    before the failure kept); a process that dies (WorkerError) fails the cells that lost
    rounds in it, the others go on; Ctrl-C stops at once (shield.hold() then ignores a second
    one) and marks the cells short of rounds "interrupted".  A cell that says it is unavailable
    never runs.  on_sample() runs after each sample, on_raw(cell, round, record) with a
    transport's raw record where it has one (a runner team cell's per-thread samples)."""
    n, repeats = len(plan.cells), plan.options.repeats
    out = Samples(*(np.full((n, repeats), np.nan) for _ in range(3)),
                  process=np.full((n, repeats), -1, dtype=np.int64),
                  iterations=np.array([c.iterations for c in plan.cells], dtype=np.int64),
                  records=[None] * n,
                  unavailable={c: cell.unavailable for c, cell in enumerate(plan.cells)
                               if cell.unavailable})
    rng = random.Random()
    dropped: set[int] = set(out.unavailable)
    for p, rounds in enumerate(plan.spread()):
        live = [c for c in range(n) if c not in dropped]
        if not live:
            break
        # positions in `live`, each round's order drawn afresh as the transport asks for it
        orders = ((r, rng.sample(range(len(live)), len(live)) if len(live) > 1 else [0])
                  for r in rounds)
        sink = _Process(out, live, p, dropped, on_sample, on_raw)
        try:
            transport.run([plan.cells[c] for c in live], [int(out.iterations[c]) for c in live],
                          orders, sink)
        except WorkerError as exc:
            for c in live:  # every cell that lost rounds in this process
                if c not in dropped and (out.process[c, rounds.start:rounds.stop] < 0).any():
                    out.errors.setdefault(c, exc)
        except KeyboardInterrupt:  # the transport stopped its process (the runner is dead)
            if shield is not None:
                shield.hold()
            out.interrupted = True
            break
    out.status = [_status(out, c) for c in range(n)]
    return out


def _status(out: Samples, c: int) -> str:
    """Cell c's word in results.status.STATUSES."""
    done = int((out.process[c] >= 0).sum())
    if c in out.unavailable:
        return "unavailable"
    if c in out.errors:
        return "failed"
    if done == out.process.shape[1]:
        return "ok"
    return "interrupted" if out.interrupted else "not_run"
