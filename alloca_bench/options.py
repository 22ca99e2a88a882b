"""The values a measuring run's options take, and their defaults: heap states, thread patterns,
the default sizes and runner processes.  Native-free, so the command line builds its parsers
(choices, defaults, help) where the compiled module does not load."""
from __future__ import annotations

import os

# The largest size and stack_size accepted, in bytes: a scratch buffer of 1 GiB is far past any
# stack, and never more than half the machine's memory (a full touch of more could take it down).
MAX_SIZE: int = min(1 << 30, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
HEAPS: tuple[str, ...] = ("fresh", "aged", "host", "host-ctypes")
PATTERNS: tuple[str, ...] = ("same", "cross", "hold")
DEFAULT_SIZES: tuple[int, ...] = tuple(1 << k for k in range(4, 21))  # 16 B .. 1 MiB
# Runner processes per sweep: see docs/how-it-measures.md, "Processes".  Five is the fewest the
# intervals need (analysis warns below) and two default runs then agree cell by cell; each
# process costs its cells' start-up and warm-up, a few tenths of a second.
DEFAULT_PROCESSES = 5
# The sweep of `alloca-bench report`: 16 B .. 1 MiB in steps of 4.
REPORT_SIZES: tuple[int, ...] = tuple(1 << k for k in range(4, 21, 2))
