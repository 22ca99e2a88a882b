"""The C runner (alloca_bench/_runner) and its client: built with the extension's build info,
runs a plan with one process per cell, records failures per cell, and a runner or cell killed
with SIGKILL becomes an error naming the signal with nothing left behind."""
import os
import signal
import subprocess

import pytest

from alloca_bench.measuring import _framing
from alloca_bench.measuring import runner
from alloca_bench import native
from alloca_bench.exceptions import BuildMismatchError, WorkerError
from alloca_bench.measuring.validate import format_cpu_list

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

    # Batches of a few ms, 20 rounds (0.1-0.2 s): cell 1 must still have rounds to run when the
    # kill lands, even on a loaded machine whose reader lags (with tiny batches the runner could
    # finish the plan before the reader saw cell 1's record).
    slow = {"iterations": 200_000}
    cells = [cell(0, MALLOC, 64, **slow), cell(1, MALLOC, 4096, **slow),
             cell(2, MALLOC, 64, **slow)]
    records, error = run(cells, [(r, [0, 1, 2] if r % 2 == 0 else [2, 1, 0]) for r in range(20)],
                         kill_cell_1)
    assert error is None
    (failed,) = [r for k, r in records if k == _framing.FAILED]
    assert failed["cell"] == 1 and "killed by signal 9" in failed["reason"]
    samples = [r.cell for k, r in records if k == _framing.SAMPLE]
    # The kill lands while the runner goes on: cell 1 may have run a few rounds first.
    assert [c for c in samples if c != 1] == [0, 2, 2, 0] * 10 and samples.count(1) < 20


def test_a_runner_killed_mid_plan_is_a_worker_error_and_leaves_no_process(process_gone):
    pids = []

    def kill_runner_after_two_samples(kind, record):
        if kind == _framing.HELLO:
            pids.append(record["pid"])
        elif kind == _framing.CELL:
            pids.append(record["pid"])
        elif kind == _framing.SAMPLE and record.round == 1:
            os.kill(pids[0], signal.SIGKILL)

    # 200 batches of 0.1-1 ms: the runner is still at work when round 1's sample is read (a
    # runner that had ended would leave only a zombie to kill, and no error).
    cells = [cell(i, MALLOC, 64 << i, iterations=50_000) for i in range(4)]
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
        if kind == _framing.CELL:  # the cell's own word: its process may have ended already
            seen[record["cell"]] = record["affinity"]

    cells = [cell(0, MALLOC, 64), cell(1, MALLOC, 64, threads=2)]
    records, error = run(cells, [(0, [0, 1])], affinity)
    assert error is None
    hello = records[0][1]
    assert hello["cpu"] in allowed
    assert seen[0] == str(hello["cpu"]) and seen[1] == format_cpu_list(allowed)


def test_a_runner_asked_for_cpus_stays_on_one_of_them_and_a_team_gets_the_set():
    last = sorted(os.sched_getaffinity(0))[-1]
    seen, records = {}, []

    def handle(kind, record):
        records.append((kind, record))
        if kind == _framing.CELL:
            seen[record["cell"]] = record["affinity"]

    cells = [cell(0, MALLOC, 64), cell(1, MALLOC, 64, threads=2)]
    runner.run_plan(_framing.plan_text(cells, [(0, [0, 1])], cpus=[last]), handle)
    assert records[0][1]["cpu"] == last and seen == {0: str(last), 1: str(last)}


@pytest.mark.parametrize("options, text", [
    ("pin=1 cpus=0,x", "bad options line"), ("pin=1 cpus=", "bad options line"),
    ("pin=1 cpus=99999", "bad options line"), ("pin=1 colour=red", "bad options line"),
    ("pin=1 cpus=1000", "cannot run on the CPUs of options cpus="),
])
def test_a_bad_cpus_option_is_refused_with_the_runners_reason(options, text):
    plan = _framing.plan_text([cell(0, MALLOC, 64)], [(0, [0])]).replace("pin=1", options)
    with pytest.raises(WorkerError, match=f"exit status 3.*{text}"):
        runner.run_plan(plan, lambda kind, record: None)


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


def _fake_runner(tmp_path, monkeypatch, script):
    """Replace the runner by a bash script (it starts in milliseconds); its output fd is $2."""
    runner.runner_build_info()  # cached from the real runner, before the fake replaces it
    fake = tmp_path / "runner"
    fake.write_text("#!/bin/bash\n" + script)
    fake.chmod(0o755)
    monkeypatch.setattr(runner, "runner_path", lambda: str(fake))


def _busy(cell):
    return _framing.encode(_framing.BUSY, {"cell": cell})


