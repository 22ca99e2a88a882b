"""alloca_bench.results.benchmark_json: pytest-benchmark JSON back into a Result (and result.load()
dispatching to it).  Synthetic documents here; a real file is read in test_pytest_plugin.py."""
import json
import math

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.results import benchmark_json, load_all
from alloca_bench.exceptions import ResultFileError


def test_cells_become_strategy_size_iterations_repeat_arrays(bench, bench_document):
    doc = bench_document(bench("alloca", 4096, ns=(1.0, 2.0, 3.0)), bench("malloc", 4096),
                         bench("alloca", 64, ops=7), bench("malloc", 64))
    r = benchmark_json.from_dict(doc)
    assert r.strategies == ("alloca", "malloc")  # order of first appearance
    assert r.sizes.tolist() == [64, 4096]  # sorted
    assert r.iterations == ("auto",)
    assert r.touch == "pages"
    assert r.ns_per_op.shape == r.faults_per_op.shape == (2, 2, 1, 3)
    assert r.ns_per_op[0, 1, 0].tolist() == [1.0, 2.0, 3.0]
    assert r.batch_iterations[0, 0, 0] == 7
    assert r.complete
    assert r.params["binding"] == "cffi" and r.params["source"] == "pytest-benchmark"
    assert r.params["interleaved"] is False


def test_machine_gets_alloca_bench_block_build_keys_and_date(bench, bench_document):
    r = benchmark_json.from_dict(bench_document(bench("alloca", 64)))
    assert r.machine["cpu_model"] == "Test CPU"
    assert r.machine["build_compile_args"] == "-O2 -fno-stack-protector"
    assert r.machine["build_cc"] == "gcc"
    assert r.machine["stack_margin"] == 262144
    assert r.machine["timestamp"] == "2025-01-01T00:00:00+00:00"


def test_several_touch_modes_need_touch_and_it_selects_one(bench, bench_document):
    doc = bench_document(bench("alloca", 64, touch="pages"), bench("alloca", 64, touch="full",
                                                                   ns=(5.0, 5.0, 5.0)))
    with pytest.raises(ValueError, match=r"several touch values \['full', 'pages'\].*touch="):
        benchmark_json.from_dict(doc)
    r = benchmark_json.from_dict(doc, touch="full")
    assert r.touch == "full" and r.ns_per_op[0, 0, 0].tolist() == [5.0, 5.0, 5.0]
    with pytest.raises(ValueError, match=r"touch='none' is not in"):
        benchmark_json.from_dict(doc, touch="none")


def test_several_bindings_need_binding(bench, bench_document):
    doc = bench_document(bench("alloca", 64, binding="cffi"), bench("alloca", 64, binding="ctypes"))
    with pytest.raises(ValueError, match="binding="):
        benchmark_json.from_dict(doc)
    assert benchmark_json.from_dict(doc, binding="ctypes").params["binding"] == "ctypes"
    # Only the bindings of the chosen touch mode count.
    doc = bench_document(bench("alloca", 64, touch="full"), bench("alloca", 64, binding="ctypes"))
    assert benchmark_json.from_dict(doc, touch="full").params["binding"] == "cffi"


def test_load_and_the_command_line_take_binding(tmp_path, capsys, bench, bench_document):
    from alloca_bench.cli import main

    path = tmp_path / "two.json"
    path.write_text(json.dumps(bench_document(bench("alloca", 64, binding="cffi"),
                                              bench("alloca", 64, binding="ctypes"))))
    assert ab.load(path, binding="ctypes").params["binding"] == "ctypes"
    assert main(["check", str(path)]) == 2
    assert "pass --binding (one of ['cffi', 'ctypes'])" in capsys.readouterr().err
    assert main(["export", str(path), "--binding", "ctypes", "--format", "csv"]) == 0
    saved = tmp_path / "saved.json"
    ab.load(path, binding="cffi").save(saved)
    with pytest.raises(ValueError, match="holds binding 'cffi', not 'ctypes'"):
        ab.load(saved, binding="ctypes")


def test_missing_cells_and_short_rounds_are_nan_and_incomplete(bench, bench_document):
    doc = bench_document(bench("alloca", 64), bench("malloc", 4096, ns=(1.0, 2.0)))
    r = benchmark_json.from_dict(doc)
    assert r.ns_per_op.shape == (2, 2, 1, 3)
    assert np.isnan(r.ns_per_op[0, 1]).all()  # alloca at 4096 never ran
    assert math.isnan(r.ns_per_op[1, 1, 0, 2])  # malloc at 4096 ran two rounds of three
    assert not r.complete


def test_explicit_iterations_form_an_axis(bench, bench_document):
    doc = bench_document(bench("alloca", 64, iterations=1, ops=1),
                         bench("alloca", 64, iterations=1000, ops=1000), bench("alloca", 64))
    r = benchmark_json.from_dict(doc)
    assert r.iterations == ("auto", 1, 1000)
    assert r.batch_iterations[0, 0].tolist() == [100, 1, 1000]


