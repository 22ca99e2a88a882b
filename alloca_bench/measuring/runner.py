"""The client of the C runner (alloca_bench/_runner): find it, check it was built with this
module, start it on a plan and hand each record back as it arrives.  A runner that dies,
garbles its output or goes silent becomes a WorkerError naming its exit status or signal; on
any exit from run_plan (Ctrl-C included) the runner is killed and reaped, and its cell
processes die with it (the runner sets PR_SET_PDEATHSIG on each), so nothing is left behind."""
from __future__ import annotations

import functools
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from typing import IO, Callable, Optional

from alloca_bench.measuring import _framing
from alloca_bench import native
from alloca_bench.exceptions import BuildMismatchError, WorkerError

RUNNER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "_runner")
# A runner that sends nothing for this long, plus 30 times its longest pause so far, is hung
# (longer than the runner waits for one cell, so a hung cell is failed there first).
SILENCE_S = 60.0


def status_text(returncode: Optional[int]) -> str:
    """'exit status 3' or 'exit status -9 (killed by SIGKILL)'."""
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        try:
            return f"exit status {returncode} (killed by {signal.Signals(-returncode).name})"
        except ValueError:
            return f"exit status {returncode}"
    return f"exit status {returncode}"


def runner_path() -> str:
    """The runner executable of this installation; WorkerError when it is missing."""
    if not os.access(RUNNER, os.X_OK):
        raise WorkerError(f"the runner executable {RUNNER} is missing: it is built at install, "
                          "reinstall with `pip install .` or `pip install -e .`")
    return RUNNER


@functools.lru_cache(maxsize=None)
def runner_build_info() -> dict:
    """The runner's build info; BuildMismatchError when it differs from the extension's (a
    stale runner would time other kernels than the ones this module reports)."""
    try:
        done = subprocess.run([runner_path(), "--build-info"], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise WorkerError(f"{RUNNER} --build-info did not finish within 30 s") from None
    if done.returncode != 0:
        raise WorkerError(f"{RUNNER} --build-info failed with {status_text(done.returncode)}")
    info = _json_answer(done.stdout, "--build-info")
    if info != native.BUILD_INFO:
        raise BuildMismatchError(
            f"the runner {RUNNER} was built from other sources or flags than the extension "
            f"(runner {info.get('package_version')} {info.get('csrc_sha256', '')[:12]}, "
            f"extension {native.BUILD_INFO['package_version']} "
            f"{native.BUILD_INFO['csrc_sha256'][:12]}): reinstall with `pip install -e .`")
    return info


def probe(env: Optional[dict] = None, timeout: float = 30.0) -> dict:
    """{"malloc_library", "version", "glibc_version"} of a runner started with `env`."""
    command = [runner_path(), "--probe"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise WorkerError(f"the runner's probe did not finish within {timeout:g} s") from exc
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip()[-500:]
        raise WorkerError(f"the runner's probe failed with {status_text(done.returncode)}: "
                          f"{tail or '(nothing on stderr)'}")
    return _json_answer(done.stdout, "--probe")


def _json_answer(stdout: bytes, option: str) -> dict:
    """The JSON object the runner printed for `option`; WorkerError quoting it when it is not
    one (a runner from elsewhere, or one that printed something else first)."""
    try:
        answer = json.loads(stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise WorkerError(f"{RUNNER} {option} printed no JSON object: {stdout[:200]!r}")
    return answer


def _stop(process: subprocess.Popen) -> None:
    """Kill and reap the runner; a second Ctrl-C meanwhile must not leave it running."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        if process.poll() is None:
            process.kill()
        process.wait()
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


def _start(env: Optional[dict]) -> tuple[subprocess.Popen, int, IO[bytes]]:
    """A runner writing its records to a pipe: (the process, the pipe's read end, its stderr
    in a temporary file)."""
    read_fd, write_fd = os.pipe()
    stderr = tempfile.TemporaryFile()
    try:
        process = subprocess.Popen([runner_path(), "--out-fd", str(write_fd)],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=stderr, pass_fds=(write_fd,), env=env)
    except BaseException:
        os.close(read_fd)
        stderr.close()
        raise
    finally:
        os.close(write_fd)
    return process, read_fd, stderr


def run_plan(plan: str, handle: Callable[[int, _framing.Record], None], *,
             env: Optional[dict] = None, silence_s: float = SILENCE_S) -> None:
    """Run one runner on `plan` (_framing.plan_text), calling handle(kind, record) for every
    record in arrival order.  Returns once the runner finished the plan; raises WorkerError
    when it dies (naming the exit status or signal and its last words on stderr), garbles a
    record, or sends nothing for `silence_s` seconds plus 30 times its longest pause so far."""
    runner_build_info()
    process, read_fd, stderr = _start(env)
    done = False

    def fail(what: str) -> WorkerError:
        _stop(process)
        stderr.seek(0)
        lines = [x for x in stderr.read().decode(errors="replace").splitlines() if x.strip()]
        tail = " | ".join(lines[-4:]) or "(nothing on stderr)"
        return WorkerError(f"the runner (pid {process.pid}, {status_text(process.returncode)}) "
                           f"{what}; stderr: {tail}")

    try:
        try:
            process.stdin.write(plan.encode())
            process.stdin.close()
        except BrokenPipeError:
            pass  # it died before reading: the EOF below says how
        reader = _framing.Reader()
        longest_s, last = 0.0, time.monotonic()
        deadline = last + silence_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise fail(f"sent nothing for {time.monotonic() - last:.3g} s (hung: it may "
                           f"pause {silence_s:g} s plus 30 times its longest pause so far, "
                           f"{longest_s:.3g} s)")
            if not select.select([read_fd], [], [], min(left, 0.25))[0]:
                continue
            data = os.read(read_fd, 1 << 16)
            if not data:
                break
            now = time.monotonic()
            longest_s, last = max(longest_s, now - last), now
            try:
                for kind, record in reader.feed(data):
                    done = done or kind == _framing.DONE
                    handle(kind, record)
            except ValueError as exc:
                raise fail(f"wrote a malformed record ({exc})") from None
            deadline = now + silence_s + 30 * longest_s
        try:
            process.wait(timeout=silence_s)
        except subprocess.TimeoutExpired:
            raise fail("closed its output but did not exit") from None
        if not done or process.returncode != 0 or reader.pending:
            raise fail("stopped before the end of its plan")
    finally:
        _stop(process)
        os.close(read_fd)
        stderr.close()
