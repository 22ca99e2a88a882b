"""User kernels (measuring.usercode): compiled once into the cache, errors that quote the compiler
or name what is there, and in the runner every strategy calling the kernel on its buffer, a
crash or hang becoming that cell's failure with the signal, the stack guard counting the
kernel's own stack."""
import os
import re
import stat

import numpy as np
import pytest

from alloca_bench import native
from alloca_bench.exceptions import KernelError
from alloca_bench.measuring import _framing as framing
from alloca_bench.measuring import runner as client
from alloca_bench.measuring import usercode
from alloca_bench.measuring.usercode import Kernel, exported_functions, kernel

KERNELS = """
#include <stddef.h>
#include <stdlib.h>
void work(char *buf, size_t n) { for (size_t i = 0; i < n; i += 64) buf[i] = (char)i; }
void null_write(char *buf, size_t n) { (void)buf; (void)n; *(volatile char *)0 = 1; }
void give_up(char *buf, size_t n) { (void)buf; (void)n; abort(); }
void spin(char *buf, size_t n) { (void)buf; (void)n; for (;;) __asm__ volatile(""); }
void deep(char *buf, size_t n)
{
    volatile char big[50000];
    for (size_t i = 0; i < sizeof big; i += 64)
        big[i] = 1;
    buf[0] = big[n % 64];
}
"""


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test compiles into a cache of its own."""
    monkeypatch.setenv("ALLOCA_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def counting_cc(tmp_path, monkeypatch):
    """CC = a wrapper that logs each start and runs the real compiler; returns the log."""
    log = tmp_path / "cc.log"
    wrapper = tmp_path / "cc"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {usercode.compiler_command()[0]} '
                       '"$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CC", str(wrapper))
    return log


def test_a_kernel_compiles_into_the_cache_with_the_kernels_flags(cache):
    k = kernel(KERNELS)
    assert isinstance(k, Kernel) and k.function == "work" and k.name == "work"
    assert k.library.startswith(str(cache)) and os.path.isfile(k.library)
    assert "work" in exported_functions(k.library)
    for flag in ("-O2", "-fno-stack-protector", "-shared", "-fPIC"):
        assert flag in k.flags
    assert k.describe()["source"] == KERNELS and k.describe()["sha256"] == k.sha256


def test_an_unchanged_kernel_never_starts_the_compiler_twice(counting_cc):
    first = kernel(KERNELS)
    starts = counting_cc.read_text().count("\n")
    assert starts >= 1
    again = kernel(KERNELS, function="deep")  # same source: same library, another function
    assert again.library == first.library and again.sha256 == first.sha256
    assert counting_cc.read_text().count("\n") == starts
    kernel(KERNELS + "\n")  # a changed source compiles
    assert counting_cc.read_text().count("\n") > starts


def test_the_cache_directory_follows_xdg_without_alloca_bench_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("ALLOCA_BENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert usercode.cache_dir() == str(tmp_path / "xdg" / "alloca-bench")


def test_a_cache_that_cannot_be_written_names_alloca_bench_cache(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("ALLOCA_BENCH_CACHE", str(blocker / "cache"))
    with pytest.raises(KernelError, match="cannot write the kernel cache.*ALLOCA_BENCH_CACHE"):
        kernel(KERNELS)


def test_a_syntax_error_is_a_value_error_quoting_the_compilers_error_line():
    with pytest.raises(ValueError) as info:
        kernel("#include <stddef.h>\nvoid work(char *buf, size_t n) { buf[0] = 1 }\n")
    assert isinstance(info.value, KernelError)
    assert "kernel.c:2:" in str(info.value) and "error" in str(info.value)


def test_a_file_that_is_not_c_gives_its_first_errors_by_file_and_line_not_its_text(tmp_path):
    """Prose given as the kernel: the compiler's first error lines, each FILE:LINE:COL naming
    the user's file, short, without the file's text quoted under them."""
    path = tmp_path / "notc.txt"
    prose = "This is not C at all, " + "and on " * 200
    path.write_text(f"{prose}\nsecond line\n")
    with pytest.raises(KernelError) as info:
        kernel(path)
    head, *errors = str(info.value).splitlines()
    assert head.startswith("the kernel does not compile (")
    assert errors[0].startswith("notc.txt:1:1: error: ")
    assert 0 < len(errors) <= usercode.ERROR_LINES
    assert all(line.startswith("notc.txt:") and len(line) <= usercode.ERROR_CHARS
               for line in errors)
    assert "and on and on" not in str(info.value)


def test_a_missing_function_names_the_functions_found():
    with pytest.raises(KernelError, match=r"no exported function 'nosuch'.*deep.*null_write"):
        kernel(KERNELS, function="nosuch")
    with pytest.raises(KernelError, match="static function"):
        kernel("#include <stddef.h>\nstatic void work(char *b, size_t n) { b[n - 1] = 0; }\n"
               "void (*keep)(char *, size_t) = work;\n")


def test_a_missing_function_of_a_source_names_the_users_file_not_the_cache(tmp_path):
    """`--kernel k.c:nosuch` said '/root/.cache/alloca-bench/kernels/<hash>/libkernel.so has
    no exported function'; the user wrote k.c."""
    source = tmp_path / "k.c"
    source.write_text(KERNELS)
    with pytest.raises(KernelError) as info:
        kernel(source, function="nosuch")
    assert str(info.value).startswith("k.c has no exported function 'nosuch'; it exports ")
    with pytest.raises(KernelError, match=r"^kernel.c has no exported function 'nosuch'"):
        kernel(KERNELS, function="nosuch")


