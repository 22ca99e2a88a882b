"""Team cells of the runner (csrc/patterns.h): the checks of thread counts and patterns, the
plan fields of a team cell, and which cells a pattern cannot run.

A team of N threads of one runner process meets at a barrier before every batch and each thread
runs the whole batch.  pattern="same" (each thread frees what it allocated), "cross" (thread k
allocates and touches, thread k+1 mod N frees, through a bounded single-producer
single-consumer ring of AB_RING_SLOTS pointers) or "hold" (a FIFO window of
AB_HOLD_WINDOW_DEFAULT live blocks per thread: the runner's default, which plans leave alone).
Under cross and hold, baseline passes a pointer through the same rings or window without
allocating (the pattern's own cost); stack strategies cannot run them.  A size distribution
(measuring.validate.check_sizes) makes a team cell too; its plan fields come with its Cell."""
from __future__ import annotations

import numbers
from typing import Iterable, Optional

from alloca_bench import strategies
from alloca_bench.options import PATTERNS

MAX_THREADS = 64  # AB_MAX_THREADS of csrc/patterns.h
RING_SLOTS = 64  # AB_RING_SLOTS: blocks in flight between two threads under pattern="cross"
HOLD_WINDOW = 64  # AB_HOLD_WINDOW_DEFAULT: blocks each thread keeps live under pattern="hold"


def live_blocks(pattern: str, window: int = HOLD_WINDOW) -> int:
    """Blocks one thread of a team cell may keep live at once: its own op's ("same"), the
    ring it fills plus the one it touches ("cross"), its window ("hold")."""
    return {"same": 1, "cross": RING_SLOTS + 1, "hold": window}[pattern]


def check_pattern(pattern: object) -> str:
    """A free pattern: one of PATTERNS."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, not {pattern!r}")
    return pattern


def check_threads(threads: object) -> tuple[int, ...]:
    """The thread-count axis: sorted distinct counts from 1 to MAX_THREADS, 1 always included
    (the reference of scaling)."""
    if isinstance(threads, numbers.Integral):
        values: tuple = (threads,)
    elif isinstance(threads, Iterable) and not isinstance(threads, str):
        values = tuple(threads)
    else:
        raise TypeError(f"threads must be an int or a sequence of ints, not "
                        f"{type(threads).__name__} ({threads!r})")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 1 <= v <= MAX_THREADS:
            raise ValueError(f"threads must be ints from 1 to {MAX_THREADS}, got {threads!r}")
    if not values:
        raise ValueError("threads is empty: give at least one thread count")
    return tuple(sorted({int(v) for v in values} | {1}))


def refusal(strategy: str, pattern: str) -> Optional[str]:
    """Why `strategy` cannot run `pattern`, or None when it can."""
    if pattern != "same" and strategies.is_stack(strategy):
        what = ("free a block on another thread" if pattern == "cross"
                else "keep blocks alive after the op")
        return (f"{strategy} cannot run pattern={pattern!r}: it would have to {what}, and a "
                "stack allocation lives exactly as long as the frame that made it (it is "
                "released when its function returns, on its own thread)")
    return None


def team_fields(threads: int, pattern: str) -> dict:
    """Plan fields of a team cell of `threads` threads freeing by `pattern`."""
    return {"threads": threads, **({"pattern": pattern} if pattern != "same" else {})}
