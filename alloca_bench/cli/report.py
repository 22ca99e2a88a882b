"""`alloca-bench report`: four claims about alloca, tested on this machine."""
from __future__ import annotations

import argparse
import contextlib
import sys

from alloca_bench.cli._args import (add_file_options, check_output, load_results, parse_sizes,
                                    write_output)
from alloca_bench.options import REPORT_SIZES
from alloca_bench.results._stats import MIN_SAMPLES

NEEDS_ROUNDS = (f"the report's verdicts need an interval per size, which needs at least "
                f"{MIN_SAMPLES} rounds per cell")


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "report", help=summary,
        description="Run a sweep (or load one with --from), measure first calls in fresh "
                    "processes, the stack after many allocas and the stack guard, and write a "
                    "Markdown or HTML report whose verdicts come from those numbers.")
    p.add_argument("--from", dest="source", metavar="RESULT.json",
                   help="use this saved sweep instead of running one")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="write here (.html: HTML with figures); default: Markdown on stdout")
    p.add_argument("--force", action="store_true",
                   help="replace the -o file if it exists (default: refuse, before measuring)")
    p.add_argument("--format", choices=("md", "html"),
                   help="md or html (default: from the suffix of --output, else md)")
    p.add_argument("--sizes", type=parse_sizes, default=list(REPORT_SIZES),
                   help="sizes of the sweep (default 16,64,...,1M: powers of 4)")
    p.add_argument("--repeats", type=int, default=21,
                   help=f"rounds per cell, at least {MIN_SAMPLES} (default 21)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_file_options(p)
    p.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from alloca_bench.measuring.executor import InterruptShield

    fmt = args.format or ("html" if (args.output or "").lower().endswith((".html", ".htm"))
                          else "md")
    if args.output is not None:  # a path that cannot be written fails now, not after measuring
        check_output(args.output, args.force, (".md", ".markdown", ".txt", ".html", ".htm"))
    if args.repeats < MIN_SAMPLES:  # fewer: no interval, and each size would read "missing"
        raise ValueError(f"--repeats {args.repeats}: {NEEDS_ROUNDS}")
    result = load_results([args.source], args)[0] if args.source else None
    if result is not None and result.ns_per_op.shape[-1] < MIN_SAMPLES:
        raise ValueError(f"{args.source} holds {result.ns_per_op.shape[-1]} round(s) per cell: "
                         f"{NEEDS_ROUNDS}")
    print("alloca-bench report: measuring (sweep, first calls in fresh processes, stack)...",
          file=sys.stderr)
    with InterruptShield() as shield:  # after a first Ctrl-C, a second cannot lose the report
        evidence = _measure(args, result, shield)
        if evidence.interrupted:
            print(f"alloca-bench report: interrupted (Ctrl-C) {evidence.interrupted}: the "
                  "report holds what was measured before, marked so", file=sys.stderr)
        status = _write(args, render_report(evidence, fmt))
    return status or (1 if evidence.interrupted else 0)


def _measure(args: argparse.Namespace, result, shield):
    """The Evidence: the sweep (unless --from gave it), then the extra measurements; Ctrl-C
    during the sweep skips the extras, during the extras keeps the sweep; either way the
    Evidence says where it stopped."""
    from alloca_bench.measuring import sweep
    from alloca_bench.measuring._progress import hidden
    from alloca_bench.measuring.report_measurements import REPORT_STRATEGIES, gather
    from alloca_bench.results.evidence import Evidence

    source = args.source or "measured now"
    if result is None:
        with hidden() if args.no_progress else contextlib.nullcontext():
            result = sweep(sizes=args.sizes, strategies=REPORT_STRATEGIES,
                           repeats=args.repeats)
        if (result.status == "interrupted").any():
            shield.hold()
            return Evidence(result=result, source=source, machine_now=dict(result.machine),
                            interrupted="during the sweep")
    try:
        return gather(result, source=source, sizes=args.sizes, repeats=args.repeats,
                      progress=not args.no_progress)
    except KeyboardInterrupt:
        shield.hold()
        return Evidence(result=result, source=source, machine_now=dict(result.machine),
                        interrupted="after the sweep, during the first calls, stack and "
                                    "thread measurements")


def render_report(evidence, fmt: str) -> str:
    """The report's text (present.report.render), without a display for the HTML figure."""
    from alloca_bench.present.report import render

    if fmt == "html":
        _use_agg()  # the figure needs no display, and none may exist
    return render(evidence, fmt)


def _write(args: argparse.Namespace, text: str) -> int:
    """The report to -o (or stdout); 2 when -o could not be written (then it goes to
    stdout)."""
    if args.output:
        try:
            write_output(args.output, text, args.force)
        except OSError as exc:  # minutes of measuring are not lost: the report goes to stdout
            sys.stdout.write(text)
            print(f"alloca-bench report: error: could not write {args.output} ({exc}); the "
                  "report went to stdout", file=sys.stderr)
            return 2
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _use_agg() -> None:
    try:
        import matplotlib
    except ImportError:
        return  # the report says that figures need matplotlib
    matplotlib.use("Agg")
