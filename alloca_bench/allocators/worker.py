"""The client of the worker child (alloca_bench._worker) that runs kernels under one allocator."""
from __future__ import annotations

import functools
import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from typing import Optional, Union

import numpy as np

from alloca_bench import exceptions
from alloca_bench.allocators.discovery import allocators, check_allocator, libc_path
from alloca_bench.allocators.introspect import (
    EXPECT_ENV,
    library_version,
    malloc_library,
)
from alloca_bench.allocators.policy import AllocatorPolicy, _placement
from alloca_bench.exceptions import WorkerError
from alloca_bench.native import BUILD_INFO, Batches

# Timeouts (seconds).  A worker that does not answer in time is killed and its strategy fails.
STARTUP_TIMEOUT_S = 60.0  # interpreter start, numpy and the extension: about 0.5 s here
BATCH_TIMEOUT_MIN_S = 10.0
BATCH_TIMEOUT_CAP_S = 600.0  # no batch may take longer, however much work it was asked
TIMEOUT_SAFETY = 20.0  # times the expected duration of a batch
# Expected ns per op before a (strategy, size) has run: generous, a page fault costs ~1 us.
PRIOR_NS_PER_OP = 2_000.0
PRIOR_NS_PER_PAGE = 10_000.0

_LENGTH = struct.Struct("<I")
_MAX_REPLY = 1 << 30
_EXCEPTIONS = {"ValueError": ValueError, "TypeError": TypeError}
_EXCEPTIONS.update({name: getattr(exceptions, name) for name in dir(exceptions)
                    if isinstance(getattr(exceptions, name), type)})


# --- the worker child -------------------------------------------------------------------------

def _child_env(library: Optional[str], tunables: Optional[str]) -> dict[str, str]:
    """The environment of a child whose malloc is `library` (None: the same as this process)."""
    env = dict(os.environ)
    env.pop(EXPECT_ENV, None)
    if library is not None:
        if os.path.realpath(library) == os.path.realpath(libc_path() or ""):
            env.pop("LD_PRELOAD", None)  # glibc: nothing preloaded, whatever this process has
        else:
            env["LD_PRELOAD"] = library
        env[EXPECT_ENV] = library
    if tunables:
        env["GLIBC_TUNABLES"] = ":".join(filter(None, (env.get("GLIBC_TUNABLES"), tunables)))
    # The child imports this very alloca_bench, wherever it was imported from.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
    return env


def _status(returncode: Optional[int]) -> str:
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        try:
            return f"exit status {returncode} (killed by {signal.Signals(-returncode).name})"
        except ValueError:
            return f"exit status {returncode}"
    return f"exit status {returncode}"


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(nothing on stderr)"


class _Died(Exception):
    pass


