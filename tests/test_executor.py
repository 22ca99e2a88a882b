"""alloca_bench.measuring.executor: the one executor.  Rounds spread over processes with the
process index of every sample, a status per cell, a runner killed (SIGKILL) or a Ctrl-C
mid-sweep keeps what was measured and leaves no process behind, the same bookkeeping for both
transports."""
import os
import signal
import time

import numpy as np

import alloca_bench as ab
from alloca_bench.exceptions import WorkerError
from alloca_bench.measuring import _framing
from alloca_bench.measuring import runner
from alloca_bench.measuring.executor import execute
from alloca_bench.measuring.host_transport import HostTransport
from alloca_bench.measuring.plan import Cell, Options, Plan
from alloca_bench.measuring.runner_transport import RunnerTransport

FAST = dict(iterations=200, warmup=0)


def test_every_sample_keeps_its_process_index(tmp_path):
    r = ab.sweep(sizes=[64, 4096], strategies=("alloca", "malloc"), repeats=6, processes=3,
                 **FAST)
    assert r.process.shape == r.ns_per_op.shape == (3, 2, 1, 6)
    assert (r.process == np.array([0, 0, 1, 1, 2, 2])).all()
    assert r.complete and r.params["processes"] == 3 and r.params["heap"] == "fresh"
    r.save(tmp_path / "r.json")
    back = ab.load(tmp_path / "r.json")
    assert (back.process == r.process).all()


class _Scripted:
    """A transport that fails cell 1 in its second round and dies (WorkerError) in process 1
    after one sample."""

    def __init__(self):
        self.calls = []

    def run(self, cells, iterations, rounds, sink):
        process = len(self.calls)
        self.calls.append([c.size for c in cells])
        for k in range(len(cells)):
            sink.prepared(k, 10, None)
        for n, (r, order) in enumerate(rounds):
            if process == 1 and n == 1:
                raise WorkerError("the runner died")
            for k in order:
                if cells[k].size == 2 and n == 1:
                    sink.failed(k, MemoryError("no memory"))
                elif not (cells[k].size == 2 and n > 1):
                    sink.sample(k, r, (1.0, 0.0, 0.0))


def test_both_transports_share_the_bookkeeping_of_failures_and_processes():
    """A cell that fails keeps its earlier samples and runs in no later process; a process that
    dies fails the cells that lost rounds in it; each round's cells come in a fresh order."""
    cells = tuple(Cell("malloc", "none", size, 10) for size in (1, 2, 3))
    transport = _Scripted()
    got = execute(Plan(cells, Options(repeats=6, processes=2)), transport)
    assert transport.calls == [[1, 2, 3], [1, 3]]  # the failed cell left out of process 1
    assert got.status == ["failed", "failed", "failed"]
    assert str(got.errors[1]) == "no memory" and "died" in str(got.errors[0])
    assert got.process[1].tolist() == [0, -1, -1, -1, -1, -1]
    assert got.process[0].tolist() == [0, 0, 0, 1, -1, -1]
    assert got.reasons()[1] == "no memory"


def test_the_host_transport_runs_the_same_plan_in_this_process():
    options = Options(repeats=4, processes=1, heap="host", warmup=0)
    cells = (Cell("malloc", "none", 64, 100), Cell("alloca", "none", 64, 0))
    got = execute(Plan(cells, options), HostTransport(options))
    assert got.status == ["ok", "ok"] and (got.process == 0).all()
    assert got.iterations[0] == 100 and got.iterations[1] > 1  # calibrated
    assert np.isfinite(got.ns_per_op).all()


def test_aged_heap_cells_record_a_fuller_glibc_heap():
    fresh, aged = (ab.sweep(sizes=[64], strategies=("malloc",), repeats=2, processes=1,
                            heap=heap, **FAST) for heap in ("fresh", "aged"))
    (f,), (a,) = fresh.params["mallinfo2"], aged.params["mallinfo2"]
    assert f["strategy"] == a["strategy"] == "malloc"
    assert a["uordblks"] > f["uordblks"] and a["ordblks"] > f["ordblks"]


def _runner_pids(monkeypatch, after_samples, action):
    """Wrap run_plan: collect runner and cell pids; call action(pids) after N samples."""
    pids, seen = [], {"samples": 0}
    real = runner.run_plan

    def run_plan(plan, handle, **kwargs):
        def spy(kind, record):
            if kind in (_framing.HELLO, _framing.CELL):
                pids.append(record["pid"])
            handle(kind, record)
            if kind == _framing.SAMPLE:
                seen["samples"] += 1
                if seen["samples"] == after_samples:
                    action(pids)
        return real(plan, spy, **kwargs)

    monkeypatch.setattr(runner, "run_plan", run_plan)
    return pids


def test_a_runner_killed_mid_sweep_costs_only_its_rounds(process_gone, monkeypatch):
    # Batches of ~3-8 ms and 10 rounds per process: the runner of process 0 is still at work
    # when the 5th sample reaches Python, even on a loaded machine (with tiny batches it could
    # finish all its rounds before the reader saw one, and the kill would cost nothing).
    pids = _runner_pids(monkeypatch, 5, lambda pids: os.kill(pids[0], signal.SIGKILL))
    r = ab.sweep(sizes=[64, 4096], strategies=("malloc",), repeats=20, processes=2,
                 iterations=400_000, warmup=0)
    assert not r.complete and "interrupted" not in r.status
    assert "failed" in r.status
    assert all("SIGKILL" in reason for reason in r.reasons.values())
    assert (~np.isnan(r.ns_per_op)).sum() >= 5 + 4 * 10  # before the kill, and process 1's
    assert set(np.unique(r.process[~np.isnan(r.ns_per_op)])) == {0, 1}  # each sample's process
    assert all(process_gone(pid) for pid in pids)


def test_ctrl_c_in_the_runner_returns_what_was_measured_and_leaves_no_process(process_gone,
                                                                            monkeypatch):
    def interrupt(pids):
        raise KeyboardInterrupt

    pids = _runner_pids(monkeypatch, 7, interrupt)
    r = ab.sweep(sizes=[64, 4096], strategies=("malloc",), repeats=50, processes=2, **FAST)
    assert "interrupted" in r.status and not r.complete
    assert (~np.isnan(r.ns_per_op)).sum() == 7
    assert all(process_gone(pid) for pid in pids)


def test_the_first_process_calibrates_and_the_later_ones_reuse_its_count():
    options = Options(repeats=4, processes=2, target_ns=2e5)
    got = execute(Plan((Cell("malloc", "none", 64, 0),), options), RunnerTransport(options))
    assert got.iterations[0] > 1 and got.status == ["ok"]
    assert got.records[0]["calibrated"] is True
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
    assert r.complete, r.reasons
    assert r.params["stack_size"] == 64 << 20


SIGINT_SCRIPT = """
import signal, sys, alloca_bench as ab
# a background job's child inherits SIGINT ignored: Ctrl-C works as in a terminal here
signal.signal(signal.SIGINT, signal.default_int_handler)
print("start", flush=True)
r = ab.sweep(sizes=[64, 4096], strategies=("malloc",), iterations=200_000, repeats=400,
             processes=2, warmup=0)
measured = int((r.process >= 0).sum())
print("done", "interrupted" in r.status, r.complete, measured, flush=True)
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
