"""The runner transport (heap="fresh" and "aged", malloc@NAME): one process's share of a plan
becomes a runner plan (measuring._framing), each cell in a process of its own with the
environment its strategy needs (the allocator preloaded, GLIBC_TUNABLES); the runner's records
go to the executor's Sink; each runner starts on the CPUs asked for (cpus=).  Also what a
runner result records: where each strategy ran, glibc's heap statistics per cell, the CPU each
runner was pinned to."""
from __future__ import annotations

import os
from typing import Iterable, Optional, Sequence

from alloca_bench import native, strategies
from alloca_bench.mallocs import check_allocator, is_libc
from alloca_bench.mallocs.policy import placement
from alloca_bench.exceptions import AllocaBenchError, WorkerError
from alloca_bench.measuring import _framing
from alloca_bench.measuring import runner
from alloca_bench.measuring.executor import Samples, Sink
from alloca_bench.measuring.plan import Cell, Options

# A cell's process silent this long (plus 20 times its longest answer) is hung: the runner kills
# it and fails the cell.
CELL_TIMEOUT_MS = 30_000


def cpus(asked: Optional[Sequence[int]] = None) -> int:
    """CPUs the runners may run on: the `asked` set's (cpus=), else this process's affinity
    mask's."""
    return len(asked) if asked is not None else len(os.sched_getaffinity(0))


