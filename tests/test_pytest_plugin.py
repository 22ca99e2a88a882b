"""alloca_bench.pytest_plugin: the alloca_bench_run fixture in a user's own suite (run through
pytester), its JSON, its errors and its absence without pytest-benchmark; the
benchmark_testpaths option; the repository's benchmarks/ suite run once (in a subprocess)."""
import ast
import inspect
import json
import math
import os
import subprocess
import sys

import alloca_bench as ab
from alloca_bench import native
from alloca_bench.machine import machine_info
from alloca_bench.pytest_plugin import group_name

pytest_plugins = ["pytester"]
# Hypothesis (when installed) imports its core in every run's terminal summary: ~1 s each.
QUICK = ("-p", "no:hypothesispytest")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

USER_SUITE = """
import pytest

@pytest.mark.parametrize("strategy", ["alloca", "malloc"])
def test_scratch(alloca_bench_run, strategy):
    m = alloca_bench_run(strategy, size=4096, touch="first", iterations=50, rounds=3)
    assert m.ns_per_op.shape == m.faults_per_op.shape == (3,)
    assert m.iterations == 50 and m.strategy == strategy

def test_ctypes_on_a_worker_stack(alloca_bench_run):
    alloca_bench_run("vla", size=2 << 20, touch="pages", rounds=2, warmup=0,
                     binding="ctypes", stack_size=8 << 20)

@pytest.mark.benchmark(group="mine")
def test_own_group_kept(alloca_bench_run):
    alloca_bench_run("calloc", size=64, iterations=10, rounds=2)
"""


def test_user_suite_json_has_extra_info_machine_info_and_c_timed_stats(pytester):
    pytester.makepyfile(test_user=USER_SUITE)
    result = pytester.runpytest(*QUICK, "--benchmark-json=out.json")
    result.assert_outcomes(passed=4)
    data = json.loads((pytester.path / "out.json").read_text())

    block = data["machine_info"]["alloca_bench"]
    assert block["version"] == ab.__version__
    assert block["build"] == native.BUILD_INFO
    assert block["machine"]["page_size"] == machine_info()["page_size"]
    assert "timestamp" not in block["machine"]  # would make every compare warn

    benches = {b["name"].split(" [")[0]: b for b in data["benchmarks"]}  # less " [N ops/round]"
    alloca = benches["test_scratch[alloca]"]
    info = alloca["extra_info"]
    assert {k: info[k] for k in ("strategy", "size", "touch", "binding", "iterations",
                                 "ops_per_batch", "rounds")} == {
        "strategy": "alloca", "size": 4096, "touch": "first", "binding": "cffi",
        "iterations": 50, "ops_per_batch": 50, "rounds": 3}
    assert info["build"] == native.BUILD_INFO
    assert len(info["ns_per_op_rounds"]) == len(info["faults_per_op_rounds"]) == 3
    assert info["ns_per_op"] == sorted(info["ns_per_op_rounds"])[1]
    # The baseline ran beside each round (out of the groups): net = minus it, paired by round.
    assert len(info["baseline_ns_per_op_rounds"]) == 3
    net = [a - b for a, b in zip(info["ns_per_op_rounds"], info["baseline_ns_per_op_rounds"])]
    assert math.isclose(info["net_ns_per_op"], sorted(net)[1])
    assert info["placement"]["process"] == "self"
    assert alloca["group"] == group_name("first", 4096) == "touch=first size=4 KiB"
    assert benches["test_scratch[malloc]"]["group"] == alloca["group"]
    # pytest-benchmark's own figure is the C-measured ns per op (seconds), round by round.
    assert alloca["options"]["timer"].endswith("c_clock")
    assert alloca["stats"]["rounds"] == 3
    assert all(math.isclose(s * 1e9, ns, rel_tol=1e-6)
               for s, ns in zip(alloca["stats"]["data"], info["ns_per_op_rounds"]))

    worker = benches["test_ctypes_on_a_worker_stack"]["extra_info"]
    assert worker["binding"] == "ctypes" and worker["stack_size"] == 8 << 20
    assert worker["ops_per_batch"] >= 1 and worker["iterations"] == "auto"
    assert benches["test_own_group_kept"]["group"] == "mine"

    r = ab.load(pytester.path / "out.json", touch="first")
    assert r.strategies == ("alloca", "malloc") and r.sizes.tolist() == [4096]
    assert r.ns_per_op.shape == (2, 1, 1, 3)
    assert r.ns_per_op[0, 0, 0].tolist() == info["ns_per_op_rounds"]


