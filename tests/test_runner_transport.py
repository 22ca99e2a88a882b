"""alloca_bench.measuring.runner_transport: the plan fields of a cell (heap= and stack_size=
reach only the cells they are for, each strategy's allocator environment, a cell's own
tunables and extra fields), the exception of a FAILED record, and where a strategy ran."""
import os

import pytest

import alloca_bench as ab
from alloca_bench.mallocs import AllocatorPolicy, libc_path
from alloca_bench.exceptions import WorkerError
from alloca_bench.measuring import _framing
from alloca_bench.measuring.plan import Cell, Options
from alloca_bench.measuring.runner_transport import RunnerTransport
from alloca_bench.native import lib
from alloca_bench.strategies import STRATEGIES


def test_heap_and_stack_size_reach_only_their_cells():
    transport = RunnerTransport(Options(heap="aged", stack_size=1 << 20))
    alloca, malloc, baseline = (transport.fields(Cell(name, "pages", 64), 0)
                                for name in ("alloca", "malloc", "baseline"))
    assert (alloca["heap"], alloca["stack_size"]) == ("fresh", 1 << 20)
    assert (malloc["heap"], malloc["stack_size"]) == ("aged", 0)
    assert (baseline["heap"], baseline["stack_size"]) == ("fresh", 0)
    assert alloca["strategy"] == STRATEGIES.index("alloca")


def test_allocator_environment_per_strategy():
    pinned = AllocatorPolicy.checked("glibc.malloc.mmap_threshold=4096")
    transport = RunnerTransport(Options(policy=pinned))
    assert "glibc.malloc.mmap_threshold=4096" in transport.environment("malloc")["tunables"]
    assert "tunables" not in transport.environment("alloca")
    assert "tunables" not in transport.environment("mmap")
    glibc = RunnerTransport(Options()).environment("malloc@glibc")
    assert glibc == {"expect": ab.allocators()["glibc"]}  # glibc: checked, not preloaded
    assert os.path.realpath(glibc["expect"]) == os.path.realpath(libc_path())


def test_a_cell_carries_tunables_and_plan_fields_of_its_own():
    transport = RunnerTransport(Options())
    one_arena = Cell("malloc", "pages", 64, 100, tunables="glibc.malloc.arena_max=1",
                     fields=(("warmup", 0), ("report_stack", 1)))
    fields = transport.fields(one_arena, 100)
    assert fields["tunables"].endswith("glibc.malloc.arena_max=1")
    assert (fields["warmup"], fields["report_stack"]) == (0, 1)  # a cell's own fields win
    assert "tunables" not in transport.fields(Cell("malloc", "pages", 64, 100), 100)


def test_a_failed_record_becomes_the_exception_of_its_status():
    transport = RunnerTransport(Options())
    cell = Cell("alloca", "pages", 64 << 20)
    refused = transport.error(cell, {"status": lib.AB_ESTACK, "reason": "x",
                                     "headroom": 8 << 20})
    assert isinstance(refused, ab.StackLimitError) and "stack_size=" in str(refused)
    lost = transport.error(cell, {"status": _framing.CELL_LOST, "reason": "killed by SIGKILL"})
    assert isinstance(lost, WorkerError) and str(lost) == "killed by SIGKILL"


def test_a_strategy_none_of_whose_cells_started_is_placed_with_its_own_allocator():
    others = [n for n in ab.allocators() if n != "glibc"]
    if not others:
        pytest.skip("no allocator besides glibc is installed")
    hello = {"malloc_library": ab.allocators()["glibc"]}
    transport = RunnerTransport(Options())
    where = transport.placement(f"malloc@{others[0]}", None, hello)
    assert (where["allocator"], where["version"]) == (others[0], None)
    assert where["mmap_threshold"] is None  # not glibc's
    assert transport.placement("malloc", None, hello)["allocator"] == "glibc"