def test_other_benchmarks_are_ignored(bench, bench_document):
    ffi = {"name": "test_ffi_call[binding=cffi]", "stats": {}, "extra_info": {"binding": "cffi"}}
    r = benchmark_json.from_dict(bench_document(ffi, bench("vla", 64)))
    assert r.strategies == ("vla",)


def test_file_without_fixture_benchmarks_is_refused(bench_document):
    ffi = {"name": "test_ffi_call", "stats": {}, "extra_info": {}}
    with pytest.raises(ResultFileError, match="no benchmark written by alloca_bench_run"):
        benchmark_json.from_dict(bench_document(ffi))


def test_duplicate_cells_name_both_benchmarks(bench, bench_document):
    with pytest.raises(ResultFileError, match=r"both measure alloca at size 64"):
        benchmark_json.from_dict(bench_document(bench("alloca", 64), bench("alloca", 64)))


def test_damaged_extra_info_names_the_benchmark(bench, bench_document):
    broken = bench("alloca", 64)
    del broken["extra_info"]["ns_per_op_rounds"]
    with pytest.raises(ResultFileError, match=r"test_kernel\[touch=pages-size=64-alloca\].*"
                                              "damaged"):
        benchmark_json.from_dict(bench_document(broken))


def test_not_a_pytest_benchmark_document_is_refused():
    with pytest.raises(ResultFileError, match="not a pytest-benchmark JSON"):
        benchmark_json.from_dict({"schema": "alloca_bench.results.model"})


def test_result_load_dispatches_on_pytest_benchmark_files(tmp_path, bench, bench_document):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(bench_document(bench("alloca", 64, touch="none"),
                                              bench("alloca", 64, touch="full"))))
    r = ab.load(path, touch="none")
    assert r.touch == "none" and r.strategies == ("alloca",)
    assert ab.load(path, touch="full").touch == "full"
    with pytest.raises(ValueError, match="touch="):
        ab.load(path)


def test_result_load_of_a_native_file_checks_touch(tmp_path, bench, bench_document):
    path = tmp_path / "r.json"
    benchmark_json.from_dict(bench_document(bench("alloca", 64))).save(path)
    assert ab.load(path).touch == "pages"
    assert ab.load(path, touch="pages").ns_per_op.shape == (1, 1, 1, 3)
    with pytest.raises(ValueError, match="holds touch 'pages', not 'full'"):
        ab.load(path, touch="full")


def _values(results):
    return sum(r.ns_per_op.size for r in results)


def test_a_sparse_file_is_read_as_dense_grids_proportional_to_its_samples(sparse_bench_document):
    results = benchmark_json.from_dict_all(sparse_bench_document(300))
    assert len(results) == 300
    assert _values(results) == 300 * 3  # its 900 samples, no padding
    assert [r.strategies for r in results[:2]] == [("malloc@x0",), ("malloc@x1",)]
    assert results[299].iterations == (300,) and results[299].sizes.tolist() == [363]
    assert all(r.complete for r in results)


def test_load_of_a_sparse_file_lists_its_grids_and_grid_picks_one(sparse_bench_document):
    with pytest.raises(ResultFileError, match=r"form 300 grids:\n  grid 0: 1 benchmark\(s\); "
                                              r"strategies malloc@x0; sizes 64 B; iterations "
                                              r"1; 3 rounds\n(.|\n)*and 292 more grids\n"
                                              r"pass grid=K .*load_all"):
        benchmark_json.from_dict(sparse_bench_document(300))
    r = benchmark_json.from_dict(sparse_bench_document(300), grid=7)
    assert r.strategies == ("malloc@x7",) and r.iterations == (8,)
    with pytest.raises(ValueError, match=r"no grid 300 in <dict>: .* 300 grid\(s\), 0 to 299"):
        benchmark_json.from_dict(sparse_bench_document(300), grid=300)


def test_grids_split_only_as_far_as_they_need(bench, bench_document):
    """Each size with its own iteration count, past what one grid may pad: a grid per count,
    each holding both strategies (what a reader compares) rather than a cell per grid."""
    n = 1200  # 2 strategies x 1200 sizes x 1200 counts x 3 rounds > MIN_GRID_VALUES
    doc = bench_document(*(bench(s, 16 * (k + 1), iterations=k + 1, ops=k + 1)
                           for k in range(n) for s in ("alloca", "malloc")))
    results = benchmark_json.from_dict_all(doc)
    assert len(results) == n
    assert {r.strategies for r in results} == {("alloca", "malloc")}
    assert _values(results) == 2 * n * 3
    assert results[4].batch_iterations.tolist() == [[[5]], [[5]]]


