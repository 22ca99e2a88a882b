"""Factories shared by the tests: synthetic Results with known values, damaged documents and
child interpreters (fixtures, so that every test module gets them the same way under any
--import-mode)."""
import copy
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.results import Result, ThreadsResult

MACHINE = {"hostname": "h", "cpu_model": "cpu", "cpu_count": 2, "kernel_release": "6.1",
           "libc_name": "glibc", "libc_version": "2.36", "page_size": 4096,
           "stack_headroom": 8 << 20, "stack_margin": 256 << 10, "rlimit_stack_soft": 8 << 20}


def _make_result(ns, strategies=("baseline", "alloca", "malloc"), sizes=(64, 4096),
                iterations=("auto",), touch="pages", machine=None, faults=None, process=None,
                batch_iterations=1000, params=None):
    """A Result from an array of ns/op of shape (strategy, size, iterations, repeat), and
    optionally the process index of each sample (same shape)."""
    ns = np.asarray(ns, dtype=float)
    return ab.Result(
        strategies=tuple(strategies), sizes=np.array(sizes, dtype=np.int64),
        iterations=tuple(iterations), touch=touch, ns_per_op=ns,
        faults_per_op=np.zeros_like(ns) if faults is None else faults,
        major_faults_per_op=np.zeros_like(ns),
        batch_iterations=np.full(ns.shape[:3], batch_iterations, dtype=np.int64),
        machine=dict(MACHINE if machine is None else machine),
        params={"repeats": ns.shape[3], **(params or {})}, process=process)


def _per_process(center, processes=8, rounds=3, cells=(3, 2, 1), process_sd=0.05,
                 batch_sd=0.005, seed=1):
    """(ns, process): samples whose processes each carry their own multiplicative offset
    (heap layout, code placement: what differs between two runs of one command), with little
    noise between the batches of one process.  ns has shape cells + (processes * rounds,)."""
    rng = np.random.default_rng(seed)
    center = np.asarray(center, dtype=float).reshape(-1, 1, 1, 1)
    offset = 1 + process_sd * rng.standard_normal(cells + (processes, 1))
    batch = 1 + batch_sd * rng.standard_normal(cells + (processes, rounds))
    ns = (center[..., None] * offset * batch).reshape(cells + (processes * rounds,))
    process = np.broadcast_to(np.repeat(np.arange(processes), rounds), ns.shape).copy()
    return ns, process


def _noisy(center, shape=(3, 2, 1, 21), seed=1, spread=0.02):
    """Samples around `center` (broadcast per strategy) with a few % of noise."""
    rng = np.random.default_rng(seed)
    center = np.asarray(center, dtype=float).reshape(-1, 1, 1, 1)
    return center * (1 + spread * rng.standard_normal(shape))


def _crossing_result():
    """alloca 10x faster than malloc at 64 B, 3x at 4 KiB, equal at 64 KiB, malloc 2x faster at
    1 MiB; mmap faults at every size."""
    sizes = (64, 4096, 65536, 1 << 20)
    center = np.array([[1, 1, 1, 1], [2, 10, 100, 2000], [20, 30, 100, 1000],
                       [900, 900, 9000, 90000]], dtype=float)
    rng = np.random.default_rng(3)
    ns = center[:, :, None, None] * (1 + 0.01 * rng.standard_normal((4, 4, 1, 15)))
    faults = np.zeros_like(ns)
    faults[3] = np.array([1, 1, 16, 256])[:, None, None]
    return _make_result(ns, strategies=("baseline", "alloca", "malloc", "mmap"), sizes=sizes,
                       faults=faults)


def _known_result(complete: bool = True) -> Result:
    """Three strategies x two sizes x one iteration count x four rounds of known values."""
    base = np.array([1.0, 1.0, 1.0, 1.0])
    ns = np.empty((3, 2, 1, 4))
    ns[0] = base                                 # baseline: 1 ns
    ns[1] = base * 3                             # alloca: 3 ns
    ns[2, 0, 0] = ns[2, 1, 0] = [9.0, 30, 31, 32]  # malloc
    faults = np.zeros_like(ns)
    faults[2, 1] = 2.0
    status = np.full((3, 2, 1), "ok", dtype="<U11")
    if not complete:  # malloc at 1 MiB lost its last round to Ctrl-C
        ns[2, 1, 0, 3] = np.nan
        status[2, 1, 0] = "interrupted"
    return Result(
        strategies=("baseline", "alloca", "malloc"), sizes=np.array([64, 1 << 20]),
        iterations=("auto",), touch="pages", ns_per_op=ns, faults_per_op=faults,
        major_faults_per_op=np.zeros_like(ns), batch_iterations=np.full((3, 2, 1), 1000),
        status=status, machine={"cpu_model": "Test CPU"}, params={"repeats": 4},
        timing={"wall_s": 1.0, "in_batch_s": 0.9, "in_batch_fraction": 0.9},
    )


