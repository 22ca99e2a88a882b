"""alloca_bench.cli: the run and machine commands, argument parsing and exit statuses."""
import argparse
import csv
import importlib
import io
import json
import os
import pathlib
import platform
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.cli import COMMANDS, EXIT_BROKEN_PIPE, build_parser, main
from alloca_bench.cli._args import (parse_cpu_list, parse_iterations, parse_min_time,
                                    parse_size, parse_sizes)
from alloca_bench.machine import machine_info

# The package, which `run` imports its sweep from when it runs (ab.measure is the function).
MEASURE = importlib.import_module("alloca_bench.measuring")


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


@pytest.mark.parametrize("text, sizes", [("3..9", [3, 4, 8, 9]), ("5..5", [5]), ("4..4", [4]),
                                         ("100..1000", [100, 128, 256, 512, 1000])])
def test_a_size_range_holds_both_ends_and_the_powers_of_two_between(text, sizes):
    assert parse_sizes(text) == sizes


def test_a_reversed_size_range_is_an_error_naming_the_rule():
    with pytest.raises(argparse.ArgumentTypeError, match="1 <= LOW <= HIGH"):
        parse_sizes("9..3")


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


def test_run_out_is_checked_before_the_sweep_and_never_overwritten_without_force(
        tmp_path, capsys, monkeypatch):
    def no_sweep(**kwargs):
        raise AssertionError("the sweep ran before --out was checked")

    monkeypatch.setattr(MEASURE, "sweep", no_sweep)
    missing = tmp_path / "no" / "r.json"
    assert main(["run", "--no-progress", "--out", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "r.json").write_text("precious")
    assert main(["run", "--no-progress", "--out", str(tmp_path / "r.json")]) == 2
    assert "exists: pass --force to replace it" in capsys.readouterr().err
    assert (tmp_path / "r.json").read_text() == "precious"


def test_run_force_replaces_the_out_file(tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("old")
    assert main(["run", "--sizes", "64", "--strategies", "malloc", "--repeats", "2",
                 "--iterations", "10", "--no-progress", "--out", str(out), "--force"]) == 0
    assert ab.load(out).strategies == ("baseline", "malloc")


@pytest.mark.parametrize("argv, text", [
    (["run", "--strategies", "sbrk"], "unknown strategy 'sbrk'"),
    (["run", "--sizes", "0"], "size must be between 1"),
    (["run", "--repeats", "0"], "repeats must be between 1"),
    (["run", "--sizes", "64M", "--strategies", "alloca", "--heap", "host"],
     "does not fit on the stack"),
    (["run", "--sizes", "64M", "--strategies", "alloca", "--heap", "host", "--stack-size", "8M"],
     "a worker thread with --stack-size 8M: "),
])
def test_run_bad_input_is_a_one_line_error_with_status_2(argv, text, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err and "stack_size=" not in err


def test_the_stack_limit_error_gives_the_command_line_remedy(capsys):
    """The runner refuses the cell (the others would go on): exit 1, the remedy in CLI words."""
    assert main(["run", "--sizes", "64M", "--strategies", "alloca", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "Pass --stack-size 128M" in err and "stack_size=" not in err


SMALL_RUN = ["run", "--sizes", "64,4K", "--strategies", "alloca,malloc", "--repeats", "3",
             "--iterations", "100", "--no-progress"]


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_a_closed_pipe_keeps_the_saved_result_and_is_not_a_success(tmp_path, unbuffered):
    """`alloca-bench run ... --out x.json | head -3`: the reader leaves before the table is
    printed (here: stdout is a pipe nobody reads); the result is saved all the same."""
    out = tmp_path / "x.json"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        child = subprocess.run([sys.executable, "-m", "alloca_bench", *SMALL_RUN, "--out",
                                str(out)], stdout=write_end, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONUNBUFFERED=unbuffered), timeout=120)
    finally:
        os.close(write_end)
    assert child.returncode == EXIT_BROKEN_PIPE, child.stderr
    assert "Traceback" not in child.stderr and "Exception ignored" not in child.stderr
    assert ab.load(out).strategies == ("baseline", "alloca", "malloc")


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"alloca-bench {ab.__version__}"


def test_machine_json_is_the_metadata_as_one_object(capsys):
    assert main(["machine", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["page_size"] == machine_info()["page_size"]
    assert "build_csrc_sha256" in info and "stack_headroom" in info


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """One small sweep, saved: the --format tests print it again from the same numbers."""
    path = tmp_path_factory.mktemp("run") / "r.json"
    assert main([*SMALL_RUN, "--out", str(path)]) == 0
    return ab.load(path)


@pytest.mark.parametrize("fmt", ["csv", "json", "md"])
def test_run_format_prints_machine_readable_output_and_the_header_on_stderr(fmt, saved_run,
                                                                          monkeypatch, capsys):
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: saved_run)
    assert main([*SMALL_RUN, "--format", fmt]) == 0
    captured = capsys.readouterr()
    assert "alloca-bench run: touch=pages" in captured.err
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(captured.out)))
        assert len(rows) == 2 * 3 and rows[0]["size_bytes"] == "64"
        assert [r["strategy"] for r in rows[:3]] == ["baseline", "alloca", "malloc"]
        assert float(rows[1]["ns_per_op"]) == pytest.approx(saved_run.median()[1, 0, 0])
    elif fmt == "json":
        assert ab.Result.from_dict(json.loads(captured.out)).strategies == saved_run.strategies
    else:
        lines = captured.out.strip().splitlines()
        assert lines[0].startswith("| size | iterations | strategy | ns/op |")
        assert lines[1].startswith("| --- | --- | --- | ---: |")
        assert len([line for line in lines if line.startswith("| ")]) == 2 + 6
        assert "| 4 KiB |" in [line for line in lines if line.startswith("| ")][-1]


def _actions(parser, path=("alloca-bench",)):
    """(command path, action) of every argument of the parser and its sub-commands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, path + (name,))
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_argument_of_every_command_has_help():
    missing = [f"{' '.join(path)} {action.dest}" for path, action in _actions(build_parser())
               if not action.help]
    assert missing == []


def test_an_option_a_help_line_names_is_one_its_command_takes():
    """`threads --help` said "--heap host: ..." for --affinity, and threads has no --heap.
    Another command's option is named with it ('run --out'); --benchmark_filter is Google's."""
    parser = build_parser()
    options: dict[tuple, set] = {}
    for path, action in _actions(parser):
        options.setdefault(path, set()).update(action.option_strings)
    foreign = [f"{' '.join(path)} {action.option_strings}: {name}"
               for path, action in _actions(parser)
               for name in re.findall(r"(?<!run )(?<![\w-])--[a-z][\w-]*", action.help or "")
               if name not in options[path] and name != "--benchmark_filter"]
    assert foreign == []


def test_run_help_prints_err_percent_once(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "err%" in text and "%%" not in text and "--format" in text


@pytest.mark.parametrize("command", ["run", "machine", "allocators", "compare", "plot",
                                     "report", "kallsyms", "check", "export"])
def test_no_help_shows_a_doubled_percent(command, capsys):
    """argparse formats help= strings but not description=: '%%' must be in neither output."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "%%" not in capsys.readouterr().out


def test_the_manuals_kallsyms_grep_example_finds_system_calls(capsys):
    """The manual's example, on this machine's /proc/kallsyms (x86-64 names them
    __x64_sys_*)."""
    if platform.machine() != "x86_64" or not os.access("/proc/kallsyms", os.R_OK):
        pytest.skip("needs a readable /proc/kallsyms on x86-64")
    page = (pathlib.Path(__file__).parent.parent / "docs" / "kallsyms.md").read_text()
    line = re.search(r"^alloca-bench (kallsyms grep .*?)\s*(#.*)?$", page, re.M).group(1)
    assert main(shlex.split(line)) == 0
    names = [row.split()[2] for row in capsys.readouterr().out.splitlines()]
    assert "__x64_sys_read" in names and all("sys_" in name for name in names)


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


def test_touch_picks_one_touch_mode_of_a_pytest_benchmark_json(tmp_path, capsys, bench,
                                                               bench_document):
    """check, export, compare and plot read a pytest-benchmark JSON of several touch modes
    with --touch; without it the error names --touch, not the Python keyword."""
    doc = bench_document(bench("alloca", 64, touch="pages"), bench("malloc", 64, touch="pages"),
                         bench("alloca", 64, touch="full"), bench("malloc", 64, touch="full"))
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(doc))
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    assert main(["check", a]) == 2
    assert "pass --touch (one of ['full', 'pages'])" in capsys.readouterr().err
    main(["check", a, "--touch", "full"])
    assert "a.json:" in capsys.readouterr().out
    assert main(["export", a, "--touch", "full", "--format", "csv"]) == 0
    assert ",full," in capsys.readouterr().out
    assert main(["compare", a, b, "--touch", "pages"]) == 0
    out = capsys.readouterr().out
    assert "compare: b against a; touch=pages" in out and "b/a" in out


def test_grid_picks_one_grid_of_a_sparse_pytest_benchmark_json(tmp_path, capsys,
                                                               sparse_bench_document):
    """Benchmarks too sparse for one grid: the error lists the grids and names --grid."""
    path = tmp_path / "sparse.json"
    path.write_text(json.dumps(sparse_bench_document(300)))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "they form 300 grids:\n  grid 0: 1 benchmark(s); strategies malloc@x0" in err
    assert "pass --grid K for one of them" in err
    assert main(["export", str(path), "--grid", "5", "--format", "csv"]) == 0
    assert "\nmalloc@x5,69,pages,6,100,0,0,10.0," in capsys.readouterr().out
    assert main(["check", str(path), "--grid", "300"]) == 2
    assert "no grid 300 in" in capsys.readouterr().err


def test_the_cold_table_follows_the_result(capsys):
    """The runner runs every cell in a fresh process: with --warmup 0 and explicit iterations
    the cold table is printed; with a warm-up or --heap host it is not."""
    cold = "The first batch of each fresh process (cold)"
    argv = ["run", "--sizes", "64", "--strategies", "malloc", "--iterations", "1,10",
            "--processes", "1", "--repeats", "2", "--no-progress"]
    assert main([*argv, "--warmup", "0"]) == 0
    assert cold in capsys.readouterr().out
    assert main([*argv, "--warmup", "1"]) == 0
    assert cold not in capsys.readouterr().out
    assert main([*argv, "--warmup", "0", "--heap", "host"]) == 0
    assert cold not in capsys.readouterr().out


def test_run_takes_no_thread_isolate_or_binding_options_and_says_the_binding(capsys):
    for option in ("--threads", "--pattern", "--isolate", "--backend", "--binding", "--seed"):
        with pytest.raises(SystemExit):
            main(["run", option, "1"])
        assert "unrecognized arguments" in capsys.readouterr().err
    argv = ["run", "--sizes", "64", "--strategies", "alloca", "--iterations", "10",
            "--repeats", "2", "--no-progress", "--heap", "host-ctypes",
            "--format", "json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["params"]["binding"] == "ctypes"


REPORT = importlib.import_module("alloca_bench.present.report")
EVIDENCE = importlib.import_module("alloca_bench.measuring.report_measurements")


class _Evidence(str):
    """What a stubbed gather() returns: its text stands for it in the stubbed render()."""

    interrupted = ""


def test_report_refuses_an_existing_output_before_measuring_unless_forced(tmp_path, capsys,
                                                                          monkeypatch,
                                                                          known_result):
    path = tmp_path / "report.md"
    path.write_text("precious")
    monkeypatch.setattr(MEASURE, "sweep", lambda **k: pytest.fail("measured"))
    assert main(["report", "-o", str(path), "--no-progress"]) == 2
    assert "report.md exists: pass --force to replace it" in capsys.readouterr().err
    assert path.read_text() == "precious"
    monkeypatch.setattr(MEASURE, "sweep", lambda **k: known_result())
    monkeypatch.setattr(EVIDENCE, "gather", lambda *a, **k: _Evidence("evidence"))
    monkeypatch.setattr(REPORT, "render", lambda evidence, fmt: f"# {evidence} as {fmt}\n")
    assert main(["report", "-o", str(path), "--no-progress", "--force"]) == 0
    assert path.read_text() == "# evidence as md\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_report_that_cannot_be_written_after_measuring_goes_to_stdout(tmp_path, capsys,
                                                                        monkeypatch,
                                                                        known_result):
    """A file that appeared while measuring is kept; the measured report is not lost."""
    path = tmp_path / "report.md"

    def gather(*args, **kwargs):
        path.write_text("someone else's")
        return _Evidence("evidence")

    monkeypatch.setattr(MEASURE, "sweep", lambda **k: known_result())
    monkeypatch.setattr(EVIDENCE, "gather", gather)
    monkeypatch.setattr(REPORT, "render", lambda evidence, fmt: f"# {evidence}\n")
    assert main(["report", "-o", str(path), "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert out == "# evidence\n" and "could not write" in err and "went to stdout" in err
    assert path.read_text() == "someone else's"


def test_export_checks_its_output_like_run_out(tmp_path, capsys, known_result):
    """A missing directory or a directory as -o is named in one line."""
    known_result().save(tmp_path / "r.json")
    argv = ["export", str(tmp_path / "r.json"), "--format", "csv", "-o"]
    assert main([*argv, str(tmp_path / "no" / "r.csv")]) == 2
    assert "the directory" in capsys.readouterr().err
    assert main([*argv, str(tmp_path), "--force"]) == 2
    assert "it is a directory; name a file" in capsys.readouterr().err


def test_plot_refuses_an_existing_image_before_drawing_unless_forced(tmp_path, capsys,
                                                                     known_result):
    pytest.importorskip("matplotlib")
    known_result().save(tmp_path / "r.json")
    fig = tmp_path / "fig.png"
    fig.write_bytes(b"precious")
    assert main(["plot", str(tmp_path / "r.json"), "-o", str(fig)]) == 2
    assert "fig.png exists: pass --force to replace it" in capsys.readouterr().err
    assert fig.read_bytes() == b"precious"
    assert main(["plot", str(tmp_path / "r.json"), "-o", str(fig), "--force"]) == 0
    assert fig.read_bytes()[:4] == b"\x89PNG"


def test_plot_to_an_empty_path_is_refused_not_drawn_to_another_name(tmp_path, capsys,
                                                                     monkeypatch, known_result):
    """`-o ''` named no file, yet a figure went to '.png.png' while the command said '.png'."""
    pytest.importorskip("matplotlib")
    known_result().save(tmp_path / "r.json")
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "r.json", "-o", ""]) == 2
    assert capsys.readouterr().err == ("alloca-bench plot: error: -o '' names no file: give "
                                       "FIG.png, FIG.svg ... or a directory\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_check_ignore_drops_named_warnings_so_it_can_gate_ci(tmp_path, capsys, clean_result):
    """vm holds on every cloud runner: --ignore vm makes check exit 0 on an otherwise clean
    result; an unknown name is a one-line usage error that lists the names."""
    path = str(clean_result(machine={"virtualized": True}).save(tmp_path / "r.json"))
    assert main(["check", path]) == 1
    assert "WARNING vm:" in capsys.readouterr().out
    assert main(["check", "--ignore", "vm,few-processes", path]) == 0
    assert "no warnings (vm, few processes ignored)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["check", "--ignore", "vms", path])
    err = capsys.readouterr().err
    assert "no warning named 'vms'" in err and "few-processes" in err and "vm" in err
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    listed = "".join(capsys.readouterr().out.split())  # argparse wraps at hyphens
    assert "few-processes,loaded-machine,cpu-governor,cpu-turbo,vm" in listed


def _interrupted(result):
    """`result` as Ctrl-C leaves it after 1 of its rounds in process 0: the other rounds NaN,
    every cell "interrupted", params saying 5 processes were planned."""
    import dataclasses

    ns = result.ns_per_op.copy()
    ns[..., 1:] = np.nan
    return dataclasses.replace(
        result, ns_per_op=ns, process=np.where(np.isnan(ns), -1, 0),
        status=np.full(result.status.shape, "interrupted"),
        reasons={(s, int(z), it): "Ctrl-C" for s in result.strategies for z in result.sizes
                 for it in result.iterations},
        params=dict(result.params, processes=5))


def test_an_interrupted_run_counts_what_was_measured_and_says_so_under_the_table(
        saved_run, monkeypatch, capsys):
    """The header counts the rounds and processes measured, not planned; stdout says the run
    was interrupted where the table is; stderr names the command and the status."""
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: _interrupted(saved_run))
    assert main(SMALL_RUN) == 1
    captured = capsys.readouterr()
    assert "1 of 3 rounds per cell over 1 of 5 processes" in captured.out.splitlines()[0]
    assert "\nINTERRUPTED (Ctrl-C) after 1 of 3 rounds per cell" in captured.out
    assert "alloca-bench run: interrupted: 6 cell(s) short of rounds" in captured.err


def test_a_run_of_one_round_says_round_not_rounds(saved_run, monkeypatch, capsys):
    import dataclasses

    one = dataclasses.replace(saved_run, ns_per_op=saved_run.ns_per_op[..., :1],
                              faults_per_op=saved_run.faults_per_op[..., :1],
                              major_faults_per_op=saved_run.major_faults_per_op[..., :1],
                              process=saved_run.process[..., :1],
                              params=dict(saved_run.params, repeats=1, processes=1))
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: one)
    assert main(SMALL_RUN) == 0
    assert "1 round per cell over 1 process;" in capsys.readouterr().out


def test_quiet_prints_the_table_and_one_warning_line(saved_run, monkeypatch, capsys):
    from alloca_bench.measuring._progress import watched

    shown = []
    monkeypatch.setenv("ALLOCA_BENCH_PROGRESS", "1")
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: shown.append(watched()) or saved_run)
    assert main([*SMALL_RUN[:-1], "--quiet"]) == 0  # without --no-progress
    out = capsys.readouterr().out
    assert out.startswith("size ") and shown == [False]
    warned = [line for line in out.splitlines() if line.startswith("WARNING")]
    assert len(warned) <= 1 and "alloca-bench run:" not in out
    if saved_run.warnings:
        assert warned[0].endswith("(alloca-bench check FILE says why and what to do)")


