"""`alloca-bench allocators`: the allocators found (name, version, library)."""
from __future__ import annotations

import argparse
import os

from alloca_bench.exceptions import WorkerError
from alloca_bench.mallocs import allocators, malloc_library


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "allocators", help=summary,
        description="The allocators malloc@NAME and calloc@NAME can use: glibc, and jemalloc, "
                    "tcmalloc, mimalloc where installed; add custom builds with "
                    "ALLOCA_BENCH_ALLOCATORS=name=/path/lib.so,...")

    def show(args: argparse.Namespace) -> int:
        print(format_allocators())
        return 0

    p.set_defaults(handler=show)


def format_allocators() -> str:
    """One line per allocator found: name, version, library (what `alloca-bench allocators`
    prints); the one serving malloc in this process is marked."""
    # Here, not at the top: the other commands work where the compiled module does not load.
    from alloca_bench.measuring.allocator_probe import allocator_version

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
