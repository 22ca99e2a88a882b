"""The values a measuring run's options take, and their defaults: heap states, thread patterns,
the default sizes and runner processes.  Native-free, so the command line builds its parsers
(choices, defaults, help) where the compiled module does not load."""
from __future__ import annotations

import os
import re
from typing import Optional

# The largest size and stack_size accepted, in bytes: a scratch buffer of 1 GiB is far past any
# stack, and never more than half the machine's memory (a full touch of more could take it down).
MAX_SIZE: int = min(1 << 30, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
MIN_STACK_SIZE = 64 * 1024  # the least stack_size= (bytes) a worker thread gets
HEAPS: tuple[str, ...] = ("fresh", "aged", "host", "host-ctypes")
HOST_HEAPS: tuple[str, ...] = ("host", "host-ctypes")  # this process, one process: no runners
PATTERNS: tuple[str, ...] = ("same", "cross", "hold")
DEFAULT_SIZES: tuple[int, ...] = tuple(1 << k for k in range(4, 21))  # 16 B .. 1 MiB
# Runner processes per sweep (the host heaps run in one: this process): see
# docs/how-it-measures.md, "Processes".  Five is the fewest the intervals need (analysis warns
# below) and two default runs then agree cell by cell; each process costs its cells' start-up
# and warm-up, a few tenths of a second.
DEFAULT_PROCESSES = 5
# The sweep of `alloca-bench report`: 16 B .. 1 MiB in steps of 4.
REPORT_SIZES: tuple[int, ...] = tuple(1 << k for k in range(4, 21, 2))
# How long a batch may be asked to last (iterations="5ms", --min-time), in ns: shorter ones let
# the clock and the call around the batch show; longer ones take minutes per sweep.
MIN_BATCH_NS, MAX_BATCH_NS = 50e3, 10e9
_DURATION = re.compile(r"\s*((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(s|ms|us|µs)\s*")
_NS_PER_UNIT = {"s": 1e9, "ms": 1e6, "us": 1e3, "µs": 1e3}


def duration_ns(text: str) -> Optional[float]:
    """A duration such as "5ms", "500us" (or "500µs"), "0.01s" in ns, or None when `text` is
    no duration (units s, ms, us)."""
    match = _DURATION.fullmatch(text)
    return float(match.group(1)) * _NS_PER_UNIT[match.group(2)] if match else None
