"""ab.fleet(): rows per machine from stores, directories and files, and their answers."""
import json

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.analysis.fleet import Fleet, fleet
from alloca_bench.exceptions import ResultFileError
from alloca_bench.results.store import file_result, machine_id

MACHINE = {"hostname": "box", "cpu_model": "Xeon", "kernel_release": "6.1",
           "libc_name": "glibc", "libc_version": "2.36", "stack_headroom": 8 << 20,
           "stack_margin": 256 << 10, "rlimit_stack_soft": 8 << 20,
           "timestamp": "2026-12-07T01:00:00+00:00"}
STRATEGIES = ("baseline", "alloca", "malloc")


def _result(make_result, noisy, center=(1.0, 1.5, 9.0), sizes=(64, 4096), strategies=STRATEGIES,
            **machine):
    ns = noisy(np.repeat(np.array(center, float)[:, None], 1, axis=1),
               shape=(len(strategies), len(sizes), 1, 15))
    return make_result(ns, strategies=strategies, sizes=sizes, machine=dict(MACHINE, **machine))


def test_ab_fleet_is_the_analysis_function():
    assert ab.fleet is fleet and "fleet" in ab.__all__


def test_three_files_are_three_rows_labelled_by_their_names(tmp_path, make_result, noisy):
    paths = []
    for name, preload in (("default", None), ("tcmalloc", "/l/libtcmalloc_minimal.so.4"),
                          ("aged", None)):
        paths.append(tmp_path / f"{name}.json")
        _result(make_result, noisy, ld_preload=preload).save(paths[-1])
    got = fleet(paths)
    assert isinstance(got, Fleet) and len(got.machines) == 3
    assert got.labels == ("default", "tcmalloc", "aged")
    assert got.machines[1].preloaded == "tcmalloc_minimal"
    assert got.machines[1].machine_id != got.machines[0].machine_id == got.machines[2].machine_id


def test_labels_name_the_rows_and_must_match_their_count(make_result, noisy):
    results = [_result(make_result, noisy), _result(make_result, noisy)]
    assert fleet(results, labels=["x", "y"]).labels == ("x", "y")
    with pytest.raises(ValueError, match="3 names for 2 rows"):
        fleet(results, labels=["x", "y", "z"])
    with pytest.raises(ValueError, match="repeats a name"):
        fleet(results, labels=["x", "x"])


def test_two_files_of_one_name_get_distinct_labels(tmp_path, make_result, noisy):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        _result(make_result, noisy).save(tmp_path / folder / "run.json")
    got = fleet([tmp_path / "a" / "run.json", tmp_path / "b" / "run.json"])
    assert got.labels == ("run", "run (2)")


def test_a_store_gives_one_row_per_machine_its_latest_unless_asked(tmp_path, make_result,
                                                                   noisy):
    old = _result(make_result, noisy, center=(1.0, 1.0, 2.0))
    new = _result(make_result, noisy, center=(1.0, 1.0, 8.0),
                  timestamp="2026-12-08T01:00:00+00:00")
    other = _result(make_result, noisy, hostname="other")
    for r in (new, old, other):
        file_result(r, tmp_path)
    got = fleet(tmp_path)
    assert len(got.machines) == 2
    row = got.machines[got.labels.index(machine_id(new.machine))]
    assert row.result.machine["timestamp"] == new.machine["timestamp"]
    assert len(fleet(tmp_path, latest=False).machines) == 3


def test_a_directory_is_read_recursively_and_skips_what_is_no_result(tmp_path, make_result,
                                                                    noisy, bench,
                                                                    bench_document):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    _result(make_result, noisy).save(tmp_path / "deep" / "er" / "r.json")
    (tmp_path / "deep" / "bench.json").write_text(json.dumps(bench_document(
        bench("alloca", 64), bench("malloc", 64, ns=(40.0, 41.0, 42.0)))))
    (tmp_path / "package.json").write_text('{"name": "not a result"}')
    got = fleet(tmp_path)
    assert len(got.machines) == 2
    assert [p for p, _ in got.skipped] == [str(tmp_path / "package.json")]


def test_a_file_named_on_its_own_that_is_no_result_raises(tmp_path):
    (tmp_path / "x.json").write_text('{"name": "not a result"}')
    with pytest.raises(ResultFileError):
        fleet(tmp_path / "x.json")


def test_nothing_to_read_raises(tmp_path):
    with pytest.raises(ValueError, match="no results found"):
        fleet(tmp_path)
    with pytest.raises(ValueError, match="at least one"):
        fleet([])


def test_other_types_are_refused_by_name():
    with pytest.raises(TypeError, match="not int"):
        fleet([3])
    with pytest.raises(TypeError, match=r"fleet\(\) takes paths or Results, not int \(3\)"):
        fleet(3)


def test_a_strategy_no_row_measured_is_refused_by_name(make_result, noisy):
    """a= or b= naming an unknown strategy that no row has is a typo, not a fleet of "not
    measured"; a known one no row has (alloca in a fleet of allocators) stays "not measured"."""
    rows = [_result(make_result, noisy), _result(make_result, noisy)]
    with pytest.raises(ValueError, match=r"a='aloca' is a strategy no row measured \(they "
                                         r"have baseline, alloca, malloc\)"):
        fleet(rows, a="aloca")
    with pytest.raises(ValueError, match=r"b='maloc' is a strategy no row measured"):
        fleet(rows, b="maloc")
    assert not fleet(rows, b="calloc").measured().any()


