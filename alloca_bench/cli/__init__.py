"""The `alloca-bench` command: one sub-command per module, each a thin layer over the library."""
from __future__ import annotations

import argparse
import codecs
import difflib
import importlib
import os
import sys
from typing import Collection, Sequence, TextIO

from alloca_bench._version import __version__
from alloca_bench.exceptions import AllocaBenchError, StackLimitError

# The sub-commands, in the order `--help` lists them, with the line it shows.  Each is the module
# alloca_bench.cli.NAME, imported only when it is the command: `alloca-bench kallsyms` must not
# pay for numpy and the measuring layer that `run` needs.
COMMANDS = {
    "run": "sweep sizes x strategies and print a table",
    "threads": "N threads per cell: per-thread ns/op and scaling",
    "machine": "print the metadata recorded with every result",
    "allocators": "list the allocators found (name, version, library)",
    "compare": "compare saved results: ratio per cell with a confidence interval",
    "plot": "draw saved results to a PNG (needs the plot extra)",
    "report": "test the usual claims about alloca on this machine; write a report",
    "kallsyms": "look up Linux kernel symbols in /proc/kallsyms",
    "check": "print the warnings of saved results (exit 1 when there are any, or nothing was "
             "measured)",
    "export": "convert a saved result to pyperf JSON, google benchmark JSON or CSV",
    "fleet": "many machines side by side: where the stack stops beating the heap",
}

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


def build_parser(commands: Collection[str] = tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The parser of `alloca-bench` with the arguments of `commands` (default: every one); the
    others are only listed, with their help (all `alloca-bench --help` shows of them)."""
    parser = ArgumentParser(
        prog="alloca-bench",
        description="Measure stack (alloca, VLA) versus heap (malloc, calloc, mmap) scratch "
                    "memory.",
    )
    parser.add_argument("--version", action="version", version=f"alloca-bench {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in COMMANDS.items():
        if name in commands:
            importlib.import_module(f"alloca_bench.cli.{name}").add_parser(sub, summary)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status (2 for a user error, 141 when the
    reader of stdout left before everything was printed)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # The command is the first word that is not an option (the top level takes no values).
    parser = build_parser([arg for arg in argv if not arg.startswith("-")][:1])
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
        text = str(exc)
        if isinstance(exc, StackLimitError):  # only run, threads and report measure
            from alloca_bench.cli._args import stack_advice

            text = stack_advice(text)
        print(f"alloca-bench {args.command}: error: {text}", file=sys.stderr)
        return 2
    except ImportError as exc:  # run, machine, report: the compiled module did not load
        hint = (" (this command needs the compiled extension: reinstall with pip install -e .)"
                if (exc.name or "").startswith("alloca_bench") else "")
        print(f"alloca-bench {args.command}: error: {exc}{hint}", file=sys.stderr)
        return 2


def _refuse_unknown(parser: argparse.ArgumentParser, command: str, unknown: list[str]) -> None:
    """Exit 2 naming the arguments `command` does not take, with the option the user may have
    meant (`--strategy` -> `--strategies`), or where an option of `command` given before it
    goes (`alloca-bench -q run` -> `alloca-bench run -q`)."""
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    command_parser = commands.choices[command]
    options = [o for action in command_parser._actions for o in action.option_strings]
    # The command's own options are unknown only before it: the top level takes none of them.
    misplaced = [arg for arg in unknown if arg.split("=")[0] in options]
    guesses = [guess for arg in unknown if arg.startswith("-") and arg not in misplaced
               for guess in difflib.get_close_matches(arg.split("=")[0], options, n=1)]
    hints = []
    if misplaced:
        hints.append(f"give {' and '.join(misplaced)} after the command: alloca-bench {command} "
                     f"{' '.join(misplaced)} ...")
    if guesses:
        hints.append(f"did you mean {' and '.join(dict.fromkeys(guesses))}?")
    hint = f" ({'; '.join(hints)})" if hints else ""
    command_parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


def _fall_back_to_ascii(stream: TextIO) -> None:
    """A stream that cannot encode "±" prints "+-" (ASCII_FALLBACK) instead of failing after
    the work is done."""
    try:
        "±".encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="alloca_bench.ascii")