@pytest.fixture
def machine_meta():
    """Machine metadata of a synthetic result (a copy: tests may change it)."""
    return dict(MACHINE)


@pytest.fixture
def make_result():
    """make_result(ns, strategies=..., sizes=..., ...): a Result from an array of ns/op of shape
    (strategy, size, iterations, repeat)."""
    return _make_result


@pytest.fixture
def noisy():
    """noisy(center, shape=..., seed=..., spread=...): samples around per-strategy centers."""
    return _noisy


@pytest.fixture
def per_process():
    """per_process(center, processes=8, rounds=3, ...): (ns, process) with a multiplicative
    offset per process, as two runs of one command differ."""
    return _per_process


def _clean_result(center=(1.5, 3.0, 20.0), machine=None, **kwargs):
    """A result no warning should fire on: 8 processes x 3 rounds, 0.5% noise, batches of
    100,000 ops, a quiet bare-metal machine with its clock recorded.  `machine` entries and
    make_result keywords override."""
    ns, process = _per_process(center, process_sd=0.002, batch_sd=0.002)
    meta = dict(MACHINE, clock_resolution_ns=1.0, clock_read_ns=20.0, loadavg_1min=0.1,
                cpu_governor="performance", cpu_turbo=False, virtualized=False)
    meta.update(machine or {})
    args = {"process": process, "batch_iterations": 100_000, **kwargs}
    return _make_result(args.pop("ns", ns), machine=meta, **args)


@pytest.fixture
def clean_result():
    """clean_result(center=..., machine={...}, **make_result keywords): a result that raises no
    warning unless the overrides make it."""
    return _clean_result


@pytest.fixture
def crossing_result():
    """crossing_result(): alloca beats malloc 10x at 64 B, 3x at 4 KiB, ties at 64 KiB and loses
    2x at 1 MiB; mmap faults at every size."""
    return _crossing_result


@pytest.fixture
def known_result():
    """known_result(complete=True): 3 strategies x 2 sizes x 4 rounds of exactly known values."""
    return _known_result


def _process_gone(pid: int, within: float = 5.0) -> bool:
    """True once `pid` no longer exists at all (reaped: not even a zombie), waiting `within` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def process_gone():
    """process_gone(pid, within=5.0): True once the process is gone (no orphan, no zombie)."""
    return _process_gone


def _python_child(code: str, *args: str, timeout: float = 120,
                  **kwargs) -> subprocess.CompletedProcess:
    """Run `code` (dedented) in a fresh interpreter, text output captured: a crash, a hang or
    an endless read fails the test, not the session."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture
def python_child():
    """python_child(code, *argv, timeout=120, **subprocess.run keywords): CompletedProcess of
    `code` run in a fresh interpreter."""
    return _python_child


def _replaced(document, path: tuple, value):
    """A deep copy of a JSON document with the value at `path` (keys and indices) replaced;
    `value` itself for the empty path."""
    if not path:
        return value
    document = copy.deepcopy(document)
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


@pytest.fixture
def replaced():
    """replaced(document, path, value): a copy of a JSON document with one value replaced."""
    return _replaced


def _bench(strategy, size, touch="pages", ns=(10.0, 11.0, 12.0), iterations="auto", ops=100,
           binding="cffi"):
    """One pytest-benchmark entry as alloca_bench_run writes it."""
    name = f"test_kernel[touch={touch}-size={size}-{strategy}]"
    return {
        "name": name, "fullname": f"benchmarks/test_x.py::{name}", "group": "g",
        "stats": {"median": 1e-8},
        "extra_info": {
            "alloca_bench_version": ab.__version__, "strategy": strategy, "size": size,
            "touch": touch, "binding": binding, "stack_size": 0, "iterations": iterations,
            "ops_per_batch": ops, "ns_per_op": float(np.median(ns)),
            "ns_per_op_rounds": list(ns), "faults_per_op_rounds": [1.0] * len(ns),
            "major_faults_per_op_rounds": [0.0] * len(ns),
        },
    }