def test_bad_arguments_fail_their_test_with_the_library_message(pytester):
    pytester.makepyfile(test_bad="""
        import pytest

        @pytest.mark.parametrize("kwargs", [
            dict(strategy="allocaa", size=64),
            dict(strategy="alloca", size=0),
            dict(strategy="alloca", size=64, touch="most"),
            dict(strategy="alloca", size=1 << 30),
        ])
        def test_bad(alloca_bench_run, kwargs):
            alloca_bench_run(**kwargs, rounds=2)

        def test_twice(alloca_bench_run):
            alloca_bench_run("malloc", size=64, iterations=10, rounds=2)
            alloca_bench_run("malloc", size=64, iterations=10, rounds=2)

        def test_good(alloca_bench_run):
            alloca_bench_run("malloc", size=64, iterations=10, rounds=2)
    """)
    result = pytester.runpytest(*QUICK)
    result.assert_outcomes(passed=1, failed=5)
    result.stdout.fnmatch_lines_random([
        "*ValueError: unknown strategy 'allocaa': choose from *",
        "*ValueError: size must be between 1 and *, got 0",
        "*ValueError: touch must be one of none, first, pages, full, not 'most'",
        "*StackLimitError: alloca of 1073741824 bytes does not fit on the stack*No stack_size accepted*",
        "*RuntimeError: alloca_bench_run can be called once per test*",
    ])


def test_without_pytest_benchmark_the_fixture_skips_and_plain_tests_run(pytester):
    pytester.makepyfile(test_plain="""
        def test_plain():
            import alloca_bench
            assert alloca_bench.measure("alloca", 64, iterations=10, repeats=3).ns_per_op.size == 3

        def test_uses_fixture(alloca_bench_run):
            alloca_bench_run("alloca", size=64)
    """)
    result = pytester.runpytest(*QUICK, "-p", "no:benchmark", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*alloca_bench_run needs the pytest-benchmark plugin: "
                                 "pip install pytest-benchmark*"])


def _docs_fixture_example() -> str:
    """The test file the manual's pytest page shows."""
    with open(os.path.join(ROOT, "docs", "pytest.md"), encoding="utf-8") as f:
        page = f.read()
    start = page.index("# test_my_buffers.py")
    return page[start:page.index("```", start)]


def test_docs_fixture_example_passes_measured_and_under_benchmark_disable(pytester):
    """The flag CI suites run with (--benchmark-disable: one round) and a real run."""
    pytester.makepyfile(test_my_buffers=_docs_fixture_example().replace(
        "repeats=21", "repeats=3"))
    pytester.runpytest(*QUICK, "--benchmark-disable").assert_outcomes(passed=3)
    pytester.runpytest(*QUICK, "--benchmark-only").assert_outcomes(passed=3)


def test_allocator_strategies_run_in_a_child_with_the_allocator(pytester):
    found = ab.allocators()  # glibc at least: malloc@glibc runs in a child too
    name = "jemalloc" if "jemalloc" in found else next(iter(found))
    pytester.makepyfile(test_alloc=f"""
        def test_alloc(alloca_bench_run, benchmark):
            m = alloca_bench_run("malloc@{name}", size=4096, iterations=100, repeats=2)
            assert m.ns_per_op.shape == (2,) and m.strategy == "malloc@{name}"
            where = benchmark.extra_info["placement"]
            assert where["process"] == "runner" and where["allocator"] == "{name}"
    """)
    pytester.runpytest(*QUICK).assert_outcomes(passed=1)


def test_repeats_is_the_library_name_and_rounds_an_alias(pytester):
    pytester.makepyfile(test_names="""
        import pytest

        def test_repeats(alloca_bench_run):
            assert alloca_bench_run("alloca", 64, iterations=10, repeats=2).ns_per_op.size == 2

        @pytest.mark.parametrize("kwargs", [dict(repeats=2, rounds=2), dict(repetitions=2)])
        def test_bad_names(alloca_bench_run, kwargs):
            alloca_bench_run("alloca", 64, iterations=10, **kwargs)
    """)
    result = pytester.runpytest(*QUICK)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random([
        "*TypeError: alloca_bench_run() got both repeats= and rounds=*",
        "*TypeError: alloca_bench_run() got an unexpected keyword argument 'repetitions'*",
    ])
    assert "run_benchmark" not in result.stdout.str().split("short test summary")[-1]


STALE_BUILD = """
import importlib.abc, sys

class StaleBuild(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "alloca_bench._native":
            raise ImportError("alloca_bench._native was built from another version (stale)")

sys.meta_path.insert(0, StaleBuild())
"""


