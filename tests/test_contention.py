"""measuring.contention: alloca, malloc, malloc with one arena and malloc@NAME interleaved in one
runner run at 1 and 2 threads, each column with its own GLIBC_TUNABLES."""
import numpy as np

from alloca_bench.measuring import contention


def test_gather_threads_interleaves_every_column_at_every_count():
    r = contention.gather_threads(sizes=(64,), repeats=2, allocator_names=[])
    assert r.strategies == ("baseline", "alloca", "malloc", contention.ONE_ARENA)
    assert r.threads == (1, 2)
    assert r.complete and not np.isnan(r.ns_per_op[:, :, 1]).any()
    assert r.params["variants"][contention.ONE_ARENA]["tunables"] == "glibc.malloc.arena_max=1"
    assert r.scaling().shape == (4, 1, 2)


def test_cross_leaves_alloca_unavailable_with_its_reason():
    r = contention.gather_threads(sizes=(64,), repeats=2, allocator_names=[], pattern="cross")
    assert r.status[1].tolist() == [["unavailable", "unavailable"]]
    assert {s for s, _, _ in r.reasons} == {"alloca"}
    assert not r.complete and (r.status[[0, 2, 3]] == "ok").all() and np.isnan(r.ns_per_op[1]).all()
