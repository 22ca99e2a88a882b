"""`alloca-bench plot`: a figure of one result, or ratios of several."""
from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    from alloca_bench.analysis.compare import compare
    from alloca_bench.present.plot import INSTALL_HINT
    from alloca_bench.results import load

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