def test_a_stale_compiled_module_fails_only_the_tests_that_measure(pytester, monkeypatch):
    """The plugin loads in every pytest run of the environment: a broken build must not break
    collection, plain tests or pytest-benchmark's JSON."""
    pytester.makepyfile(sitecustomize=STALE_BUILD)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    pytester.makepyfile(test_stale="""
        def test_plain():
            assert 1 + 1 == 2

        def test_measures(alloca_bench_run):
            alloca_bench_run("alloca", size=64)

        def test_plain_benchmark(benchmark):
            benchmark(len, "abc")
    """)
    result = pytester.runpytest_subprocess(*QUICK, "--benchmark-json=out.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*ImportError: alloca_bench._native was built from another*"])
    block = json.loads((pytester.path / "out.json").read_text())["machine_info"]["alloca_bench"]
    assert "stale" in block["build_error"]


def test_the_plugin_imports_only_pytest_and_the_standard_library_at_import():
    """Everything else loads inside the fixture and hooks (the module's top-level imports)."""
    import alloca_bench.pytest_plugin as plugin

    tree = ast.parse(inspect.getsource(plugin))
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
           for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert top - set(sys.stdlib_module_names) == {"pytest"}


def test_the_repository_benchmarks_keep_the_baseline_out_of_the_tables(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", os.path.join(ROOT, "benchmarks"), "--collect-only",
         "-q", "-p", "no:cacheprovider", *QUICK],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    assert ids and not [i for i in ids if "baseline" in i or "fixed" in i]


def test_disabled_benchmark_runs_one_round(pytester):
    """In this process and in a runner (heap="fresh"): one round measured, no warm-up."""
    pytester.makepyfile(test_once="""
        import importlib

        import pytest

        API = importlib.import_module("alloca_bench.measuring.api")

        def test_once(alloca_bench_run):
            m = alloca_bench_run("alloca", size=64, iterations=10, rounds=5, warmup=2)
            assert m.ns_per_op.shape == (1,)

        def test_once_in_a_runner(alloca_bench_run, monkeypatch):
            asked = []
            real = API.run_grid
            monkeypatch.setattr(API, "run_grid", lambda grid, options, *a: (
                asked.append((options.repeats, options.warmup)) or real(grid, options, *a)))
            m = alloca_bench_run("malloc", size=64, iterations=10, rounds=5, warmup=2,
                                 heap="fresh")
            assert m.ns_per_op.shape == (1,) and asked == [(1, 0)]
    """)
    pytester.runpytest(*QUICK, "--benchmark-disable").assert_outcomes(passed=2)