def test_sizes_and_strategies_not_measured_stay_not_measured(make_result, noisy):
    small = _result(make_result, noisy, sizes=(64, 4096))
    large = _result(make_result, noisy, sizes=(4096, 65536))
    no_alloca = _result(make_result, noisy, center=(1.0, 9.0), strategies=("baseline", "malloc"))
    got = fleet([small, large, no_alloca])
    assert got.sizes.tolist() == [64, 4096, 65536]
    assert got.measured().tolist() == [[True, True, False], [False, True, True],
                                       [False, False, False]]
    assert got.winner[0, 2] == "" and np.isnan(got.low[1, 0])
    assert got.machines[2].pair is None and got.machines[2].crossover.size is None
    assert got.rounds.tolist() == [[15, 15, 0], [0, 15, 15], [0, 0, 0]]


def test_the_ratio_is_malloc_over_alloca_with_an_interval_around_it(make_result, noisy):
    result = _result(make_result, noisy, center=(1.0, 2.0, 10.0))
    got = fleet(result)
    np.testing.assert_allclose(got.ratio[0], result.ratio("malloc", "alloca")[:, 0])
    assert (got.low[0] <= got.ratio[0]).all() and (got.ratio[0] <= got.high[0]).all()
    assert list(got.winner[0]) == ["alloca", "alloca"]


def test_the_crossover_is_the_largest_size_alloca_wins_with_sizes_around_it(crossing_result):
    got = fleet(crossing_result())
    cross = got.machines[0].crossover
    assert (cross.size, cross.open) == (4096, False)
    assert cross.low <= cross.size <= cross.high < 1 << 20


def test_a_crossover_beyond_the_largest_size_is_open(make_result, noisy):
    cross = fleet(_result(make_result, noisy, center=(1.0, 1.0, 5.0))).machines[0].crossover
    assert (cross.size, cross.open) == (4096, True)


def test_alloca_that_never_wins_has_no_crossover(make_result, noisy):
    cross = fleet(_result(make_result, noisy, center=(1.0, 5.0, 1.0))).machines[0].crossover
    assert cross.size is None and not cross.open


def test_the_fastest_allocator_is_named_where_several_mallocs_were_measured(make_result, noisy):
    several = _result(make_result, noisy, center=(1.0, 1.0, 9.0, 3.0),
                      strategies=STRATEGIES + ("malloc@jemalloc",))
    got = fleet([several, _result(make_result, noisy)])
    assert list(got.fastest[0]) == ["jemalloc", "jemalloc"]
    assert (got.fastest_margin[0] > 2).all()
    assert list(got.fastest[1]) == ["", ""] and np.isnan(got.fastest_margin[1]).all()


def test_plain_malloc_is_named_by_the_preloaded_allocator(make_result, noisy):
    preloaded = _result(make_result, noisy, center=(1.0, 1.0, 2.0, 9.0),
                        strategies=STRATEGIES + ("malloc@jemalloc",),
                        ld_preload="/l/libtcmalloc_minimal.so.4")
    assert list(fleet(preloaded).fastest[0]) == ["tcmalloc_minimal"] * 2


def test_only_the_metadata_that_differs_is_listed(make_result, noisy):
    got = fleet([_result(make_result, noisy), _result(make_result, noisy, ld_preload="/x.so"),
                 _result(make_result, noisy)])
    assert got.differing == {"ld_preload": (None, "/x.so", None)}


def test_results_of_two_bindings_differ_in_binding(make_result, noisy):
    import dataclasses

    cffi, ctypes = (_result(make_result, noisy) for _ in range(2))
    cffi, ctypes = (dataclasses.replace(r, params={**r.params, "binding": b})
                    for r, b in ((cffi, "cffi"), (ctypes, "ctypes")))
    assert fleet([cffi, ctypes]).differing == {"binding": ("cffi", "ctypes")}


def test_stack_limit_and_largest_safe_alloca_come_from_the_machine(make_result, noisy):
    limited = _result(make_result, noisy)
    unlimited = _result(make_result, noisy, rlimit_stack_soft=None)
    unknown = make_result(np.ones((3, 2, 1, 3)), machine={"hostname": "h"})
    rows = fleet([limited, unlimited, unknown]).machines
    assert (rows[0].stack_limit, rows[0].largest_safe) == (8 << 20, (8 << 20) - (256 << 10))
    assert rows[1].stack_limit is None and rows[1].stack_limit_recorded
    assert not rows[2].stack_limit_recorded and rows[2].largest_safe is None


def test_each_row_carries_its_result(make_result, noisy):
    """The page words a row's warnings from its result (analysis keeps no words)."""
    loaded = _result(make_result, noisy, loadavg_1min=9.0, cpu_count=2)
    (row,) = fleet(loaded).machines
    assert row.result is loaded and not hasattr(row, "warnings")


def test_the_repr_of_a_fleet_is_one_line_naming_its_rows(tmp_path, make_result, noisy):
    """In a notebook a Fleet shows its rows, sizes and the pair compared in one line, not every
    field of every result; a row shows its label, machine and file."""
    paths = [tmp_path / "before.json", tmp_path / "after.json"]
    for path in paths:
        _result(make_result, noisy).save(path)
    got = fleet(paths)
    assert repr(got) == ("<alloca_bench.Fleet 2 rows (before, after) x 2 sizes 64..4096 B; "
                         "malloc/alloca>")
    row = got.machines[0]
    assert repr(row) == (f"<alloca_bench.FleetMachine 'before' on {row.machine_id} from "
                         f"{paths[0]}>")


def test_the_repr_of_a_fleet_of_one_row_says_row(make_result, noisy):
    assert repr(fleet(_result(make_result, noisy))).startswith(
        "<alloca_bench.Fleet 1 row (result 1) x 2 sizes")