@pytest.mark.parametrize("flags, repeats, processes", [
    ([], 21, 5), (["--fast"], 9, 3), (["--rigorous"], 41, 10),
    (["--fast", "--repeats", "4"], 4, 3), (["--rigorous", "--processes", "2"], 41, 2)])
def test_presets_set_rounds_and_processes_and_explicit_options_win(
        flags, repeats, processes, saved_run, monkeypatch, capsys):
    asked = {}
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: asked.update(kwargs) or saved_run)
    argv = ["run", "--sizes", "64", "--strategies", "alloca", "--no-progress", *flags]
    assert main(argv) == 0
    assert (asked["repeats"], asked["processes"]) == (repeats, processes)


@pytest.mark.parametrize("flags", [[], ["--fast"], ["--processes", "1"]])
def test_heap_host_runs_one_process_when_processes_is_left_to_the_default(
        flags, saved_run, monkeypatch):
    asked = {}
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: asked.update(kwargs) or saved_run)
    argv = ["run", "--sizes", "64", "--heap", "host", "--no-progress", *flags]
    assert main(argv) == 0 and asked["processes"] == 1


def test_heap_host_refuses_more_processes_in_the_options_words(capsys):
    """--heap host --processes 3 ran one process, its header saying so (was silent); sweep()
    refuses it before measuring, and the command says so in its options."""
    assert main(["run", "--heap", "host", "--processes", "3", "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        "alloca-bench run: error: --processes 3 spreads the rounds over runner processes, and "
        "--heap host runs in this process: leave --processes out, or use --heap fresh or "
        "aged\n")


def test_fast_and_rigorous_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--fast", "--rigorous"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_filter_picks_the_cells_by_name_as_benchmark_filter(saved_run, monkeypatch, capsys):
    asked = {}
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: asked.update(kwargs) or saved_run)
    argv = ["run", "--sizes", "64,4K,1M", "--strategies", "alloca,malloc,mmap", "--no-progress"]
    assert main([*argv, "--filter", "^malloc/4096$"]) == 0
    assert (asked["strategies"], asked["sizes"]) == (["malloc"], [4096])
    assert main([*argv, "--filter", "alloca|/1048576"]) == 0
    assert (asked["strategies"], asked["sizes"]) == (["alloca", "malloc", "mmap"],
                                                     [64, 4096, 1 << 20])
    assert "--filter 'alloca|/1048576' matches 5 cell(s)" in capsys.readouterr().err
    assert main([*argv, "--filter", "calloc"]) == 2
    assert "matches none of the 9 cells (names are STRATEGY/SIZE in bytes, e.g. alloca/64)" \
        in capsys.readouterr().err
    assert main([*argv, "--filter", "("]) == 2
    assert "is not a regular expression" in capsys.readouterr().err


