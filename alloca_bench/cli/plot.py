"""`alloca-bench plot`: a figure of one result, or ratios of several."""
from __future__ import annotations

import argparse
import os
import sys

from alloca_bench.analysis._align import path_label
from alloca_bench.cli._args import add_file_options, check_output, file_labels, load_results

# Enough for print; a 9 x 8 inch figure at 600 dpi is already 5400 x 4800 pixels (about 100 MB
# of pixels while drawing): more runs the machine out of memory.
MIN_DPI, MAX_DPI = 10, 600


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "plot", help=summary,
        description="One file: ns/op and faults/op per size with the page size, tcache limit, "
                    "mmap threshold and stack limit marked.  Several files: their ratios to "
                    "the first, as `compare` computes them.")
    p.add_argument("files", nargs="+", metavar="RESULT.json",
                   help="results saved by run --out (several: ratios to the first)")
    p.add_argument("-o", "--output", required=True, metavar="FIG.png",
                   help="image file to write (its suffix picks the format: png, svg, pdf; none "
                        "means .png); a directory gets NAME.png, NAME from the first file")
    p.add_argument("--force", action="store_true",
                   help="replace the image file if it exists (default: refuse, before drawing)")
    p.add_argument("--strategies", help="comma list of the strategies to draw (default all)")
    p.add_argument("--normalize", metavar="STRATEGY",
                   help="with several files: compare per-round ratios to STRATEGY")
    p.add_argument("--labels", metavar="A,B,...",
                   help="with several files: comma list naming them in order (default: their "
                        "file names)")
    p.add_argument("--dpi", type=int, default=120,
                   help=f"resolution of a PNG, {MIN_DPI} to {MAX_DPI} (default 120)")
    add_file_options(p)
    p.set_defaults(handler=_plot)


def output_path(output: str, files: list[str], supported: dict[str, str]) -> str:
    """The file the figure goes to: `output` itself, `output`.png when it has no suffix, or
    DIR/NAME.png when it is a directory (NAME: the first result's, "-compare" for several).
    ValueError for an empty `output` or a suffix matplotlib cannot write."""
    if not output:  # '' + ".png" would be a hidden file that matplotlib names '.png.png'
        raise ValueError("-o '' names no file: give FIG.png, FIG.svg ... or a directory")
    if os.path.isdir(output):
        name = path_label(files[0])
        return os.path.join(output, name + ("-compare" if len(files) > 1 else "") + ".png")
    suffix = os.path.splitext(output)[1].lstrip(".").lower()
    if not suffix:
        return output + ".png"
    if suffix not in supported:
        raise ValueError(f"cannot write a .{suffix} figure ({output}): use one of "
                         f"{', '.join(sorted(supported))}")
    return output


def _plot(args: argparse.Namespace) -> int:
    from alloca_bench.analysis.compare import compare
    from alloca_bench.present.plot import INSTALL_HINT

    try:
        import matplotlib
    except ImportError:
        print(f"alloca-bench plot: error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    matplotlib.use("Agg")  # no display needed, and none may exist
    from matplotlib.figure import Figure

    if not MIN_DPI <= args.dpi <= MAX_DPI:
        raise ValueError(f"--dpi must be between {MIN_DPI} and {MAX_DPI}, got {args.dpi}")
    path = output_path(args.output, args.files, Figure().canvas.get_supported_filetypes())
    check_output(path, args.force)
    strategies = args.strategies.split(",") if args.strategies else None
    results = load_results(args.files, args)
    if len(results) == 1:
        ax = results[0].plot(strategies=strategies)
    else:
        ax = compare(*results, labels=file_labels(args.labels, args.files),
                     normalize=args.normalize).plot(strategies=strategies)
    try:
        ax.figure.savefig(path, dpi=args.dpi)
    except RuntimeError as exc:  # a writer's own needs: .pgf runs xelatex
        raise ValueError(f"cannot write {path}: {exc}") from None
    print(f"wrote {path}")
    return 0
