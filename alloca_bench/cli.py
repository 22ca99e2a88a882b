"""The `alloca-bench` command: one sub-command per job, each a thin layer over the library."""
from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Sequence

from alloca_bench.allocators import format_allocators, format_placement
from alloca_bench.exceptions import AllocaBenchError
from alloca_bench.machine import format_machine
from alloca_bench.measure import (DEFAULT_SIZES, DEFAULT_STRATEGIES, STRATEGIES, TOUCHES,
                                  cold_table, machine_metadata, sweep)


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
        raise argparse.ArgumentTypeError(
            f"iterations must be 'auto' or integers: {text!r}") from None


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="sweep sizes x strategies and print a table",
                       description="Measure every strategy at every size in interleaved rounds "
                                   "and print median ns/op, err%%, net ns/op (minus baseline), "
                                   "faults/op and the ratio to alloca.")
    p.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                   help="comma list or range of powers of two, e.g. 64,4K,1M or 16..1M "
                        "(default 16..1M)")
    p.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES),
                   help=f"comma list from {', '.join(STRATEGIES)}, or malloc@NAME / "
                        "calloc@NAME with NAME from `alloca-bench allocators` (run in a child "
                        f"with that allocator preloaded) (default {','.join(DEFAULT_STRATEGIES)}; "
                        "baseline is always added)")
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
    p.add_argument("--warmup", type=int, default=1,
                   help="discarded batches per cell before the rounds (default 1; 0 with "
                        "--isolate and explicit --iterations shows the cold first call)")
    p.add_argument("--mmap-threshold", type=parse_size, default=None, metavar="SIZE",
                   help="pin glibc's mmap threshold (e.g. 128K) for malloc/calloc, which then "
                        "run in a child; default: left dynamic")
    p.add_argument("--glibc-tunables", default=None, metavar="TUNABLES",
                   help="GLIBC_TUNABLES for malloc/calloc run in a child, e.g. "
                        "glibc.malloc.tcache_count=0")
    p.add_argument("--isolate", action="store_true",
                   help="run every (strategy, size) in a fresh child process")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    result = sweep(sizes=args.sizes, strategies=args.strategies.split(","),
                   iterations=args.iterations, touch=args.touch, repeats=args.repeats,
                   progress=not args.no_progress, stack_size=args.stack_size,
                   backend=args.backend, seed=args.seed, warmup=args.warmup,
                   mmap_threshold=args.mmap_threshold, glibc_tunables=args.glibc_tunables,
                   isolate=args.isolate)
    timing = result.timing
    machine = result.machine
    print(f"alloca-bench run: touch={result.touch}, {result.repeats} rounds per cell; "
          f"{machine.get('cpu_model')}, {machine.get('libc_name')} {machine.get('libc_version')}, "
          f"stack headroom {machine.get('stack_headroom')} B")
    print(f"{timing['wall_s']:.1f} s wall, {timing['in_batch_fraction']:.0%} of it in timed C "
          "batches. Medians over rounds; err% = median abs. deviation;")
    print("net = minus baseline in the same round; x alloca = ns/op over alloca's, paired "
          "by round.\n")
    print("\n".join(format_placement(result.params)) + "\n")
    print(result.table())
    if args.isolate and args.warmup == 0 and result.iterations[0] != "auto":
        print("\nThe first batch of each fresh process (cold) beside the warm median:\n")
        print(cold_table(result))
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
    print(format_machine(machine_metadata()))
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
    p = sub.add_parser(
        "allocators", help="list the allocators found (name, version, library)",
        description="The allocators malloc@NAME and calloc@NAME can use: glibc, and jemalloc, "
                    "tcmalloc, mimalloc where installed; add custom builds with "
                    "ALLOCA_BENCH_ALLOCATORS=name=/path/lib.so,...")

    def show(args: argparse.Namespace) -> int:
        print(format_allocators())
        return 0

    p.set_defaults(handler=show)


# --- compare, plot, report ------------------------------------------------------------------------

