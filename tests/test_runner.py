"""The C runner (alloca_bench/_runner) and its client: built with the extension's build info,
runs a plan with one process per cell, records failures per cell, and a runner or cell killed
with SIGKILL becomes an error naming the signal with nothing left behind."""
import os
import signal
import subprocess
import sys

import pytest

from alloca_bench.measuring import _framing
from alloca_bench.measuring import runner
from alloca_bench import native
from alloca_bench.exceptions import BuildMismatchError, WorkerError

MALLOC, ALLOCA, BASELINE = (native.STRATEGIES.index(s) for s in ("malloc", "alloca", "baseline"))
NONE, PAGES = native.TOUCHES.index("none"), native.TOUCHES.index("pages")
FAST = {"iterations": 1000, "warmup": 0}  # short explicit batches: tests check shapes only


def cell(i, strategy, size, touch=NONE, **extra):
    return {"id": i, "strategy": strategy, "touch": touch, "size": size, **FAST, **extra}


def run(cells, rounds, on_record=None, **options):
    """Run a plan; returns the records in order (and the WorkerError, if one was raised)."""
    records = []

    def handle(kind, record):
        records.append((kind, record))
        if on_record:
            on_record(kind, record)

    try:
        runner.run_plan(_framing.plan_text(cells, rounds), handle, **options)
    except WorkerError as exc:
        return records, exc
    return records, None


def test_runner_is_installed_with_the_extensions_build_info():
    assert os.access(runner.RUNNER, os.X_OK)
    assert runner.runner_build_info() == native.BUILD_INFO
    out = subprocess.run([runner.RUNNER, "--build-info"], capture_output=True, check=True)
    assert out.stdout.decode().strip().startswith('{"package_version"')


def test_probe_names_the_library_that_serves_malloc():
    info = runner.probe()
    assert info["malloc_library"] and "libc" in os.path.basename(info["malloc_library"])
    assert info["version"] == info["glibc_version"]


def test_a_plan_gives_one_sample_per_cell_and_round_in_plan_order():
    cells = [cell(0, MALLOC, 64), cell(1, ALLOCA, 4096, PAGES), cell(2, BASELINE, 16)]
    rounds = [(5, [2, 0, 1]), (6, [1, 2, 0])]
    records, error = run(cells, rounds)
    assert error is None
    kinds = [k for k, _ in records]
    assert kinds[0] == _framing.HELLO and kinds[-1] == _framing.DONE
    assert kinds.count(_framing.CELL) == 3
    samples = [r for k, r in records if k == _framing.SAMPLE]
    assert [(s.cell, s.round) for s in samples] == [(2, 5), (0, 5), (1, 5), (1, 6), (2, 6),
                                                   (0, 6)]
    assert all(s.ns_per_op > 0 for s in samples)
    hello = records[0][1]
    assert hello["build_info"] == native.BUILD_INFO
    pids = {r["pid"] for k, r in records if k == _framing.CELL}
    assert len(pids) == 3 and hello["pid"] not in pids  # one process per cell


def test_calibration_and_glibc_heap_statistics_per_cell():
    cells = [{"id": 0, "strategy": MALLOC, "touch": NONE, "size": 64, "iterations": 0,
              "target_ns": 200_000, "warmup": 0},
             cell(1, MALLOC, 64, heap="aged")]
    records, error = run(cells, [(0, [0, 1])])
    assert error is None
    fresh, aged = (r for k, r in records if k == _framing.CELL)
    assert fresh["calibrated"] and fresh["iterations"] > 1
    assert not aged["calibrated"] and aged["iterations"] == FAST["iterations"]
    # the ageing workload leaves about a thousand live blocks
    assert aged["mallinfo2"]["uordblks"] > fresh["mallinfo2"]["uordblks"] + 500_000


def test_a_guard_refusal_fails_its_cell_and_the_others_go_on():
    cells = [cell(0, ALLOCA, 1 << 30), cell(1, MALLOC, 64),
             cell(2, ALLOCA, 512 << 10, stack_size=4 << 20),
             cell(3, ALLOCA, 512 << 10, stack_size=256 << 10)]
    records, error = run(cells, [(0, [0, 1, 2, 3]), (1, [3, 2, 1, 0])])
    assert error is None
    failed = {r["cell"]: r for k, r in records if k == _framing.FAILED}
    assert set(failed) == {0, 3}
    assert failed[0]["status"] == native.lib.AB_ESTACK
    assert "stack headroom" in failed[0]["reason"]
    samples = [r.cell for k, r in records if k == _framing.SAMPLE]
    assert samples == [1, 2, 2, 1]


def test_wrong_allocator_is_refused_per_cell():
    cells = [cell(0, MALLOC, 64, expect="/nonexistent/libjemalloc.so.2"), cell(1, MALLOC, 64)]
    records, error = run(cells, [(0, [0, 1])])
    assert error is None
    (failed,) = [r for k, r in records if k == _framing.FAILED]
    assert "not by /nonexistent/libjemalloc.so.2" in failed["reason"]