def _bench_document(*benches):
    """A pytest-benchmark JSON document holding `benches`, with alloca_bench's machine block."""
    return {
        "machine_info": {"node": "box", "alloca_bench": {
            "version": ab.__version__, "machine": {"cpu_model": "Test CPU", "page_size": 4096},
            "build": {"compile_args": ["-O2", "-fno-stack-protector"], "cc": "gcc"},
            "stack_margin": 262144}},
        "commit_info": {}, "benchmarks": list(benches),
        "datetime": "2025-01-01T00:00:00+00:00", "version": "5.2.3",
    }


def _sparse_bench_document(n):
    """n benchmarks sharing no strategy, size or iteration count: one dense grid would hold
    n**3 cells (300: 2.2 GiB)."""
    return _bench_document(*(_bench(f"malloc@x{k}", 64 + k, iterations=k + 1)
                             for k in range(n)))


@pytest.fixture
def bench():
    """bench(strategy, size, touch=, ns=, iterations=, ops=, binding=): one pytest-benchmark
    entry as alloca_bench_run writes it."""
    return _bench


@pytest.fixture
def bench_document():
    """bench_document(*entries): a pytest-benchmark JSON document holding the entries."""
    return _bench_document


@pytest.fixture
def sparse_bench_document():
    """sparse_bench_document(n): n benchmarks sharing no axis value (n grids of one)."""
    return _sparse_bench_document


def _tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by `root` and its live descendants."""
    parent, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            parent[int(entry)], ticks[int(entry)] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, up in parent.items() if up == pid and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def _busy_for(pid: int, cpu_s: float, within: float = 120.0) -> None:
    """Wait until `pid` and its descendants used `cpu_s` more CPU seconds: work done, however
    long a loaded machine takes to start or schedule them (a wall-clock sleep is not)."""
    start, deadline = _tree_cpu_seconds(pid), time.monotonic() + within
    while _tree_cpu_seconds(pid) - start < cpu_s:
        assert time.monotonic() < deadline, f"pid {pid} used under {cpu_s} s of CPU in {within} s"
        time.sleep(0.02)


@pytest.fixture
def busy_for():
    """busy_for(pid, cpu_s, within=120): wait until the process tree of `pid` used `cpu_s` more
    CPU seconds (fails after `within` s of wall time)."""
    return _busy_for


def _make_threads_result(per_thread_two=10.0, span_two=20.0, strategies=("baseline", "malloc"),
                         rounds=4, cpus=2, **kwargs):
    """1 thread at 10 ns/op (span 10), 2 threads at `per_thread_two` each and a team span of
    `span_two` ns/op, for every strategy, at one size (64 B)."""
    cells = (len(strategies), 1, 2)
    per_thread = np.full(cells + (rounds, 2), np.nan)
    per_thread[:, :, 0, :, 0] = 10.0
    per_thread[:, :, 1] = per_thread_two
    span = np.empty(cells + (rounds,))
    span[:, :, 0], span[:, :, 1] = 10.0, span_two
    fields = dict(strategies=strategies, sizes=np.array([64]), threads=(1, 2),
                  pattern="same", touch="pages", ns_per_op=per_thread, span_ns_per_op=span,
                  faults_per_op=np.zeros(cells + (rounds,)),
                  batch_iterations=np.full(cells, 1000), params={"cpus": cpus})
    return ThreadsResult(**{**fields, **kwargs})


@pytest.fixture
def make_threads_result():
    """make_threads_result(per_thread_two=10.0, span_two=20.0, ...): a ThreadsResult of known
    figures at 1 and 2 threads (keywords replace any field)."""
    return _make_threads_result


@pytest.fixture
def contended_cpu():
    """This process and a busy child pinned to one CPU, so that batches longer than a
    scheduler slice are preempted; the affinity is restored after."""
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield cpu
    finally:
        busy.kill()
        busy.wait()
        os.sched_setaffinity(0, allowed)
