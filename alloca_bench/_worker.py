"""The child process behind `malloc@NAME` strategies, started by alloca_bench.allocators.

`python -m alloca_bench._worker --reply-fd N` runs the same C kernels as the parent, in a
process whose malloc is the preloaded allocator (LD_PRELOAD), and serves batch requests until
its stdin closes.  `python -m alloca_bench._worker --probe` only prints which library serves
malloc and its version, as JSON.

Protocol: every message is a 4-byte little-endian length and that many bytes of UTF-8 JSON.
Requests come on stdin; replies go to the pipe `--reply-fd`, never to stdout, so nothing an
allocator or Python prints can corrupt them (stdout is sent to stderr).
  hello (sent at start)  {"pid", "malloc_library", "version", "glibc_version", "glibc_tunables",
                          "ld_preload", "csrc_sha256"}
  request                {"jobs": [{"strategy", "touch", "size", "iterations", "repeats",
                                    "stack_size", "backend"}, ...]}
  reply                  {"results": [{"repeats": r} | {"error": class name, "message": text}],
                          "payload_bytes": n}, then n raw bytes: for each job that succeeded,
                          its ns/op, minor faults/op and major faults/op as `repeats` native
                          float64 each, in that order (no text conversion, nothing lost).

Exit statuses: 0 when stdin closes; EXIT_WRONG_ALLOCATOR when malloc is not served by the
library named in ALLOCA_BENCH_EXPECT_MALLOC (the loader ignores an LD_PRELOAD it cannot open and
would otherwise run glibc under another allocator's name); EXIT_PROTOCOL on a malformed request.
"""
from __future__ import annotations

import json
import os
import signal
import struct
import sys
from typing import BinaryIO, Optional

from alloca_bench import native
from alloca_bench.allocators import EXPECT_ENV, probe
from alloca_bench.exceptions import AllocaBenchError

EXIT_WRONG_ALLOCATOR = 3
EXIT_PROTOCOL = 4
_LENGTH = struct.Struct("<I")


def _check_expected(info: dict) -> None:
    """Exit with EXIT_WRONG_ALLOCATOR unless malloc comes from the library the parent asked for."""
    expected = os.environ.get(EXPECT_ENV)
    actual = info["malloc_library"]
    if expected and (actual is None
                     or os.path.realpath(actual) != os.path.realpath(expected)):
        print(f"alloca_bench worker: malloc is served by {actual}, not by {expected}: "
              f"LD_PRELOAD={info['ld_preload']} did not take effect (see the loader's message "
              "above, if any)", file=sys.stderr)
        sys.exit(EXIT_WRONG_ALLOCATOR)


# --- serving batch requests ---------------------------------------------------------------------

def _read_message(stream: BinaryIO) -> Optional[dict]:
    head = stream.read(_LENGTH.size)
    if not head:
        return None
    if len(head) != _LENGTH.size:
        raise ValueError("truncated length prefix")
    body = stream.read(_LENGTH.unpack(head)[0])
    return json.loads(body)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def send(fd: int, header: dict, payload: bytes = b"") -> None:
    """One reply: the JSON header (with payload_bytes) and the raw payload."""
    body = json.dumps(dict(header, payload_bytes=len(payload))).encode()
    _write_all(fd, _LENGTH.pack(len(body)) + body + payload)


def _serve(reply_fd: int) -> int:
    info = probe()
    _check_expected(info)
    send(reply_fd, dict(info, csrc_sha256=native.BUILD_INFO["csrc_sha256"]))
    while True:
        try:
            request = _read_message(sys.stdin.buffer)
            if request is None:
                return 0
            jobs = [(job["backend"], job["strategy"], job["touch"], job["size"],
                     job["iterations"], job["repeats"], job["stack_size"])
                    for job in request["jobs"]]
        except (ValueError, KeyError, TypeError) as exc:
            print(f"alloca_bench worker: malformed request: {exc}", file=sys.stderr)
            return EXIT_PROTOCOL
        results, payload = [], []
        for backend, *args in jobs:
            try:
                batches = native.binding(backend).run(*args)
            except (AllocaBenchError, ValueError, TypeError) as exc:
                results.append({"error": type(exc).__name__, "message": str(exc)})
                continue
            results.append({"repeats": len(batches.ns_per_op)})
            payload += [batches.ns_per_op.tobytes(), batches.minor_faults_per_op.tobytes(),
                        batches.major_faults_per_op.tobytes()]
        send(reply_fd, {"results": results}, b"".join(payload))


def main(argv: list[str]) -> int:
    """`--probe`: print probe() as JSON.  `--reply-fd N`: serve requests, replying on fd N."""
    # Ctrl-C in a terminal reaches the whole process group; the parent handles it and closes
    # its workers, so a worker must not die of it mid-reply.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if argv == ["--probe"]:
        info = probe()
        _check_expected(info)
        print(json.dumps(info))
        return 0
    if len(argv) == 2 and argv[0] == "--reply-fd" and argv[1].isdigit():
        os.dup2(2, 1)  # stray prints from the allocator or Python go to stderr
        return _serve(int(argv[1]))
    print(f"usage: python -m alloca_bench._worker --reply-fd N | --probe (got {argv})",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
