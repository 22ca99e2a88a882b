"""What a measuring call asks for, as data: the frozen options every cell shares (checked once,
then carried unchanged to the transport), the cells, and the plan (cells x rounds) that the
executor runs.  nanobench's Config and pyperf's argparse Namespace play this part there."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from alloca_bench.mallocs import AllocatorPolicy
from alloca_bench.options import DEFAULT_PROCESSES
from alloca_bench.sizes import SizeDistribution

# A sample of 1-10 ms is long enough to dwarf the clock and the Python call around it and short
# enough to take dozens of samples per cell in a few seconds.
TARGET_BATCH_NS = 2e6
# heap="host" runs in this process through the cffi binding, "host-ctypes" through ctypes.
HOST_BINDINGS = {"host": "cffi", "host-ctypes": "ctypes"}


@dataclass(frozen=True)
class Options:
    """What every cell of a plan shares, checked (measuring.validate.check_options): rounds
    (`repeats`), discarded warm-up batches before them, the heap state ("fresh", "aged": runner
    processes; "host", "host-ctypes": this process), runner processes the rounds are spread
    over, the stack of stack cells (bytes, 0: the thread that runs them), the allocator policy
    of malloc/calloc cells, the ns per batch "auto" calibrates to and the CPUs the cells may
    run on (None: this process's own)."""

    repeats: int = 21
    warmup: int = 1
    heap: str = "fresh"
    processes: int = DEFAULT_PROCESSES
    stack_size: int = 0
    policy: AllocatorPolicy = AllocatorPolicy()
    target_ns: float = TARGET_BATCH_NS
    cpus: Optional[tuple[int, ...]] = None

    @property
    def in_runner(self) -> bool:
        """Whether the cells run in runner processes (heap "fresh" or "aged")."""
        return self.heap not in HOST_BINDINGS

    @property
    def binding(self) -> str:
        """How this process calls the kernels: "ctypes" for heap="host-ctypes", else "cffi"
        (what the host transport runs through and the stack headroom is read with)."""
        return HOST_BINDINGS.get(self.heap, "cffi")


@dataclass(frozen=True)
class Cell:
    """One cell: a strategy's op on `size` bytes with `touch`, `iterations` ops per batch (0:
    calibrate).  dist: a seeded size distribution (`size` is then its high, what the stack guard
    checks); tunables: GLIBC_TUNABLES of this cell alone (added to the policy's), so that two
    settings of one allocator run interleaved; fields: more plan fields for the runner, as
    (key, value) pairs (its team cells: threads=, pattern=); unavailable: why this cell cannot
    run here ("": it can), so the executor records it without running it."""

    strategy: str
    touch: str
    size: int
    iterations: int = 0
    dist: Optional[SizeDistribution] = None
    tunables: Optional[str] = None
    fields: tuple[tuple[str, object], ...] = ()
    unavailable: str = ""


@dataclass(frozen=True)
class Plan:
    """Cells x rounds: every cell measured once per round (options.repeats rounds), each round
    in a fresh shuffled order, the rounds spread over options.processes processes."""

    cells: tuple[Cell, ...]
    options: Options

    def spread(self) -> list[range]:
        """The rounds of each process: contiguous blocks as equal as they can be (never an
        empty one)."""
        repeats = self.options.repeats
        processes = min(self.options.processes, repeats)
        return [range(p * repeats // processes, (p + 1) * repeats // processes)
                for p in range(processes)]