class RunnerTransport:
    """Runs cells in the C runner (alloca_bench/_runner) with `options`."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.retaken = 0  # batch attempts the runner threw away as preempted and ran again
        self.preempted = 0  # samples whose batch was still preempted after its retakes
        # per cell process: {"strategy", "size", "process", "heap_offset" (heap cells),
        # "stack_offset"}, where its ops landed within a page (runner_cell.c)
        self.layout: list = []
        self._processes = 0  # run() calls so far: the executor's process index
        runner.runner_build_info()  # a missing or mismatched runner raises before anything runs

    def environment(self, strategy: str) -> dict:
        """Plan fields expect/preload/tunables of a strategy's cells."""
        kernel, allocator = strategies.kernel(strategy), strategies.allocator_of(strategy)
        fields = {}
        if allocator is not None:
            library = check_allocator(allocator)
            fields["expect"] = library
            if not is_libc(library):
                fields["preload"] = library
        tunables = self.options.policy.tunables()
        if kernel in strategies.MALLOC_STRATEGIES and tunables:
            fields["tunables"] = ":".join(filter(None, (os.environ.get("GLIBC_TUNABLES"),
                                                        tunables)))
        return fields

    def fields(self, cell: Cell, iterations: int) -> dict:
        """The plan fields of one cell (without its id)."""
        kernel, o = strategies.kernel(cell.strategy), self.options
        fields = {"strategy": strategies.STRATEGIES.index(kernel),
                  "touch": native.TOUCHES.index(cell.touch), "size": cell.size,
                  "iterations": iterations,
                  # heap= is for cells whose timed op calls an allocator; the others never do
                  "heap": o.heap if strategies.calls_allocator(kernel) else "fresh",
                  "warmup": o.warmup, "target_ns": int(o.target_ns),
                  "timeout_ms": CELL_TIMEOUT_MS,
                  # stack_size= is for stack cells only: heap cells keep the main thread
                  "stack_size": o.stack_size if strategies.is_stack(kernel) else 0,
                  **self.environment(cell.strategy),
                  **(cell.dist.plan_fields() if cell.dist is not None else {}),
                  **dict(cell.fields)}
        if cell.tunables:  # this cell's own, after the sweep's
            current = fields.get("tunables", os.environ.get("GLIBC_TUNABLES"))
            fields["tunables"] = ":".join(filter(None, (current, cell.tunables)))
        return fields

    def run(self, cells: Sequence[Cell], iterations: Sequence[int],
            rounds: Iterable[tuple[int, Sequence[int]]], sink: Sink) -> None:
        """One runner on these cells and rounds; WorkerError when it dies or hangs, or sends a
        record that does not fit the plan (a cell or round it does not hold, a sample twice)."""
        rounds = list(rounds)
        # Warm-ups may overlap (nothing is timed before the first round), calibrations not.
        calibrating = not all(iterations)
        plan = _framing.plan_text(
            [{"id": k, **self.fields(cell, n)} for k, (cell, n) in
             enumerate(zip(cells, iterations))], rounds,
            setup_parallel=1 if calibrating else cpus(self.options.cpus),
            cpus=self.options.cpus)
        expected = {(r, k) for r, order in rounds for k in order}  # samples still to come

        def cell_of(record: dict) -> int:
            if record["cell"] >= len(cells):
                raise ValueError(f"cell {record['cell']} (the plan has {len(cells)})")
            return record["cell"]

        process = self._processes
        self._processes += 1

        def handle(kind: int, record: _framing.Record) -> None:
            if isinstance(record, (_framing.Sample, tuple)):
                team = record if isinstance(record, tuple) else (record,)
                k = len(team)
                if (team[0].round, team[0].cell) not in expected:
                    raise ValueError(f"a sample of cell {team[0].cell} in round "
                                     f"{team[0].round}, which the plan does not ask for (or "
                                     "already has)")
                expected.remove((team[0].round, team[0].cell))
                self.retaken += sum(s.retakes for s in team)
                self.preempted += any(s.switches for s in team)
                sink.sample(team[0].cell, team[0].round,
                            (sum(s.ns_per_op for s in team) / k,
                             sum(s.minor_faults_per_op for s in team) / k,
                             sum(s.major_faults_per_op for s in team) / k), team)
            elif kind == _framing.HELLO:
                sink.hello(record)
            elif kind == _framing.CELL:
                if record["iterations"] == 0:
                    raise ValueError(f"cell {record['cell']} prepared with 0 iterations")
                cell = cells[cell_of(record)]
                self.layout.append({"strategy": cell.strategy, "size": cell.size,
                                    "process": process,
                                    **{k: record[k] for k in ("heap_offset", "stack_offset")
                                       if k in record}})
                sink.prepared(record["cell"], record["iterations"], record)
            elif kind == _framing.FAILED:
                k = cell_of(record)
                sink.failed(k, self.error(cells[k], record))
            elif kind == _framing.BUSY:
                cell_of(record)

        runner.run_plan(plan, handle)

    def error(self, cell: Cell, record: dict) -> Exception:
        """The exception of a FAILED record: the C status's class (a StackLimitError quoting
        the largest size that fits), or WorkerError for the runner's own findings (a cell that
        died or hung, a wrong allocator)."""
        status = record["status"]
        if status <= _framing.CELL_LOST:
            return WorkerError(record["reason"])
        if status == native.lib.AB_ESTACK and record.get("headroom") is not None:
            # With the slack native adds, the largest size it quotes also fits in the next
            # runner, whose stack starts up to 8 KiB apart (the kernel randomises it).
            stack = self.options.stack_size if strategies.is_stack(cell.strategy) else 0
            return native.stack_limit_error(cell.strategy, cell.size, 1, record["headroom"],
                                            stack)
        try:
            native.ensure(status, f"{cell.strategy} of {cell.size} bytes in the runner: "
                                  f"{record['reason']}")
        except AllocaBenchError as exc:
            return exc
        return WorkerError(record["reason"])

    def placement(self, strategy: str, record: Optional[dict],
                  hello: Optional[dict] = None) -> dict:
        """params["placement"] of a strategy, from a CELL record of its cells.  When none of
        its cells started: the allocator it names (version unknown), else what served malloc
        in the runner (its HELLO record)."""
        if record is None:
            expected = self.environment(strategy).get("expect")
            record = {"malloc_library": expected} if expected else hello
        library = record.get("malloc_library") if record else None
        version = record.get("version") if record else None
        tunables = self.environment(strategy).get("tunables", os.environ.get("GLIBC_TUNABLES"))
        return placement("runner", library, version, tunables, os.environ)

    def params(self, names: Sequence[str], cells: Sequence[Cell], got: Samples) -> dict:
        """params of a runner result: the policy, where each strategy ran, glibc's heap
        statistics per heap cell, the runners' CPUs, where each cell process's ops landed
        within a page, the batches retaken as preempted and those still preempted after their
        retakes, and the processes the rounds took."""
        first: dict = {}
        for cell, record in zip(cells, got.records):
            if record is not None:
                first.setdefault(cell.strategy, record)
        heap_stats = [{"strategy": cell.strategy, "size": cell.size, **record["mallinfo2"]}
                      for cell, record in zip(cells, got.records)
                      if record and record.get("mallinfo2")
                      and strategies.calls_allocator(cell.strategy)]
        return {**self.options.policy.describe(),
                "placement": {name: self.placement(name, first.get(name), got.hello)
                              for name in names},
                "mallinfo2": heap_stats, "runner_cpus": got.cpus, "layout": self.layout,
                "retaken_batches": self.retaken, "preempted_batches": self.preempted,
                "processes": min(self.options.processes, self.options.repeats)}

    def stack_headroom(self, got: Samples) -> Optional[int]:
        """The stack headroom of the thread that ran the stack cells: the runner's main
        thread's (its HELLO record) unless stack_size= gave them a worker."""
        if self.options.stack_size or not got.hello:
            return None
        return got.hello.get("stack_headroom")
