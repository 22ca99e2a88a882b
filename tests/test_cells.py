"""alloca_bench.measuring.cells: cells in runner processes.  Rounds spread over processes with
the process index of every sample, heap= and stack_size= reach only the cells they are for,
failures are per cell, and a runner killed (SIGKILL) or a Ctrl-C mid-sweep keeps what was
measured and leaves no process behind."""
import os
import random
import signal
import time

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.allocators import AllocatorPolicy, libc_path
from alloca_bench.measuring import _framing as framing
from alloca_bench.measuring import cells
from alloca_bench.strategies import STRATEGIES

FAST = dict(iterations=200, warmup=0)


def test_rounds_are_spread_in_contiguous_blocks():
    assert cells.spread(21, 3) == [range(0, 7), range(7, 14), range(14, 21)]
    assert cells.spread(5, 2) == [range(0, 2), range(2, 5)]
    assert cells.spread(2, 5) == [range(0, 1), range(1, 2)]  # never an empty process


def test_every_sample_keeps_its_process_index(tmp_path):
    r = ab.sweep(sizes=[64, 4096], strategies=("alloca", "malloc"), repeats=6, processes=3,
                 seed=1, **FAST)
    assert r.process.shape == r.ns_per_op.shape == (3, 2, 1, 6)
    assert (r.process == np.array([0, 0, 1, 1, 2, 2])).all()
    assert r.complete and r.params["processes"] == 3 and r.params["heap"] == "fresh"
    assert r.params["isolate"] is True  # every cell in a process of its own
    r.save(tmp_path / "r.json")
    back = ab.load(tmp_path / "r.json")
    assert (back.process == r.process).all()


def test_heap_and_stack_size_reach_only_their_cells():
    setup = cells.RunnerSetup(heap="aged", stack_size=1 << 20)
    alloca = setup.fields(cells.CellSpec("alloca", "pages", 64, 0), 0)
    malloc = setup.fields(cells.CellSpec("malloc", "pages", 64, 0), 0)
    baseline = setup.fields(cells.CellSpec("baseline", "pages", 64, 0), 0)
    assert (alloca["heap"], alloca["stack_size"]) == ("fresh", 1 << 20)
    assert (malloc["heap"], malloc["stack_size"]) == ("aged", 0)
    assert (baseline["heap"], baseline["stack_size"]) == ("fresh", 0)
    assert alloca["strategy"] == STRATEGIES.index("alloca")


def test_allocator_environment_per_strategy():
    setup = cells.RunnerSetup(policy=AllocatorPolicy.checked(mmap_threshold=4096))
    assert "glibc.malloc.mmap_threshold=4096" in setup.environment("malloc")["tunables"]
    assert "tunables" not in setup.environment("alloca")
    assert "tunables" not in setup.environment("mmap")
    glibc = cells.RunnerSetup().environment("malloc@glibc")
    assert glibc == {"expect": ab.allocators()["glibc"]}  # glibc: checked, not preloaded
    assert os.path.realpath(glibc["expect"]) == os.path.realpath(libc_path())


def test_aged_heap_cells_record_a_fuller_glibc_heap():
    fresh, aged = (ab.sweep(sizes=[64], strategies=("malloc",), repeats=2, processes=1,
                            heap=heap, **FAST) for heap in ("fresh", "aged"))
    (f,), (a,) = fresh.params["mallinfo2"], aged.params["mallinfo2"]
    assert f["strategy"] == a["strategy"] == "malloc"
    assert a["uordblks"] > f["uordblks"] and a["ordblks"] > f["ordblks"]


def _runner_pids(monkeypatch, after_samples, action):
    """Wrap run_plan: collect runner and cell pids; call action(pids) after N samples."""
    pids, seen = [], {"samples": 0}
    real = cells.client.run_plan

    def run_plan(plan, handle, **kwargs):
        def spy(kind, record):
            if kind in (framing.HELLO, framing.CELL):
                pids.append(record["pid"])
            handle(kind, record)
            if kind == framing.SAMPLE:
                seen["samples"] += 1
                if seen["samples"] == after_samples:
                    action(pids)
        return real(plan, spy, **kwargs)

    monkeypatch.setattr(cells.client, "run_plan", run_plan)
    return pids


def test_a_runner_killed_mid_sweep_costs_only_its_rounds(process_gone, monkeypatch):
    # Batches of ~1-2 ms and 10 rounds per process: the runner of process 0 is still at work
    # when the 5th sample reaches Python (with tiny batches it could finish all its rounds
    # before the reader saw one, and the kill would cost nothing).
    pids = _runner_pids(monkeypatch, 5, lambda pids: os.kill(pids[0], signal.SIGKILL))
    r = ab.sweep(sizes=[64, 4096], strategies=("malloc",), repeats=20, processes=2, seed=2,
                 iterations=100_000, warmup=0)
    assert not r.complete and not r.params["interrupted"]
    lost = [e for e in r.params["errors"] if e["process"] == 0]
    assert lost and all("SIGKILL" in e["reason"] for e in lost)
    assert (~np.isnan(r.ns_per_op)).sum() >= 5 + 4 * 10  # before the kill, and process 1's
    assert set(np.unique(r.process[~np.isnan(r.ns_per_op)])) == {0, 1}  # each sample's process
    assert all(process_gone(pid) for pid in pids)