def test_a_killed_cell_process_fails_only_its_cell():
    def kill_cell_1(kind, record):
        if kind == _framing.CELL and record["cell"] == 1:
            os.kill(record["pid"], signal.SIGKILL)

    # Batches of a few ms: cell 1 must still have rounds to run when the kill lands (with tiny
    # batches the runner could finish the plan before the reader saw cell 1's record).
    slow = {"iterations": 200_000}
    cells = [cell(0, MALLOC, 64, **slow), cell(1, MALLOC, 4096, **slow),
             cell(2, MALLOC, 64, **slow)]
    records, error = run(cells, [(r, [0, 1, 2] if r % 2 == 0 else [2, 1, 0]) for r in range(6)],
                         kill_cell_1)
    assert error is None
    (failed,) = [r for k, r in records if k == _framing.FAILED]
    assert failed["cell"] == 1 and "killed by signal 9" in failed["reason"]
    samples = [r.cell for k, r in records if k == _framing.SAMPLE]
    # The kill lands while the runner goes on: cell 1 may have run a round or two first.
    assert [c for c in samples if c != 1] == [0, 2, 2, 0] * 3 and samples.count(1) < 6


def test_a_runner_killed_mid_plan_is_a_worker_error_and_leaves_no_process(process_gone):
    pids = []

    def kill_runner_after_two_samples(kind, record):
        if kind == _framing.HELLO:
            pids.append(record["pid"])
        elif kind == _framing.CELL:
            pids.append(record["pid"])
        elif kind == _framing.SAMPLE and record.round == 1:
            os.kill(pids[0], signal.SIGKILL)

    cells = [cell(i, MALLOC, 64 << i) for i in range(4)]
    rounds = [(r, [0, 1, 2, 3]) for r in range(50)]
    records, error = run(cells, rounds, kill_runner_after_two_samples)
    assert error is not None and "SIGKILL" in str(error)
    assert sum(k == _framing.SAMPLE for k, _ in records) >= 5  # what came first is kept
    assert all(process_gone(pid) for pid in pids)


def test_a_bad_plan_is_a_worker_error_with_the_runners_reason():
    with pytest.raises(WorkerError, match=r"exit status 3.*unknown cell field colour"):
        runner.run_plan(_framing.plan_text([cell(0, MALLOC, 64, colour="red")], []),
                        lambda kind, record: None)


def test_a_runner_from_another_build_is_refused(monkeypatch):
    runner.runner_build_info.cache_clear()
    monkeypatch.setattr(runner.native, "BUILD_INFO",
                        dict(native.BUILD_INFO, csrc_sha256="0" * 64))
    try:
        with pytest.raises(BuildMismatchError, match="reinstall"):
            runner.runner_build_info()
    finally:
        runner.runner_build_info.cache_clear()


