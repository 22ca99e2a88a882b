"""alloca_bench.results.export and `alloca-bench export`: pyperf reads the pyperf file for real,
the google benchmark JSON follows its documented schema, CSV and DataFrame hold every sample."""
import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from alloca_bench.cli import main
from alloca_bench.results.export import CSV_COLUMNS, to_csv


def test_pyperf_reads_the_pyperf_export(clean_result, tmp_path):
    pytest.importorskip("pyperf")
    r = clean_result()
    path = tmp_path / "r.json"
    path.write_text(json.dumps(r.to_pyperf()))
    for command in ("stats", "hist"):
        done = subprocess.run([sys.executable, "-m", "pyperf", command, str(path)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert "alloca/64/pages" in done.stdout
    done = subprocess.run([sys.executable, "-m", "pyperf", "compare_to", str(path), str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(path))
    bench = suite.get_benchmark("malloc/4096/pages")
    assert bench.get_nrun() == 8  # a run per process
    assert bench.median() == pytest.approx(r.median()[2, 1, 0] * 1e-9, rel=1e-9)


def test_gbench_export_follows_google_benchmarks_json_schema(clean_result):
    r = clean_result()
    data = r.to_gbench()
    assert {"date", "num_cpus", "mhz_per_cpu", "cpu_scaling_enabled",
            "library_build_type"} <= set(data["context"])
    runs = [b for b in data["benchmarks"] if b["run_type"] == "iteration"]
    medians = [b for b in data["benchmarks"] if b["run_type"] == "aggregate"]
    assert len(runs) == r.ns_per_op.size and len(medians) == 6
    for b in data["benchmarks"]:
        assert {"name", "run_name", "iterations", "real_time", "cpu_time", "time_unit",
                "repetitions", "family_index", "per_family_instance_index"} <= set(b)
        assert b["time_unit"] == "ns"
    # compare.py groups entries by name: a cell's batches are its repetitions, the median
    # aggregate has a name of its own
    names = [b["name"] for b in data["benchmarks"]]
    assert names.count("alloca/64/pages") == 24 and names.count("alloca/64/pages_median") == 1
    one = [b["real_time"] for b in runs if b["name"] == "alloca/64/pages"]
    assert np.allclose(one, r.ns_per_op[1, 0, 0])
    json.dumps(data, allow_nan=False)  # strict JSON


def test_csv_and_dataframe_hold_every_valid_sample(known_result):
    r = known_result(complete=False)  # one NaN sample
    lines = list(csv.DictReader(io.StringIO(to_csv(r))))
    assert len(lines) == r.ns_per_op.size - 1 and tuple(lines[0]) == CSV_COLUMNS
    pd = pytest.importorskip("pandas")
    df = r.to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == len(lines)
    assert df.groupby(["strategy", "size"]).ns_per_op.median()[("malloc", 64)] == 30.5


def test_export_and_check_commands(clean_result, tmp_path, capsys):
    clean_result().save(tmp_path / "clean.json")
    clean_result(machine={"virtualized": True}).save(tmp_path / "vm.json")
    assert main(["check", str(tmp_path / "clean.json")]) == 0
    assert "no warnings" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "vm.json")]) == 1
    assert "WARNING vm:" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "clean.json"), "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith(",".join(CSV_COLUMNS))
    out = tmp_path / "r.gbench.json"
    assert main(["export", str(tmp_path / "clean.json"), "--format", "gbench", "-o",
                 str(out)]) == 0
    assert json.loads(out.read_text())["benchmarks"]
    assert main(["export", str(tmp_path / "clean.json"), "--format", "pyperf", "-o",
                 str(out)]) == 2  # never overwrites unless told to
    assert "r.gbench.json exists: pass --force" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "clean.json"), "--format", "pyperf", "-o",
                 str(out), "--force"]) == 0
    assert "benchmarks" in json.loads(out.read_text())


def test_gbench_export_reports_a_cell_not_ok_with_error_occurred(known_result):
    errors = [e for e in known_result(complete=False).to_gbench()["benchmarks"]
              if e.get("error_occurred")]
    assert [(e["name"], e["error_message"]) for e in errors] == [
        ("malloc/1048576/pages", "interrupted: interrupted (Ctrl-C)")]
