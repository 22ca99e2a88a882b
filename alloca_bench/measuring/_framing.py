"""The runner's wire format, both directions, in one place: the plan Python writes on the
runner's stdin (read by csrc/runner.c) and the records the runner writes back (csrc/
ab_framing.h, mirrored here constant for constant: change both together).

Plan: text, one directive a line, each a word and `key=value` fields (no spaces in values);
the runner refuses unknown keys, so later fields extend it safely (threads=, pattern=,
window=, dist=, low=, seed=: the team cells of csrc/patterns.h):
    alloca-bench-plan 1
    options setup_parallel=2 pin=1 cpus=0,2
    cell id=0 strategy=4 touch=0 size=64 iterations=0 heap=fresh warmup=1 target_ns=2000000 ...
    round index=0 cells=3,0,2,1
    end
Records: an 8-byte header (type, payload length: two native uint32) and the payload; JSON
for HELLO, CELL and FAILED, a packed struct for SAMPLE (no figure passes through text)."""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Union

PLAN_MAGIC = "alloca-bench-plan 1"
HELLO, CELL, SAMPLE, FAILED, DONE, BUSY = 1, 2, 3, 4, 5, 6
HEADER = struct.Struct("=II")  # struct ab_record_header
# struct ab_sample: cell, round, ns, minflt, majflt, thread, threads, span, cpu ns, switches,
# retakes
SAMPLE_STRUCT = struct.Struct("=IIdddIIddII")
EXIT_USAGE, EXIT_PLAN, EXIT_IO = 2, 3, 4  # the runner's exit statuses besides 0
# FAILED statuses of the runner's own (the others are ab_run()'s): a WorkerError, not a kernel's
CELL_LOST, WRONG_ALLOCATOR = -100, -101
MAX_PAYLOAD = 1 << 20


@dataclass(frozen=True)
class Sample:
    """One timed batch of one cell (per-op means), taken by thread `thread` of `threads`;
    span_ns_per_op: the whole team's batch, first start to last end, per op of one thread
    (NaN: not sent)."""

    cell: int
    round: int
    ns_per_op: float
    minor_faults_per_op: float
    major_faults_per_op: float
    thread: int = 0
    threads: int = 1
    span_ns_per_op: float = float("nan")
    cpu_ns_per_op: float = float("nan")  # the measuring thread's CPU time
    switches: int = 0  # its involuntary context switches in the batch: > 0, preempted
    retakes: int = 0  # attempts of the batch thrown away as preempted before it


# SAMPLE (a tuple of Samples, one per thread, from a team cell), HELLO/CELL/FAILED, DONE
Record = Union[Sample, tuple, dict, None]


# --- plan (Python writes, C reads) -----------------------------------------------------------

def _field(key: str, value: object) -> str:
    text = str(value)
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"plan field {key}={text!r}: values must be non-empty, without spaces")
    return f"{key}={text}"


def cell_line(fields: dict) -> str:
    """One `cell` line; `fields` needs id, strategy, touch and size (ints), empty ones dropped."""
    return "cell " + " ".join(_field(k, v) for k, v in fields.items() if v not in (None, ""))


def plan_text(cells: Sequence[dict], rounds: Sequence[tuple[int, Sequence[int]]],
              setup_parallel: int = 1, pin: bool = True,
              cpus: Optional[Sequence[int]] = None) -> str:
    """The whole plan: cells (ids 0, 1, ... in order), rounds as (index, cell ids in order),
    how many cells may prepare (calibrate, warm up) at once before the first round, whether
    the runner and its cells share one CPU (team cells excepted) and the CPUs the runner
    starts on (None: its own)."""
    options = f"options setup_parallel={int(setup_parallel)} pin={int(pin)}"
    if cpus is not None:
        options += " " + _field("cpus", ",".join(str(int(c)) for c in cpus))
    lines = [PLAN_MAGIC, options]
    lines += [cell_line(c) for c in cells]
    lines += [f"round index={r} cells={','.join(map(str, ids))}" for r, ids in rounds if ids]
    return "\n".join(lines + ["end"]) + "\n"


# --- records (C writes, Python reads) --------------------------------------------------------

def encode(kind: int, payload: Union[bytes, dict, Sample, tuple, None] = None) -> bytes:
    """One record as the runner writes it (for tests and tools)."""
    if isinstance(payload, Sample):
        payload = (payload,)
    if isinstance(payload, tuple):
        body = b"".join(SAMPLE_STRUCT.pack(s.cell, s.round, s.ns_per_op, s.minor_faults_per_op,
                                           s.major_faults_per_op, s.thread, s.threads,
                                           s.span_ns_per_op, s.cpu_ns_per_op, s.switches,
                                           s.retakes)
                        for s in payload)
    elif isinstance(payload, dict):
        body = json.dumps(payload).encode()
    else:
        body = payload or b""
    return HEADER.pack(kind, len(body)) + body


