"""`alloca-bench allocators`: the allocators found (name, version, library)."""
from __future__ import annotations

import argparse

from alloca_bench.mallocs import format_allocators


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "allocators", help="list the allocators found (name, version, library)",
        description="The allocators malloc@NAME and calloc@NAME can use: glibc, and jemalloc, "
                    "tcmalloc, mimalloc where installed; add custom builds with "
                    "ALLOCA_BENCH_ALLOCATORS=name=/path/lib.so,...")

    def show(args: argparse.Namespace) -> int:
        print(format_allocators())
        return 0

    p.set_defaults(handler=show)
