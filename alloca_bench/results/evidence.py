"""Evidence: everything a report is written from (a sweep plus the extra measurements)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from alloca_bench.results.result import Result
from alloca_bench.results.threads import ThreadsResult


@dataclass
class Evidence:
    """Everything a report is written from.  cold: {(strategy, size): child answer};
    growth: the stack-size child's answer; loop: stack spanned by allocas and VLAs made in a
    loop in one call, per count; guard: the refused size and its error message, and
    the same size on a worker thread with a larger stack; threads: scaling under threads;
    interrupted: where Ctrl-C stopped the measuring ("" when it did not)."""

    result: Result
    source: str  # "measured now" or the file it was loaded from
    machine_now: dict
    cold: dict = field(default_factory=dict)
    growth: dict = field(default_factory=dict)
    loop: dict = field(default_factory=dict)
    guard: dict = field(default_factory=dict)
    thread_headroom: Optional[int] = None
    # "the stack under threads": alloca vs the heap at 1 and N threads (measuring.contention),
    # or why it is missing
    threads: Optional[ThreadsResult] = None
    threads_error: Optional[str] = None
    # when Ctrl-C stopped the measuring: where ("during the sweep", ...); "" when it did not
    interrupted: str = ""
