"""measuring.team and the runner's team cells (csrc/patterns.c): a team cell sends every
thread's sample of a round in one record; cross and hold run for heap strategies and are refused
for stack strategies; thread counts and team fields are checked; plain cells carry no team
field."""
import numpy as np
import pytest

from alloca_bench import native
from alloca_bench.exceptions import WorkerError
from alloca_bench.measuring import _framing as framing
from alloca_bench.measuring import runner as client
from alloca_bench.measuring import team
from alloca_bench.measuring.runner_transport import cpus

MALLOC, CALLOC, MMAP, ALLOCA, BASELINE = (native.STRATEGIES.index(s) for s in (
    "malloc", "calloc", "mmap", "alloca", "baseline"))
FAST = {"touch": 1, "iterations": 2000, "warmup": 1}


def run(cells, rounds):
    records = []
    client.run_plan(framing.plan_text(cells, rounds), lambda k, r: records.append((k, r)))
    return records


def test_a_team_cell_sends_each_threads_sample_in_one_record():
    records = run([{"id": 0, "strategy": MALLOC, "size": 64, "threads": 2, **FAST},
                   {"id": 1, "strategy": ALLOCA, "size": 64, "threads": 1, **FAST}],
                  [(0, [0, 1]), (1, [1, 0])])
    cells = {r["cell"]: r for k, r in records if k == framing.CELL}
    assert (cells[0]["threads"], cells[0]["pattern"], cells[0]["cpus"]) == (2, "same",
                                                                          cpus())
    samples = [r for k, r in records if k == framing.SAMPLE]
    two = [r for r in samples if isinstance(r, tuple)]
    assert len(two) == 2 and all(len(r) == 2 for r in two)
    assert [(s.thread, s.threads, s.cell) for s in two[0]] == [(0, 2, 0), (1, 2, 0)]
    assert all(s.ns_per_op > 0 for r in two for s in r)
    one = [r for r in samples if isinstance(r, framing.Sample)]
    assert [(s.cell, s.thread, s.threads) for s in one] == [(1, 0, 1), (1, 0, 1)]


@pytest.mark.parametrize("pattern", ["cross", "hold"])
def test_cross_and_hold_run_for_every_heap_kernel_and_refuse_the_stack(pattern):
    cells = [{"id": i, "strategy": s, "size": 4096, "threads": 2, "pattern": pattern, **FAST}
             for i, s in enumerate((MALLOC, CALLOC, MMAP, ALLOCA, BASELINE))]
    records = run(cells, [(0, [0, 1, 2, 3, 4])])
    failed = {r["cell"]: r for k, r in records if k == framing.FAILED}
    assert set(failed) == {3} and failed[3]["status"] == native.lib.AB_EUNAVAILABLE
    measured = {r[0].cell for k, r in records if k == framing.SAMPLE}
    assert measured == {0, 1, 2, 4}  # the baseline passes a pointer through the pattern


@pytest.mark.parametrize("field", ["threads=0", "threads=65", "pattern=shared", "window=0",
                                   "dist=normal", "low=x"])
def test_bad_team_fields_are_plan_errors(field):
    key, value = field.split("=")
    plan = framing.plan_text([{"id": 0, "strategy": MALLOC, "touch": 0, "size": 64,
                               key: value}], [])
    with pytest.raises(WorkerError, match=rf"exit status 3.*bad value for cell field {key}"):
        client.run_plan(plan, lambda kind, record: None)


def test_thread_counts_may_be_numpy_ints_and_nothing_else():
    assert team.check_threads(np.int64(2)) == team.check_threads(np.array([2])) == (1, 2)
    assert all(type(t) is int for t in team.check_threads(np.arange(1, 4)))  # plain JSON ints
    with pytest.raises(TypeError, match=r"threads must be an int or a sequence of ints, not str"):
        team.check_threads("2")


def test_plain_cells_get_no_team_fields_so_the_default_run_is_unchanged():
    from alloca_bench.measuring.plan import Cell, Options
    from alloca_bench.measuring.runner_transport import RunnerTransport

    fields = RunnerTransport(Options()).fields(Cell("malloc", "pages", 64), 0)
    assert not {"threads", "pattern", "window", "dist", "low", "seed"} & set(fields)
    assert "tunables" not in fields


def test_a_hold_cell_leaves_the_window_to_the_runners_default():
    """The hold window has one home, AB_HOLD_WINDOW_DEFAULT of csrc/patterns.h: the plan does
    not repeat it."""
    assert team.team_fields(2, "hold") == {"threads": 2, "pattern": "hold"}
    assert team.team_fields(1, "same") == {"threads": 1}

