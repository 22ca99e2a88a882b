"""Fuzzing the public entry points with hypothesis (bounded, derandomized examples): measure(),
sweep() and loop_stack_span() in a child interpreter each, so that a crash fails the test and
names the last arguments; load() and save() in this process (pure Python).  Every call either
works or raises the library's own ValueError/TypeError/AllocaBenchError."""
import json
import math
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import alloca_bench as ab  # noqa: E402
from alloca_bench.exceptions import ResultFileError  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))

# Run in the child: valid arguments around every limit, with at most one of them replaced by
# an edge value or a value of the wrong type.
CHILD = """
import os
import sys
from hypothesis import HealthCheck, given, settings, strategies as st
import alloca_bench as ab
from alloca_bench.measuring import loop_stack_span

junk = st.one_of(st.none(), st.floats(allow_nan=True), st.text(max_size=3), st.booleans(),
                 st.lists(st.integers(), max_size=2))
size = st.one_of(st.integers(1, 1 << 20), st.sampled_from([1, 4095, 4096, 4097, 1 << 23]))
bad_size = st.one_of(st.sampled_from([0, -1, (1 << 30) + 1, 2**63, 2**64]), junk)
stack_size = st.one_of(st.none(), st.integers(65536, 1 << 24))
bad_stack_size = st.one_of(st.sampled_from([0, 65535, 2**64]), junk)
count = st.one_of(st.integers(1, 2000), st.sampled_from([100_000, 400_000, 1_000_000]))
own_cpus = sorted(os.sched_getaffinity(0))
cpus = st.one_of(st.none(), st.lists(st.sampled_from(own_cpus), min_size=1, max_size=2))
VALID = {
    "measure": dict(strategy=st.sampled_from(ab.STRATEGIES), size=size,
                    touch=st.sampled_from(ab.TOUCHES),
                    iterations=st.one_of(st.integers(1, 2000), st.just("auto")),
                    repeats=st.integers(1, 4), warmup=st.integers(0, 2), stack_size=stack_size,
                    heap=st.sampled_from(["host", "host-ctypes", "fresh"]), cpus=cpus),
    "loop_stack_span": dict(strategy=st.sampled_from(["alloca", "vla"]), size=size,
                            count=count, stack_size=stack_size,
                            binding=st.sampled_from(["cffi", "ctypes"])),
    "sweep": dict(sizes=st.lists(st.integers(1, 1 << 18), min_size=1, max_size=3),
                  strategies=st.lists(st.sampled_from(ab.STRATEGIES), min_size=1, max_size=3,
                                      unique=True),
                  iterations=st.one_of(st.integers(1, 100),
                                       st.lists(st.integers(1, 100), min_size=1, max_size=2)),
                  touch=st.sampled_from(ab.TOUCHES), repeats=st.integers(1, 3),
                  stack_size=stack_size, warmup=st.integers(0, 1),
                  heap=st.sampled_from(["host", "fresh"]), processes=st.integers(1, 2)),
}
EDGE = {
    "strategy": st.one_of(st.just("malloc@nonesuch"), st.just("sbrk"), junk),
    "size": bad_size, "touch": junk,
    "iterations": st.one_of(st.sampled_from([0, -1, "1us", "11s", "5ms", ["5ms", 3]]), junk),
    "repeats": st.one_of(st.sampled_from([0, 10**7]), junk),
    "warmup": st.one_of(st.just(-1), junk),
    "stack_size": bad_stack_size, "binding": junk,
    "cpus": st.one_of(st.sampled_from([[], [-1], [1 << 20], "0", [0.0]]), junk),
    "count": st.one_of(st.sampled_from([0, 2**32]), junk),
    "sizes": st.one_of(st.lists(bad_size, min_size=1, max_size=2), junk),
    "heap": st.one_of(st.just("aged"), junk), "processes": st.one_of(st.just(0), junk),
    "strategies": st.one_of(st.lists(junk, min_size=1, max_size=2), junk),
}
EXPECTED = (ValueError, TypeError, ImportError, ab.AllocaBenchError)
CALLS = {"measure": ab.measure, "loop_stack_span": loop_stack_span, "sweep": ab.sweep}
entry = sys.argv[1]
ran = []

@settings(max_examples=int(sys.argv[2]), deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def fuzz(data):
    kwargs = data.draw(st.fixed_dictionaries(VALID[entry]))
    field = data.draw(st.one_of(st.none(), st.sampled_from(list(kwargs))))  # half valid
    if field is not None:
        kwargs[field] = data.draw(EDGE[field])
    print(entry, repr(kwargs), flush=True)  # the last line names a crash's arguments
    try:
        CALLS[entry](**kwargs)
        ran.append(1)
    except EXPECTED:
        pass

fuzz()
print("fuzz done", len(ran), flush=True)
"""