@pytest.mark.parametrize("pattern", ["a{99999999999}", "(" * 100_000 + ")" * 100_000],
                         ids=["repeat-too-large", "nested-too-deep"])
def test_a_filter_that_re_cannot_compile_is_an_error_line_not_a_traceback(pattern, capsys,
                                                                           monkeypatch):
    """re.compile raises OverflowError (a repeat count too large) or RecursionError (groups
    nested too deep) besides re.error."""
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: pytest.fail("measured"))
    assert main(["run", "--no-progress", "--filter", pattern]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alloca-bench run: error: --filter ") and len(err.splitlines()) == 1
    assert "is not a regular expression" in err


# --- errors in one line, before any work ----------------------------------------------------------

@pytest.mark.parametrize("argv, text", [
    (["run", "--sizes", "4X"], "argument --sizes: not a size: '4X'"),
    (["run", "--touch", "page"], "argument --touch: invalid choice: 'page'"),
    (["run", "--iterations", "abc"], "argument --iterations: iterations must be 'auto' or "),
    (["run", "--repeats", "x"], "argument --repeats: invalid int value: 'x'"),
    (["run", "--strategy", "alloca"],
     "unrecognized arguments: --strategy alloca (did you mean --strategies?)"),
    (["kallsyms", "lookup"], "the following arguments are required: name"),
    (["run", "--affinity", "0-x"], "argument --affinity: not a CPU list: '0-x' (use e.g. 0 "),
    (["run", "--min-time", "soon"], "argument --min-time: not a duration: 'soon' (seconds, "),
    (["run", "--min-time", "0.00001"], "argument --min-time: a batch lasts from 50us to 10s, "
                                       "not 1e-05s"),
    (["threads", "--min-time", "11"], "argument --min-time: a batch lasts from 50us to 10s, "
                                      "not 11.0s"),
    (["run", "--min-time", "-1"], "argument --min-time: a batch lasts from 50us to 10s, "
                                  "not -1.0s"),
    (["run", "--min-time", "nan"], "argument --min-time: not a duration: 'nan' (seconds, "),
    (["run", "--min-time", "1e400"], "argument --min-time: not a duration: '1e400' (seconds, "),
])
def test_a_bad_command_line_is_one_error_line_with_the_commands_prefix(argv, text, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    prefix = "alloca-bench " + " ".join(argv[:2] if argv[0] == "kallsyms" else argv[:1])
    assert err.splitlines() == [err.rstrip("\n")] and err.startswith(f"{prefix}: error: {text}")


def test_stack_size_and_mmap_threshold_are_refused_in_the_options_words(capsys):
    """--stack-size 4K said "stack_size must be between 65536 and ..., got 4096"."""
    from alloca_bench.options import MAX_SIZE
    from alloca_bench.present._format import format_size_arg

    for argv, text in [
            (["run", "--stack-size", "4K"], "argument --stack-size: a worker thread's stack "
                                            f"takes 64K to {format_size_arg(MAX_SIZE)}, not 4K"),
            (["threads", "--stack-size", "4K"], "argument --stack-size: "),
            (["run", "--mmap-threshold", "64M"], "argument --mmap-threshold: glibc takes at "
                                                 "most 32M (it ignores larger ones), not 64M")]:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        assert capsys.readouterr().err.startswith(f"alloca-bench {argv[0]}: error: {text}")


@pytest.mark.parametrize("argv, text", [
    (["run", "--strategies", "malloc@glibc", "--heap", "host"],
     "strategy 'malloc@glibc' needs a process of its own: use --heap fresh or aged (the runner); "
     "--heap host measures this Python process's malloc as it is"),
    (["run", "--glibc-tunables", "glibc.malloc.tcache_count=0", "--heap", "host"],
     "--glibc-tunables needs a process of its own: use --heap fresh or aged"),
    (["run", "--glibc-tunables", "nonsense"],
     "--glibc-tunables item 'nonsense' is not glibc.NAMESPACE.NAME=VALUE"),
    (["run", "--sizes", "loguniform:16:4K", "--heap", "host"],
     "size distributions run in the runner: use --heap fresh or aged"),
    (["run", "--repeats", "0"], "--repeats must be between 1 and 1000000, got 0"),
    (["run", "--warmup", "-1"], "--warmup must be between 0 and 1000000, got -1"),
    (["run", "--processes", "0"], "--processes must be between 1 and 64, got 0"),
    (["run", "--iterations", "0"], "--iterations must be between 1 and 1000000000, got 0"),
    (["run", "--sizes", "0"], "--sizes: each size must be between 1 and "),
    (["run", "--strategies", "malloc,malloc"], "--strategies must be distinct, got "),
    (["threads", "--threads", "0"], "--threads must be ints from 1 to 64, got [0]"),
    (["threads", "--repeats", "0"], "--repeats must be between 1 and 1000000, got 0"),
])
def test_the_librarys_refusals_name_the_options_typed(argv, text, capsys):
    """heap='host', glibc_tunables=, repeats ... are the library's words: the command line
    says --heap host, --glibc-tunables, --repeats."""
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"alloca-bench {argv[0]}: error: {text}"), err
    assert "heap='" not in err and "_tunables" not in err


@pytest.mark.parametrize("argv, text", [
    (["-q", "run"], "unrecognized arguments: -q (give -q after the command: alloca-bench run "
                    "-q ...)"),
    (["--no-progress", "--sizes=64", "run"],
     "unrecognized arguments: --no-progress --sizes=64 (give --no-progress and --sizes=64 after "
     "the command: alloca-bench run --no-progress --sizes=64 ...)")])
def test_a_commands_option_before_the_command_is_told_where_it_goes(argv, text, capsys):
    """Not "-q (did you mean -q?)": the option exists, in the wrong place."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"alloca-bench run: error: {text}\n"


def test_run_on_an_ascii_terminal_prints_plus_minus_for_the_interval_sign():
    child = subprocess.run([sys.executable, "-m", "alloca_bench", "run", "--sizes", "64",
                            "--strategies", "alloca", "--repeats", "3", "--iterations", "100",
                            "--processes", "1", "--no-progress"], capture_output=True,
                           env=dict(os.environ, PYTHONIOENCODING="ascii"), timeout=120)
    assert child.returncode == 0, child.stderr
    assert b"+-" in child.stdout and b"\xc2\xb1" not in child.stdout


def test_an_output_path_that_takes_no_file_fails_before_the_work_naming_it(
        tmp_path, capsys, monkeypatch, known_result):
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: pytest.fail("measured"))
    assert main(["run", "--no-progress", "--out", "/proc/r.json"]) == 2
    assert capsys.readouterr().err == ("alloca-bench run: error: cannot save to /proc/r.json: "
                                       "no file can be created in /proc (No such file or "
                                       "directory)\n")
    pytest.importorskip("matplotlib")
    known_result().save(tmp_path / "r.json")
    assert main(["plot", str(tmp_path / "r.json"), "-o", "/proc/x.png"]) == 2
    assert "cannot save to /proc/x.png: no file can be created" in capsys.readouterr().err


def test_an_output_suffix_that_names_another_format_is_refused_before_the_work(
        tmp_path, capsys, monkeypatch, known_result):
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: pytest.fail("measured"))
    monkeypatch.setattr(EVIDENCE, "gather", lambda *a, **k: pytest.fail("measured"))
    known_result().save(tmp_path / "r.json")
    for argv, suffix, wanted in [
            (["run", "--no-progress", "--out", str(tmp_path / "x.csv")], ".csv", ".json"),
            (["report", "--no-progress", "-o", str(tmp_path / "r.pdf")], ".pdf", ".md"),
            (["export", str(tmp_path / "r.json"), "--format", "csv", "-o",
              str(tmp_path / "x.json")], ".json", ".csv")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"a {suffix} file would not hold what this command writes" in err, argv
        assert f"name a {wanted}" in err, argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_check_of_a_directory_names_the_path(capsys):
    assert main(["check", "/tmp"]) == 2
    assert capsys.readouterr().err == ("alloca-bench check: error: /tmp is a directory; a "
                                       "result file is a regular file\n")


def test_plot_of_a_file_with_a_damaged_placement_is_a_one_line_error(tmp_path, capsys,
                                                                     known_result):
    data = known_result().to_dict()
    data["params"]["placement"] = {"malloc": 5}
    (tmp_path / "r.json").write_text(json.dumps(data))
    assert main(["plot", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.png")]) == 2
    err = capsys.readouterr().err
    assert "params.placement must map each strategy to an object" in err
    assert len(err.splitlines()) == 1


def test_the_stack_advice_for_a_size_no_stack_holds_names_no_stack_size_option():
    from alloca_bench.cli._args import stack_advice
    from alloca_bench.exceptions import StackLimitError
    from alloca_bench.options import MAX_SIZE

    text = stack_advice(str(StackLimitError.for_size("alloca", MAX_SIZE, 8 << 20, 256 << 10,
                                                     8 << 20)))
    assert "a worker thread with --stack-size 8M" in text
    assert "No --stack-size accepted" in text and "stack_size=" not in text


def test_check_of_a_result_without_any_sample_says_so_and_fails(tmp_path, capsys, known_result):
    import dataclasses

    r = known_result()
    empty = dataclasses.replace(r, ns_per_op=np.full_like(r.ns_per_op, np.nan),
                                status=np.full(r.status.shape, "interrupted"))
    path = str(empty.save(tmp_path / "empty.json"))
    assert main(["check", path]) == 1
    assert "empty.json: nothing was measured (6 interrupted" in capsys.readouterr().out


@pytest.mark.parametrize("repeats", ["1", "2"])
def test_report_refuses_fewer_rounds_than_a_verdict_needs_before_measuring(repeats, capsys,
                                                                          monkeypatch):
    """With 2 rounds every speed-up lacked its interval and the report said "not tested (no
    size was measured)" of sizes it had measured."""
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: pytest.fail("measured"))
    monkeypatch.setattr(EVIDENCE, "gather", lambda *a, **k: pytest.fail("measured"))
    assert main(["report", "--no-progress", "--repeats", repeats]) == 2
    assert capsys.readouterr().err == (
        f"alloca-bench report: error: --repeats {repeats}: the report's verdicts need an "
        "interval per size, which needs at least 3 rounds per cell\n")