def test_a_file_of_many_rounds_in_one_test_is_not_padded_everywhere(bench, bench_document):
    doc = bench_document(*(bench(s, z) for s in ("alloca", "malloc") for z in (64, 4096)),
                         bench("mmap", 1 << 20, ns=tuple(range(1, 3_000_001, 1000))))
    assert len(benchmark_json.from_dict_all(doc)) == 1  # 3 x 3 x 3000 values: one grid
    doc["benchmarks"][-1]["extra_info"]["ns_per_op_rounds"] *= 300  # 900,000 rounds
    for key in ("faults_per_op_rounds", "major_faults_per_op_rounds"):
        doc["benchmarks"][-1]["extra_info"][key] = [0.0] * 900_000
    results = benchmark_json.from_dict_all(doc)
    assert [r.strategies for r in results] == [("alloca", "malloc"), ("mmap",)]
    assert _values(results) == 4 * 3 + 900_000


def test_load_all_reads_every_touch_mode_and_a_saved_result(tmp_path, bench, bench_document):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(bench_document(bench("alloca", 64, touch="none"),
                                              bench("alloca", 64, touch="full"))))
    assert [r.touch for r in load_all(path)] == ["none", "full"]
    saved = tmp_path / "r.json"
    benchmark_json.from_dict(bench_document(bench("alloca", 64))).save(saved)
    assert [r.touch for r in load_all(saved)] == ["pages"]
    assert ab.load(saved, grid=0).touch == "pages"
    with pytest.raises(ValueError, match="a saved result is one grid"):
        ab.load(saved, grid=1)


def test_a_thousand_sparse_benchmarks_load_in_little_memory(tmp_path, python_child,
                                                            sparse_bench_document):
    """1,000 benchmarks would ask a dense grid for 22 GiB; read under a 1 GiB address space."""
    path = tmp_path / "sparse.json"
    path.write_text(json.dumps(sparse_bench_document(1000)))
    child = python_child("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from alloca_bench.results import load_all
        results = load_all(sys.argv[1])
        print(len(results), sum(r.ns_per_op.size for r in results))
    """, str(path), timeout=120)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["1000", "3000"]


def test_a_grid_with_a_few_holes_still_loads_with_nan(bench, bench_document):
    doc = bench_document(*(bench(s, z) for s in ("alloca", "malloc") for z in (64, 4096)
                           if (s, z) != ("malloc", 64)))
    r = benchmark_json.from_dict(doc)
    assert np.isnan(r.ns_per_op[1, 0]).all() and not r.complete


@pytest.mark.parametrize("key, value, text", [
    ("size", "64", "size must be an int"),
    ("size", 64.5, "size must be an int"),
    ("size", True, "size must be an int"),
    ("size", 10**30, "size must be an int"),
    ("touch", "most", "touch must be one of"),
    ("strategy", ["alloca"], "strategy must be a non-empty string"),
    ("iterations", 0, "iterations must be an int from 1"),
    ("ns_per_op_rounds", ["1"], "holds '1'"),
    ("ns_per_op_rounds", [10**400], "OverflowError|holds"),
    ("ns_per_op_rounds", "abc", "must be a list"),
    ("faults_per_op_rounds", [-1.0, 1.0, 1.0], "holds -1.0"),
])
def test_damaged_extra_info_is_a_result_file_error_naming_the_field(key, value, text, bench,
                                                                     bench_document):
    entry = bench("alloca", 64)
    entry["extra_info"][key] = value
    with pytest.raises(ResultFileError, match=text):
        benchmark_json.from_dict(bench_document(entry))


@pytest.mark.parametrize("block", [[], "x", {"machine": [1], "build": "x"}])
def test_a_damaged_machine_block_is_left_out(block, bench, bench_document):
    doc = bench_document(bench("alloca", 64))
    doc["machine_info"]["alloca_bench"] = block
    assert benchmark_json.from_dict(doc).strategies == ("alloca",)


def test_a_non_dict_extra_info_is_skipped_not_a_crash(bench, bench_document):
    entry = bench("alloca", 64)
    other = dict(bench("malloc", 64), extra_info=["alloca_bench_version"])
    assert benchmark_json.from_dict(bench_document(entry, other)).strategies == ("alloca",)


def test_grids_share_the_machine_block_instead_of_copying_it(sparse_bench_document):
    """4000 disjoint benchmarks make 4000 grids: each copy of a 30,000-key machine block cost
    gigabytes (3.8 GB from a 2.7 MB file); the grids share one."""
    from alloca_bench.results.benchmark_json import from_dict_all

    doc = sparse_bench_document(300)
    doc["machine_info"]["alloca_bench"]["machine"] = {f"k{k}": "v" for k in range(3000)}
    results = from_dict_all(doc)
    assert len(results) > 1
    assert all(r.machine is results[0].machine for r in results)
    assert results[0].machine["k2999"] == "v"