@pytest.mark.parametrize("entry, examples", [("measure", 120), ("loop_stack_span", 150),
                                             ("sweep", 25)])
def test_entry_point_never_crashes_the_interpreter(entry, examples, python_child):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    child = python_child(CHILD, entry, str(examples), timeout=600, env=env)
    last = child.stdout.strip().splitlines()[-3:]
    assert child.returncode == 0, (child.returncode, last, child.stderr[-3000:])
    word, done, ran = last[-1].split()
    assert (word, done) == ("fuzz", "done") and int(ran) > 0  # some calls really measured


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=20)


def _paths(node, prefix=()):
    """Every (path) into a nested dict/list document."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            yield from _paths(value, prefix + (i,))


def _try_load(path):
    try:
        result = ab.load(path)
    except ResultFileError:
        return None
    assert isinstance(result, ab.Result)
    return result


@SETTINGS
@given(data=st.data())
def test_load_of_a_damaged_result_is_a_result_or_a_result_file_error(data, known_result,
                                                                     replaced,
                                                                     tmp_path_factory):
    document = known_result(complete=False).to_dict()
    paths = list(_paths(document))
    path = data.draw(st.sampled_from(paths))
    damaged = replaced(document, path, data.draw(json_values))
    file = tmp_path_factory.mktemp("fuzz") / "r.json"
    file.write_text(json.dumps(damaged, allow_nan=True))
    _try_load(file)


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_load_of_arbitrary_bytes_is_a_result_file_error(raw, tmp_path_factory):
    file = tmp_path_factory.mktemp("fuzz") / "r.json"
    file.write_bytes(raw)
    _try_load(file)


@SETTINGS
@given(meta=st.dictionaries(st.text(max_size=5), st.one_of(
    json_values, st.floats(), st.integers(-2**70, 2**70),
    st.builds(np.float64, st.floats()), st.builds(np.int32, st.integers(-5, 5)))))
def test_save_writes_strict_json_that_loads_back(meta, known_result, tmp_path_factory):
    result = known_result(complete=False)
    result.params.update(meta)
    folder = tmp_path_factory.mktemp("fuzz")
    result.save(folder / "r.json")
    text = (folder / "r.json").read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} saved"))
    back = ab.load(folder / "r.json")
    np.testing.assert_array_equal(back.ns_per_op, result.ns_per_op)
    for key, value in meta.items():
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            assert back.params[str(key)] is None
    assert [p.name for p in folder.iterdir()] == ["r.json"]


_BENCHMARK_CELL = st.tuples(st.sampled_from(("alloca", "malloc", "mmap", "malloc@x")),
                            st.integers(1, 300), st.one_of(st.just("auto"), st.integers(1, 40)),
                            st.integers(1, 300))


@SETTINGS
@given(cells=st.lists(_BENCHMARK_CELL, min_size=1, max_size=60,
                      unique_by=lambda c: c[:3]))
def test_every_sample_of_a_pytest_benchmark_file_lands_in_exactly_one_small_grid(
        cells, bench, bench_document):
    """However sparse the benchmarks, load_all() keeps each sample once and pads its grids with
    at most MAX_GRID_PER_SAMPLE values per sample (here without the MIN_GRID_VALUES floor under
    which a whole file is one grid, so that small examples split)."""
    from unittest import mock

    from alloca_bench.results import benchmark_json

    doc = bench_document(*(bench(s, z, iterations=i, ns=tuple(float(k + 1) for k in range(n)))
                           for s, z, i, n in cells))
    with mock.patch.object(benchmark_json, "MIN_GRID_VALUES", 0):
        results = benchmark_json.from_dict_all(doc)
    samples = sum(n for *_, n in cells)
    assert sum(int(np.isfinite(r.ns_per_op).sum()) for r in results) == samples
    assert sum(r.ns_per_op.size for r in results) <= benchmark_json.MAX_GRID_PER_SAMPLE * samples
    assert len(results) <= len(cells)