def test_report_from_a_file_of_fewer_rounds_than_a_verdict_needs_is_refused(
        tmp_path, capsys, monkeypatch, make_result, noisy):
    monkeypatch.setattr(EVIDENCE, "gather", lambda *a, **k: pytest.fail("measured"))
    make_result(noisy([2, 3, 20], shape=(3, 2, 1, 2))).save(tmp_path / "two.json")
    assert main(["report", "--no-progress", "--from", str(tmp_path / "two.json")]) == 2
    assert capsys.readouterr().err == (
        f"alloca-bench report: error: {tmp_path / 'two.json'} holds 2 round(s) per cell: the "
        "report's verdicts need an interval per size, which needs at least 3 rounds per cell\n")


@pytest.mark.parametrize("argv, text", [
    (["--touch", "full"], "--kernel replaces the touch mode (every op calls the kernel on the "
                          "buffer its strategy got): leave --touch full out"),
    (["--heap", "host"], "--kernel runs in the runner's processes only, where a kernel that "
                         "crashes costs its cell and not this process: use --heap fresh or "
                         "aged, not --heap host")])
def test_kernel_conflicts_are_named_in_options_before_compiling(argv, text, tmp_path, capsys,
                                                                monkeypatch):
    """They said "kernel= replaces the touch mode ...: leave touch= out" and "use
    heap='fresh'", after compiling the kernel."""
    usercode = importlib.import_module("alloca_bench.measuring.usercode")
    monkeypatch.setattr(usercode, "kernel", lambda *a, **k: pytest.fail("compiled"))
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: pytest.fail("measured"))
    (tmp_path / "k.c").write_text("void work(char *b, unsigned long n) { b[0] = 1; }\n")
    assert main(["run", "--no-progress", "--kernel", str(tmp_path / "k.c"), *argv]) == 2
    assert capsys.readouterr().err == f"alloca-bench run: error: {text}\n"


