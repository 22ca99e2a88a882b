"""The C sources under AddressSanitizer and UndefinedBehaviorSanitizer: tests/c/sanitize_driver.c
runs every kernel, touch mode and stack-guard edge; the whole runner, built the same way, runs a
plan of team cells (threads, patterns same/cross/hold, size distributions) and of the refusals,
and under ThreadSanitizer the teams' barrier and rings; any sanitizer report fails the test."""
import os
import shutil
import subprocess

import pytest

from alloca_bench import native
from alloca_bench.measuring import _framing as framing

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, os.pardir, "csrc")
DRIVER = os.path.join(HERE, "c", "sanitize_driver.c")
FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1",
         "-fno-omit-frame-pointer", "-fno-stack-protector", "-std=gnu11", "-Wall", "-Wextra"]
# ASan replaces malloc: a preloaded allocator must never meet it in one process.
ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "GLIBC_TUNABLES")}
ENV.update(ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:abort_on_error=0",
           TSAN_OPTIONS="atexit_sleep_ms=0",
           UBSAN_OPTIONS="print_stacktrace=1")
RUN_SOURCES = [os.path.join(CSRC, name)
               for name in ("kernels.c", "run.c", "library.c", "user_kernel.c")]
RUNNER_SOURCES = RUN_SOURCES + [os.path.join(CSRC, name) for name in
                                ("runner.c", "runner_plan.c", "runner_cell.c", "patterns.c",
                                 "runner_wire.c")]
TSAN_FLAGS = ["-fsanitize=thread"] + FLAGS[2:]


def _build(where, flags, sources, name):
    """`sources` built with `flags` into where/name, or a skip naming what is missing."""
    if not os.path.isdir(CSRC):
        pytest.skip("no csrc/ beside the tests (installed package)")
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("the sanitizer check needs gcc")
    probe = where / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    built = subprocess.run([cc, *flags, str(probe), "-o", str(where / "probe")],
                           capture_output=True, text=True, env=ENV)
    if built.returncode != 0:
        pytest.skip(f"gcc cannot link {flags[0]} (its runtime library missing?): "
                    f"{built.stderr.strip()[:300]}")
    exe = where / name
    built = subprocess.run([cc, *flags, "-I", CSRC, *sources, "-o", str(exe), "-lpthread",
                            "-ldl", "-lm"], capture_output=True, text=True, env=ENV)
    assert built.returncode == 0, built.stderr
    assert "warning" not in built.stderr, built.stderr
    return str(exe)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """The driver built with the sanitizers, or a skip naming what is missing."""
    return _build(tmp_path_factory.mktemp("sanitize"), FLAGS, [DRIVER, *RUN_SOURCES],
                  "sanitize_driver")


def _runner(tmp_path_factory, flags, name):
    """The runner built with `flags`; its build info (normally generated at install) a stub."""
    where = tmp_path_factory.mktemp(name)
    info = where / "build_info.c"
    info.write_text('const char *ab_build_info(void) { return "{}"; }\n')
    return _build(where, flags, [*RUNNER_SOURCES, str(info)], name)


def _cell(i, strategy, size, touch="pages", **fields):
    return {"id": i, "strategy": native.STRATEGIES.index(strategy),
            "touch": native.TOUCHES.index(touch), "size": size, "iterations": 200,
            "warmup": 1, **fields}


# Every team path: patterns same/cross/hold (baseline and fixed's own cases too), both size
# distributions, a stack strategy in a team on smaller stacks, then a non-team cell on a worker
# thread with an aged heap and calibration; the refusals last.
TEAM_CELLS = [
    _cell(0, "malloc", 4096, threads=2),
    _cell(1, "calloc", 1000, "full", threads=2, pattern="cross"),
    _cell(2, "mmap", 8192, threads=2, pattern="hold", window=8),
    _cell(3, "baseline", 64, threads=3, pattern="cross"),
    _cell(4, "baseline", 64, pattern="hold"),
    _cell(5, "fixed", 4096, "full", threads=2, pattern="cross"),
    _cell(6, "malloc", 65536, "first", threads=2, pattern="hold", dist="loguniform", low=16,
          seed=3),
    _cell(7, "malloc", 100, "full", pattern="cross", dist="uniform", low=1, seed=2),
    _cell(8, "vla", 2048, dist="uniform", low=1, seed=4),
    # 4 MiB: ThreadSanitizer keeps about 768 KiB of its own on each thread's stack
    _cell(9, "alloca", 4096, "full", threads=2, stack_size=4 << 20),
    _cell(10, "malloc", 64, heap="aged", stack_size=1 << 20, iterations=0, target_ns=100_000),
]
REFUSED_CELLS = {  # cell: the status of its FAILED record
    11: (_cell(11, "alloca", 64, pattern="cross"), native.lib.AB_EUNAVAILABLE),
    12: (_cell(12, "alloca", 1 << 30, threads=2), native.lib.AB_ESTACK),
    13: (_cell(13, "malloc", (1 << 64) - 1, dist="loguniform", low=1, seed=1),
         native.lib.AB_ENOMEM),
}


