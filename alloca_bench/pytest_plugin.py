"""pytest plugin (entry point `pytest11: alloca_bench`): the `alloca_bench_run` fixture for
pytest-benchmark suites, alloca_bench's metadata in every pytest-benchmark JSON, and the
`benchmark_testpaths` ini option (what a bare `pytest --benchmark-only` collects).

    def test_scratch_4k(alloca_bench_run):
        alloca_bench_run("alloca", size=4096)

Each pytest-benchmark round is ONE batch of ops run and timed in C (`benchmark.pedantic(...,
iterations=1)`), never a Python call per op: its table's name column says how many
("test_scratch_4k[alloca] [5120 ops/round]"), as `extra_info["ops_per_batch"]` does.  The fixture's tests use `c_clock` as their
pytest-benchmark timer, so the table, `--benchmark-compare` and `pytest-benchmark compare` show
the C-measured time of one op; every round's figures also go into `extra_info`, which
alloca_bench.results.benchmark_json reads back into a Result.

At import this module needs only pytest and the standard library; alloca_bench's measuring
layers and the compiled module load inside the fixture and hooks, so a stale or missing build
fails the tests that measure (with the reason), never the collection of a whole session.  It
never imports pytest_benchmark: where that plugin is absent (or disabled with
`-p no:benchmark`) pytest runs as before and the fixture skips with a message saying so.
Under `--benchmark-disable` each benchmark runs once: the fixture measures ONE round.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import pytest

FIXTURE = "alloca_bench_run"
BENCHMARK_TESTPATHS = "benchmark_testpaths"  # ini option: what `pytest --benchmark-only` runs
_PYTEST_BENCHMARK = "benchmark"  # the name pytest-benchmark registers its plugin under
# The fixture's keyword arguments and their defaults: the ONE place that lists them.
OPTIONS: dict[str, Any] = {"touch": "pages", "iterations": "auto", "repeats": 21, "warmup": 1,
                           "binding": "cffi", "stack_size": None, "heap": "host",
                           "processes": 1, "kernel": None, "cpus": None}
# pytest-benchmark's word for the library's `repeats`.
ALIASES = {"rounds": "repeats"}

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
    """The default pytest-benchmark group: one table per touch mode and size ("touch=pages
    size=4 KiB"), every strategy in it."""
    from alloca_bench.present._format import format_size

    return f"touch={touch} size={format_size(size)}"


def fixture_options(options: dict[str, Any]) -> dict[str, Any]:
    """The fixture's keyword arguments with their defaults filled in and `rounds` read as
    `repeats`; TypeError naming the fixture for an unknown or doubled one."""
    out = dict(OPTIONS)
    given = set()
    for key, value in options.items():
        name = ALIASES.get(key, key)
        if name not in OPTIONS:
            raise TypeError(f"{FIXTURE}() got an unexpected keyword argument {key!r}: it takes "
                            f"strategy, size, {', '.join(OPTIONS)} (rounds= is repeats=)")
        if name in given:
            raise TypeError(f"{FIXTURE}() got both repeats= and rounds= (the same thing): "
                            "pass one")
        given.add(name)
        out[name] = value
    return out


def run_benchmark(benchmark: Any, strategy: str, size: int, *, touch: str, iterations: Any,
                  repeats: int, warmup: int, binding: str, stack_size: Optional[int],
                  heap: str, processes: int, kernel: Any, cpus: Any) -> Any:
    """Measure one kernel under pytest-benchmark's `benchmark` fixture (the keywords are
    OPTIONS, defaults filled in by fixture_options): a sweep of the strategy and the
    `baseline` kernel (`warmup` discarded batches, then `repeats` interleaved rounds, each ONE
    C batch of `iterations` ops, calibrated to ~2 ms when "auto", to a duration such as "5ms"
    when given one), replayed to pytest-benchmark
    round by round; net figures (minus the baseline of the same round) go in extra_info while
    the baseline stays out of the benchmark groups.

    heap="host" (default) runs the sweep in this process (`binding=` cffi or ctypes); "fresh"
    and "aged" in `processes` runner processes (the rounds spread over them, as sweep() does;
    processes > 1 means "fresh" unless "aged" is asked), as every `malloc@NAME` /
    `calloc@NAME` needs (its allocator preloaded), and as kernel=alloca_bench.kernel(...)
    needs (every op calls the user's function on its buffer, touch "kernel").  `cpus=` runs the
    batches on those CPUs, as sweep() does.  A cell that fails raises its error.
    Fills `benchmark.extra_info` (medians, every round's figures, ops per batch, build info,
    the kernel) and `benchmark.group` (unless already set), and returns the rounds as a
    Measurement: ns and faults per op, one value per round (ONE round, without warm-up, under
    --benchmark-disable, which runs each benchmark once)."""
    from alloca_bench.measuring.api import Grid, run_grid
    from alloca_bench.measuring.usercode import check_kernel_touch
    from alloca_bench.measuring.validate import (check_binding, check_one_iteration,
                                                 check_options, check_size, check_strategy)
    from alloca_bench.strategies import allocator_of

    # Validate everything before the first C call: a bad value fails this test, not the session.
    size = check_size(size)
    if heap == "host" and (allocator_of(strategy) is not None or kernel is not None
                           or (isinstance(processes, int) and processes > 1)):
        heap = "fresh"  # its allocator preloaded, the kernel loaded, or rounds spread: runners
    touch = check_kernel_touch(kernel, touch, heap)
    count, target_ns = check_one_iteration(iterations)
    grid = Grid(("baseline", check_strategy(strategy)), (size,), {}, (count,), touch, kernel)
    if benchmark.disabled:  # pytest-benchmark runs the function once: measure one round only
        warmup, repeats = 0, 1
    if check_binding(binding) == "ctypes" and heap == "host":
        heap = "host-ctypes"  # sweep()'s word for this process through ctypes
    options = check_options(repeats, warmup, heap, processes, stack_size, None, cpus, target_ns)
    result, got = run_grid(grid, options)
    for c, word in enumerate(got.status):
        if word == "failed":
            raise got.errors[c]
    base, measured = (result.sel(name, size) for name in grid.strategies)
    process = result.process[grid.strategies.index(measured.strategy), 0, 0]
    replay = iter(measured.ns_per_op.tolist())

    def one_round() -> None:
        """Hand pytest-benchmark the next round measured in C (extra calls, e.g. with
        --benchmark-cprofile, repeat the last)."""
        _advance_c_clock(next(replay, float(measured.ns_per_op[-1])))

    # pytest-benchmark copies the group when the run starts, extra_info by reference.
    if benchmark.group is None:
        benchmark.group = group_name(touch, size)
    # pytest-benchmark's table says "Iterations 1" (one C batch per round): the name says how
    # many ops that batch ran.  --benchmark-compare matches by fullname, which stays.
    benchmark.name = f"{benchmark.name} [{measured.iterations} ops/round]"
    benchmark.pedantic(one_round, rounds=options.repeats, warmup_rounds=0, iterations=1)
    benchmark.extra_info.update(_extra_info(result, base, measured, process))
    return measured


def _extra_info(result: Any, base: Any, measured: Any, process: Any) -> dict[str, Any]:
    """What a benchmark's extra_info holds: the cell, medians over the rounds (ns and page
    faults per op; net = minus the baseline kernel, no allocation and no touch, of the same
    round), every round's figures (pytest-benchmark saves its own only on request) with the
    process that took it, where the strategy ran and how the kernels were built."""
    import numpy as np

    from alloca_bench import native
    from alloca_bench._version import __version__
    from alloca_bench.results.benchmark_json import EXTRA_INFO_KEY

    params = result.params
    ns, base_ns = measured.ns_per_op, base.ns_per_op
    major, faults = measured.major_faults_per_op, measured.faults_per_op
    return {
        EXTRA_INFO_KEY: __version__, "strategy": measured.strategy, "size": measured.size,
        "touch": measured.touch, "binding": params["binding"],
        "stack_size": params["stack_size"], "heap": params["heap"],
        "iterations": result.iterations[0], "ops_per_batch": measured.iterations,
        "rounds": len(ns), "warmup_rounds": params["warmup"],
        "ns_per_op": float(np.median(ns)), "faults_per_op": float(np.median(faults)),
        "major_faults_per_op": float(np.median(major)),
        "baseline_ns_per_op": float(np.median(base_ns)),
        "net_ns_per_op": float(np.median(ns - base_ns)),
        "ns_per_op_rounds": ns.tolist(), "faults_per_op_rounds": faults.tolist(),
        "major_faults_per_op_rounds": major.tolist(),
        "baseline_ns_per_op_rounds": base_ns.tolist(),
        "baseline_ops_per_batch": base.iterations,
        "process_rounds": [int(p) for p in process], "processes": params["processes"],
        "placement": params["placement"][measured.strategy],
        "build": dict(native.BUILD_INFO),
        **({"kernel": params["kernel"]} if "kernel" in params else {}),
    }


class _WithPytestBenchmark:
    """Fixtures registered when pytest-benchmark is active."""

    @pytest.fixture
    def alloca_bench_run(self, benchmark: Any) -> Callable[..., Any]:
        """`alloca_bench_run(strategy, size, *, touch="pages", iterations="auto", repeats=21,
        warmup=1, binding="cffi", stack_size=None, heap="host", processes=1, kernel=None,
        cpus=None)` measures one kernel as this test's benchmark and returns a Measurement of
        its rounds (`rounds=` is accepted for `repeats=`; iterations="5ms": batches of about
        that length; processes > 1 spreads the rounds over that many runner processes;
        kernel=alloca_bench.kernel(...): your own function on the buffer, in a runner; cpus=:
        the CPUs the batches run on).  Once per test, like `benchmark`."""
        used = []

        def run(strategy: str, size: int, **options: Any) -> Any:
            if used:
                raise RuntimeError(f"{FIXTURE} can be called once per test (pytest-benchmark "
                                   "keeps one benchmark per test): parametrize the test instead")
            used.append(True)
            return run_benchmark(benchmark, strategy, size, **fixture_options(options))

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
    two files from two machines say what differs (kernel, libc, THP, stack limit, flags...).
    Where the compiled module does not load (a stale build), the block says why instead of
    failing every pytest-benchmark run of the environment."""
    from alloca_bench._version import __version__
    from alloca_bench import machine
    from alloca_bench.results.benchmark_json import MACHINE_INFO_KEY

    info = machine.machine_info()
    # pytest-benchmark records the date itself; a timestamp here would make two runs on one
    # machine look like two machines to --benchmark-compare.
    info.pop("timestamp", None)
    block: dict[str, Any] = {"version": __version__, "machine": info}
    try:
        from alloca_bench import native
    except ImportError as exc:
        block["build_error"] = str(exc)
    else:
        block.update(build=dict(native.BUILD_INFO), stack_margin=native.STACK_MARGIN)
    machine_info[MACHINE_INFO_KEY] = block
