"""The `alloca-bench` command: one sub-command per module, each a thin layer over the library."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from alloca_bench._version import __version__
from alloca_bench.cli import (allocators, check, compare, export, fleet, kallsyms, machine,
                              plot, report, run)
from alloca_bench.cli._args import stack_advice
from alloca_bench.exceptions import AllocaBenchError, StackLimitError

# What a shell reports for a process that a closed pipe ended (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alloca-bench",
        description="Measure stack (alloca, VLA) versus heap (malloc, calloc, mmap) scratch "
                    "memory.",
    )
    parser.add_argument("--version", action="version", version=f"alloca-bench {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (run, machine, allocators, compare, plot, report, kallsyms, check, export,
                   fleet):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status (2 for a user error, 141 when the
    reader of stdout left before everything was printed)."""
    args = build_parser().parse_args(argv)
    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # here, so a closed pipe is caught below, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader left (`alloca-bench ... | head`). Results were saved before printing; not
        # all was printed, so this is not a success. Silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"alloca-bench {args.command}: interrupted", file=sys.stderr)
        return 130
    except (AllocaBenchError, ValueError, TypeError, OSError) as exc:
        text = stack_advice(str(exc)) if isinstance(exc, StackLimitError) else str(exc)
        print(f"alloca-bench {args.command}: error: {text}", file=sys.stderr)
        return 2
    except ImportError as exc:  # run, machine, report: the compiled module did not load
        hint = (" (this command needs the compiled extension: reinstall with pip install -e .)"
                if (exc.name or "").startswith("alloca_bench") else "")
        print(f"alloca-bench {args.command}: error: {exc}{hint}", file=sys.stderr)
        return 2
