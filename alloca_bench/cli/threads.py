"""`alloca-bench threads`: N threads per cell (ab.threads), saved with --out first, then printed:
each thread's ns/op, throughput and the scaling and same-CPU efficiencies."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

from alloca_bench.cli._args import (add_batch_options, batch_options, check_affinity,
                                    check_output, kernel_argument, option_words, parse_sizes,
                                    parse_stack_size, parse_threads)
from alloca_bench.options import PATTERNS
from alloca_bench.present._format import kernel_line
from alloca_bench.present.threads import status_lines, threads_header
from alloca_bench.strategies import STRATEGIES, TOUCHES

FORMATS = ("table", "json")
# What a cell may be without making the run a failure: a pattern the stack cannot run.
EXPECTED = ("ok", "unavailable")


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser("threads", help=summary,
                       description="Run every strategy at every size with 1 and with N threads "
                                   "of one process, started together at a barrier before each "
                                   "batch, in interleaved rounds; print each thread's median "
                                   "ns/op, the throughput and the scaling efficiency.")
    p.add_argument("--threads", type=parse_threads, default=[1, 2],
                   help="thread counts, e.g. 1,2,4 (1 is always added: the reference of "
                        "scaling) (default 1,2)")
    p.add_argument("--pattern", choices=PATTERNS, default="same",
                   help="which thread frees a block: same (default: each op frees its own), "
                        "cross (the next thread frees it, through a ring), hold (each thread "
                        "keeps a window of live blocks, frees the oldest); stack strategies "
                        "cannot run cross or hold")
    p.add_argument("--strategies", default="alloca,malloc",
                   help=f"comma list from {', '.join(STRATEGIES)}, or malloc@NAME / "
                        "calloc@NAME (default alloca,malloc; baseline, the control, is always "
                        "added)")
    p.add_argument("--sizes", type=parse_sizes, default=[64],
                   help="comma list of sizes, ranges or distributions, e.g. 64,4K or "
                        "loguniform:16:64K:1 (default 64)")
    p.add_argument("--touch", choices=TOUCHES, default="pages",
                   help="what each op writes (default pages: one byte per 4096)")
    p.add_argument("--kernel", metavar="FILE.c[:FUNCTION] | LIB.so:FUNCTION", default=None,
                   help="your own C function void FUNCTION(char *buf, size_t n) (default "
                        "work), compiled once and cached, or taken from a shared library: "
                        "every op of every thread calls it on the buffer its strategy got, "
                        "instead of --touch")
    p.add_argument("--iterations", type=_iterations, default="auto",
                   help="ops per thread per batch: auto (about 2 ms per batch, see --min-time) "
                        "or a count")
    add_batch_options(p, heap_option=False)
    p.add_argument("--repeats", type=int, default=11, help="rounds per cell (default 11)")
    p.add_argument("--warmup", type=int, default=1,
                   help="discarded batches per cell before the rounds (default 1)")
    p.add_argument("--processes", type=int, default=1,
                   help="runner processes the rounds are spread over (default 1)")
    p.add_argument("--stack-size", type=parse_stack_size, default=None,
                   help="stack of each thread of a stack cell, e.g. 128M (at least 64K)")
    p.add_argument("--out", metavar="FILE.json",
                   help="save the result as JSON (before anything is printed; checked before "
                        "measuring); alloca_bench.load() reads it back as a ThreadsResult")
    p.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="what stdout gets: table (default, with a header) or json (the result "
                        "as --out saves it; the header then goes to stderr)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_run)


def _iterations(text: str):
    """'auto' or one count."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"iterations must be 'auto' or one integer: {text!r}") from None


def _run(args: argparse.Namespace) -> int:
    # Here, not at the top: every other command works where the compiled module does not load.
    from alloca_bench.measuring._progress import hidden
    from alloca_bench.measuring.threads import threads

    if args.out is not None:  # a path that cannot be written fails now, not after measuring
        check_output(args.out, args.force, (".json",))
    iterations = batch_options([args.iterations], args.min_time)[0]
    cpus = check_affinity(args.affinity)
    user_kernel = kernel_argument(args.kernel, args.touch) if args.kernel else None
    with hidden() if args.no_progress else contextlib.nullcontext(), option_words():
        result = threads(args.strategies.split(","), args.sizes, threads=args.threads,
                         pattern=args.pattern, touch=args.touch, iterations=iterations,
                         repeats=args.repeats, warmup=args.warmup, processes=args.processes,
                         stack_size=args.stack_size, kernel=user_kernel, cpus=cpus)
    save_error = None
    if args.out:  # before printing: a reader that leaves early must not cost the result
        try:
            result.save(args.out, force=args.force)
        except (OSError, ValueError, TypeError) as exc:
            save_error = exc
    header = sys.stdout if args.format == "table" else sys.stderr
    print(f"alloca-bench threads: {threads_header(result)}; "
          f"{result.machine.get('cpu_model')}", file=header)
    if kernel_line(result):
        print(kernel_line(result), file=header)
    print("Medians over rounds; Mops/s = all threads together; efficiency = throughput at N / "
          "(N x throughput at 1), paired by round; same CPU = thread 0 alone / thread 0 beside "
          "the others.\n", file=header)
    if args.format == "json":
        print(json.dumps(result.to_dict()))
    else:
        print(result.table())
    for line in status_lines(result):
        print(line, file=sys.stderr)
    if save_error is not None:
        print(f"alloca-bench threads: error: could not save to {args.out}: {save_error}",
              file=sys.stderr)
        return 2
    if args.out:
        print(f"saved to {args.out}", file=header)
    return 0 if all(s in EXPECTED for s in result.status.ravel()) else 1
