"""alloca_bench.allocators: discovery, versions, malloc@NAME strategies run for real, glibc's
mmap threshold policy, isolate and cold figures, and the `allocators` / `run` CLI options."""
import importlib
import os
import re

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.allocators import (ENV_VAR, KNOWN, AllocatorPolicy,
                                     check_allocator, libc_path, split_strategy)
from alloca_bench.allocators.worker import allocator_version
from alloca_bench.cli import main
from alloca_bench.exceptions import StrategyUnavailableError
from alloca_bench.measure import cold_table

# ab.allocators is the function; the module of the same name is reached through importlib.
MODULE = importlib.import_module("alloca_bench.allocators.discovery")
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
    assert allocator_version("glibc") == ab.machine_info()["libc_version"]
    expected = {"jemalloc": r"^\d+\.\d+\.\d+", "tcmalloc": r"^gperftools \d+\.\d+",
                "mimalloc": r"^\d+\.\d+\.\d+$"}
    for name, pattern in expected.items():
        if name in ab.allocators():
            assert re.match(pattern, allocator_version(name))


# --- bad strategy names --------------------------------------------------------------------------

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
    (dict(mmap_threshold=-1), ValueError, "mmap_threshold must be between 0 and 33554432"),
    (dict(mmap_threshold=64 << 20), ValueError, "got 67108864"),
    (dict(mmap_threshold=1.5), TypeError, "mmap_threshold must be an int"),
    (dict(glibc_tunables="tcache_count=0"), ValueError, "'tcache_count=0' is not glibc"),
    (dict(glibc_tunables=7), TypeError, "glibc_tunables must be a str"),
    (dict(mmap_threshold=4096, glibc_tunables="glibc.malloc.mmap_threshold=8192"), ValueError,
     "not both"),
    (dict(isolate="yes"), TypeError, "isolate must be True or False"),
])
def test_bad_policy_arguments_name_the_value(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        ab.measure("malloc", 64, **FAST, **kwargs)


# --- every allocator, for real -------------------------------------------------------------------

@pytest.mark.parametrize("kernel", ["malloc", "calloc"])
@pytest.mark.parametrize("name", ALL)
def test_every_allocator_runs_in_a_child_with_its_library(name, kernel):
    require(name)
    m = ab.measure(f"{kernel}@{name}", 4096, touch="pages", **FAST)
    assert m.ns_per_op.shape == (3,) and np.all(m.ns_per_op > 0)
    where = m.params["placement"][f"{kernel}@{name}"]
    assert where["process"] == "child" and where["allocator"] == name
    assert same_file(where["library"], ab.allocators()[name])
    assert where["version"] == allocator_version(name)


def test_a_sweep_mixes_this_process_and_children_and_says_where_each_ran():
    children = [f"malloc@{n}" for n in KNOWN if n in ab.allocators()]
    r = ab.sweep(sizes=[64, 256 << 10], strategies=["alloca", "malloc"] + children,
                 iterations=100, repeats=3, seed=1)
    assert r.complete and not np.isnan(r.ns_per_op).any()
    placement = r.params["placement"]
    assert set(placement) == set(r.strategies)
    assert {placement[s]["process"] for s in ("baseline", "alloca", "malloc")} == {"self"}
    # Plain malloc is whatever this process uses: glibc, unless the user preloaded another.
    assert same_file(placement["malloc"]["library"], ab.allocators()["glibc"]) or os.environ.get(
        "LD_PRELOAD")
    for s in children:
        assert placement[s]["process"] == "child"
        assert placement[s]["mmap_threshold"] is None  # not glibc: the threshold means nothing
    assert r.params["mmap_threshold"] == "dynamic" and r.params["isolate"] is False


# --- glibc's mmap threshold: facts about policy, not timings --------------------------------------

def test_a_pinned_threshold_mmaps_every_1_mib_malloc():
    """Pinned at 128 KiB, each 1 MiB malloc is a fresh mmap whose chunk header faults a page."""
    m = ab.measure("malloc", 1 << 20, touch="none", mmap_threshold=131072, iterations=20,
                   repeats=3)
    assert np.median(m.faults_per_op) >= 1
    where = m.params["placement"]["malloc"]
    assert where["process"] == "child" and where["mmap_threshold"] == 131072
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


def test_glibc_tunables_reach_the_child_and_not_this_process():
    m = ab.measure("malloc", 64, glibc_tunables="glibc.malloc.tcache_count=0", **FAST)
    where = m.params["placement"]["malloc"]
    assert where["process"] == "child" and "glibc.malloc.tcache_count=0" in where[
        "glibc_tunables"]
    assert "tcache_count" not in (os.environ.get("GLIBC_TUNABLES") or "")


def test_policy_puts_only_heap_kernels_in_a_child():
    pinned = AllocatorPolicy.checked(mmap_threshold=4096)
    assert pinned.in_child("malloc") and pinned.in_child("calloc")
    assert not pinned.in_child("alloca") and not pinned.in_child("mmap")
    isolated = AllocatorPolicy.checked(isolate=True)
    assert isolated.in_child("alloca") and isolated.in_child("baseline")
    assert AllocatorPolicy().in_child("malloc@glibc") and not AllocatorPolicy().in_child("malloc")


# --- isolate and cold figures -------------------------------------------------------------------

def test_isolate_shows_the_cold_first_call_of_a_fresh_process():
    """With isolate=True and warmup=0, sample 0 of iterations=1 is a fresh process's first
    1 MiB malloc: an mmap whose 256 pages all fault.  Warm, the heap is reused: no faults."""
    r = ab.sweep(sizes=[64, 1 << 20], strategies=("malloc",), iterations=(1, 100), touch="pages",
                 repeats=3, isolate=True, warmup=0, seed=2)
    assert r.complete and r.params["isolate"] is True and r.params["warmup"] == 0
    assert {p["process"] for p in r.params["placement"].values()} == {"child"}
    m, big = r.strategies.index("malloc"), 1
    assert r.faults_per_op[m, big, 0, 0] >= 256
    assert r.median("faults_per_op")[m, big, 1] == 0
    text = cold_table(r)
    assert "cold ns/op (first 1 op(s))" in text and "warm ns/op (100 ops/batch)" in text
    assert len(text.splitlines()) == 1 + len(r.sizes) * len(r.strategies)


def test_cold_table_refuses_a_result_without_fresh_processes():
    r = ab.sweep(sizes=[64], strategies=("malloc",), iterations=10, repeats=3)
    with pytest.raises(ValueError, match="isolate=True, warmup=0"):
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
    assert "ran in a child with tcmalloc" in out and "mmap threshold 131072" in out
    assert "malloc@tcmalloc" in out


def test_cli_run_isolate_prints_cold_beside_warm(capsys):
    code = main(["run", "--sizes", "4K", "--strategies", "malloc", "--iterations", "1,50",
                 "--repeats", "3", "--no-progress", "--isolate", "--warmup", "0",
                 "--glibc-tunables", "glibc.malloc.tcache_count=0"])
    out = capsys.readouterr().out
    assert code == 0 and "cold ns/op" in out and "isolate on" in out


def test_cli_run_with_an_uninstalled_allocator_is_a_user_error(capsys):
    assert main(["run", "--sizes", "64", "--strategies", "malloc@nothere", "--no-progress"]) == 2
    assert "installed are glibc" in capsys.readouterr().err


def test_the_run_header_names_glibc_threshold_only_where_glibc_served_malloc():
    """Under LD_PRELOAD=tcmalloc, or with malloc@jemalloc beside alloca, glibc's mmap threshold
    has nothing to do with the cells: the header must not claim it."""
    from alloca_bench.allocators import format_placement

    def where(allocator):
        return {"process": "self", "allocator": allocator, "library": f"/lib/{allocator}.so"}

    preloaded = {"placement": {s: where("tcmalloc") for s in ("baseline", "alloca", "malloc")},
                 "mmap_threshold": "dynamic"}
    assert "threshold" not in format_placement(preloaded)[-1]
    jemalloc = {"placement": {"alloca": where("glibc"), "malloc@jemalloc": where("jemalloc")},
                "mmap_threshold": "dynamic"}
    assert "threshold" not in format_placement(jemalloc)[-1]
    glibc = {"placement": {"malloc": where("glibc")}, "mmap_threshold": "dynamic"}
    assert format_placement(glibc)[-1].startswith("glibc mmap threshold dynamic, isolate off")