def _run_plan(runner, cells, rounds=2):
    """Run `cells` for `rounds` rounds; returns (records, stderr) after the runner exits, or
    skips when ThreadSanitizer cannot run here at all."""
    plan = framing.plan_text(cells, [(r, [c["id"] for c in cells]) for r in range(rounds)])
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen([runner, "--out-fd", str(write_fd)], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               pass_fds=(write_fd,), env=ENV)
    os.close(write_fd)
    try:
        process.stdin.write(plan.encode())
        process.stdin.close()
        data = b""
        while chunk := os.read(read_fd, 1 << 16):
            data += chunk
        stderr = process.stderr.read().decode(errors="replace")
        returncode = process.wait(timeout=300)
    finally:
        os.close(read_fd)
        process.kill()
        process.wait()
    _skip_without_tsan(stderr)
    assert returncode == 0, stderr
    return list(framing.Reader().feed(data)), stderr


def _skip_without_tsan(stderr):
    if "ThreadSanitizer: unexpected memory mapping" in stderr:
        pytest.skip("ThreadSanitizer cannot run under this kernel's address-space layout")


def _assert_clean(stderr):
    for report in ("ERROR: AddressSanitizer", "runtime error", "WARNING: ThreadSanitizer",
                   "ERROR: LeakSanitizer"):
        assert report not in stderr, stderr


def test_every_kernel_touch_and_guard_edge_is_sanitizer_clean(driver):
    run = subprocess.run([driver], capture_output=True, text=True, env=ENV, timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "clean: 0 failures" in run.stdout
    assert "ERROR: AddressSanitizer" not in report and "runtime error" not in report, report


def test_the_runners_team_cells_and_refusals_are_sanitizer_clean(tmp_path_factory):
    runner = _runner(tmp_path_factory, FLAGS, "runner_asan")
    cells = TEAM_CELLS + [cell for cell, _ in REFUSED_CELLS.values()]
    records, stderr = _run_plan(runner, cells)
    _assert_clean(stderr)
    failed = {r["cell"]: r["status"] for k, r in records if k == framing.FAILED}
    assert failed == {c: status for c, (_, status) in REFUSED_CELLS.items()}, failed
    samples = [r for k, r in records if k == framing.SAMPLE]
    assert len(samples) == 2 * len(TEAM_CELLS) and records[-1][0] == framing.DONE


def test_the_teams_barrier_and_rings_are_race_free_under_threadsanitizer(tmp_path_factory):
    runner = _runner(tmp_path_factory, TSAN_FLAGS, "runner_tsan")
    cells = [c for c in TEAM_CELLS if c.get("threads", 1) > 1 or "pattern" in c]
    cells = [dict(c, id=i) for i, c in enumerate(cells)]
    records, stderr = _run_plan(runner, cells)
    _assert_clean(stderr)
    assert [r for k, r in records if k == framing.FAILED] == []
    assert sum(k == framing.SAMPLE for k, _ in records) == 2 * len(cells)


def test_an_abort_from_another_thread_is_race_free_under_threadsanitizer(tmp_path_factory):
    """Ctrl-C's path (native._CtrlC): a daemon thread calls ab_abort() during a run."""
    exe = _build(tmp_path_factory.mktemp("driver_tsan"), TSAN_FLAGS, [DRIVER, *RUN_SOURCES],
                 "sanitize_driver_tsan")
    run = subprocess.run([exe, "abort"], capture_output=True, text=True, env=ENV, timeout=300)
    _skip_without_tsan(run.stderr)
    _assert_clean(run.stdout + run.stderr)
    assert run.returncode == 0 and "clean: 0 failures" in run.stdout, run.stdout + run.stderr


def test_a_user_kernels_load_stack_measure_and_ops_are_sanitizer_clean(tmp_path_factory,
                                                                       monkeypatch):
    """The runner's user-kernel path (csrc/user_kernel.c): dlopen, the painted stack measure,
    every strategy's op calling the kernel, on one thread and in a team of two."""
    from alloca_bench.measuring.usercode import kernel

    monkeypatch.setenv("ALLOCA_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    k = kernel("#include <stddef.h>\nvoid work(char *b, size_t n)\n"
               "{ for (size_t i = 0; i < n; i += 64) b[i] = (char)i; }\n")
    runner = _runner(tmp_path_factory, FLAGS, "runner_asan_kernel")
    cells = [{**_cell(i, strategy, 4096), **k.plan_fields(strategy)}
             for i, strategy in enumerate(("baseline", "fixed", "alloca", "vla", "malloc"))]
    cells.append({**_cell(5, "malloc", 4096, threads=2, dist="loguniform", low=16, seed=1),
                  **k.plan_fields("malloc")})
    records, stderr = _run_plan(runner, cells)
    _assert_clean(stderr)
    assert [r for kind, r in records if kind == framing.FAILED] == []
    stacks = [r["kernel_stack"] for kind, r in records if kind == framing.CELL
              and "kernel_stack" in r]
    assert len(stacks) == 5 and all(s > 0 for s in stacks)
