"""pytest plugin (entry point `pytest11: alloca_bench`): the `alloca_bench_run` fixture for
pytest-benchmark suites, alloca_bench's metadata in every pytest-benchmark JSON, and the
`benchmark_testpaths` ini option (what a bare `pytest --benchmark-only` collects).

    def test_scratch_4k(alloca_bench_run):
        alloca_bench_run("alloca", size=4096)

Each pytest-benchmark round is ONE batch of ops run and timed in C (`benchmark.pedantic(...,
iterations=1)`), never a Python call per op.  The fixture's tests use `c_clock` as their
pytest-benchmark timer, so the table, `--benchmark-compare` and `pytest-benchmark compare` show
the C-measured time of one op; every round's figures also go into `extra_info`, which
alloca_bench.results.benchmark_json reads back into a Result.

This module never imports pytest_benchmark: where that plugin is absent (or disabled with
`-p no:benchmark`) pytest runs as before and the fixture skips with a message saying so.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import pytest

from alloca_bench import native
from alloca_bench._version import __version__
from alloca_bench.results.benchmark_json import EXTRA_INFO_KEY, MACHINE_INFO_KEY
from alloca_bench.machine import machine_info as alloca_bench_machine_info
from alloca_bench.measure import (
    MAX_REPEATS,
    calibrate,
    check_int,
    check_iterations,
    check_size,
    check_stack_size,
    check_strategy,
    check_touch,
    guard_stack,
    measure,
)
from alloca_bench.results.model import Iterations, Measurement

FIXTURE = "alloca_bench_run"
BENCHMARK_TESTPATHS = "benchmark_testpaths"  # ini option: what `pytest --benchmark-only` runs
_PYTEST_BENCHMARK = "benchmark"  # the name pytest-benchmark registers its plugin under

_c_elapsed_s = 0.0


def c_clock() -> float:
    """The pytest-benchmark timer of `alloca_bench_run` tests, in seconds.  It only advances
    by the C-measured ns per op of each batch, so the duration pytest-benchmark records for a
    round is the wall time of ONE op timed in C, free of the Python call around the batch."""
    return _c_elapsed_s


def _advance_c_clock(ns: float) -> None:
    global _c_elapsed_s
    _c_elapsed_s += ns * 1e-9


def group_name(touch: str, size: int) -> str:
    """The default pytest-benchmark group: one table per touch mode and size, every strategy in
    it.  The size is right-aligned because pytest-benchmark sorts groups as text."""
    return f"touch={touch} size={size:>7}"


def run_benchmark(benchmark: Any, strategy: str, size: int, *, touch: str = "pages",
                  iterations: Iterations = "auto", rounds: int = 21, warmup: int = 1,
                  backend: str = "cffi", stack_size: Optional[int] = None,
                  heap: str = "host", threads: Optional[int] = None) -> Measurement:
    """Measure one kernel under pytest-benchmark's `benchmark` fixture: `warmup` + `rounds`
    rounds, each ONE C batch of `iterations` ops (calibrated once to ~2 ms when "auto").
    heap="host" (default) runs the batches in this process; "fresh"/"aged" take them from one
    runner process first (alloca_bench.measure), and each round hands over the next batch.
    threads=N (with heap="fresh"/"aged") runs N threads per batch (alloca_bench.measure): each
    round's figure is the mean of the threads' ns/op.

    Fills `benchmark.extra_info` (medians, every round's figures, ops per batch, build info)
    and `benchmark.group` (unless already set), and returns the rounds as a Measurement: ns
    and faults per op, one value per round (a single round under --benchmark-disable)."""
    # Validate everything before the first C call: a bad value fails this test, not the session.
    strategy, size, touch = check_strategy(strategy), check_size(size), check_touch(touch)
    iterations = check_iterations(iterations)
    rounds = check_int("rounds", rounds, 1, MAX_REPEATS)
    warmup = check_int("warmup", warmup, 0, MAX_REPEATS)
    stack = check_stack_size(stack_size)
    bound = native.binding(backend)
    if heap == "host":
        if threads is not None:
            raise ValueError("threads= runs in the runner: pass heap='fresh' or 'aged'")
        guard_stack(strategy, size, stack, backend)

        def runner(s: str, t: str, z: int, n: int, repeats: int) -> native.Batches:
            return bound.run(s, t, z, n, repeats, stack)

        ops = calibrate(runner, strategy, touch, size) if iterations == "auto" else iterations
    else:  # every batch measured up front in a runner, handed over one per round
        m = measure(strategy, size, touch=touch, iterations=iterations, repeats=warmup + rounds,
                    warmup=0, stack_size=stack_size, heap=heap, processes=1, threads=threads)
        ops = m.iterations
        minor = m.faults_per_op - m.major_faults_per_op
        runner_batches = [native.Batches(m.ns_per_op[i:i + 1], minor[i:i + 1],
                                         m.major_faults_per_op[i:i + 1])
                          for i in range(warmup + rounds)]
    batches: list[native.Batches] = []

    def one_batch() -> None:
        if heap == "host":
            batch = bound.run(strategy, touch, size, ops, 1, stack)
        else:  # extra calls (--benchmark-cprofile) see the last batch again
            batch = runner_batches[min(len(batches), len(runner_batches) - 1)]
        _advance_c_clock(float(batch.ns_per_op[0]))
        batches.append(batch)

    # pytest-benchmark copies the group when the run starts, the extra_info dict by reference.
    if benchmark.group is None:
        benchmark.group = group_name(touch, size)
    benchmark.pedantic(one_batch, rounds=rounds, warmup_rounds=warmup, iterations=1)
    # pedantic runs the warm-up rounds first, then the timed ones (and, with --benchmark-cprofile,
    # more calls after them); a disabled benchmark runs the function once.
    timed = batches[warmup:warmup + rounds] if len(batches) >= warmup + rounds else batches
    ns = np.array([b.ns_per_op[0] for b in timed])
    major = np.array([b.major_faults_per_op[0] for b in timed])
    faults = np.array([b.minor_faults_per_op[0] for b in timed]) + major

    benchmark.extra_info.update({
        EXTRA_INFO_KEY: __version__,
        "strategy": strategy, "size": size, "touch": touch, "binding": backend,
        "stack_size": stack, "heap": heap, "iterations": iterations, "ops_per_batch": ops,
        "threads": threads,
        "rounds": len(timed), "warmup_rounds": warmup,
        # Medians over the rounds, in ns and page faults per op.
        "ns_per_op": float(np.median(ns)), "faults_per_op": float(np.median(faults)),
        "major_faults_per_op": float(np.median(major)),
        # The raw samples: pytest-benchmark saves its own per-round data only on request.
        "ns_per_op_rounds": ns.tolist(), "faults_per_op_rounds": faults.tolist(),
        "major_faults_per_op_rounds": major.tolist(),
        "build": dict(native.BUILD_INFO),
    })
    return Measurement(strategy=strategy, size=size, touch=touch, iterations=ops,
                       ns_per_op=ns, faults_per_op=faults, major_faults_per_op=major,
                       params={"backend": backend, "stack_size": stack, "warmup": warmup,
                               "heap": heap, "threads": threads,
                               "rounds": len(timed)})


class _WithPytestBenchmark:
    """Fixtures registered when pytest-benchmark is active."""

    @pytest.fixture
    def alloca_bench_run(self, benchmark: Any) -> Callable[..., Measurement]:
        """`alloca_bench_run(strategy, size, *, touch="pages", iterations="auto", rounds=21,
        warmup=1, backend="cffi", stack_size=None, heap="host", threads=None)` measures one kernel
        as this test's benchmark and returns a Measurement of its rounds (threads=N: N threads
        per batch, in the runner).  Once per test, like `benchmark`."""
        used = []

        def run(strategy: str, size: int, **options: Any) -> Measurement:
            if used:
                raise RuntimeError(f"{FIXTURE} can be called once per test (pytest-benchmark "
                                   "keeps one benchmark per test): parametrize the test instead")
            used.append(True)
            return run_benchmark(benchmark, strategy, size, **options)

        return run


class _WithoutPytestBenchmark:
    """Fixtures registered when pytest-benchmark is absent or disabled."""

    @pytest.fixture
    def alloca_bench_run(self) -> None:
        """Skips: the fixture needs pytest-benchmark."""
        pytest.skip(f"{FIXTURE} needs the pytest-benchmark plugin: pip install pytest-benchmark "
                    "(and do not pass -p no:benchmark)")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(BENCHMARK_TESTPATHS, type="args", default=[],
                  help="directories a bare `pytest --benchmark-only` collects instead of "
                       "testpaths (alloca_bench)")


def pytest_configure(config: pytest.Config) -> None:
    active = config.pluginmanager.hasplugin(_PYTEST_BENCHMARK)
    fixtures = _WithPytestBenchmark() if active else _WithoutPytestBenchmark()
    config.pluginmanager.register(fixtures, "alloca_bench_fixtures")
    _switch_to_benchmark_testpaths(config)


def _switch_to_benchmark_testpaths(config: pytest.Config) -> None:
    """pytest falls back to testpaths only when no path is given, and --benchmark-only would
    skip every plain test there: so a bare `pytest --benchmark-only` means "the benchmarks".
    Explicit paths are left alone.  (A root conftest.py could do the same, but importing it puts
    the repository on sys.path, shadowing a non-editable install of the package.)"""
    paths = config.getini(BENCHMARK_TESTPATHS)
    if (paths and config.getoption("benchmark_only", default=False)
            and config.args_source == pytest.Config.ArgsSource.TESTPATHS):
        config.args[:] = [str(config.rootpath / p) for p in paths]
        config.args_source = pytest.Config.ArgsSource.ARGS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test that uses the fixture c_clock as its timer, keeping the other options
    of its own `benchmark` mark (group, ...)."""
    if not config.pluginmanager.hasplugin(_PYTEST_BENCHMARK):
        return
    for item in items:
        if FIXTURE in getattr(item, "fixturenames", ()):
            mark = item.get_closest_marker("benchmark")
            options = dict(mark.kwargs) if mark else {}
            options["timer"] = c_clock
            item.add_marker(pytest.mark.benchmark(**options), append=False)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Put alloca_bench's machine metadata and build info in every pytest-benchmark JSON, so
    two files from two machines say what differs (kernel, libc, THP, stack limit, flags...)."""
    info = alloca_bench_machine_info()
    # pytest-benchmark records the date itself; a timestamp here would make two runs on one
    # machine look like two machines to --benchmark-compare.
    info.pop("timestamp", None)
    machine_info[MACHINE_INFO_KEY] = {
        "version": __version__,
        "machine": info,
        "build": dict(native.BUILD_INFO),
        "stack_margin": native.STACK_MARGIN,
    }
