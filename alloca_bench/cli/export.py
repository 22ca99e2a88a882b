"""`alloca-bench export`: write a saved result in the format of another tool."""
from __future__ import annotations

import argparse
import json
import sys

from alloca_bench.cli._args import add_file_options, check_output, load_results, write_output


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "export", help=summary,
        description="pyperf: `python -m pyperf stats/hist/compare_to` read it (a benchmark per "
                    "cell, a run per process).  gbench: google benchmark's JSON output, which "
                    "its tools/compare.py reads.  csv: one line per sample.")
    p.add_argument("file", metavar="RESULT.json",
                   help="a result file saved by run --out (or pytest-benchmark JSON)")
    add_file_options(p)
    p.add_argument("--format", required=True, choices=("pyperf", "gbench", "csv"),
                   help="pyperf (for python -m pyperf stats/hist/compare_to), gbench (google "
                        "benchmark JSON) or csv (one row per sample)")
    p.add_argument("-o", "--output", metavar="PATH", help="write here (default: stdout)")
    p.add_argument("--force", action="store_true",
                   help="replace the -o file if it exists (default: refuse)")
    p.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from alloca_bench.results.export import to_csv, to_gbench, to_pyperf

    if args.output is not None:
        suffixes = (".csv", ".txt") if args.format == "csv" else (".json",)
        check_output(args.output, args.force, suffixes)
    result, = load_results([args.file], args)
    if args.format == "csv":
        text = to_csv(result)
    else:
        text = json.dumps(to_pyperf(result) if args.format == "pyperf" else to_gbench(result))
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_output(args.output, text, args.force)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0