def test_a_runner_printing_no_json_is_a_worker_error(monkeypatch, tmp_path):
    fake = tmp_path / "runner"
    fake.write_text("#!/bin/sh\necho 'not json'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(runner, "RUNNER", str(fake))
    runner.runner_build_info.cache_clear()
    try:
        with pytest.raises(WorkerError, match=r"--build-info printed no JSON object: b'not json"):
            runner.runner_build_info()
        with pytest.raises(WorkerError, match="--probe printed no JSON object"):
            runner.probe()
    finally:
        runner.runner_build_info.cache_clear()


def test_the_runner_and_its_cells_share_one_cpu_but_a_team_gets_them_all():
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("one CPU: nothing to pin")
    seen = {}

    def affinity(kind, record):
        if kind == _framing.CELL:
            seen[record["cell"]] = os.sched_getaffinity(record["pid"])

    cells = [cell(0, MALLOC, 64), cell(1, MALLOC, 64, threads=2)]
    records, error = run(cells, [(0, [0, 1])], affinity)
    assert error is None
    hello = records[0][1]
    assert hello["cpu"] in allowed
    assert seen[0] == {hello["cpu"]} and seen[1] == allowed


def test_a_single_thread_samples_span_is_its_own_batch():
    """Without threads= the span of a sample is its own ns/op (ab_framing.h), never the batch
    before it."""
    records, error = run([cell(0, MALLOC, 64, touch=PAGES)], [(r, [0]) for r in range(4)])
    assert error is None
    samples = [r for k, r in records if k == _framing.SAMPLE]
    assert len(samples) == 4
    assert all(s.span_ns_per_op == s.ns_per_op for s in samples), samples


def test_a_loguniform_table_up_to_the_largest_size_is_drawn_not_hung():
    """The octave count of dist=loguniform never shifts `low` past 64 bits: a plan size near
    2**64 fails its cell at once (no memory), it does not spin until the hang timeout."""
    huge = (1 << 64) - 1
    records, error = run([cell(0, MALLOC, huge, dist="loguniform", low=1, seed=1,
                               timeout_ms=10_000)], [(0, [0])])
    assert error is None
    (failed,) = [r for k, r in records if k == _framing.FAILED]
    assert failed["status"] == native.lib.AB_ENOMEM, failed


def test_a_team_refused_by_the_guard_reports_its_threads_headroom():
    """The headroom of a team's FAILED record is its threads' (stack_size), not the main
    thread's."""
    records, error = run([cell(0, ALLOCA, 512 << 10, threads=2, stack_size=256 << 10)],
                         [(0, [0])])
    assert error is None
    (failed,) = [r for k, r in records if k == _framing.FAILED]
    assert failed["status"] == native.lib.AB_ESTACK
    assert 0 < failed["headroom"] < 256 << 10, failed


def test_a_cells_stack_size_is_rounded_up_to_whole_pages_as_the_extensions_is():
    """stack_size= a page minus one byte short of S gives the runner's worker thread and a team's
    threads the same stack as S (their refusals report the same headroom), as the extension's
    worker thread gets (stack_headroom), so the Python-side guard and the runner agree."""
    page, stack = os.sysconf("SC_PAGESIZE"), 512 << 10
    cells = [cell(0, ALLOCA, 1 << 30, stack_size=stack),
             cell(1, ALLOCA, 1 << 30, stack_size=stack - page + 1),
             cell(2, ALLOCA, 1 << 30, threads=2, stack_size=stack),
             cell(3, ALLOCA, 1 << 30, threads=2, stack_size=stack - page + 1)]
    records, error = run(cells, [(0, [0, 1, 2, 3])])
    assert error is None
    headroom = {r["cell"]: r["headroom"] for k, r in records if k == _framing.FAILED}
    assert headroom[0] == headroom[1] and headroom[2] == headroom[3], headroom
    host = native.binding()
    assert host.stack_headroom(stack - page + 1) == host.stack_headroom(stack)


def test_a_round_index_past_32_bits_is_refused_not_wrapped():
    with pytest.raises(WorkerError, match=r"exit status 3.*bad round line"):
        runner.run_plan(_framing.plan_text([cell(0, MALLOC, 64)], [(1 << 32, [0])]),
                        lambda kind, record: None)


def test_a_hung_runner_is_reported_with_the_silence_it_kept(tmp_path, monkeypatch):
    """The "hung" error names how long the runner really sent nothing: its allowance grows
    with its longest pause, so that is more than silence_s once it has paused."""
    runner.runner_build_info()  # cached from the real runner, before the fake replaces it
    fake = tmp_path / "runner"
    # A byte at once and one after a pause (parts of a record, so no error), then silence
    # until killed: a shell script, which starts in milliseconds, and a second of silence
    # allowed before its first byte, so a loaded machine has time to start it.
    fake.write_text('#!/bin/bash\neval "printf x >&$2"\nsleep 0.05\neval "printf x >&$2"\n'
                    "exec sleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setattr(runner, "runner_path", lambda: str(fake))
    with pytest.raises(WorkerError, match=r"sent nothing for ([0-9.]+) s \(hung") as caught:
        runner.run_plan(_framing.plan_text([], []), lambda kind, record: None,
                        silence_s=1.0)
    message = str(caught.value)
    silent = float(message.split("sent nothing for ")[1].split(" s")[0])
    longest = float(message.split("its longest pause so far, ")[1].split(" s")[0])
    # both figures are printed to 3 significant digits: allow their rounding
    assert longest >= 0.05 and silent >= 1.0 + 30 * longest - 0.01, message


def test_a_prepared_cells_record_is_sent_while_the_next_cell_prepares():
    """Records of cells ready before the rounds leave the runner at once, so the client's
    silence watchdog sees progress while a slow cell prepares (they were held in the runner's
    output buffer until the first round)."""
    slow = cell(1, MALLOC, 1 << 20, PAGES, iterations=10**9, warmup=1)  # minutes of warm-up
    # silence_s leaves a loaded machine seconds to start the runner and the first cell
    records, error = run([cell(0, MALLOC, 64), slow], [(0, [0, 1])], silence_s=5.0)
    assert error is not None and "(hung" in str(error), error  # the slow cell, as planned
    assert [r["cell"] for k, r in records if k == _framing.CELL] == [0], records


def test_report_stack_puts_the_stack_mapping_in_the_cell_record_and_takes_only_0_or_1():
    records, error = run([cell(0, ALLOCA, 64 << 10, PAGES, report_stack=1, warmup=1),
                          cell(1, ALLOCA, 64, PAGES)], [(0, [0, 1])])
    assert error is None
    ready = {r["cell"]: r for k, r in records if k == _framing.CELL}
    assert ready[0]["stack"]["size"] >= ready[0]["stack_start"]["size"] > 0
    assert ready[0]["stack"]["rss"] >= 64 << 10  # the warm-up touched its pages
    assert "stack" not in ready[1] and "stack_start" not in ready[1]
    records, error = run([cell(0, ALLOCA, 64, report_stack=2)], [])
    assert error is not None and "bad value for cell field report_stack" in str(error)