def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="compare saved results: ratio per cell with a confidence interval",
        description="Align saved results (other machines, allocators, builds) on the "
                    "strategies, sizes and iterations they share and print, per cell, the "
                    "ratio of medians to the reference with a bootstrap interval; 'n.s.' marks "
                    "cells that are not significant.")
    p.add_argument("files", nargs="+", metavar="RESULT.json", help="results saved by run --out")
    p.add_argument("--reference", default="0",
                   help="the result the others are divided by: a file name without .json, or "
                        "an index (default 0: the first file)")
    p.add_argument("--normalize", metavar="STRATEGY",
                   help="compare each strategy's per-round ratio to STRATEGY (e.g. alloca) "
                        "instead of raw ns/op: cancels a machine that changed speed between "
                        "runs; use it to compare allocators or builds run at different times")
    p.add_argument("--threshold", type=float, default=10.0, metavar="PCT",
                   help="smallest change called significant, in percent (default 10)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="confidence of the intervals (default 0.95)")
    p.add_argument("--fail-above", type=float, default=None, metavar="PCT",
                   help="exit with status 1 when any significant slowdown exceeds PCT percent "
                        "(for CI)")
    p.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    from alloca_bench.compare import compare

    reference = int(args.reference) if args.reference.isdigit() else args.reference
    result = compare(*args.files, reference=reference, normalize=args.normalize,
                     threshold=args.threshold / 100, confidence=args.confidence)
    print(result)
    if args.fail_above is None:
        return 0
    slow = result.slowdowns(args.fail_above)
    for label, strategy, size, iterations, ratio in slow:
        print(f"slower: {label} {strategy} at {size} B (iterations {iterations}): "
              f"{ratio:.3g}x", file=sys.stderr)
    print(f"{len(slow)} significant slowdown(s) above {args.fail_above:g}%", file=sys.stderr)
    return 1 if slow else 0


def _add_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot", help="draw saved results to a PNG (needs the plot extra)",
        description="One file: ns/op and faults/op per size with the page size, tcache limit, "
                    "mmap threshold and stack limit marked.  Several files: their ratios to "
                    "the first, as `compare` computes them.")
    p.add_argument("files", nargs="+", metavar="RESULT.json")
    p.add_argument("-o", "--output", required=True, metavar="FIG.png",
                   help="image file to write (its suffix picks the format: png, svg, pdf)")
    p.add_argument("--strategies", help="comma list of the strategies to draw (default all)")
    p.add_argument("--normalize", metavar="STRATEGY",
                   help="with several files: compare per-round ratios to STRATEGY")
    p.add_argument("--dpi", type=int, default=120, help="resolution of a PNG (default 120)")
    p.set_defaults(handler=_plot)


def _plot(args: argparse.Namespace) -> int:
    from alloca_bench.compare import compare
    from alloca_bench.plot import INSTALL_HINT
    from alloca_bench.result import load

    try:
        import matplotlib
    except ImportError:
        print(f"alloca-bench plot: error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    matplotlib.use("Agg")  # no display needed, and none may exist
    strategies = args.strategies.split(",") if args.strategies else None
    if len(args.files) == 1:
        ax = load(args.files[0]).plot(strategies=strategies)
    else:
        ax = compare(*args.files, normalize=args.normalize).plot(strategies=strategies)
    ax.figure.savefig(args.output, dpi=args.dpi)
    print(f"wrote {args.output}")
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    from alloca_bench.report import REPORT_SIZES

    p = sub.add_parser(
        "report", help="test the usual claims about alloca on this machine; write a report",
        description="Run a sweep (or load one with --from), measure first calls in fresh "
                    "processes, the stack after many allocas and the stack guard, and write a "
                    "Markdown or HTML report whose verdicts come from those numbers.")
    p.add_argument("--from", dest="source", metavar="RESULT.json",
                   help="use this saved sweep instead of running one")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="write here (.html: HTML with figures); default: Markdown on stdout")
    p.add_argument("--format", choices=("md", "html"),
                   help="md or html (default: from the suffix of --output, else md)")
    p.add_argument("--sizes", type=parse_sizes, default=list(REPORT_SIZES),
                   help="sizes of the sweep (default 16,64,...,1M: powers of 4)")
    p.add_argument("--repeats", type=int, default=21, help="rounds per cell (default 21)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from alloca_bench.report import gather, render
    from alloca_bench.result import load

    fmt = args.format or ("html" if (args.output or "").lower().endswith((".html", ".htm"))
                          else "md")
    result = load(args.source) if args.source else None
    print("alloca-bench report: measuring (sweep, first calls in fresh processes, stack)...",
          file=sys.stderr)
    evidence = gather(result, source=args.source or "measured now", sizes=args.sizes,
                      repeats=args.repeats, progress=not args.no_progress)
    text = render(evidence, fmt)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# --- entry point ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alloca-bench",
        description="Measure stack (alloca, VLA) versus heap (malloc, calloc, mmap) scratch "
                    "memory.",
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
