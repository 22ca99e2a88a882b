"""A Comparison in words: the table that keeps to 120 columns, CSV, JSON, Markdown, a choice of
strategies, and the compare command's --labels, --strategies and --format."""
import csv
import io
import json

import pytest

import alloca_bench as ab
from alloca_bench.cli import main
from alloca_bench.present.comparison import (comparison_csv, comparison_json,
                                             comparison_markdown, comparison_records,
                                             comparison_table)


@pytest.fixture
def five(make_result, noisy):
    return ab.compare(*[make_result(noisy([2, 3, 20 + k], seed=k + 1)) for k in range(5)],
                      labels=[f"run-{k}" for k in range(5)])


def test_two_results_keep_a_column_per_result(make_result, noisy):
    c = ab.compare(make_result(noisy([2, 3, 20], seed=1)), make_result(noisy([2, 3, 20], seed=2)))
    assert comparison_table(c).splitlines()[0].split() == [
        "size", "iterations", "strategy", "a", "ns/op", "b", "ns/op", "b/a"]


def test_five_results_fit_120_columns_with_a_row_per_result(five):
    table = comparison_table(five)
    assert max(len(line) for line in table.splitlines()) <= 120
    assert table.splitlines()[0].split()[:4] == ["size", "iterations", "strategy", "result"]
    assert table.count("reference") == 3 * 2  # each strategy at each size
    assert all(f"run-{k}" in table for k in range(5))


def test_a_wider_width_keeps_the_columns(five):
    assert "run-4/run-0" in comparison_table(five, width=400)


def test_strategies_choose_the_rows_and_unknown_ones_are_named(five):
    table = comparison_table(five, ["malloc"])
    assert "malloc" in table and "alloca" not in table and "baseline" not in table
    with pytest.raises(ValueError, match=r"\['mmap'\] are not in this comparison"):
        comparison_table(five, ["malloc", "mmap"])


def test_records_csv_and_json_hold_every_result_and_cell(five):
    records = comparison_records(five, ["malloc"])
    assert len(records) == 5 * 2  # results x sizes
    rows = list(csv.DictReader(io.StringIO(comparison_csv(five, ["malloc"]))))
    assert [r["result"] for r in rows[:5]] == [f"run-{k}" for k in range(5)]
    assert float(rows[1]["ratio"]) == pytest.approx(records[1]["ratio"])
    data = json.loads(comparison_json(five))
    assert data["reference"] == "run-0" and len(data["cells"]) == 5 * 3 * 2
    assert len(data["geomean"]) == 4 * 3


def test_markdown_has_a_column_per_result(five):
    lines = comparison_markdown(five, ["malloc"]).splitlines()
    assert lines[1].count("---") == 3 + 5 + 4 and len(lines) == 2 + 2 + 1  # sizes, geomean


def test_compare_command_labels_strategies_and_format(tmp_path, make_result, noisy, capsys):
    paths = []
    for k in range(5):
        paths.append(str(tmp_path / f"{k:04d}_c0ffee_20260101_000000.json"))
        make_result(noisy([2, 3, 20 + k], seed=k + 1)).save(paths[-1])
    assert main(["compare", *paths, "--labels", "a,b,c,d,e", "--strategies", "malloc"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 120
    assert "c0ffee" not in out.split("\n\n", 1)[1] and " e " in out
    assert main(["compare", *paths, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["cells"]) == 5 * 3 * 2 and "compare:" in captured.err
    assert main(["compare", *paths, "--labels", "a,b"]) == 2
    assert "--labels names 2 file(s) for 5" in capsys.readouterr().err