def test_report_measures_for_real_and_writes_its_file(tmp_path, capsys):
    """The stubbed tests above accept any keyword; this one calls the real sweep() and gather()
    (it caught report passing a progress= keyword that sweep() no longer takes)."""
    path = tmp_path / "report.md"
    assert main(["report", "--sizes", "64", "--repeats", "3", "--no-progress",
                 "-o", str(path)]) == 0
    text = path.read_text()
    assert text.startswith("#") and "64 B" in text


@pytest.mark.parametrize("text, cpus", [("0", [0]), ("0,2", [0, 2]), ("0-3,7", [0, 1, 2, 3, 7]),
                                        (" 1 - 2 ", [1, 2])])
def test_affinity_takes_pyperfs_cpu_lists(text, cpus):
    assert parse_cpu_list(text) == cpus


@pytest.mark.parametrize("text", ["", "a", "3-1", "0,", "-1", "1.5"])
def test_affinity_refuses_what_is_not_a_cpu_list(text):
    with pytest.raises(argparse.ArgumentTypeError, match="not a CPU list"):
        parse_cpu_list(text)


@pytest.mark.parametrize("text, duration", [("0.005", "0.005s"), ("1", "1.0s"), ("5ms", "5ms"),
                                            ("500us", "500us"), ("500µs", "500µs")])