def test_ctrl_c_in_the_runner_returns_what_was_measured_and_leaves_no_process(process_gone,
                                                                            monkeypatch):
    def interrupt(pids):
        raise KeyboardInterrupt

    pids = _runner_pids(monkeypatch, 7, interrupt)
    r = ab.sweep(sizes=[64, 4096], strategies=("malloc",), repeats=50, processes=2, **FAST)
    assert r.params["interrupted"] and not r.complete
    assert (~np.isnan(r.ns_per_op)).sum() == 7
    assert all(process_gone(pid) for pid in pids)


def test_measure_in_the_runner_raises_for_its_failed_cell():
    with pytest.raises(ab.StackLimitError, match="bytes are left"):
        ab.measure("alloca", 64 << 20, **FAST)
    m = ab.measure("malloc", 4096, touch="none", repeats=4, processes=2, **FAST)
    assert m.params["process"] == [0, 0, 1, 1] and m.params["heap"] == "fresh"


def test_run_cells_takes_counts_calibrated_by_the_first_process():
    got = cells.run_cells([cells.CellSpec("malloc", "none", 64, 0)],
                          cells.RunnerSetup(target_ns=2e5), 4, 2, random.Random(0))
    assert got.iterations[0] > 1 and not got.failures
    assert got.cells[0]["calibrated"] is True
    assert got.process[0].tolist() == [0, 0, 1, 1]


def test_a_fresh_cell_starts_from_the_same_heap_alone_in_a_sweep_and_after_python_churn():
    """heap="fresh" depends neither on the other cells nor on this process: glibc's statistics
    at the start of malloc 64 B and 4 KiB are identical alone, inside a sweep of 64 B..1 MiB
    and after this process allocated and freed thousands of blocks."""
    import ctypes

    def start_heaps(**kwargs):
        r = ab.sweep(strategies=("malloc",), touch="none", repeats=1, processes=1, **FAST,
                     **kwargs)
        return {e["size"]: {k: v for k, v in e.items() if k != "strategy"}
                for e in r.params["mallinfo2"] if e["size"] in (64, 4096)}

    alone = {**start_heaps(sizes=[64]), **start_heaps(sizes=[4096])}
    in_sweep = start_heaps(sizes=[1 << k for k in range(6, 21)])
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(64 + 97 * i % 5000) for i in range(5000)]
    for p in blocks[::2]:
        libc.free(p)
    after_churn = start_heaps(sizes=[64, 4096])
    for p in blocks[1::2]:
        libc.free(p)
    assert set(alone) == {64, 4096}
    assert alone == in_sweep == after_churn


def test_stack_size_gives_stack_cells_a_big_thread_and_leaves_heap_cells_alone():
    r = ab.sweep(sizes=[16 << 20], strategies=("alloca", "malloc"), repeats=2, processes=1,
                 stack_size=64 << 20, iterations=2, warmup=0)
    assert r.complete, r.params["errors"]
    assert r.params["stack_size"] == 64 << 20


SIGINT_SCRIPT = """
import sys, alloca_bench as ab
print("start", flush=True)
r = ab.sweep(sizes=[64, 4096], strategies=("malloc",), iterations=200_000, repeats=400,
             processes=2, warmup=0)
measured = int((r.process >= 0).sum())
print("done", r.params["interrupted"], r.complete, measured, flush=True)
"""


def test_two_ctrl_c_stop_the_runner_and_keep_what_was_measured(process_gone, tmp_path,
                                                              busy_for):
    """A real SIGINT, then a second one 50 ms later: sweep() returns what was measured, marked
    interrupted, and no runner or cell process is left."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", SIGINT_SCRIPT], stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "start"
    # Wait for a runner and its cell process (a loaded machine may take seconds to start
    # them: a Ctrl-C before any batch is a KeyboardInterrupt, not this test), then let the
    # cell run some rounds.
    deadline = time.monotonic() + 60
    while len(runners := _children_of(child.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    busy_for(child.pid, 0.5)  # some rounds measured, however loaded the machine
    child.send_signal(signal.SIGINT)
    time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=30)
    # The second Ctrl-C may come after sweep() returned and stop the script there: fine.
    assert child.returncode in (0, -signal.SIGINT), out
    done, interrupted, complete, measured = out.split()[:4]
    assert (done, interrupted, complete) == ("done", "True", "False") and int(measured) > 0
    assert runners and all(process_gone(pid) for pid in runners)


def _children_of(pid):
    """Every process whose parent is `pid`, and their children (the runner's cells)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == parent:
                    found.append(int(entry))
                    frontier.append(int(entry))
    return found


def test_a_strategy_none_of_whose_cells_started_is_placed_with_its_own_allocator():
    others = [n for n in ab.allocators() if n != "glibc"]
    if not others:
        pytest.skip("no allocator besides glibc is installed")
    hello = {"malloc_library": ab.allocators()["glibc"]}
    where = cells.RunnerSetup().placement(f"malloc@{others[0]}", None, hello)
    assert (where["allocator"], where["version"]) == (others[0], None)
    assert where["mmap_threshold"] is None  # not glibc's
    assert cells.RunnerSetup().placement("malloc", None, hello)["allocator"] == "glibc"
