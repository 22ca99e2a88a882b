"""`alloca-bench fleet` and `run --store`: the command line over the store and the fleet."""
import json
import os

import pytest

from alloca_bench.cli import main
from alloca_bench.results.store import list_store

MACHINE = {"hostname": "box", "cpu_model": "Xeon", "kernel_release": "6.1",
           "libc_name": "glibc", "libc_version": "2.36", "stack_headroom": 8 << 20,
           "stack_margin": 256 << 10, "rlimit_stack_soft": 8 << 20,
           "timestamp": "2026-12-07T01:00:00+00:00"}


@pytest.fixture
def three_files(tmp_path, make_result, noisy):
    paths = []
    for name, preload in (("default", None), ("tcmalloc", "/l/libtcmalloc_minimal.so.4"),
                          ("aged", None)):
        result = make_result(noisy((1.0, 1.5, 9.0)), machine=dict(MACHINE, ld_preload=preload))
        paths.append(str(tmp_path / f"{name}.json"))
        result.save(paths[-1])
    return paths


def test_fleet_prints_a_row_per_file(three_files, capsys):
    assert main(["fleet", *three_files]) == 0
    out = capsys.readouterr().out
    summary = out.split("\n\n")[1].splitlines()[1:]
    assert [line.split()[0] for line in summary] == ["default", "tcmalloc", "aged"]


def test_fleet_labels_name_the_rows(three_files, capsys):
    assert main(["fleet", *three_files, "--labels", "a,b,c"]) == 0
    summary = capsys.readouterr().out.split("\n\n")[1].splitlines()[1:]
    assert [line.split()[0] for line in summary] == ["a", "b", "c"]


@pytest.mark.parametrize("name, check", [
    ("fleet.html", lambda text: text.startswith("<!DOCTYPE html>") and text.count("<tr data-machine") == 3),
    ("fleet.md", lambda text: "| tcmalloc |" in text),
    ("fleet.csv", lambda text: text.startswith("machine,machine_id,size")),
    ("fleet.json", lambda text: len(json.loads(text)["machines"]) == 3),
])
def test_fleet_writes_the_format_its_extension_names(three_files, tmp_path, capsys, name, check):
    out = tmp_path / name
    assert main(["fleet", *three_files, "-o", str(out)]) == 0
    assert check(out.read_text(encoding="utf-8"))
    assert "3 machine(s)" in capsys.readouterr().out


def test_fleet_keeps_an_existing_output_unless_forced(three_files, tmp_path, capsys):
    out = tmp_path / "fleet.html"
    out.write_text("mine")
    assert main(["fleet", *three_files, "-o", str(out)]) == 2
    assert out.read_text() == "mine" and "--force" in capsys.readouterr().err
    assert main(["fleet", *three_files, "-o", str(out), "--force"]) == 0
    assert out.read_text() != "mine"


def test_fleet_refuses_an_unknown_extension_and_no_paths(three_files, tmp_path, capsys):
    assert main(["fleet", *three_files, "-o", str(tmp_path / "fleet.pdf")]) == 2
    assert ".html" in capsys.readouterr().err
    assert main(["fleet"]) == 2
    assert "--list" in capsys.readouterr().err


def test_fleet_output_that_is_empty_is_refused_not_ignored(three_files, capsys):
    assert main(["fleet", *three_files, "-o", ""]) == 2
    assert capsys.readouterr() == ("", "alloca-bench fleet: error: -o '': the extension must be "
                                       "one of .csv, .htm, .html, .json, .md, not 'none'\n")


@pytest.mark.parametrize("extra", [["a.json"], ["-o", "f.html"], ["--all"], ["--labels", "x"]])
def test_fleet_list_refuses_the_options_it_would_ignore(extra, tmp_path, capsys):
    """`fleet --list STORE PATH -o f.html` listed STORE and silently dropped the rest."""
    assert main(["fleet", "--list", str(tmp_path), *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("alloca-bench fleet: error: --list STORE lists one store and "
                                 "takes no PATH, -o, --labels or --all\n")


def test_fleet_list_shows_the_machines_of_a_store(tmp_path, make_result, noisy, capsys):
    for preload in (None, "/l/libtcmalloc_minimal.so.4"):
        make_result(noisy((1.0, 1.5, 9.0)),
                    machine=dict(MACHINE, ld_preload=preload)).save(store=tmp_path)
    assert main(["fleet", "--list", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for machine in list_store(tmp_path):
        assert machine.machine_id in out and machine.latest in out


def test_fleet_all_shows_every_result_of_a_store(tmp_path, make_result, noisy, capsys):
    for stamp in ("2026-12-07T01:00:00+00:00", "2026-12-08T01:00:00+00:00"):
        make_result(noisy((1.0, 1.5, 9.0)),
                    machine=dict(MACHINE, timestamp=stamp)).save(store=tmp_path)
    main(["fleet", str(tmp_path)])
    assert "1 machine(s)" in capsys.readouterr().out
    main(["fleet", "--all", str(tmp_path)])
    assert "2 machine(s)" in capsys.readouterr().out


def test_run_store_files_the_measured_result(tmp_path, capsys):
    store = tmp_path / "store"
    status = main(["run", "--sizes", "64", "--strategies", "alloca,malloc", "--repeats", "3",
                   "--processes", "1", "--no-progress", "--store", str(store)])
    assert status == 0
    (machine,) = list_store(store)
    assert f"saved to {machine.latest}" in capsys.readouterr().out
    assert os.path.basename(machine.latest).endswith("Z.json")


def test_run_store_that_is_a_file_fails_before_measuring(tmp_path, capsys):
    (tmp_path / "store").write_text("x")
    assert main(["run", "--sizes", "64", "--store", str(tmp_path / "store")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_run_out_and_store_save_both_and_say_so(tmp_path, capsys):
    out, store = tmp_path / "r.json", tmp_path / "store"
    assert main(["run", "--sizes", "64", "--strategies", "alloca,malloc", "--repeats", "3",
                 "--processes", "1", "--no-progress", "--out", str(out),
                 "--store", str(store)]) == 0
    (machine,) = list_store(store)
    printed = capsys.readouterr().out
    assert f"saved to {out}" in printed and f"saved to {machine.latest}" in printed
