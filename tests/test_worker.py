"""alloca_bench._worker and the Worker that drives it: the pipe protocol, errors carried back
as their own class, and broken allocators (crash at start, LD_PRELOAD ignored, a hang) that
become WorkerError with an exit status while the parent and other strategies go on."""
import importlib
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench import _worker
from alloca_bench.allocators import ENV_VAR, AllocatorPolicy, Worker
from alloca_bench.exceptions import StackLimitError, WorkerError

MODULE = importlib.import_module("alloca_bench.allocators.worker")

# malloc() that aborts: the child dies while the interpreter starts.
ABORTING = "#include <stdlib.h>\nvoid *malloc(size_t n) { (void)n; abort(); }\n"
# glibc's malloc, except for one size, where it never returns.
HANGING = """
#include <stddef.h>
#include <unistd.h>
extern void *__libc_malloc(size_t);
void *malloc(size_t n) { if (n == 777777) for (;;) pause(); return __libc_malloc(n); }
"""


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """Compile a fake allocator from C source into a shared library; returns its path."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build the fake allocators")
    where = tmp_path_factory.mktemp("fake_allocators")

    def make(name, source):
        src, lib = where / f"{name}.c", where / f"lib{name}.so"
        src.write_text(source)
        subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(lib), str(src)], check=True)
        return str(lib)

    return make


@pytest.fixture
def fake(monkeypatch, build):
    """Register fake allocators under ALLOCA_BENCH_ALLOCATORS: broken, hang and missing."""
    libs = {"broken": build("broken", ABORTING), "hang": build("hang", HANGING),
            "missing": "/nonexistent/libnothing.so"}
    monkeypatch.setenv(ENV_VAR, ",".join(f"{k}={v}" for k, v in libs.items()))
    return libs


# --- protocol -------------------------------------------------------------------------------------

def test_a_reply_carries_float64_arrays_bit_for_bit():
    values = np.array([1 / 3, 1e-300, 123456789.123456789, np.pi], dtype=np.float64)
    read_fd, write_fd = os.pipe()
    try:
        _worker.send(write_fd, {"results": [{"repeats": 4}]}, values.tobytes())
        with os.fdopen(read_fd, "rb") as stream:
            read_fd = -1
            (length,) = struct.unpack("<I", stream.read(4))
            header = json.loads(stream.read(length))
            back = np.frombuffer(stream.read(header["payload_bytes"]), np.float64)
    finally:
        os.close(write_fd)
        if read_fd >= 0:
            os.close(read_fd)
    assert header["results"] == [{"repeats": 4}]
    assert back.tobytes() == values.tobytes()


def test_one_worker_answers_many_batches_and_reports_its_allocator():
    with Worker("malloc@glibc", "glibc", AllocatorPolicy()) as worker:
        hello = worker.start()
        assert hello["pid"] != os.getpid()
        assert os.path.realpath(hello["malloc_library"]) == os.path.realpath(
            ab.allocators()["glibc"])
        first = worker.run("malloc", "pages", 4096, 100, 5)
        assert first.ns_per_op.shape == first.minor_faults_per_op.shape == (5,)
        assert first.ns_per_op.dtype == np.float64 and np.all(first.ns_per_op > 0)
        both = worker.run_jobs([("alloca", "full", 64, 10, 2), ("calloc", "none", 64, 10, 3)])
        assert [len(b.ns_per_op) for b in both] == [2, 3]
        assert worker.start()["pid"] == hello["pid"]  # the same process all along


def test_a_kernel_error_in_the_child_keeps_its_class_and_the_worker_alive():
    with Worker("alloca", None, AllocatorPolicy(isolate=True)) as worker:
        with pytest.raises(StackLimitError, match="67108864 bytes.*in the alloca worker"):
            worker.run("alloca", "pages", 64 << 20, 1, 1)
        assert worker.run("alloca", "pages", 64, 10, 1).ns_per_op.shape == (1,)


def test_a_malformed_request_ends_the_worker_with_its_exit_status():
    worker = Worker("malloc@glibc", "glibc", AllocatorPolicy())
    worker.start()
    worker._process.stdin.write(struct.pack("<I", 5) + b"hello")
    worker._process.stdin.flush()
    worker._process.wait(timeout=30)
    with pytest.raises(WorkerError, match=f"exit status {_worker.EXIT_PROTOCOL}.*malformed"):
        worker.run("malloc", "pages", 64, 10, 1)
    with pytest.raises(WorkerError):  # dead for good: the same error again
        worker.run("malloc", "pages", 64, 10, 1)


def test_the_worker_module_refuses_bad_arguments():
    done = subprocess.run([sys.executable, "-m", "alloca_bench._worker", "--bogus"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "usage" in done.stderr


def test_probe_prints_the_library_serving_malloc_and_its_version():
    done = subprocess.run([sys.executable, "-m", "alloca_bench._worker", "--probe"],
                          capture_output=True, text=True, timeout=60)
    info = json.loads(done.stdout)
    assert info["version"] == ab.machine_info()["libc_version"]
    assert os.path.realpath(info["malloc_library"]) == os.path.realpath(ab.allocators()["glibc"])
    assert done.stderr == ""  # in particular no runpy warning about a double import


# --- broken allocators --------------------------------------------------------------------------

def test_an_allocator_that_aborts_is_a_worker_error_with_the_signal(fake):
    with pytest.raises(WorkerError, match=r"malloc@broken.*exit status -6 \(killed by SIGABRT\)"):
        ab.measure("malloc@broken", 64, iterations=10, repeats=3)


def test_a_library_the_loader_cannot_preload_is_refused_not_run_as_glibc(fake):
    with pytest.raises(WorkerError) as info:
        ab.measure("malloc@missing", 64, iterations=10, repeats=3)
    text = str(info.value)
    assert f"exit status {_worker.EXIT_WRONG_ALLOCATOR}" in text
    assert "cannot be preloaded" in text and "/nonexistent/libnothing.so" in text


def test_a_hung_batch_is_killed_at_the_capped_timeout(fake, monkeypatch):
    monkeypatch.setattr(MODULE, "BATCH_TIMEOUT_CAP_S", 1.0)
    with pytest.raises(WorkerError, match=r"killed by SIGKILL.*did not answer within 1 s"):
        ab.measure("malloc@hang", 777777, touch="none", iterations=1, repeats=1, warmup=0)


def test_broken_strategies_fail_alone_in_a_sweep(fake, monkeypatch):
    monkeypatch.setattr(MODULE, "BATCH_TIMEOUT_CAP_S", 1.0)
    r = ab.sweep(sizes=[64, 777777], strategies=("alloca", "malloc", "malloc@broken",
                                                 "malloc@missing", "malloc@hang", "calloc@glibc"),
                 touch="none", iterations=5, repeats=3, seed=4)
    errors = r.params["errors"]
    assert set(errors) == {"malloc@broken", "malloc@missing", "malloc@hang"}
    assert "SIGABRT" in errors["malloc@broken"] and "SIGKILL" in errors["malloc@hang"]
    assert not r.complete
    for name in ("baseline", "alloca", "malloc", "calloc@glibc"):
        assert not np.isnan(r.ns_per_op[r.strategies.index(name)]).any(), name
    # malloc@hang worked at 64 bytes: its results there survive the hang at 777777.
    hang = r.strategies.index("malloc@hang")
    assert not np.isnan(r.ns_per_op[hang, 0]).any() and np.isnan(r.ns_per_op[hang, 1]).all()
    assert r.params["placement"]["malloc@broken"]["library"] == fake["broken"]