class Worker:
    """A child process that runs kernels under one allocator and answers batch requests.

    `allocator` is an allocators() name, or None for a child with this process's own malloc
    (isolate, or glibc settings kept out of this process).  Start is lazy: the first run()
    starts it.  Any crash, hang or garbage becomes a WorkerError naming `label`, the library
    and the exit status; the worker is then dead for good."""

    def __init__(self, label: str, allocator: Optional[str], policy: AllocatorPolicy) -> None:
        self.label = label
        self.allocator = allocator
        self.library = check_allocator(allocator) if allocator is not None else None
        self._tunables = policy.tunables()
        self._process: Optional[subprocess.Popen] = None
        self._reply_fd = -1
        self._stderr = None
        self._ns_per_op: dict[tuple, float] = {}  # what a kernel took last time, for timeouts
        self.hello: Optional[dict] = None
        self.error: Optional[WorkerError] = None

    # -- lifecycle --

    def start(self) -> dict:
        """Start the child and check its hello: the right allocator and the same build."""
        if self.error is not None:
            raise self.error
        if self.hello is not None:
            return self.hello
        env = _child_env(self.library, self._tunables)
        read_fd, write_fd = os.pipe()
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "alloca_bench._worker", "--reply-fd", str(write_fd)],
                stdin=subprocess.PIPE, stdout=self._stderr, stderr=self._stderr, env=env,
                pass_fds=(write_fd,))
        except OSError as exc:
            os.close(read_fd)
            raise self._fail(f"could not start {sys.executable}: {exc}") from exc
        finally:
            os.close(write_fd)
        self._reply_fd = read_fd
        hello, _ = self._receive(STARTUP_TIMEOUT_S)
        if hello.get("csrc_sha256") != BUILD_INFO["csrc_sha256"]:
            raise self._fail("the child loaded another build of the kernels "
                             f"({hello.get('csrc_sha256')}): reinstall alloca_bench")
        self.hello = hello
        return hello

    def close(self) -> None:
        """End the child (EOF on its stdin, then a kill if it lingers)."""
        process, self._process = self._process, None
        if process is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reply_fd >= 0:
            os.close(self._reply_fd)
            self._reply_fd = -1
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def placement(self) -> dict:
        """Where this worker's strategies run, for Result.params["placement"]."""
        if self.hello is None:
            return {"process": "child", "allocator": self.allocator, "library": self.library,
                    "version": None, "glibc_tunables": self._tunables, "mmap_threshold": None}
        return _placement("child", self.hello["malloc_library"], self.hello["version"],
                          self.hello["glibc_tunables"], _child_env(self.library, self._tunables))

    # -- requests --

    def run(self, strategy: str, touch: str, size: int, iterations: int, repeats: int,
            stack_size: int = 0, backend: str = "cffi") -> Batches:
        """One ab_run() in the child: like native.binding(backend).run()."""
        result = self.run_jobs([(strategy, touch, size, iterations, repeats)], stack_size,
                               backend)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def run_jobs(self, jobs: list[tuple[str, str, int, int, int]], stack_size: int = 0,
                 backend: str = "cffi") -> list[Union[Batches, Exception]]:
        """Several (strategy, touch, size, iterations, repeats) runs in one request, back to
        back in the child.  A job the C layer refuses comes back as its exception (the same
        class as in-process); a dead or hung child raises WorkerError."""
        self.start()
        expected_s = sum(self._expected_ns(job) * job[3] * job[4] for job in jobs) / 1e9
        timeout = min(BATCH_TIMEOUT_CAP_S, BATCH_TIMEOUT_MIN_S + TIMEOUT_SAFETY * expected_s)
        request = {"jobs": [{"strategy": s, "touch": t, "size": z, "iterations": n,
                             "repeats": r, "stack_size": stack_size, "backend": backend}
                            for s, t, z, n, r in jobs]}
        body = json.dumps(request).encode()
        try:
            self._process.stdin.write(_LENGTH.pack(len(body)) + body)
            self._process.stdin.flush()
        except OSError:
            raise self._fail("it died before the request could be sent") from None
        reply, payload = self._receive(timeout)
        return self._unpack(jobs, reply, payload)

    def _unpack(self, jobs: list, reply: dict, payload: bytes) -> list:
        results, offset = [], 0
        try:
            answers = reply["results"]
            if len(answers) != len(jobs):
                raise ValueError(f"{len(answers)} results for {len(jobs)} jobs")
            for job, answer in zip(jobs, answers):
                if "error" in answer:
                    cls = _EXCEPTIONS.get(answer["error"], WorkerError)
                    results.append(cls(f"{answer['message']} (in the {self.label} worker)"))
                    continue
                n = int(answer["repeats"])
                arrays = []
                for _ in range(3):
                    arrays.append(np.frombuffer(payload, np.float64, n, offset).copy())
                    offset += 8 * n
                results.append(Batches(*arrays))
                self._ns_per_op[job[:3]] = float(np.max(arrays[0]))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._fail(f"it sent a malformed reply ({type(exc).__name__}: {exc})") from None
        if offset != len(payload):
            raise self._fail(f"it sent {len(payload)} payload bytes, {offset} expected")
        return results

    def _expected_ns(self, job: tuple) -> float:
        known = self._ns_per_op.get(job[:3])
        if known is not None:
            return known
        return PRIOR_NS_PER_OP + PRIOR_NS_PER_PAGE * (-(-job[2] // 4096))

    def _receive(self, timeout: float) -> tuple[dict, bytes]:
        deadline = time.monotonic() + timeout
        try:
            (length,) = _LENGTH.unpack(self._read(_LENGTH.size, deadline))
            if length > _MAX_REPLY:
                raise self._fail(f"it sent garbage (a {length}-byte header)")
            header = json.loads(self._read(length, deadline))
            payload = self._read(int(header.pop("payload_bytes", 0)), deadline)
        except TimeoutError:
            self._process.kill()
            raise self._fail(f"it did not answer within {timeout:.0f} s (hung?) and was "
                             "killed") from None
        except _Died:
            raise self._fail("it died") from None
        except (ValueError, AttributeError) as exc:  # JSON errors are ValueErrors
            raise self._fail(f"it sent garbage ({exc})") from None
        return header, payload

    def _read(self, n: int, deadline: float) -> bytes:
        chunks, left = [], n
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._reply_fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(self._reply_fd, min(left, 1 << 20))
            if not chunk:
                raise _Died
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _fail(self, what: str) -> WorkerError:
        """The WorkerError for this worker (which is dead from now on): what happened, its exit
        status and the end of its stderr."""
        process = self._process
        status = "no process"
        if process is not None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            status = _status(process.returncode)
        stderr = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            stderr = self._stderr.read()[-4000:].decode(errors="replace")
        library = self.library or "this process's malloc"
        pid = f" pid {process.pid}," if process is not None else ""
        self.error = WorkerError(f"{self.label}: the worker ({library},{pid} {status}): {what}; "
                                 f"stderr: {_tail(stderr)}")
        self.close()
        return self.error


@functools.lru_cache(maxsize=None)
def _probe(library: str, mtime_ns: int) -> dict:
    """probe() run in a worker child with `library` serving malloc (cached per file version)."""
    env = _child_env(library, tunables=None)
    command = [sys.executable, "-m", "alloca_bench._worker", "--probe"]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=STARTUP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise WorkerError(f"probing {library} in a child did not finish within "
                          f"{STARTUP_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise WorkerError(f"probing {library} in a child failed with {_status(done.returncode)}"
                          f": {_tail(done.stderr)}")
    lines = done.stdout.strip().splitlines() or [""]
    try:
        return json.loads(lines[-1])  # the last line: an allocator may print a banner first
    except ValueError:
        raise WorkerError(f"probing {library} in a child gave no answer but {done.stdout!r}"
                          ) from None


def allocator_version(name: str) -> Optional[str]:
    """The version the allocator `name` reports about itself (None when it exposes none).
    A library is only ever loaded into a child to ask (about 0.2 s, once per process and file)."""
    library = check_allocator(name)
    if os.path.realpath(library) == os.path.realpath(malloc_library() or ""):
        return library_version(library)  # already serving malloc here: safe to ask
    try:
        mtime_ns = os.stat(library).st_mtime_ns
    except OSError as exc:
        raise WorkerError(f"allocator {name!r}: cannot read {library}: {exc}") from exc
    return _probe(library, mtime_ns)["version"]


def format_allocators() -> str:
    """One line per allocator found: name, version, library (what `alloca-bench allocators`
    prints); the one serving malloc in this process is marked."""
    here = os.path.realpath(malloc_library() or "")
    rows = [("name", "version", "library", "")]
    for name, path in allocators().items():
        mark = "serves malloc in this process" if os.path.realpath(path) == here else ""
        try:
            version = allocator_version(name) or "-"
        except (WorkerError, OSError, ValueError) as exc:
            version, mark = "-", f"unusable: {exc}"
        rows.append((name, version, path, mark))
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths + [0])).rstrip()
                     for row in rows)
