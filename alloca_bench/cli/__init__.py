"""The `alloca-bench` command: one sub-command per module, each a thin layer over the library."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from alloca_bench.exceptions import AllocaBenchError
from alloca_bench.cli import (allocators, check, compare, export, kallsyms, machine, plot,
                              report, run)
from alloca_bench.machine import format_machine
from alloca_bench.measure import (
    DEFAULT_SIZES,
    DEFAULT_STRATEGIES,
    STRATEGIES,
    TOUCHES,
    cold_table,
    machine_metadata,
    sweep,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alloca-bench",
        description="Measure stack (alloca, VLA) versus heap (malloc, calloc, mmap) scratch "
                    "memory.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (run, machine, allocators, compare, plot, report, kallsyms, check, export):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status (2 for a user error)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:
        # The reader left (`alloca-bench ... | head`): silence the flush at exit, not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"alloca-bench {args.command}: interrupted", file=sys.stderr)
        return 130
    except (AllocaBenchError, ValueError, TypeError, OSError) as exc:
        print(f"alloca-bench {args.command}: error: {exc}", file=sys.stderr)
        return 2
