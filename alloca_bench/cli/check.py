"""`alloca-bench check`: say why a saved result's figures may be unstable, and what to do."""
from __future__ import annotations

import argparse

from alloca_bench.cli._args import add_file_options, load_results


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check", help="print the warnings of saved results (exit 1 when there are any)",
        description="Unstable cells (err% >= 5% or two groups of samples), batches shorter "
                    "than 1000 clock steps, net costs inside the resolution, a loaded machine, "
                    "CPU scaling, a VM, too few processes: each with what to do.")
    p.add_argument("files", nargs="+", metavar="RESULT.json",
                   help="result files saved by run --out (or pytest-benchmark JSON)")
    add_file_options(p)
    p.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    found = 0
    for path, result in zip(args.files, load_results(args.files, args)):
        warnings = result.warnings
        found += len(warnings)
        print(f"{path}: {len(warnings)} warning(s)" if warnings else f"{path}: no warnings")
        for text in warnings:
            print(f"  WARNING {text}")
    return 1 if found else 0
