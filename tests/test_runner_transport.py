"""alloca_bench.measuring.runner_transport: the plan fields of a cell (heap= and stack_size=
reach only the cells they are for, each strategy's allocator environment, a cell's own
tunables and extra fields), the exception of a FAILED record, and where a strategy ran."""
import os
import re

import pytest

import alloca_bench as ab
from alloca_bench.mallocs import AllocatorPolicy, libc_path
from alloca_bench.exceptions import WorkerError
from alloca_bench.measuring import _framing, runner
from alloca_bench.measuring.executor import execute
from alloca_bench.measuring.plan import Cell, Options, Plan
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


def _nested(depth):
    return b'{"a": ' + b"[" * depth + b"]" * depth + b"}"


SAMPLE_0 = _framing.Sample(0, 0, 10.0, 0.5, 0.0)
BAD_RECORDS = {
    "a sample of cell 999": (_framing.encode(_framing.SAMPLE, _framing.Sample(999, 1, 1.0, 0, 0)),
                             r"sample of cell 999 in round 1, which the plan does not ask for"),
    "a sample of round 10**6": (_framing.encode(_framing.SAMPLE,
                                                _framing.Sample(0, 10**6, 1.0, 0, 0)),
                                r"round 1000000, which the plan does not ask for"),
    "a sample of thread 70": (_framing.encode(_framing.SAMPLE,
                                              _framing.Sample(0, 1, 1.0, 0, 0, 70, 1)),
                              r"says thread 70 of 1"),
    "a negative ns/op": (_framing.encode(_framing.SAMPLE, _framing.Sample(0, 1, -5.0, 0, 0)),
                         r"must be finite and not negative"),
    "a sample twice": (_framing.encode(_framing.SAMPLE, SAMPLE_0), r"or already has"),
    "a cell record of cell 'x'": (_framing.encode(_framing.CELL, {"cell": "x", "iterations": 1}),
                                  r"cell='x', not a non-negative integer"),
    "a failed record of status 'bad'": (
        _framing.encode(_framing.FAILED, {"cell": 0, "status": "bad", "reason": "r"}),
        r"status='bad'"),
    "a hello nested 100k deep": (_framing.encode(_framing.HELLO, _nested(100_000)),
                                 r"nests its JSON too deep"),
    "a mallinfo2 that is no object": (
        _framing.encode(_framing.CELL, {"cell": 0, "iterations": 1, "mallinfo2": [1]}),
        r"mallinfo2=\[1\]"),
}


@pytest.mark.parametrize("what", list(BAD_RECORDS))
def test_a_record_that_does_not_fit_the_plan_fails_the_cell_and_keeps_what_came_before(
        what, tmp_path, monkeypatch):
    """A misbehaving runner's record (IndexError, TypeError, RecursionError before, or a
    negative figure saved for load() to refuse) is a WorkerError failing the cell; the sample
    it sent before stays."""
    record, message = BAD_RECORDS[what]
    stream = (_framing.encode(_framing.HELLO, {"pid": 1, "cpu": -1})
              + _framing.encode(_framing.CELL, {"cell": 0, "iterations": 100})
              + _framing.encode(_framing.SAMPLE, SAMPLE_0) + record)
    (tmp_path / "stream").write_bytes(stream)
    fake = tmp_path / "runner"
    fake.write_text(f'#!/bin/bash\neval "cat {tmp_path}/stream >&$2"\nexec sleep 60\n')
    fake.chmod(0o755)
    options = Options(repeats=2, processes=1, warmup=0)
    transport = RunnerTransport(options)  # checks the real runner's build first
    monkeypatch.setattr(runner, "runner_path", lambda: str(fake))
    got = execute(Plan((Cell("malloc", "pages", 64, 100),), options), transport)
    assert got.status == ["failed"]
    assert isinstance(got.errors[0], WorkerError)
    assert "malformed record" in str(got.errors[0]), got.errors[0]
    assert re.search(message, str(got.errors[0])), got.errors[0]
    assert got.ns_per_op[0, 0] == 10.0 and got.process[0].tolist() == [0, -1]
