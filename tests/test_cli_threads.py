"""`alloca-bench threads`: the table with each thread's ns/op and the efficiencies, the file
it saves (read back by load as a ThreadsResult), the reasons of cells that are not ok, and
the exit status (1 when a cell failed or was cut short, not for a pattern the stack cannot run)."""
import json
import os

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.cli import main
from alloca_bench.results import ThreadsResult

QUICK = ["--sizes", "64", "--iterations", "2000", "--repeats", "3", "--no-progress"]


def test_it_prints_each_threads_ns_and_the_efficiency_and_saves_first(capsys, tmp_path):
    out = tmp_path / "t.json"
    code = main(["threads", "--threads", "1,2", "--strategies", "alloca,malloc", *QUICK,
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "ns/op per thread" in text and "same CPU" in text
    assert f"saved to {out}" in text
    assert isinstance(ab.load(out), ThreadsResult)


def test_cross_lists_the_stack_as_unavailable_and_still_succeeds(capsys):
    code = main(["threads", "--pattern", "cross", "--strategies", "alloca,malloc", *QUICK,
                 "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["kind"] == "threads"
    assert "unavailable: alloca at 64 B, 2 threads: alloca cannot run pattern='cross'" in \
        captured.err


def test_a_path_that_cannot_be_written_fails_before_measuring(capsys, tmp_path):
    code = main(["threads", *QUICK, "--out", str(tmp_path / "no" / "t.json")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_out_refuses_a_suffix_of_another_format_before_measuring_as_run_does(
        capsys, tmp_path, monkeypatch):
    from alloca_bench.measuring import threads as module

    monkeypatch.setattr(module, "threads", lambda *a, **k: pytest.fail("measured"))
    assert main(["threads", *QUICK, "--out", str(tmp_path / "t.csv")]) == 2
    assert "a .csv file would not hold what this command writes there; name a .json file" in \
        capsys.readouterr().err


def test_the_help_of_out_names_only_readers_of_a_threads_file(capsys):
    """No alloca-bench command reads a threads file (they read sweeps): load() does."""
    with pytest.raises(SystemExit):
        main(["threads", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "alloca_bench.load() reads it back" in out and "`alloca-bench` and" not in out


@pytest.mark.parametrize("name", ["", "sub/"])
def test_an_out_path_that_names_no_file_fails_before_measuring(name, capsys, tmp_path,
                                                               monkeypatch):
    from alloca_bench.measuring import threads as module

    monkeypatch.setattr(module, "threads", lambda *a, **k: pytest.fail("measured"))
    monkeypatch.chdir(tmp_path)
    assert main(["threads", *QUICK, "--out", name]) == 2
    assert f"cannot save to {name!r}: it names no file" in capsys.readouterr().err


def test_a_failed_cell_makes_the_exit_status_1_and_is_listed(capsys, monkeypatch,
                                                              make_threads_result):
    from alloca_bench.measuring import threads as module

    status = np.array([[["ok", "ok"]], [["ok", "failed"]]])
    failed = make_threads_result(status=status, reasons={("malloc", 64, 2): "out of memory"})
    monkeypatch.setattr(module, "threads", lambda *args, **kwargs: failed)
    assert main(["threads", *QUICK]) == 1
    assert "failed: malloc at 64 B, 2 threads: out of memory" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["check"], ["plot", "-o", "x.png"], ["report", "--from"],
                                     ["export", "--format", "csv"], ["fleet", "-o", "f.md"]])
def test_the_commands_that_read_sweeps_refuse_a_threads_file_by_name(
        command, capsys, tmp_path, monkeypatch, make_threads_result):
    monkeypatch.chdir(tmp_path)
    make_threads_result().save("t.json")
    args = command[:1] + (["t.json"] + command[1:] if command[-1] != "--from"
                          else command[1:] + ["t.json"])
    assert main(args) == 2
    assert "t.json holds a" in capsys.readouterr().err


STRIDE_64 = """
#include <stddef.h>
void work(char *buf, size_t n) { for (size_t i = 0; i < n; i += 64) buf[i] = (char)i; }
"""


def test_kernel_runs_the_users_function_names_it_and_saves_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLOCA_BENCH_CACHE", str(tmp_path / "cache"))
    source, out = tmp_path / "k.c", tmp_path / "t.json"
    source.write_text(STRIDE_64)
    code = main(["threads", "--kernel", str(source), "--strategies", "alloca,malloc",
                 *QUICK, "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "touch=kernel" in text and "kernel k.c:work (sha256" in text
    assert ab.load(out).params["kernel"]["name"] == "k.c:work"
    library = ab.kernel(STRIDE_64).library  # the cached shared object, taken as it is
    assert main(["threads", "--kernel", f"{library}:work", "--strategies", "malloc",
                 *QUICK]) == 0
    assert "kernel libkernel.so:work" in capsys.readouterr().out


def test_a_kernel_that_is_not_a_file_fails_before_measuring(capsys, tmp_path):
    assert main(["threads", "--kernel", str(tmp_path / "none.c"), *QUICK]) == 2
    assert "is not a file" in capsys.readouterr().err


def test_the_bar_shows_while_watched_and_no_progress_hides_it(capsys, monkeypatch):
    monkeypatch.setenv("ALLOCA_BENCH_PROGRESS", "1")  # watched, as in a terminal
    quick = [q for q in QUICK if q != "--no-progress"]
    assert main(["threads", "--strategies", "malloc", *quick]) == 0
    assert "alloca-bench threads: 100%" in capsys.readouterr().err
    assert main(["threads", "--strategies", "malloc", *QUICK]) == 0
    assert "100%" not in capsys.readouterr().err


def test_affinity_and_min_time_reach_the_threads_run_and_min_time_excludes_iterations(capsys):
    last = sorted(os.sched_getaffinity(0))[-1]
    code = main(["threads", "--sizes", "64", "--repeats", "2", "--no-progress", "--format",
                 "json", "--affinity", str(last), "--min-time", "1ms"])
    params = json.loads(capsys.readouterr().out)["params"]
    assert code == 0 and (params["affinity"], params["target_batch_ns"]) == ([last], 1e6)
    assert main(["threads", *QUICK, "--min-time", "1ms"]) == 2
    assert "--min-time 1ms and --iterations 2000 both set the batch" in capsys.readouterr().err


def test_kernel_with_a_touch_mode_is_named_in_options_before_compiling(capsys, tmp_path,
                                                                       monkeypatch):
    from alloca_bench.measuring import usercode

    monkeypatch.setattr(usercode, "kernel", lambda *a, **k: pytest.fail("compiled"))
    (tmp_path / "k.c").write_text("void work(char *b, unsigned long n) { b[0] = 1; }\n")
    assert main(["threads", *QUICK, "--kernel", str(tmp_path / "k.c"), "--touch", "none"]) == 2
    assert "error: --kernel replaces the touch mode (every op calls the kernel on the buffer " \
           "its strategy got): leave --touch none out" in capsys.readouterr().err