def test_a_hung_runner_is_reported_with_the_silence_it_kept(tmp_path, monkeypatch):
    """The "hung" error names how long the runner really completed no record: its allowance
    grows with its longest pause between records, so that is more than silence_s once it has
    paused."""
    (tmp_path / "busy").write_bytes(_framing.encode(_framing.HELLO, {"pid": 1}))
    # A record at once and one after a pause, then silence until killed; a second of silence
    # allowed before the first record, so a loaded machine has time to start it.
    (tmp_path / "busy2").write_bytes(_busy(0))
    _fake_runner(tmp_path, monkeypatch, f'eval "cat {tmp_path}/busy >&$2"\nsleep 0.1\n'
                 f'eval "cat {tmp_path}/busy2 >&$2"\nexec sleep 60\n')
    with pytest.raises(WorkerError, match=r"completed no record for ([0-9.]+) s \(hung") as caught:
        runner.run_plan(_framing.plan_text([], []), lambda kind, record: None, silence_s=1.0)
    message = str(caught.value)
    silent = float(message.split("completed no record for ")[1].split(" s")[0])
    longest = float(message.split("its longest pause so far, ")[1].split(" s")[0])
    # both figures are printed to 3 significant digits: allow their rounding (half a unit of
    # the last digit each, the longest pause's thirty times over)
    assert longest > 0 and silent >= 1.0 + 30 * (longest - 0.0005) - 0.005, message


def test_a_runner_that_never_reads_its_plan_is_an_error_not_a_hang(tmp_path, monkeypatch):
    """A plan larger than a pipe's buffer, to a runner that never reads: the write has a
    deadline (it blocked forever)."""
    _fake_runner(tmp_path, monkeypatch, "exec sleep 60\n")
    plan = _framing.plan_text([cell(i, MALLOC, 64) for i in range(3000)], [])
    assert len(plan) > 1 << 17
    with pytest.raises(WorkerError, match=r"read \d+ of the plan's \d+ bytes within 1 s"):
        runner.run_plan(plan, lambda kind, record: None, silence_s=1.0)


def test_a_runner_trickling_bytes_that_complete_no_record_is_hung(tmp_path, monkeypatch):
    """One byte at a time, never a whole record: the silence counts from the last complete
    record (each byte restarted it, so this waited forever)."""
    _fake_runner(tmp_path, monkeypatch,
                 'while :; do eval "printf x >&$2"; sleep 0.2; done\n')
    with pytest.raises(WorkerError, match=r"completed no record for .*\(hung"):
        runner.run_plan(_framing.plan_text([], []), lambda kind, record: None, silence_s=1.0)


def test_a_runner_flooding_hello_records_is_stopped_at_the_second(tmp_path, monkeypatch):
    """HELLO comes once: a flood of them (memory grew without bound) ends at the second."""
    (tmp_path / "hello").write_bytes(_framing.encode(_framing.HELLO, {"pid": 1}))
    _fake_runner(tmp_path, monkeypatch,
                 f'for i in $(seq 2000); do eval "cat {tmp_path}/hello >&$2"; done\n'
                 "exec sleep 60\n")
    seen = []
    with pytest.raises(WorkerError, match=r"malformed record \(record 1 after \[1\]: HELLO"):
        runner.run_plan(_framing.plan_text([], []), lambda kind, record: seen.append(kind),
                        silence_s=5.0)
    assert seen == [_framing.HELLO]


def _first_sample_rate(strategy, size, touch):
    """ns/op of a short batch: what sizes a batch of a few seconds here."""
    records, error = run([cell(0, strategy, size, touch, iterations=50)], [(0, [0])])
    assert error is None, error
    return [r for k, r in records if k == _framing.SAMPLE][0].ns_per_op


def test_a_batch_longer_than_every_silence_limit_is_not_hung():
    """A first batch with iterations given and no warm-up has no known length: while its
    process works, the runner sends BUSY records, and neither the runner (timeout_ms) nor the
    client (silence_s) calls it hung (the runner killed it at timeout_ms)."""
    full = native.TOUCHES.index("full")
    rate = _first_sample_rate(native.STRATEGIES.index("mmap"), 256 << 10, full)
    iterations = int(4e9 / rate)  # about 4 s, whatever this machine's speed
    records, error = run([cell(0, native.STRATEGIES.index("mmap"), 256 << 10, full,
                               iterations=iterations, timeout_ms=1000)], [(0, [0])],
                         silence_s=2.0)
    assert error is None, error
    kinds = [k for k, _ in records]
    assert kinds.count(_framing.SAMPLE) == 1 and kinds.count(_framing.BUSY) >= 2, kinds


def test_a_stopped_cell_is_hung_though_its_batch_has_no_known_length():
    """A cell whose process uses no CPU (SIGSTOP here, a deadlock elsewhere) is hung after
    timeout_ms, even in a batch of unknown length; the other cells go on."""
    slow = cell(0, MALLOC, 64, iterations=10**9, timeout_ms=500)

    def stop(kind, record):
        if kind == _framing.CELL and record["cell"] == 0:
            os.kill(record["pid"], signal.SIGSTOP)

    records, error = run([slow, cell(1, MALLOC, 64)], [(0, [0, 1])], on_record=stop)
    assert error is None, error
    failed = [r for k, r in records if k == _framing.FAILED]
    assert [r["cell"] for r in failed] == [0] and "(hung)" in failed[0]["reason"], failed
    assert [r.cell for k, r in records if k == _framing.SAMPLE] == [1]


