"""The `alloca-bench` command: one sub-command per job, each a thin layer over the library."""
from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Sequence

from alloca_bench.exceptions import AllocaBenchError
from alloca_bench.machine import format_machine, machine_info
from alloca_bench.measure import (DEFAULT_SIZES, DEFAULT_STRATEGIES, STRATEGIES, TOUCHES,
                                  stack_headroom, sweep)
from alloca_bench.native import BUILD_INFO


# --- run ------------------------------------------------------------------------------------------

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1 << 10, "m": 1 << 20,
          "mib": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gib": 1 << 30, "gb": 1 << 30}


def parse_size(text: str) -> int:
    """'4096', '4K', '4KiB' -> 4096 bytes (binary units: K = 1024)."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 64, 4K, 1MiB)")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_sizes(text: str) -> list[int]:
    """'64,4K,1M' or '16..1M' (the powers of two between) -> sizes in bytes."""
    sizes: list[int] = []
    for part in text.split(","):
        if ".." in part:
            low, high = (parse_size(p) for p in part.split("..", 1))
            if low < 1 or high < low:
                raise argparse.ArgumentTypeError(f"bad size range {part!r}")
            power = 1 << (low - 1).bit_length()
            sizes += [low] if power != low else []
            while power <= high:
                sizes.append(power)
                power <<= 1
        else:
            sizes.append(parse_size(part))
    return sizes


def parse_iterations(text: str) -> list:
    """'auto' or '1,100,10000' -> the iterations axis."""
    try:
        return [v if v == "auto" else int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"iterations must be 'auto' or integers: {text!r}")


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="sweep sizes x strategies and print a table",
                       description="Measure every strategy at every size in interleaved rounds "
                                   "and print median ns/op, err%%, net ns/op (minus baseline), "
                                   "faults/op and the ratio to alloca.")
    p.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                   help="comma list or range of powers of two, e.g. 64,4K,1M or 16..1M "
                        "(default 16..1M)")
    p.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES),
                   help=f"comma list from {', '.join(STRATEGIES)} "
                        f"(default {','.join(DEFAULT_STRATEGIES)}; baseline is always added)")
    p.add_argument("--touch", choices=TOUCHES, default="pages",
                   help="what each op writes (default pages: one byte per 4096)")
    p.add_argument("--iterations", type=parse_iterations, default=["auto"],
                   help="ops per batch: auto (about 2 ms per batch) or a comma list, e.g. "
                        "1,100,10000")
    p.add_argument("--repeats", type=int, default=21, help="batches per cell (default 21)")
    p.add_argument("--stack-size", type=parse_size, default=None,
                   help="run on a worker thread with this much stack, e.g. 128M")
    p.add_argument("--backend", choices=("cffi", "ctypes"), default="cffi")
    p.add_argument("--seed", type=int, default=None, help="seed of the round shuffling")
    p.add_argument("--out", help="save the result as JSON to this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    result = sweep(sizes=args.sizes, strategies=args.strategies.split(","),
                   iterations=args.iterations, touch=args.touch, repeats=args.repeats,
                   progress=not args.no_progress, stack_size=args.stack_size,
                   backend=args.backend, seed=args.seed)
    timing = result.timing
    machine = result.machine
    print(f"alloca-bench run: touch={result.touch}, {result.repeats} rounds per cell; "
          f"{machine.get('cpu_model')}, {machine.get('libc_name')} {machine.get('libc_version')}, "
          f"stack headroom {machine.get('stack_headroom')} B")
    print(f"{timing['wall_s']:.1f} s wall, {timing['in_batch_fraction']:.0%} of it in timed C "
          "batches. Medians over rounds; err% = median abs. deviation;")
    print("net = minus baseline in the same round; x alloca = ns/op over alloca's, paired "
          "by round.\n")
    print(result.table())
    for name, message in result.params.get("errors", {}).items():
        print(f"error in {name}: {message}", file=sys.stderr)
    if not result.complete:
        print("incomplete: the sweep was interrupted or a strategy failed", file=sys.stderr)
    if args.out:
        result.save(args.out)
        print(f"saved to {args.out}")
    return 0 if result.complete else 1


# --- machine --------------------------------------------------------------------------------------

def _add_machine(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("machine", help="print the metadata recorded with every result")
    p.set_defaults(handler=_machine)


def _machine(args: argparse.Namespace) -> int:
    info = machine_info()
    info.update({f"build_{k}": " ".join(v) if isinstance(v, list) else v
                 for k, v in BUILD_INFO.items()})
    info["stack_headroom"] = stack_headroom()
    print(format_machine(info))
    return 0


# --- kallsyms -------------------------------------------------------------------------------------

def _add_kallsyms(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "kallsyms", help="look up Linux kernel symbols in /proc/kallsyms",
        description="Read the kernel's symbol table: /proc/kallsyms, or a file in its format.")
    # Shared by every action and given after it: `kallsyms lookup NAME --file PATH`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--file", metavar="PATH",
                        help="a kallsyms-format file to read (default: /proc/kallsyms)")
    common.add_argument("--symvers", metavar="PATH",
                        help="the kernel build's Module.symvers, to know what is exported")
    common.add_argument("--skip-malformed", action="store_true",
                        help="leave malformed lines out (counted on stderr) instead of failing")
    actions = p.add_subparsers(dest="kallsyms_action", required=True, metavar="ACTION")
    lookup = actions.add_parser("lookup", parents=[common],
                                help="the address kallsyms_lookup_name() gives for NAME")
    lookup.add_argument("name")
    lookup.add_argument("--module", help="search only this module (the kernel's module:name)")
    lookup.add_argument("--all", action="store_true",
                        help="print every symbol with this name, in any module")
    lookup.set_defaults(handler=_kallsyms_lookup)
    grep = actions.add_parser("grep", parents=[common],
                              help="symbols whose name matches a regular expression")
    grep.add_argument("pattern")
    grep.add_argument("--type", metavar="LETTERS",
                      help="keep only these type letters, e.g. T or Tt")
    grep.set_defaults(handler=_kallsyms_grep)
    stats = actions.add_parser("stats", parents=[common],
                               help="counts per type letter, linkage, export and module")
    stats.set_defaults(handler=_kallsyms_stats)


def _kallsyms_load(args: argparse.Namespace):
    from alloca_bench import kallsyms  # here, so other commands do not pay for its import

    table = kallsyms.load(args.file, symvers=args.symvers, skip_malformed=args.skip_malformed)
    if table.skipped:
        print(f"alloca-bench kallsyms: skipped {len(table.skipped)} malformed line(s) of "
              f"{table.path}, the first at line {table.skipped[0]}", file=sys.stderr)
    return table


def _kallsyms_lookup(args: argparse.Namespace) -> int:
    table = _kallsyms_load(args)
    if table.lookup_name(args.name, args.module) is None:  # PermissionError if hidden
        where = "" if args.module is None else f" in module {args.module!r}"
        print(f"alloca-bench kallsyms: no symbol {args.name!r}{where} in {table.path}",
              file=sys.stderr)
        return 1
    matches = table.lookup_all(args.name)
    for symbol in matches if args.all else [table.find(args.name, args.module)]:
        print(symbol.line())
    if len(matches) > 1 and not args.all:
        print(f"note: {len(matches)} symbols are named {args.name!r}; this is the one "
              "kallsyms_lookup_name() returns (--all lists them)", file=sys.stderr)
    return 0


def _kallsyms_grep(args: argparse.Namespace) -> int:
    table = _kallsyms_load(args)
    symbols = table.grep(args.pattern, args.type)
    if symbols and not table.addresses_visible:
        print(f"alloca-bench kallsyms: {table.path} hides addresses (all 0); "
              "they are not real", file=sys.stderr)
    for symbol in symbols:
        print(symbol.line())
    return 0 if symbols else 1  # like grep: 1 when nothing matched


def _kallsyms_stats(args: argparse.Namespace) -> int:
    table = _kallsyms_load(args)
    print(f"file: {table.path}")
    print(f"symbols: {len(table)}")
    print("addresses visible: " + ("yes" if table.addresses_visible else
                                   "no (all 0: the kernel hides them from this reader)"))
    print("kernel exports known: " + ("yes" if table.exports_known else
                                      "no (no __ksymtab_ entries; try --symvers)"))
    for title, counts in table.stats().items():
        print(title.replace("_", " ") + ":")
        for key, count in counts.items():
            print(f"  {key:<30} {count:>8}")
    return 0


# --- allocators -----------------------------------------------------------------------------------

def _add_allocators(sub: argparse._SubParsersAction) -> None:
    pass  # filled in by the allocators work


# --- compare, plot, report ------------------------------------------------------------------------

def _add_compare(sub: argparse._SubParsersAction) -> None:
    pass  # filled in by the answers work


def _add_plot(sub: argparse._SubParsersAction) -> None:
    pass  # filled in by the answers work


def _add_report(sub: argparse._SubParsersAction) -> None:
    pass  # filled in by the answers work


# --- entry point ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alloca-bench",
        description="Measure stack (alloca, VLA) versus heap (malloc, calloc, mmap) scratch memory.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_run, _add_machine, _add_allocators, _add_compare, _add_plot, _add_report,
                _add_kallsyms):
        add(sub)
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