def test_the_fixtures_options_are_listed_once_and_documented_as_they_are():
    """OPTIONS holds the defaults; run_benchmark takes exactly those keywords, without
    defaults of its own; the fixture's docstring and the manual show the same defaults."""
    import alloca_bench.pytest_plugin as plugin

    params = inspect.signature(plugin.run_benchmark).parameters
    keywords = {n: p for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert list(keywords) == list(plugin.OPTIONS)
    assert all(p.default is inspect.Parameter.empty for p in keywords.values())
    shown = ", ".join(f"{k}={json.dumps(v) if isinstance(v, str) else v}"
                      for k, v in plugin.OPTIONS.items())
    with open(os.path.join(ROOT, "docs", "pytest.md"), encoding="utf-8") as f:
        page = f.read()
    for text in (inspect.getsource(plugin._WithPytestBenchmark), page):
        assert f"alloca_bench_run(strategy, size, *, {shown})" in " ".join(text.split())


def test_repository_benchmarks_run_once_each_without_error(tmp_path):
    """What CI relies on to catch a broken benchmark: every benchmark of benchmarks/ runs once
    (--benchmark-disable) and passes.  Run from elsewhere so the checkout does not shadow the
    installed package on sys.path."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", os.path.join(ROOT, "benchmarks"), "--benchmark-disable",
         "-q", "-p", "no:cacheprovider", *QUICK],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout.splitlines()[-1]


def test_repository_sets_benchmark_testpaths(pytestconfig):
    assert pytestconfig.getini("benchmark_testpaths") == ["benchmarks"]
    assert os.path.isdir(os.path.join(ROOT, "benchmarks"))


def test_bare_benchmark_only_collects_benchmark_testpaths(pytester):
    pytester.makeini("""
        [pytest]
        testpaths = tests
        benchmark_testpaths = bench
    """)
    pytester.mkdir("tests")
    pytester.mkdir("bench")
    pytester.makepyfile(**{"tests/test_fast": "def test_fast(): pass",
                           "bench/test_slow": "def test_slow(benchmark): benchmark(len, '')"})

    bare = pytester.runpytest(*QUICK, "--benchmark-only", "--collect-only", "-q")
    bare.stdout.fnmatch_lines(["bench/test_slow.py::test_slow", "1 test collected*"])
    plain = pytester.runpytest(*QUICK, "--collect-only", "-q")
    plain.stdout.fnmatch_lines(["tests/test_fast.py::test_fast", "1 test collected*"])
    explicit = pytester.runpytest(*QUICK, "tests", "--benchmark-only", "--collect-only", "-q")
    explicit.stdout.fnmatch_lines(["tests/test_fast.py::test_fast", "1 test collected*"])


def test_heap_fresh_takes_the_rounds_from_a_runner(pytester):
    pytester.makepyfile(test_fresh="""
        def test_fresh(alloca_bench_run):
            m = alloca_bench_run("malloc", size=4096, touch="none", iterations=100, rounds=4,
                                 heap="fresh")
            assert m.ns_per_op.shape == (4,) and (m.ns_per_op > 0).all()
            assert m.params["heap"] == "fresh"
    """)
    result = pytester.runpytest(*QUICK, "--benchmark-json=out.json")
    result.assert_outcomes(passed=1)
    (bench,) = json.loads((pytester.path / "out.json").read_text())["benchmarks"]
    info = bench["extra_info"]
    assert info["heap"] == "fresh" and info["ops_per_batch"] == 100
    assert all(math.isclose(s * 1e9, ns, rel_tol=1e-6)
               for s, ns in zip(bench["stats"]["data"], info["ns_per_op_rounds"]))


def test_a_batch_length_and_cpus_reach_the_sweep(pytester):
    """iterations="1ms" calibrates batches to that length and cpus= puts the runner on those
    CPUs, as sweep() does."""
    last = max(os.sched_getaffinity(0))
    pytester.makepyfile(test_timed=f"""
        def test_timed(alloca_bench_run):
            m = alloca_bench_run("malloc", size=64, touch="none", iterations="1ms", rounds=3,
                                 heap="fresh", cpus=[{last}])
            assert m.params["target_batch_ns"] == 1e6 and m.params["affinity"] == [{last}]
            assert m.params["runner_cpus"] == [{last}] and m.iterations > 1
    """)
    pytester.runpytest(*QUICK).assert_outcomes(passed=1)


def test_a_kernel_runs_in_a_runner_and_its_rounds_load_back(pytester, monkeypatch):
    monkeypatch.setenv("ALLOCA_BENCH_CACHE", str(pytester.path / "cache"))
    pytester.makepyfile(test_plugin_kernel="""
        import alloca_bench as ab

        K = ab.kernel("#include <stddef.h>\\n"
                      "void work(char *b, size_t n) { for (size_t i = 0; i < n; i += 64) "
                      "b[i] = 1; }\\n")

        def test_mine(alloca_bench_run):
            m = alloca_bench_run("alloca", size=4096, iterations=100, rounds=3, kernel=K)
            assert m.touch == "kernel" and m.ns_per_op.shape == (3,) and (m.ns_per_op > 0).all()
    """)
    result = pytester.runpytest(*QUICK, "--benchmark-json=out.json")
    result.assert_outcomes(passed=1)
    (bench,) = json.loads((pytester.path / "out.json").read_text())["benchmarks"]
    assert bench["extra_info"]["touch"] == "kernel"
    assert bench["extra_info"]["kernel"]["function"] == "work"
    assert ab.load(pytester.path / "out.json").touch == "kernel"


def test_processes_spreads_the_rounds_and_the_file_loads_with_them(pytester):
    """processes=3 runs the rounds in three runner processes (heap "fresh"), extra_info keeps
    each round's process, and the loaded Result counts three processes, so `check` does not
    say "few processes" because of the fixture."""
    pytester.makepyfile(test_spread="""
        def test_spread(alloca_bench_run):
            m = alloca_bench_run("malloc", size=64, touch="none", iterations=100, rounds=6,
                                 processes=3)
            assert m.params["heap"] == "fresh"
    """)
    pytester.runpytest(*QUICK, "--benchmark-json=out.json").assert_outcomes(passed=1)
    (bench,) = json.loads((pytester.path / "out.json").read_text())["benchmarks"]
    assert sorted(set(bench["extra_info"]["process_rounds"])) == [0, 1, 2]
    result = ab.load(str(pytester.path / "out.json"))
    assert result.params["processes"] == 3
    assert int(result.stats()["processes"][result.strategies.index("malloc"), 0, 0]) == 3


def test_the_table_names_the_ops_per_round_and_compare_keeps_the_fullname(pytester):
    """pytest-benchmark shows "Iterations 1" (one C batch per round): the name says the ops
    per round; fullname (what --benchmark-compare matches on) stays the node id."""
    pytester.makepyfile(test_named="""
        def test_named(alloca_bench_run):
            alloca_bench_run("alloca", size=64, iterations=50, rounds=2)
    """)
    result = pytester.runpytest(*QUICK, "--benchmark-json=out.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_named [[]50 ops/round[]]*"])
    (bench,) = json.loads((pytester.path / "out.json").read_text())["benchmarks"]
    assert bench["name"] == "test_named [50 ops/round]"
    assert bench["fullname"] == "test_named.py::test_named"
