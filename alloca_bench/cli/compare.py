"""`alloca-bench compare`: ratios of saved results, with intervals; a CI gate."""
from __future__ import annotations

import argparse
import math
import sys
import textwrap

from alloca_bench.cli._args import add_file_options, file_labels, load_results

FORMATS = ("table", "csv", "json", "md")
WIDTH = 120  # characters of a terminal line the output keeps to


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "compare", help=summary,
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
                   help="smallest change called significant, in percent, from 0 up to 1000 "
                        "(default 10)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="confidence of the intervals (default 0.95)")
    p.add_argument("--fail-above", type=float, default=None, metavar="PCT",
                   help="exit with status 1 when any significant slowdown of a kernel that "
                        "calls an allocator exceeds PCT percent, or when such a cell the "
                        "reference measured was not measured (failed, interrupted) (for CI)")
    p.add_argument("--include-allocator-free", action="store_true",
                   help="let --fail-above also fail on kernels that call no allocator "
                        "(baseline, fixed, alloca, vla), whose moves are usually the machine's")
    p.add_argument("--match", action="append", default=[], metavar="A=B",
                   help="line up strategy A of one result with B of another, e.g. "
                        "malloc@glibc=malloc@jemalloc (repeatable)")
    p.add_argument("--labels", metavar="A,B,...",
                   help="comma list naming the files in order (default: their file names)")
    p.add_argument("--strategies", metavar="A,B,...",
                   help="comma list of the strategies to show (default all they share)")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="what stdout gets: table (default: a column per file, or a row per "
                        "file when that would pass 120 characters), csv or json (a record per "
                        "file and cell, full precision) or md; with csv, json and md the "
                        "header goes to stderr")
    add_file_options(p)
    p.set_defaults(handler=_compare)


def _match(pairs: list[str]) -> dict[str, str]:
    match = {}
    for pair in pairs:
        a, sep, b = pair.partition("=")
        if not sep or not a or not b:
            raise ValueError(f"--match takes A=B (e.g. malloc@glibc=malloc@jemalloc), got "
                             f"{pair!r}")
        match[a] = b
    return match


def _print(c, args: argparse.Namespace) -> None:
    """The header (stdout for a table, else stderr), then the cells in args.format."""
    from alloca_bench.present import comparison

    strategies = args.strategies.split(",") if args.strategies else None
    writers = {"csv": comparison.comparison_csv, "json": comparison.comparison_json,
               "md": comparison.comparison_markdown}
    body = (comparison.comparison_table(c, strategies, WIDTH) if args.format == "table"
            else writers[args.format](c, strategies))  # before the header: a bad name fails first
    header = "\n".join(textwrap.fill(line, WIDTH, subsequent_indent="  ")
                       for line in comparison.comparison_header(c).splitlines())
    print(header + "\n", file=sys.stdout if args.format == "table" else sys.stderr)
    print(body.rstrip("\n"))


def _compare(args: argparse.Namespace) -> int:
    from alloca_bench.analysis.compare import compare

    if args.fail_above is not None and not (math.isfinite(args.fail_above)
                                            and args.fail_above >= 0):
        raise ValueError(f"--fail-above takes a finite percentage >= 0, got {args.fail_above}: "
                         "a gate that can never fail is no gate")
    if not (math.isfinite(args.threshold) and 0 <= args.threshold < 1000):  # compare()'s 0..10
        raise ValueError(f"--threshold takes a percentage from 0 up to 1000 (excluded), got "
                         f"{args.threshold:g}")
    reference = int(args.reference) if args.reference.isdigit() else args.reference
    result = compare(*load_results(args.files, args),
                     labels=file_labels(args.labels, args.files), reference=reference,
                     normalize=args.normalize,
                     threshold=args.threshold / 100, confidence=args.confidence,
                     match=_match(args.match))
    _print(result, args)
    if args.fail_above is None:
        return 0
    slow = result.slowdowns(args.fail_above, args.include_allocator_free)
    lost = result.not_measured(args.include_allocator_free)
    for label, strategy, size, iterations, ratio in slow:
        print(f"slower: {label} {strategy} at {size} B (iterations {iterations}): "
              f"{ratio:.3g}x", file=sys.stderr)
    for label, strategy, size, iterations, status in lost:
        print(f"not measured: {label} {strategy} at {size} B (iterations {iterations}): "
              f"{status}", file=sys.stderr)
    print(f"{len(slow)} significant slowdown(s) above {args.fail_above:g}%"
          + (f"; {len(lost)} cell(s) measured in the reference were not measured, so the gate "
             "cannot pass them" if lost else ""), file=sys.stderr)
    return 1 if slow or lost else 0
