"""The host transport (heap="host", "host-ctypes"): the cells run in this Python process through
the binding (cffi or ctypes), each batch one C call that times itself, on the CPUs asked for
(cpus=) while they run; what it refuses (anything that needs a process of its own), and
calibration by the runner's own rule."""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterable, Iterator, Optional, Sequence

from alloca_bench import native
from alloca_bench.measuring.allocator_probe import self_placement, split_strategy
from alloca_bench.exceptions import AllocaBenchError
from alloca_bench.measuring.executor import Samples, Sink
from alloca_bench.measuring.plan import TARGET_BATCH_NS, Cell, Options
from alloca_bench.measuring.validate import MAX_ITERATIONS


def check_host(options: Options, names: Sequence[str], distributions: bool) -> None:
    """heap="host" measures this process's own malloc: ValueError for anything that needs
    another process (malloc@NAME, glibc tunables, size distributions)."""
    if options.in_runner:
        return
    if distributions:
        raise ValueError("size distributions run in the runner: use heap='fresh' or 'aged'")
    other = [n for n in names if split_strategy(n)[1] is not None]
    if other or options.policy.tunables():
        what = f"strategy {other[0]!r}" if other else "glibc_tunables="
        raise ValueError(f"{what} needs a process of its own: use heap='fresh' or 'aged' (the "
                         "runner); heap='host' measures this Python process's malloc as it is")


def calibrate(batch: Callable[[int], float], target_ns: float = TARGET_BATCH_NS) -> int:
    """Ops per batch so that one batch lasts about `target_ns`, batch(n) giving the ns per op
    of n ops, by the rule the runner calibrates its cells with (native.calibrate: a first op
    thrown away, a trial batch grown to a tenth of the target, the scaled count checked once
    more at a quarter of the target)."""
    return native.calibrate(batch, target_ns, MAX_ITERATIONS)


@contextlib.contextmanager
def affinity(cpus: Optional[Sequence[int]]) -> Iterator[None]:
    """The calling thread runs on `cpus` inside the block (None: as it is) and gets its own
    affinity back on the way out, error and Ctrl-C included.  A stack_size= worker thread is
    created by the C call from this thread and inherits it."""
    if cpus is None:
        yield
        return
    old = os.sched_getaffinity(0)  # pid 0: the calling thread on Linux
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


class HostTransport:
    """Runs cells in this process with `options` (stack cells on a worker thread of
    options.stack_size bytes of stack when > 0, on options.cpus when given).  Ctrl-C stops a
    C batch within about a millisecond of ops (native.Interrupted)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.bound = native.binding(options.binding)
        self.retaken = 0  # batch attempts thrown away as preempted and run again (in C)
        self.preempted = 0  # samples whose batch was still preempted after its retakes

    def batches(self, cell: Cell, iterations: int, count: int) -> native.Batches:
        """`count` batches of `iterations` ops of `cell`, timed in C; without warm-up no
        retakes (a cell's first batch is then cold: its retake would be warm)."""
        return self.bound.run(cell.strategy, cell.touch, cell.size, iterations, count,
                              self.options.stack_size,
                              native.MAX_RETAKES if self.options.warmup else 0)

    def run(self, cells: Sequence[Cell], iterations: Sequence[int],
            rounds: Iterable[tuple[int, Sequence[int]]], sink: Sink) -> None:
        """Calibrate and warm up every cell, then the rounds in their order, on options.cpus;
        a cell whose batch raises is failed and skipped from then on."""
        with affinity(self.options.cpus):
            self._run(cells, iterations, rounds, sink)

    def _run(self, cells: Sequence[Cell], iterations: Sequence[int],
             rounds: Iterable[tuple[int, Sequence[int]]], sink: Sink) -> None:
        counts, failed = list(iterations), set()
        for k, cell in enumerate(cells):
            try:
                counts[k] = counts[k] or calibrate(
                    lambda n, cell=cell: float(self.batches(cell, n, 1).ns_per_op[0]),
                    self.options.target_ns)
                sink.prepared(k, counts[k], None)
                if self.options.warmup:
                    self.batches(cell, counts[k], self.options.warmup)
            except AllocaBenchError as exc:
                failed.add(k)
                sink.failed(k, exc)
        for r, order in rounds:
            for k in order:
                if k in failed:
                    continue
                try:
                    batch = self.batches(cells[k], counts[k], 1)
                except AllocaBenchError as exc:
                    failed.add(k)
                    sink.failed(k, exc)
                    continue
                self.retaken += int(batch.retakes[0])
                self.preempted += int(batch.switches[0] > 0)
                sink.sample(k, r, (float(batch.ns_per_op[0]),
                                   float(batch.minor_faults_per_op[0]),
                                   float(batch.major_faults_per_op[0])))

    def params(self, names: Sequence[str], cells: Sequence[Cell], got: Samples) -> dict:
        """params of a host result: the policy, where each strategy ran (this process) and the
        batches retaken as preempted and those still preempted after their retakes."""
        here = self_placement()
        return {**self.options.policy.describe(), "placement": {name: here for name in names},
                "processes": 1, "retaken_batches": self.retaken,
                "preempted_batches": self.preempted}

    def stack_headroom(self, got: Samples) -> None:
        """This process measured the stack cells: machine_metadata's headroom stands."""
        return None
