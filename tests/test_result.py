"""alloca_bench.results.result: the public Result's display, warnings, save/load and its errors, on
synthetic data (its reductions: test_model.py)."""
import json

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.exceptions import ResultFileError
from alloca_bench.present._format import format_size
from alloca_bench.results import Result, load


def test_stats_and_warnings_per_cell(known_result, clean_result):
    st = known_result().stats()
    assert st["median"].shape == st["bimodal"].shape == (3, 2, 1)
    assert st["median"][2, 0, 0] == 30.5 and st["min"][2, 0, 0] == 9.0
    assert isinstance(clean_result().warnings, tuple) and clean_result().warnings == ()


def test_process_indices_default_to_one_process_and_survive_save(clean_result, known_result,
                                                                 tmp_path):
    r = known_result(complete=False)
    assert r.process.shape == r.ns_per_op.shape
    assert r.process[2, 1, 0, 3] == -1 and (r.process[0] == 0).all()
    c = clean_result()
    c.save(tmp_path / "c.json")
    assert np.array_equal(load(tmp_path / "c.json").process, c.process)
    with pytest.raises(ValueError, match="process has shape"):
        Result(**{**c.__dict__, "process": c.process[..., :3]})


def test_table_has_a_row_per_size_and_strategy_with_the_ratio_to_alloca(known_result):
    lines = known_result().table().splitlines()
    assert lines[0].split() == ["size", "iterations", "strategy", "ns/op", "±", "err%", "net",
                                "ns/op", "faults/op", "x", "alloca"]
    # and one warning (a single process), wrapped: its next lines are indented
    assert len([line for line in lines if not line.startswith("  ")]) == 1 + 6 + 1
    assert lines[3].split()[:3] == ["64", "B", "auto=1000"]
    assert lines[3].endswith("10.17x")


def test_display_says_when_a_result_is_incomplete(known_result):
    assert "complete" in repr(known_result()) and "INCOMPLETE" in repr(known_result(False))
    page = known_result(False)._repr_html_()
    assert "<table>" in page and "incomplete" in page and "malloc" in page


def test_save_and_load_round_trip_keeps_nan(known_result, tmp_path):
    r = known_result(complete=False)
    r.save(tmp_path / "r.json")
    back = ab.load(tmp_path / "r.json")
    assert back.strategies == r.strategies and back.iterations == r.iterations
    np.testing.assert_array_equal(back.ns_per_op, r.ns_per_op)
    np.testing.assert_array_equal(back.batch_iterations, r.batch_iterations)
    assert back.machine == r.machine and back.complete is False
    assert list(tmp_path.iterdir()) == [tmp_path / "r.json"]


def test_load_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "none.json")


@pytest.mark.parametrize("content, text", [
    ("{not json", "is not valid JSON"),
    ('{"hello": 1}', "is not an alloca_bench result"),
    ('[1, 2]', "is not an alloca_bench result"),
])
def test_load_refuses_what_is_not_a_result(tmp_path, content, text):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=text):
        load(path)


def test_load_refuses_a_newer_schema(known_result, tmp_path):
    data = known_result().to_dict()
    data["schema_version"] = 99
    (tmp_path / "new.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="schema_version 99.*upgrade"):
        load(tmp_path / "new.json")


def test_load_refuses_damaged_arrays(known_result, tmp_path):
    data = known_result().to_dict()
    data["arrays"]["ns_per_op"] = data["arrays"]["ns_per_op"][:1]
    (tmp_path / "cut.json").write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match="damaged"):
        load(tmp_path / "cut.json")


@pytest.mark.parametrize("n, text", [(16, "16 B"), (4096, "4 KiB"), (131073, "131073 B"),
                                     (1 << 20, "1 MiB")])
def test_format_size(n, text):
    assert format_size(n) == text


def test_cells_never_measured_show_as_dashes_without_warnings(known_result, recwarn):
    r = known_result()
    r.ns_per_op[2, 1] = np.nan
    last = [line for line in r.table().splitlines() if line.startswith("1 MiB")][-1].split()
    assert last[:4] == ["1", "MiB", "auto=1000", "malloc"]
    assert last[4:8] == ["-", "-", "-", "-"]  # ns/op, ±, err%, net
    assert np.isnan(r.median()[2, 1, 0]) and not recwarn.list
