"""alloca_bench.mallocs and measuring.allocator_probe: discovery, versions, malloc@NAME strategies run for real, glibc's
mmap threshold policy, cold figures, and the `allocators` / `run` CLI options."""
import importlib
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.mallocs import (ENV_VAR, KNOWN, AllocatorPolicy, check_allocator, is_libc,
                                  libc_path, policy)
from alloca_bench.measuring.allocator_probe import allocator_version, split_strategy
from alloca_bench.cli import main
from alloca_bench.cli.allocators import format_allocators
from alloca_bench.exceptions import StrategyUnavailableError
from alloca_bench.machine import machine_info
from alloca_bench.measuring import runner_transport
from alloca_bench.present.tables import cold_table

# ab.allocators is the function; the module of the same name is reached through importlib.
MODULE = importlib.import_module("alloca_bench.mallocs.discovery")
ALL = ("glibc",) + tuple(KNOWN)
FAST = dict(iterations=200, repeats=3)


def require(name):
    """Skip, saying what to install, when the allocator `name` is not on this machine."""
    if name not in ab.allocators():
        pytest.skip(f"{name} is not installed here (CI installs libjemalloc2 "
                    "libtcmalloc-minimal4 libmimalloc2.0)")


def same_file(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


# --- discovery and versions ------------------------------------------------------------------

def test_is_libc_sees_through_symlinks(tmp_path):
    link = tmp_path / "libc.so"
    link.symlink_to(libc_path())
    assert is_libc(libc_path()) and is_libc(str(link))
    assert not is_libc(None) and not is_libc(str(tmp_path))


def test_glibc_is_always_listed_as_the_libc_in_use():
    found = ab.allocators()
    assert list(found)[0] == "glibc"
    assert same_file(found["glibc"], libc_path()) and os.path.isfile(found["glibc"])


@pytest.mark.parametrize("name", KNOWN)
def test_known_allocators_are_found_as_real_libraries(name):
    require(name)
    path = ab.allocators()[name]
    assert os.path.isfile(path) and os.path.basename(path) in KNOWN[name]


def test_the_override_variable_adds_custom_builds_and_replaces_paths(monkeypatch, tmp_path):
    lib = tmp_path / "libmine.so"
    monkeypatch.setenv(ENV_VAR, f"mine={lib}, jemalloc=/opt/je/libjemalloc.so.2")
    found = ab.allocators()
    assert found["mine"] == str(lib) and found["jemalloc"] == "/opt/je/libjemalloc.so.2"
    assert check_allocator("mine") == str(lib)


@pytest.mark.parametrize("value, text", [
    ("nopath", "is not name=/path/to/lib.so"),
    ("bad name=/x.so", "is not name=/path/to/lib.so"),
    ("glibc=/x.so", "cannot override glibc"),
])
def test_bad_override_entries_are_named(monkeypatch, value, text):
    monkeypatch.setenv(ENV_VAR, value)
    with pytest.raises(ValueError, match=text):
        ab.allocators()


def test_versions_come_from_each_library():
    assert allocator_version("glibc") == machine_info()["libc_version"]
    expected = {"jemalloc": r"^\d+\.\d+\.\d+", "tcmalloc": r"^gperftools \d+\.\d+",
                "mimalloc": r"^\d+\.\d+\.\d+$"}
    for name, pattern in expected.items():
        if name in ab.allocators():
            assert re.match(pattern, allocator_version(name))


# --- bad strategy names --------------------------------------------------------------------------

def test_this_process_and_the_runner_read_a_version_with_the_same_code(python_child):
    """library_version() here and the runner's probe are one C function: the same text for
    the library serving malloc, and a library not loaded is never loaded to ask it."""
    from alloca_bench.mallocs import malloc_library
    from alloca_bench.measuring.allocator_probe import library_version
    from alloca_bench.measuring.runner import probe

    assert library_version(malloc_library()) == probe()["version"]
    others = [name for name in ab.allocators() if name != "glibc"]
    if not others:
        pytest.skip("no allocator but glibc installed here (CI installs jemalloc, tcmalloc, "
                    "mimalloc)")
    child = python_child("""
        import os
        import alloca_bench as ab
        from alloca_bench.measuring.allocator_probe import library_version
        for name in ab.allocators():
            if name != "glibc":
                path = os.path.realpath(ab.allocators()[name])
                print(name, library_version(path), path in open("/proc/self/maps").read())
    """, check=True)
    assert child.stdout.split() == [w for name in others for w in (name, "None", "False")], \
        child.stdout


def test_an_unknown_allocator_lists_what_is_installed():
    with pytest.raises(ValueError, match=r"unknown allocator 'unknown': installed are glibc \("):
        ab.measure("malloc@unknown", 64, **FAST)
    with pytest.raises(ValueError, match="installed are glibc"):
        ab.sweep(sizes=[64], strategies=("alloca", "malloc@unknown"), **FAST)


def test_a_known_allocator_that_is_missing_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(MODULE, "_find", lambda sonames: None)
    with pytest.raises(StrategyUnavailableError, match="apt-get install libjemalloc2.*Installed"):
        ab.measure("malloc@jemalloc", 64, **FAST)


@pytest.mark.parametrize("name", ["alloca@jemalloc", "mmap@glibc", "baseline@glibc"])
def test_only_malloc_and_calloc_can_name_an_allocator(name):
    with pytest.raises(ValueError, match="only malloc and calloc can name an allocator"):
        split_strategy(name)


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(glibc_tunables="glibc.malloc.mmap_threshold=-1"), ValueError,
     "mmap_threshold must be between 0 and 33554432"),
    (dict(glibc_tunables=f"glibc.malloc.mmap_threshold={64 << 20}"), ValueError,
     "got 67108864"),
    (dict(glibc_tunables="tcache_count=0"), ValueError, "'tcache_count=0' is not glibc"),
    (dict(glibc_tunables=7), TypeError, "glibc_tunables must be a str"),
])
def test_bad_policy_arguments_name_the_value(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        ab.measure("malloc", 64, **FAST, **kwargs)


def test_a_tunable_this_glibc_does_not_know_is_refused_naming_the_known_malloc_ones():
    """glibc ignores an unknown tunable without a word: the run would measure the defaults."""
    if policy.known_tunables() is None:
        pytest.skip("this machine's glibc does not list its tunables (ld.so --list-tunables)")
    with pytest.raises(ValueError, match=r"glibc_tunables: glibc\.malloc\.nosuch is not a "
                                         r"tunable this glibc knows.*glibc\.malloc\.tcache_count"):
        AllocatorPolicy.checked("glibc.malloc.tcache_count=0:glibc.malloc.nosuch=5")
    assert AllocatorPolicy.checked("glibc.malloc.tcache_count=0").tunables() == (
        "glibc.malloc.tcache_count=0")


def test_tunables_are_taken_unchecked_where_glibc_cannot_list_them(monkeypatch):
    monkeypatch.setattr(policy, "known_tunables", lambda: None)
    assert AllocatorPolicy.checked("glibc.malloc.nosuch=5").tunables() == "glibc.malloc.nosuch=5"


def test_a_tunable_name_may_hold_digits():
    """glibc.cpu.x86_rep_movsb_threshold is glibc.NAMESPACE.NAME=VALUE too."""
    item, known = "glibc.cpu.x86_rep_movsb_threshold=2048", policy.known_tunables()
    if known is not None and item.partition("=")[0] not in known:
        pytest.skip("not a tunable of this machine's glibc")
    assert AllocatorPolicy.checked(item).tunables() == item


# --- every allocator, for real -------------------------------------------------------------------

@pytest.mark.parametrize("kernel", ["malloc", "calloc"])
@pytest.mark.parametrize("name", ALL)
def test_every_allocator_runs_in_the_runner_with_its_library(name, kernel):
    require(name)
    m = ab.measure(f"{kernel}@{name}", 4096, touch="pages", **FAST)
    assert m.ns_per_op.shape == (3,) and np.all(m.ns_per_op > 0)
    where = m.params["placement"][f"{kernel}@{name}"]
    assert where["process"] == "runner" and where["allocator"] == name
    assert same_file(where["library"], ab.allocators()[name])
    assert where["version"] == allocator_version(name)


def test_a_sweep_with_allocators_says_where_each_ran():
    others = [f"malloc@{n}" for n in KNOWN if n in ab.allocators()]
    r = ab.sweep(sizes=[64, 256 << 10], strategies=["alloca", "malloc"] + others,
                 iterations=100, repeats=3)
    assert r.complete and not np.isnan(r.ns_per_op).any()
    placement = r.params["placement"]
    assert set(placement) == set(r.strategies)
    assert {where["process"] for where in placement.values()} == {"runner"}
    # Plain malloc is whatever the runner inherits: glibc, unless the user preloaded another.
    assert same_file(placement["malloc"]["library"], ab.allocators()["glibc"]) or os.environ.get(
        "LD_PRELOAD")
    for s in others:
        assert placement[s]["mmap_threshold"] is None  # not glibc: the threshold means nothing
    assert r.params["mmap_threshold"] == "dynamic"


# --- glibc's mmap threshold: facts about policy, not timings --------------------------------------

def test_a_pinned_threshold_mmaps_every_1_mib_malloc():
    """Pinned at 128 KiB, each 1 MiB malloc is a fresh mmap whose chunk header faults a page."""
    m = ab.measure("malloc", 1 << 20, touch="none", iterations=20, repeats=3,
                   glibc_tunables="glibc.malloc.mmap_threshold=131072")
    assert np.median(m.faults_per_op) >= 1
    where = m.params["placement"]["malloc"]
    assert where["process"] == "runner" and where["mmap_threshold"] == 131072
    assert "glibc.malloc.mmap_threshold=131072" in where["glibc_tunables"]
    assert m.params["mmap_threshold"] == 131072


@pytest.mark.parametrize("strategy", ["malloc", "malloc@glibc"])
def test_the_dynamic_threshold_stops_faulting_after_warm_up(strategy):
    """Left dynamic, the first free of the mmapped block raises the threshold: from then on a
    1 MiB malloc reuses the heap and faults nothing."""
    m = ab.measure(strategy, 1 << 20, touch="none", iterations=20, repeats=3)
    assert np.median(m.faults_per_op) == 0
    assert m.params["placement"][strategy]["mmap_threshold"] == "dynamic"
    assert m.params["mmap_threshold"] == "dynamic"


def test_glibc_tunables_reach_the_runner_and_not_this_process():
    m = ab.measure("malloc", 64, glibc_tunables="glibc.malloc.tcache_count=0", **FAST)
    where = m.params["placement"]["malloc"]
    assert where["process"] == "runner" and "glibc.malloc.tcache_count=0" in where[
        "glibc_tunables"]
    assert "tcache_count" not in (os.environ.get("GLIBC_TUNABLES") or "")


# --- cold figures --------------------------------------------------------------------------------

def test_the_runner_shows_the_cold_first_call_of_a_fresh_process():
    """In the runner every cell is a fresh process: with warmup=0, sample 0 of iterations=1 is
    its first 1 MiB malloc, an mmap whose 256 pages all fault.  Warm, the heap is reused."""
    r = ab.sweep(sizes=[64, 1 << 20], strategies=("malloc",), iterations=(1, 100), touch="pages",
                 repeats=3, warmup=0, processes=1)
    assert r.complete and r.params["warmup"] == 0
    assert {p["process"] for p in r.params["placement"].values()} == {"runner"}
    m, big = r.strategies.index("malloc"), 1
    assert r.faults_per_op[m, big, 0, 0] >= 256
    assert r.median("faults_per_op")[m, big, 1] == 0
    text = cold_table(r)
    assert "cold ns/op (first 1 op(s))" in text and "warm ns/op (100 ops/batch)" in text
    assert len(text.splitlines()) == 1 + len(r.sizes) * len(r.strategies)


def test_cold_table_refuses_a_result_without_fresh_processes():
    r = ab.sweep(sizes=[64], strategies=("malloc",), iterations=10, repeats=3)
    with pytest.raises(ValueError, match="heap='fresh', warmup=0"):
        cold_table(r)


# --- command line ---------------------------------------------------------------------------------

def test_cli_lists_allocators_with_versions(capsys):
    assert main(["allocators"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["name", "version", "library"]
    glibc = out.splitlines()[1].split()
    assert glibc[:2] == ["glibc", allocator_version("glibc")]
    assert "serves malloc in this process" in out


def test_cli_run_with_an_allocator_and_a_pinned_threshold(capsys):
    require("tcmalloc")
    code = main(["run", "--sizes", "64,1M", "--strategies", "alloca,malloc,malloc@tcmalloc",
                 "--iterations", "20", "--repeats", "3", "--no-progress",
                 "--mmap-threshold", "128K"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ran in the runner with tcmalloc" in out and "mmap threshold 131072" in out
    assert "malloc@tcmalloc" in out


def test_cli_run_without_warm_up_prints_cold_beside_warm(capsys):
    code = main(["run", "--sizes", "4K", "--strategies", "malloc", "--iterations", "1,50",
                 "--repeats", "3", "--no-progress", "--warmup", "0",
                 "--glibc-tunables", "glibc.malloc.tcache_count=0"])
    out = capsys.readouterr().out
    assert code == 0 and "cold ns/op" in out and "warm-up batches 0" in out


def test_cli_run_with_an_uninstalled_allocator_is_a_user_error(capsys):
    assert main(["run", "--sizes", "64", "--strategies", "malloc@nothere", "--no-progress"]) == 2
    assert "installed are glibc" in capsys.readouterr().err


# --- broken allocators ---------------------------------------------------------------------------

# malloc() that aborts: the cell's process dies while it starts.
ABORTING = "#include <stdlib.h>\nvoid *malloc(size_t n) { (void)n; abort(); }\n"
# glibc's malloc, except for one size, where it never returns.
HANGING = """
#include <stddef.h>
#include <unistd.h>
extern void *__libc_malloc(size_t);
void *malloc(size_t n) { if (n == 777777) for (;;) pause(); return __libc_malloc(n); }
"""


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Fake allocators registered under ALLOCA_BENCH_ALLOCATORS: broken, hang and missing."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build the fake allocators")
    libs = {"missing": "/nonexistent/libnothing.so"}
    for name, source in (("broken", ABORTING), ("hang", HANGING)):
        src, lib = tmp_path / f"{name}.c", tmp_path / f"lib{name}.so"
        src.write_text(source)
        subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(lib), str(src)], check=True)
        libs[name] = str(lib)
    monkeypatch.setenv(ENV_VAR, ",".join(f"{k}={v}" for k, v in libs.items()))
    monkeypatch.setattr(runner_transport, "CELL_TIMEOUT_MS", 1000)
    return libs


def test_an_allocator_that_aborts_is_refused_before_measuring_with_the_signal(fake):
    with pytest.raises(StrategyUnavailableError, match=r"'broken'.*killed by SIGABRT"):
        ab.measure("malloc@broken", 64, iterations=10, repeats=3)


def test_a_library_the_loader_cannot_preload_is_refused_before_measuring(fake):
    with pytest.raises(StrategyUnavailableError,
                       match="allocator 'missing': cannot read /nonexistent/libnothing.so"):
        ab.sweep(sizes=[64], strategies=("alloca", "malloc@missing"), **FAST)
    table = {line.split()[0]: line for line in format_allocators().splitlines()}
    assert "unusable: allocator 'missing': cannot read" in table["missing"]
    assert "unusable" in table["broken"] and "unusable" not in table["hang"]


@pytest.mark.parametrize("kind, reason", [
    ("libm", r"malloc is served by .*libc.*, not by it \(it does not define malloc\)"),
    ("passwd", r"/etc/passwd is not a shared library for this Python's machine"),
    ("program", r"not by it \(the loader: ERROR: ld\.so: object .*true.* cannot be preloaded "
                r"\(cannot dynamically load"),  # the loader's own words
    ("space", r"LD_PRELOAD splits .* at its spaces or colons"),
])
def test_a_library_that_cannot_serve_malloc_is_refused_with_the_reason(monkeypatch, tmp_path,
                                                                       kind, reason):
    libm = ab.allocators()["glibc"].replace("libc.so", "libm.so")
    if kind == "libm" and not os.path.exists(libm):
        pytest.skip(f"no {libm} here")
    if kind == "program" and not shutil.which("true"):
        pytest.skip("no `true` program to preload")
    if kind == "space":
        (tmp_path / "my libs").mkdir()
        os.symlink(libc_path(), tmp_path / "my libs" / "libc-copy.so")
    path = {"libm": libm, "passwd": "/etc/passwd", "program": shutil.which("true"),
            "space": str(tmp_path / "my libs" / "libc-copy.so")}[kind]
    monkeypatch.setenv(ENV_VAR, f"mine={path}")
    with pytest.raises(StrategyUnavailableError, match=reason):
        ab.sweep(sizes=[64], strategies=("alloca", "malloc@mine"), **FAST)


def test_cli_run_with_an_allocator_that_cannot_load_exits_2_before_measuring(monkeypatch,
                                                                           capsys):
    monkeypatch.setenv(ENV_VAR, "foo=/nonexistent/libfoo.so")
    assert main(["run", "--sizes", "64", "--strategies", "alloca,malloc@foo",
                 "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("alloca-bench run: error: allocator 'foo': cannot read "
                                 "/nonexistent/libfoo.so: No such file or directory\n")


def test_broken_strategies_fail_alone_in_a_sweep(fake):
    r = ab.sweep(sizes=[64, 777777], strategies=("alloca", "malloc", "malloc@hang",
                                                 "calloc@glibc"),
                 touch="none", iterations=5, repeats=3, processes=1)
    failed = {(name, size): reason for (name, size, _), reason in r.reasons.items()}
    assert set(r.status.ravel().tolist()) == {"ok", "failed"}
    assert set(failed) == {("malloc@hang", 777777)}
    assert "hung" in failed["malloc@hang", 777777]
    assert not r.complete
    for name in ("baseline", "alloca", "malloc", "calloc@glibc"):
        assert not np.isnan(r.ns_per_op[r.strategies.index(name)]).any(), name
    # malloc@hang works at 64 bytes: its samples there survive the hang at 777777.
    assert not np.isnan(r.ns_per_op[r.strategies.index("malloc@hang"), 0]).any()


def test_the_run_header_names_glibc_threshold_only_where_glibc_served_malloc():
    """Under LD_PRELOAD=tcmalloc, or with malloc@jemalloc beside alloca, glibc's mmap threshold
    has nothing to do with the cells: the header must not claim it."""
    from alloca_bench.mallocs import format_placement

    def where(allocator):
        return {"process": "self", "allocator": allocator, "library": f"/lib/{allocator}.so"}

    preloaded = {"placement": {s: where("tcmalloc") for s in ("baseline", "alloca", "malloc")},
                 "mmap_threshold": "dynamic"}
    assert "threshold" not in format_placement(preloaded)[-1]
    jemalloc = {"placement": {"alloca": where("glibc"), "malloc@jemalloc": where("jemalloc")},
                "mmap_threshold": "dynamic"}
    assert "threshold" not in format_placement(jemalloc)[-1]
    glibc = {"placement": {"malloc": where("glibc")}, "mmap_threshold": "dynamic"}
    assert format_placement(glibc)[-1].startswith("glibc mmap threshold dynamic, warm-up")