def test_min_time_takes_seconds_as_pyperf_or_a_duration_with_its_unit(text, duration):
    assert parse_min_time(text) == duration


@pytest.mark.parametrize("argv, text", [
    (["--iterations", "100", "--min-time", "5ms"],
     "--min-time 5ms and --iterations 100 both set the batch"),
    (["--affinity", "4000"], "--affinity: CPU 4000 is not one this process may run on ("),
])
def test_min_time_and_affinity_are_checked_before_measuring(argv, text, capsys, monkeypatch):
    monkeypatch.setattr(MEASURE, "sweep", lambda **kw: pytest.fail("measured"))
    assert main(["run", "--sizes", "64", *argv]) == 2
    assert capsys.readouterr().err.startswith(f"alloca-bench run: error: {text}")


def test_run_measures_on_the_affinity_asked_with_batches_of_min_time(capsys):
    last = sorted(os.sched_getaffinity(0))[-1]
    assert main(["run", "--sizes", "64", "--strategies", "malloc", "--repeats", "2",
                 "--processes", "1", "--no-progress", "--format", "json",
                 "--affinity", str(last), "--min-time", "0.001"]) == 0
    params = json.loads(capsys.readouterr().out)["params"]
    assert (params["affinity"], params["runner_cpus"], params["target_batch_ns"]) == (
        [last], [last], 1e6)


