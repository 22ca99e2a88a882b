"""`alloca-bench check`: say why a saved result's figures may be unstable, and what to do."""
from __future__ import annotations

import argparse

import numpy as np

from alloca_bench.analysis.checks import KINDS
from alloca_bench.cli._args import add_file_options, load_results

NAMES = tuple(kind.replace(" ", "-") for kind in KINDS)  # the kinds as --ignore takes them


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "check", help=summary,
        description="Unstable cells (err% >= 5% or two groups of samples), batches shorter "
                    "than 1000 clock steps, net costs inside the resolution, a loaded machine, "
                    "CPU scaling, a VM, too few processes: each with what to do.  Exit 1 when "
                    "a warning not ignored applies, so it can gate CI: e.g. "
                    "`alloca-bench check --ignore vm,few-processes results.json`.")
    p.add_argument("files", nargs="+", metavar="RESULT.json",
                   help="result files saved by run --out (or pytest-benchmark JSON)")
    p.add_argument("--ignore", type=_kinds, default=[], metavar="KIND,...",
                   help=f"kinds of warning not printed and not failing: a comma list from "
                        f"{', '.join(NAMES)} (e.g. vm on a cloud runner)")
    add_file_options(p)
    p.set_defaults(handler=_check)


def _kinds(text: str) -> list[str]:
    from alloca_bench.present.warnings import check_kinds

    try:
        return check_kinds(filter(None, text.split(",")))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check(args: argparse.Namespace) -> int:
    from alloca_bench.present._format import nothing_measured
    from alloca_bench.present.tables import format_warnings
    from alloca_bench.present.warnings import result_warnings

    found = 0
    for path, result in zip(args.files, load_results(args.files, args)):
        if not np.isfinite(result.ns_per_op).any():  # no figure to doubt, and none to trust
            print(f"{path}: {nothing_measured(result)}")
            found += 1
            continue
        warnings = result_warnings(result, ignore=args.ignore)
        found += len(warnings)
        ignored = f" ({', '.join(args.ignore)} ignored)" if args.ignore else ""
        print(f"{path}: {len(warnings)} warning(s){ignored}" if warnings
              else f"{path}: no warnings{ignored}")
        if warnings:
            print(format_warnings(warnings, indent="  ")[1:])
    return 1 if found else 0
