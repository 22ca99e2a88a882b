"""measuring.contention: alloca, malloc, malloc with one arena and malloc@NAME interleaved in one
runner run at 1 and 2 threads, each column with its own GLIBC_TUNABLES."""
import numpy as np

from alloca_bench.measuring import contention
from alloca_bench.measuring.cells import CellSpec, RunnerSetup


def test_a_cell_can_carry_tunables_of_its_own():
    setup = RunnerSetup()
    one_arena = CellSpec("malloc", "pages", 64, 100, 2, tunables=contention.CONTENTION_TUNABLES)
    assert setup.fields(one_arena, 100)["tunables"].endswith("glibc.malloc.arena_max=1")
    assert "tunables" not in setup.fields(CellSpec("malloc", "pages", 64, 100, 2), 100)


def test_gather_threads_interleaves_every_column_at_every_count():
    r = contention.gather_threads(sizes=(64,), repeats=2, allocator_names=[])
    assert r.strategies == ("baseline", "alloca", "malloc", contention.ONE_ARENA)
    assert r.threads == (1, 2)
    assert r.complete and not np.isnan(r.thread_ns_per_op[1]).any()
    assert r.params["variants"][contention.ONE_ARENA]["tunables"] == "glibc.malloc.arena_max=1"
    assert r.scaling().shape == (2, 4, 1, 1)


def test_cross_leaves_alloca_unavailable_with_its_reason():
    r = contention.gather_threads(sizes=(64,), repeats=2, allocator_names=[], pattern="cross")
    assert {g["strategy"] for g in r.params["unavailable"]} == {"alloca"}
    assert set(r.status[1].ravel()) == {"unavailable"} and np.isnan(r.thread_ns_per_op[:, 1]).all()
    assert not r.complete and (r.status[[0, 2, 3]] == "ok").all()