# --- a command imports what it needs: kallsyms and --help start as a small script ------------

KALLSYMS = pathlib.Path(__file__).parent / "fixtures" / "kallsyms" / "basic.kallsyms"


@pytest.mark.parametrize("argv", [
    ["kallsyms", "grep", "^dup_", "--file", str(KALLSYMS)],
    ["kallsyms", "lookup", "dup_static", "--file", str(KALLSYMS)],
    ["kallsyms", "stats", "--file", str(KALLSYMS)],
    ["--help"],
    ["--version"],
    ["kallsyms", "grep", "--help"],
])
def test_kallsyms_help_and_version_import_no_numpy_cffi_or_measuring(argv, python_child):
    child = python_child(f"""
        import sys
        from alloca_bench.cli import main
        try:
            status = main({argv!r})
        except SystemExit as exit_:
            status = exit_.code
        heavy = ("numpy", "cffi", "_cffi_backend", "alloca_bench._native",
                 "alloca_bench.measuring")
        print(status, [name for name in heavy if name in sys.modules], file=sys.stderr)
    """)
    assert child.returncode == 0, child.stderr
    assert child.stderr.splitlines()[-1] == "0 []"


def test_the_parser_of_one_command_lists_every_command_as_the_full_parser_does():
    """`alloca-bench --help` reads the same whichever command the parser was built for."""
    full = build_parser().format_help()
    assert "kallsyms" in full and "threads" in full and "fleet" in full
    assert all(build_parser([name]).format_help() == full for name in COMMANDS)
    assert build_parser([]).format_help() == full