def test_no_compiler_names_gcc_and_the_package(monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with pytest.raises(KernelError, match=r"no C compiler.*apt-get install gcc"):
        kernel(KERNELS)


def test_a_library_is_taken_as_it_is_and_its_functions_checked(tmp_path):
    built = kernel(KERNELS)
    k = kernel(library=built.library, function="deep")
    assert k.source is None and k.describe()["library"] == built.library
    assert k.name == "libkernel.so:deep" and len(k.sha256) == 64
    with pytest.raises(KernelError, match="not a file"):
        kernel(library=str(tmp_path / "missing.so"))
    text = tmp_path / "notelf.so"
    text.write_text("hello")
    with pytest.raises(KernelError, match="not an ELF"):
        kernel(library=str(text))


def test_arguments_are_checked():
    with pytest.raises(KernelError, match="not both"):
        kernel(KERNELS, library="x.so")
    with pytest.raises(KernelError, match="C identifier"):
        kernel(KERNELS, function="two words")
    with pytest.raises(TypeError):
        kernel(b"bytes")


def test_a_path_like_source_is_read(tmp_path):
    path = tmp_path / "k.c"
    path.write_text(KERNELS)
    assert kernel(path).sha256 == kernel(KERNELS).sha256


def test_a_file_name_given_as_a_str_says_to_pass_a_path(tmp_path):
    """A str is C source; the name of an existing file in its place gets a KernelError that
    says how to compile that file, not the compiler's error on the file name."""
    path = tmp_path / "k.c"
    path.write_text(KERNELS)
    with pytest.raises(KernelError, match=re.escape(f"pathlib.Path({str(path)!r})")):
        kernel(str(path))


# ---- in the runner -------------------------------------------------------------------------

def _run(k: Kernel, cells, rounds=3):
    records = []
    plan = [{"id": i, "strategy": native.STRATEGIES.index(strategy), "size": size,
             "iterations": 200, "warmup": 0, **k.plan_fields(strategy), "function": function,
             **extra}
            for i, (strategy, size, function, extra) in enumerate(cells)]
    client.run_plan(framing.plan_text(plan, [(r, list(range(len(plan)))) for r in
                                             range(rounds)]),
                    lambda kind, record: records.append((kind, record)))
    return records


def test_every_strategy_runs_the_kernel_and_a_crash_or_abort_is_that_cells_signal():
    k = kernel(KERNELS)
    cells = [(s, 4096, "work", {}) for s in ("fixed", "alloca", "vla", "malloc", "calloc",
                                             "mmap")]
    cells += [("malloc", 64, "null_write", {}), ("alloca", 64, "give_up", {})]
    records = _run(k, cells)
    failed = [r for kind, r in records if kind == framing.FAILED]
    assert [f["cell"] for f in failed] == [6, 7]
    assert "signal 11" in failed[0]["reason"] and "Segmentation fault" in failed[0]["reason"]
    assert "signal 6" in failed[1]["reason"] and "Aborted" in failed[1]["reason"]
    samples = [r for kind, r in records if kind == framing.SAMPLE]
    assert sorted({s.cell for s in samples}) == [0, 1, 2, 3, 4, 5]
    assert len(samples) == 6 * 3 and all(s.ns_per_op > 0 for s in samples)
    assert records[-1][0] == framing.DONE


def test_a_hung_kernel_is_killed_and_named_hung():
    records = _run(kernel(KERNELS), [("malloc", 64, "spin", {"timeout_ms": 300}),
                                     ("malloc", 64, "work", {})], rounds=1)
    failed = [r for kind, r in records if kind == framing.FAILED]
    assert len(failed) == 1 and failed[0]["cell"] == 0 and "hung" in failed[0]["reason"]
    assert [r.cell for kind, r in records if kind == framing.SAMPLE] == [1]


def test_the_cell_measures_the_kernels_stack_and_the_guard_counts_it():
    k = kernel(KERNELS)
    # 50000 bytes of the kernel's own stack, measured; on a 300 KiB stack the 4 KiB alloca
    # alone fits beside the 256 KiB margin, the kernel's frame on top of it does not
    records = _run(k, [("malloc", 64, "deep", {}), ("malloc", 64, "work", {}),
                       ("alloca", 4096, "work", {"stack_size": 300 << 10}),
                       ("alloca", 4096, "deep", {"stack_size": 300 << 10})], rounds=1)
    stacks = {r["cell"]: r["kernel_stack"] for kind, r in records if kind == framing.CELL}
    assert 50000 <= stacks[0] < 51000 and stacks[1] < 1000
    failed = [r for kind, r in records if kind == framing.FAILED]
    assert [(f["cell"], f["status"]) for f in failed] == [(3, native.lib.AB_ESTACK)]
    # the headroom a refusal reports is what is left for the buffer beside the kernel's stack
    assert failed[0]["headroom"] + 50000 < 300 << 10


def test_a_library_that_does_not_load_fails_its_cell_with_the_loaders_words(tmp_path):
    gone = Kernel("gone", "work", str(tmp_path / "gone.so"), "0" * 64)
    records = _run(gone, [("malloc", 64, "work", {})], rounds=1)
    (failed,) = [r for kind, r in records if kind == framing.FAILED]
    assert failed["status"] == native.lib.AB_EKERNEL and "gone.so" in failed["reason"]


# ---- sweep(), measure() and the command line with kernel= -----------------------------------

STRIDE_64 = """
#include <stddef.h>
void work(char *buf, size_t n)
{
    for (size_t i = 0; i < n; i += 64)
        buf[i] = (char)i;
}
void null_write(char *buf, size_t n) { (void)buf; (void)n; *(volatile char *)0 = 1; }
"""


def test_sweep_with_a_kernel_gives_alloca_below_malloc_at_4k_and_records_it():
    """A kernel writing one byte every 64: the buffer's cost comes on top of the same work in
    both, and malloc's call and free cost more than moving the stack pointer."""
    import alloca_bench as ab

    k = kernel(STRIDE_64)
    result = ab.sweep([4096], ["fixed", "alloca", "malloc"], kernel=k, repeats=9, processes=3)
    assert result.touch == "kernel" and result.complete
    median = {s: float(np.median(result.ns_per_op[result.strategies.index(s), 0, 0]))
              for s in result.strategies}
    assert median["alloca"] < median["malloc"]
    recorded = result.params["kernel"]
    assert recorded["sha256"] == k.sha256 and recorded["source"] == STRIDE_64
    assert recorded["function"] == "work" and 0 < recorded["stack_bytes"] < 1000


def test_a_kernel_writing_through_null_is_that_cells_sigsegv_and_the_others_run():
    import alloca_bench as ab

    result = ab.sweep([64], ["malloc"], kernel=kernel(STRIDE_64, function="null_write"),
                      repeats=3, processes=1)
    assert not result.complete
    assert result.status[:, 0, 0].tolist() == ["ok", "failed"]  # baseline, malloc
    assert "signal 11" in result.reasons[("malloc", 64, "auto")]
    assert not np.isnan(result.ns_per_op[result.strategies.index("baseline")]).any()


def test_measure_runs_a_kernel_too():
    import alloca_bench as ab

    m = ab.measure("vla", 256, kernel=kernel(STRIDE_64), repeats=3, processes=1)
    assert m.touch == "kernel" and m.params["kernel"]["name"] == "work"
    assert (m.ns_per_op > 0).all()


def test_a_kernel_refuses_the_host_heap_another_touch_and_other_types():
    import alloca_bench as ab

    k = kernel(STRIDE_64)
    for heap in ("host", "host-ctypes"):
        with pytest.raises(ValueError, match="runner's processes only"):
            ab.sweep([64], ["malloc"], kernel=k, heap=heap)
    with pytest.raises(ValueError, match="replaces the touch"):
        ab.sweep([64], ["malloc"], kernel=k, touch="full")
    with pytest.raises(TypeError, match="alloca_bench.kernel"):
        ab.sweep([64], ["malloc"], kernel="work")


def test_a_saved_kernel_result_loads_with_its_kernel(tmp_path):
    import alloca_bench as ab

    result = ab.sweep([64], ["alloca"], kernel=kernel(STRIDE_64), repeats=2, processes=1)
    result.save(tmp_path / "r.json")
    loaded = ab.load(tmp_path / "r.json")
    assert loaded.touch == "kernel" and loaded.params["kernel"] == result.params["kernel"]


def test_cli_run_kernel_prints_the_table(tmp_path, capsys):
    from alloca_bench.cli import main

    source = tmp_path / "k.c"
    source.write_text(STRIDE_64)
    assert main(["run", "--kernel", str(source), "--sizes", "64,4K", "--strategies",
                 "alloca,malloc", "--repeats", "3", "--processes", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "touch=kernel" in out and "kernel k.c:work (sha256" in out
    for row in ("64 B", "4 KiB"):
        assert re.search(rf"{row} +auto=\d+ +alloca", out) and re.search(rf"{row} .* malloc", out)


def test_cli_kernel_library_function_and_errors(tmp_path, capsys):
    from alloca_bench.cli import main

    built = kernel(STRIDE_64)
    assert main(["run", "--kernel", f"{built.library}:work", "--sizes", "64", "--strategies",
                 "malloc", "--repeats", "2", "--processes", "1", "--no-progress"]) == 0
    assert "kernel libkernel.so:work" in capsys.readouterr().out
    bad = tmp_path / "bad.c"
    bad.write_text("void work(char *b, unsigned long n) { b[0] = 1 }\n")
    assert main(["run", "--kernel", str(bad), "--sizes", "64"]) == 2
    assert re.search(r"bad\.c:1:\d+: error", capsys.readouterr().err)
    assert main(["run", "--kernel", str(tmp_path / "none.c"), "--sizes", "64"]) == 2
    assert "is not a file" in capsys.readouterr().err


def test_a_size_distribution_runs_the_kernel_at_each_ops_size():
    import alloca_bench as ab

    result = ab.sweep([ab.sizes.loguniform(16, 4096, seed=1)], ["alloca", "malloc"],
                      kernel=kernel(STRIDE_64), repeats=2, processes=1)
    assert result.complete and result.touch == "kernel"
    assert result.params["size_distributions"] and result.params["kernel"]["stack_bytes"] > 0