# The fields each JSON record must have, with their types (bool is no int here).
_FIELDS = {HELLO: {}, CELL: {"cell": int, "iterations": int},
           FAILED: {"cell": int, "status": int, "reason": str}, BUSY: {"cell": int}}
# Fields a record may have, with the types they may take where present.
_TEXT = (str, type(None))
_LIBRARY = {"malloc_library": _TEXT, "version": _TEXT, "glibc_version": _TEXT}
_OPTIONAL = {HELLO: {"cpu": int, "stack_headroom": int, "pid": int, "build_info": dict,
                     **_LIBRARY},
             CELL: {"mallinfo2": (dict, type(None)), "kernel_stack": int, "stack_start": dict,
                    "stack": dict, "affinity": (str, type(None)), **_LIBRARY},
             FAILED: {"headroom": int}}


def decode(kind: int, body: bytes) -> Record:
    """The payload of a record of type `kind`; ValueError on anything malformed: a SAMPLE
    whose team does not add up or whose figures are negative or not finite, a JSON record that
    is no object, lacks a field of _FIELDS or holds a negative cell or iteration count."""
    if kind == SAMPLE:
        if not body or len(body) % SAMPLE_STRUCT.size:
            raise ValueError(f"a sample record has {len(body)} bytes, not a multiple of "
                             f"{SAMPLE_STRUCT.size}")
        samples = tuple(Sample(*values) for values in SAMPLE_STRUCT.iter_unpack(body))
        for i, s in enumerate(samples):
            _check_sample(s, i, len(samples), samples[0])
        return samples[0] if len(samples) == 1 else samples
    if kind == DONE:
        if body:
            raise ValueError(f"a DONE record with {len(body)} bytes of payload")
        return None
    if kind not in _FIELDS:
        raise ValueError(f"unknown record type {kind}")
    try:
        value = json.loads(body.decode())
    except RecursionError:
        raise ValueError(f"record {kind} nests its JSON too deep") from None
    if not isinstance(value, dict):
        raise ValueError(f"record {kind} is not a JSON object")
    for key, kind_of in _FIELDS[kind].items():
        field = value.get(key)
        if type(field) is not kind_of or (kind_of is int and field < 0 and key != "status"):
            raise ValueError(f"record {kind} has {key}={field!r}, not a "
                             f"{'non-negative integer' if kind_of is int else 'string'}")
    for key, kinds in _OPTIONAL.get(kind, {}).items():
        field = value.get(key)
        if key in value and (not isinstance(field, kinds) or isinstance(field, bool)):
            raise ValueError(f"record {kind} has {key}={field!r}, not of {kinds}")
    return value


def _check_sample(s: Sample, i: int, threads: int, first: Sample) -> None:
    """ValueError unless s is thread i of a team of `threads` that took one batch of one cell,
    with finite figures, none negative."""
    if (s.thread, s.threads, s.cell, s.round) != (i, threads, first.cell, first.round):
        raise ValueError(f"sample {i} of a team of {threads} says thread {s.thread} of "
                         f"{s.threads}, cell {s.cell}, round {s.round}")
    figures = (s.ns_per_op, s.minor_faults_per_op, s.major_faults_per_op)
    if not all(math.isfinite(x) and x >= 0 for x in figures) or not (
            math.isnan(s.span_ns_per_op) or s.span_ns_per_op >= 0):
        raise ValueError(f"sample of cell {s.cell} round {s.round} has figures {figures} "
                         f"(span {s.span_ns_per_op}): each must be finite and not negative")


class Reader:
    """Splits bytes arriving from the runner into (type, record) pairs."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, Record]]:
        """Add `data`; yield every record now complete."""
        self._buffer += data
        while len(self._buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buffer)
            if length > MAX_PAYLOAD:
                raise ValueError(f"record of {length} bytes (more than {MAX_PAYLOAD})")
            end = HEADER.size + length
            if len(self._buffer) < end:
                return
            body = bytes(self._buffer[HEADER.size:end])
            del self._buffer[:end]
            yield kind, decode(kind, body)

    @property
    def pending(self) -> int:
        """Bytes of an incomplete record held back."""
        return len(self._buffer)