class _Enough(Exception):
    pass


def test_a_prepared_cells_record_is_sent_while_the_next_cell_prepares():
    """Records of cells ready before the rounds leave the runner at once, before the next
    cell's heartbeats (they were held in the runner's output buffer until the first round)."""
    slow = cell(1, MALLOC, 1 << 20, PAGES, iterations=10**9, warmup=1, timeout_ms=400)
    seen = []

    def watch(kind, record):
        seen.append((kind, record.get("cell") if isinstance(record, dict) else None))
        if kind == _framing.BUSY:
            raise _Enough

    with pytest.raises(_Enough):
        run([cell(0, MALLOC, 64), slow], [(0, [0, 1])], on_record=watch)
    assert seen[-2:] == [(_framing.CELL, 0), (_framing.BUSY, 1)], seen


def _raw_run(plan: bytes, preexec_fn=None):
    """Run the runner on raw plan bytes: (exit status, the records it wrote, its stderr)."""
    read_fd, write_fd = os.pipe()
    done = subprocess.run([runner.RUNNER, "--out-fd", str(write_fd)], input=plan,
                          capture_output=True, pass_fds=(write_fd,), preexec_fn=preexec_fn,
                          timeout=120)
    os.close(write_fd)
    data = b""
    while chunk := os.read(read_fd, 1 << 16):
        data += chunk
    os.close(read_fd)
    return done.returncode, list(_framing.Reader().feed(data)), done.stderr.decode()


def test_the_runner_raises_its_soft_descriptor_limit_to_the_hard_one():
    """Every cell holds a socket: 40 cells under a soft limit of 32 descriptors lost cells
    ("socketpair failed"); the runner takes the hard limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 256:
        pytest.skip(f"hard RLIMIT_NOFILE {hard}")
    cells = [cell(i, BASELINE, 16) for i in range(40)]
    plan = _framing.plan_text(cells, [(0, list(range(40)))]).encode()
    status, records, stderr = _raw_run(
        plan, lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (32, hard)))
    assert status == 0, stderr
    assert not [r for k, r in records if k == _framing.FAILED], records
    assert len([r for k, r in records if k == _framing.SAMPLE]) == 40


def test_a_cell_lost_to_the_descriptor_limit_names_errno():
    import resource
    cells = [cell(i, BASELINE, 16) for i in range(40)]
    plan = _framing.plan_text(cells, [(0, list(range(40)))]).encode()
    status, records, stderr = _raw_run(
        plan, lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32)))
    failed = [r for k, r in records if k == _framing.FAILED]
    assert status == 0 and failed, (status, stderr)
    assert "Too many open files (errno 24; RLIMIT_NOFILE 32" in failed[0]["reason"], failed


def test_a_stack_size_below_64_kib_is_floored_in_the_runner_too():
    """A hand-written plan's stack_size=4096 overflowed the cell's worker thread (SIGSEGV,
    the cell lost): floored to 64 KiB, its guard refuses the op as in a 64 KiB thread."""
    records, error = run([cell(0, ALLOCA, 64, stack_size=4096),
                          cell(1, ALLOCA, 64, stack_size=64 << 10)], [(0, [0, 1])])
    assert error is None, error
    failed = {r["cell"]: r for k, r in records if k == _framing.FAILED}
    assert failed[0]["status"] == native.lib.AB_ESTACK, failed
    assert failed[0]["headroom"] == failed[1]["headroom"], failed


def test_a_blank_line_before_a_round_does_not_skip_it():
    plan = _framing.plan_text([cell(0, MALLOC, 64)], [(0, [0]), (1, [0])])
    plan = plan.replace("\nround index=1", "\n\nround index=1")
    records = []
    runner.run_plan(plan, lambda kind, record: records.append((kind, record)))
    assert [r.round for k, r in records if k == _framing.SAMPLE] == [0, 1]


def test_lines_after_end_are_refused_not_run():
    plan = _framing.plan_text([cell(0, MALLOC, 64)], [(0, [0])]) + "round index=1 cells=0\n"
    with pytest.raises(WorkerError, match=r"exit status 3.*a line after 'end': round index=1"):
        runner.run_plan(plan, lambda kind, record: None)


def test_bytes_of_no_utf8_character_in_a_path_reach_python_as_replacement_characters():
    """expect= names a library by its path, which may hold any byte: the FAILED record saying
    it does not serve malloc is still valid JSON (a UnicodeDecodeError before)."""
    line = _framing.cell_line(cell(0, MALLOC, 64)).encode() + b" expect=/no/lib\xff\xc0.so"
    plan = _framing.PLAN_MAGIC.encode() + b"\n" + line + b"\nround index=0 cells=0\nend\n"
    status, records, stderr = _raw_run(plan)
    failed = [r for k, r in records if k == _framing.FAILED]
    assert status == 0 and failed, stderr
    assert "/no/lib\ufffd\ufffd.so" in failed[0]["reason"], failed


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
