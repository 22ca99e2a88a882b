"""alloca_bench.cli: the run and machine commands, argument parsing and exit statuses."""
import argparse
import subprocess
import sys

import pytest

import alloca_bench as ab
from alloca_bench.cli import main
from alloca_bench.cli._args import parse_iterations, parse_size, parse_sizes


@pytest.mark.parametrize("text, size", [("64", 64), ("4K", 4096), ("4KiB", 4096),
                                        ("1M", 1 << 20), ("2 GiB", 2 << 30)])
def test_parse_size_uses_binary_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "4X", "-1", "1.5K"])
def test_parse_size_rejects_what_is_not_a_size(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)


def test_parse_sizes_expands_ranges_of_powers_of_two():
    assert parse_sizes("16..128") == [16, 32, 64, 128]
    assert parse_sizes("100..256,131073") == [100, 128, 256, 131073]


def test_parse_iterations():
    assert parse_iterations("auto") == ["auto"]
    assert parse_iterations("1,100") == [1, 100]
    with pytest.raises(argparse.ArgumentTypeError):
        parse_iterations("many")


def test_run_prints_a_table_and_saves(tmp_path, capsys):
    out = tmp_path / "r.json"
    status = main(["run", "--sizes", "64,4K", "--strategies", "alloca,malloc", "--repeats", "3",
                   "--iterations", "100", "--no-progress", "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    assert "x alloca" in text and "in timed C batches" in text
    assert sum(line.startswith("4 KiB") for line in text.splitlines()) == 3
    assert ab.load(out).strategies == ("baseline", "alloca", "malloc")


@pytest.mark.parametrize("argv, text", [
    (["run", "--strategies", "sbrk"], "unknown strategy 'sbrk'"),
    (["run", "--sizes", "0"], "size must be between 1"),
    (["run", "--repeats", "0"], "repeats must be between 1"),
    (["run", "--sizes", "64M", "--strategies", "alloca", "--heap", "host"],
     "does not fit on the stack"),
])
def test_run_bad_input_is_a_one_line_error_with_status_2(argv, text, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err


def test_machine_prints_the_metadata_and_the_build(capsys):
    assert main(["machine"]) == 0
    text = capsys.readouterr().out
    for key in ("cpu_model", "kernel_release", "libc_version", "rlimit_stack_soft",
                "build_compile_args", "stack_headroom"):
        assert key in text


def test_python_dash_m_runs_the_command():
    child = subprocess.run([sys.executable, "-m", "alloca_bench", "machine"],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 0 and "build_csrc_sha256" in child.stdout
