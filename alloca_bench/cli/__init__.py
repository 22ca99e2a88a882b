"""The `alloca-bench` command: one sub-command per module, each a thin layer over the library."""
from __future__ import annotations

import argparse
import codecs
import difflib
import os
import sys
from typing import Sequence, TextIO

from alloca_bench._version import __version__
from alloca_bench.cli import (allocators, check, compare, export, fleet, kallsyms, machine,
                              plot, report, run, threads)
from alloca_bench.cli._args import stack_advice
from alloca_bench.exceptions import AllocaBenchError, StackLimitError

# What a shell reports for a process that a closed pipe ended (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141

# What the output says where the terminal cannot show it (LANG=C, PYTHONIOENCODING=ascii).
ASCII_FALLBACK = {"±": "+-", "×": "x", "µ": "u", "≤": "<=", "≥": ">=", "≈": "~", "–": "-",
                  "—": "-", "…": "...", "→": "->"}


def _ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    text = error.object[error.start:error.end]
    return "".join(ASCII_FALLBACK.get(c, "?") for c in text), error.end


codecs.register_error("alloca_bench.ascii", _ascii_fallback)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, `alloca-bench run: error: ...`, not the
    whole usage first (`--help` shows that).  Sub-commands get the same class."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="alloca-bench",
        description="Measure stack (alloca, VLA) versus heap (malloc, calloc, mmap) scratch "
                    "memory.",
    )
    parser.add_argument("--version", action="version", version=f"alloca-bench {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (run, threads, machine, allocators, compare, plot, report, kallsyms, check,
                   export, fleet):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status (2 for a user error, 141 when the
    reader of stdout left before everything was printed)."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _refuse_unknown(parser, args.command, unknown)
    for stream in (sys.stdout, sys.stderr):
        _fall_back_to_ascii(stream)
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


def _refuse_unknown(parser: argparse.ArgumentParser, command: str, unknown: list[str]) -> None:
    """Exit 2 naming the arguments `command` does not take, with the option the user may have
    meant (`--strategy` -> `--strategies`)."""
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    command_parser = commands.choices[command]
    options = [o for action in command_parser._actions for o in action.option_strings]
    guesses = [guess for arg in unknown if arg.startswith("-")
               for guess in difflib.get_close_matches(arg.split("=")[0], options, n=1)]
    hint = f" (did you mean {' and '.join(dict.fromkeys(guesses))}?)" if guesses else ""
    command_parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


def _fall_back_to_ascii(stream: TextIO) -> None:
    """A stream that cannot encode "±" prints "+-" (ASCII_FALLBACK) instead of failing after
    the work is done."""
    try:
        "±".encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="alloca_bench.ascii")