def test_the_commands_listed_are_the_modules_of_the_cli_package():
    """Each command is the module alloca_bench.cli.NAME, and every such module is a command."""
    package = pathlib.Path(__file__).parent.parent / "alloca_bench" / "cli"
    modules = {path.stem for path in package.glob("*.py") if not path.stem.startswith("_")}
    assert set(COMMANDS) == modules


def test_a_command_runs_with_only_its_own_module_imported(python_child):
    child = python_child(f"""
        import sys
        from alloca_bench.cli import COMMANDS, main
        main(["kallsyms", "stats", "--file", {str(KALLSYMS)!r}])
        print([name for name in COMMANDS if f"alloca_bench.cli.{{name}}" in sys.modules],
              file=sys.stderr)
    """)
    assert child.returncode == 0, child.stderr
    assert child.stderr.splitlines()[-1] == "['kallsyms']"


@pytest.mark.parametrize("name", ["", "sub/"])
def test_an_output_path_that_names_no_file_fails_before_the_work(
        name, tmp_path, capsys, monkeypatch, known_result):
    """`--out ''` (an unset shell variable) is not "no --out", and 'sub/' names no file: each
    fails before measuring, as a missing directory does, instead of losing the result after."""
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: pytest.fail("measured"))
    monkeypatch.setattr(EVIDENCE, "gather", lambda *a, **k: pytest.fail("measured"))
    known_result().save(tmp_path / "r.json")
    monkeypatch.chdir(tmp_path)
    for argv in (["run", "--no-progress", "--out", name],
                 ["report", "--no-progress", "-o", name],
                 ["export", "r.json", "--format", "csv", "-o", name]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"alloca-bench {argv[0]}: error: "), argv
        assert len(err.splitlines()) == 1 and repr(name) in err and ".tmp" not in err, argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


@pytest.mark.parametrize("store, text", [
    ("", "cannot file results in store '': it names no directory"),
    ("/proc/store", "cannot file results in store '/proc/store': it cannot be created (No "
                    "such file or directory)")])
def test_a_store_that_cannot_be_made_fails_before_the_work_naming_it(store, text, capsys,
                                                                     monkeypatch):
    monkeypatch.setattr(MEASURE, "sweep", lambda **kwargs: pytest.fail("measured"))
    assert main(["run", "--no-progress", "--store", store]) == 2
    assert capsys.readouterr().err == f"alloca-bench run: error: {text}\n"


@pytest.mark.parametrize("where", ["before", "after"])
def test_kallsyms_takes_file_before_or_after_its_action(where, tmp_path, capsys):
    """`kallsyms --file X stats` reads X, as `kallsyms stats --file X` does (was "invalid
    choice: 'X'")."""
    table = tmp_path / "kallsyms"
    table.write_text("ffffffff81000000 T _text\nffffffff81000010 t helper\n")
    options = ["--file", str(table)]
    argv = ["kallsyms", *options, "stats"] if where == "before" else ["kallsyms", "stats",
                                                                      *options]
    assert main(argv) == 0
    assert f"file: {table}\nsymbols: 2\n" in capsys.readouterr().out
