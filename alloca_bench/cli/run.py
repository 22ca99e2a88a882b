"""`alloca-bench run`: a sweep, saved with --out first, then printed (table, csv, json, md)."""
from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys

import numpy as np

from alloca_bench.mallocs import format_placement
from alloca_bench.cli._args import (add_batch_options, batch_options, check_affinity,
                                    check_output, kernel_argument, option_words,
                                    parse_iterations, parse_mmap_threshold, parse_sizes,
                                    parse_stack_size, stack_advice)
from alloca_bench.options import DEFAULT_PROCESSES, DEFAULT_SIZES, HEAPS, HOST_HEAPS
from alloca_bench.present._format import kernel_line, measured_processes, measured_rounds
from alloca_bench.present.tables import (cold_table, cold_table_applies, result_csv,
                                         result_markdown, result_table)
from alloca_bench.results.store import check_store
from alloca_bench.strategies import DEFAULT_STRATEGIES, STRATEGIES, TOUCHES

FORMATS = ("table", "csv", "json", "md")
DEFAULT_REPEATS = 21
# --fast and --rigorous: (rounds, processes, what for), as pyperf's presets.
PRESETS = {"fast": (9, 3, "rough figures quickly"),
           "rigorous": (41, 10, "tighter intervals, taking about five times longer")}


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser("run", help=summary,
                       description="Measure every strategy at every size in interleaved rounds "
                                   "and print median ns/op, err%, net ns/op (minus baseline), "
                                   "faults/op and the ratio to alloca.")
    p.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                   help="comma list of sizes and ranges, e.g. 64,4K,1M or 16..1M; a range "
                        "LOW..HIGH holds both ends and the powers of two between (3..9: 3, 4, "
                        "8, 9) (default 16..1M)")
    p.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES),
                   help=f"comma list from {', '.join(STRATEGIES)}, or malloc@NAME / "
                        "calloc@NAME with NAME from `alloca-bench allocators` (run in a child "
                        f"with that allocator preloaded) (default {','.join(DEFAULT_STRATEGIES)}; "
                        "baseline is always added)")
    p.add_argument("--touch", choices=TOUCHES, default="pages",
                   help="what each op writes (default pages: one byte per 4096)")
    p.add_argument("--kernel", metavar="FILE.c[:FUNCTION] | LIB.so:FUNCTION", default=None,
                   help="your own C function void FUNCTION(char *buf, size_t n) (default "
                        "work), compiled once and cached, or taken from a shared library: "
                        "every op calls it on the buffer its strategy got, instead of --touch "
                        "(add fixed to --strategies for the work alone)")
    p.add_argument("--iterations", type=parse_iterations, default=["auto"],
                   help="ops per batch: auto (about 2 ms per batch, see --min-time) or a comma "
                        "list, e.g. 1,100,10000")
    add_batch_options(p, heap_option=True)
    p.add_argument("--repeats", type=int, default=None,
                   help=f"rounds: timed batches per cell (default {DEFAULT_REPEATS})")
    p.add_argument("--stack-size", type=parse_stack_size, default=None,
                   help="run stack cells on a worker thread with this much stack, e.g. 128M "
                        "(at least 64K)")
    p.add_argument("--heap", choices=HEAPS, default="fresh",
                   help="what the heap has seen before a heap cell is timed: fresh (default: a "
                        "C program just started), aged (after a fixed ageing workload), host "
                        "(this Python process, through cffi) or host-ctypes (the same through "
                        "ctypes)")
    p.add_argument("--processes", type=int, default=None,
                   help=f"runner processes the rounds are spread over (default "
                        f"{DEFAULT_PROCESSES}; --heap host runs in this process: 1)")
    preset = p.add_mutually_exclusive_group()
    for name, (repeats, processes, words) in PRESETS.items():
        preset.add_argument(f"--{name}", dest="preset", action="store_const", const=name,
                            help=f"{words}: --repeats {repeats} --processes {processes} (as "
                                 f"pyperf's --{name}; an explicit --repeats or --processes "
                                 "wins; --heap host: 1 process)")
    p.add_argument("--filter", metavar="REGEX", default=None,
                   help="measure only the cells whose name STRATEGY/SIZE (e.g. malloc/4096, "
                        "size in bytes) matches REGEX somewhere, as --benchmark_filter "
                        "(re.search); baseline is always measured")
    p.add_argument("--warmup", type=int, default=1,
                   help="discarded batches per cell before the rounds (default 1; 0 with "
                        "explicit --iterations shows the cold first call of each fresh "
                        "process)")
    p.add_argument("--mmap-threshold", type=parse_mmap_threshold, default=None, metavar="SIZE",
                   help="pin glibc's mmap threshold (e.g. 128K, at most 32M) for malloc/calloc: "
                        "adds glibc.malloc.mmap_threshold=BYTES to --glibc-tunables; default: "
                        "left dynamic")
    p.add_argument("--glibc-tunables", default=None, metavar="TUNABLES",
                   help="GLIBC_TUNABLES for the malloc/calloc cells' processes, e.g. "
                        "glibc.malloc.tcache_count=0")
    _add_output_options(p)
    p.set_defaults(handler=_run)


def _add_output_options(p: argparse.ArgumentParser) -> None:
    """Where the result goes and what stdout shows: --out, --store, --force, --format,
    --no-progress, --quiet."""
    p.add_argument("--out", metavar="FILE.json",
                   help="save the result as JSON to this file (before anything is printed; "
                        "checked before the sweep: its directory must exist)")
    p.add_argument("--store", metavar="DIR",
                   help="also file the result in this results store as DIR/<machine id>/<UTC "
                        "time>.json (created if missing; `alloca-bench fleet DIR` reads it)")
    p.add_argument("--force", action="store_true",
                   help="replace the --out file if it exists (default: refuse)")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="what stdout gets: table (default, with a header), csv (one row per "
                        "cell, full precision), json (the result, as --out saves it) or md (a "
                        "Markdown table); with csv, json and md the header goes to stderr")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print only the table (or --format's output) and one line naming the "
                        "kinds of warning: no header, notes, progress bar or cold table")


def _run(args: argparse.Namespace) -> int:
    # Here, not at the top: every other command works where the compiled module does not load.
    from alloca_bench.measuring import sweep
    from alloca_bench.measuring.executor import InterruptShield
    from alloca_bench.measuring._progress import hidden

    if args.out is not None:  # a path that cannot be written fails now, not after the whole sweep
        check_output(args.out, args.force, (".json",))
    if args.store is not None:
        check_store(args.store)
    threshold = (f"glibc.malloc.mmap_threshold={args.mmap_threshold}"
                 if args.mmap_threshold is not None else None)
    iterations = batch_options(args.iterations, args.min_time)
    cpus = check_affinity(args.affinity)
    user_kernel = kernel_argument(args.kernel, args.touch, args.heap) if args.kernel else None
    repeats, processes = _preset(args)
    strategies, sizes = args.strategies.split(","), args.sizes
    if args.filter is not None:
        strategies, sizes = filter_cells(args.filter, strategies, sizes)
    with hidden() if args.no_progress or args.quiet else contextlib.nullcontext(), option_words():
        result = sweep(sizes=sizes, strategies=strategies,
                       iterations=iterations, touch=args.touch, repeats=repeats,
                       warmup=args.warmup, heap=args.heap, processes=processes,
                       stack_size=args.stack_size,
                       glibc_tunables=":".join(filter(None, (args.glibc_tunables, threshold)))
                       or None, kernel=user_kernel, cpus=cpus)
    with InterruptShield() as shield:
        if (result.status == "interrupted").any():
            shield.hold()  # a second Ctrl-C must not lose the table or the file
        return _show(args, result)


def _preset(args: argparse.Namespace) -> tuple[int, int]:
    """(rounds, processes): --repeats and --processes when given, else the preset's, else the
    defaults; --heap host runs in this process alone, so one process unless --processes says
    otherwise (which sweep() refuses)."""
    repeats, processes = DEFAULT_REPEATS, DEFAULT_PROCESSES
    if args.preset:
        repeats, processes, _ = PRESETS[args.preset]
    if args.heap in HOST_HEAPS:
        processes = 1
    return (repeats if args.repeats is None else args.repeats,
            processes if args.processes is None else args.processes)


def cell_name(strategy: str, size) -> str:
    """A cell's name as --filter matches it: 'malloc/4096' (size in bytes; a size
    distribution by its own name, 'alloca/loguniform(16, 65536, seed=1)')."""
    return f"{strategy}/{size}"


def filter_cells(pattern: str, strategies: list[str], sizes: list) -> tuple[list[str], list]:
    """The strategies and sizes with at least one cell whose name matches `pattern`
    (re.search, as Google Benchmark's --benchmark_filter); a sweep measures every strategy at
    every size, so cells of those outside the match are measured too (said on stderr).
    ValueError when the pattern is not a regular expression or matches no cell."""
    try:
        regex = re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:  # 'a{99999999999}', '((((...'
        raise ValueError(f"--filter {pattern!r} is not a regular expression: {exc}") from None
    names = [s for s in strategies if s != "baseline"]
    matched = [(s, k) for s in names for k, z in enumerate(sizes)
               if regex.search(cell_name(s, z))]
    if not matched:
        example = cell_name(names[0], sizes[0]) if names and sizes else "malloc/4096"
        raise ValueError(f"--filter {pattern!r} matches none of the {len(names) * len(sizes)} "
                         f"cells (names are STRATEGY/SIZE in bytes, e.g. {example})")
    kept_s = [s for s in names if any(m[0] == s for m in matched)]
    kept_z = [z for k, z in enumerate(sizes) if any(m[1] == k for m in matched)]
    if len(matched) < len(kept_s) * len(kept_z):
        print(f"alloca-bench run: --filter {pattern!r} matches {len(matched)} cell(s); a sweep "
              f"measures every strategy at every size, so all {len(kept_s) * len(kept_z)} "
              f"of {', '.join(kept_s)} x {len(kept_z)} size(s) are measured", file=sys.stderr)
    return kept_s, kept_z


def _show(args: argparse.Namespace, result) -> int:
    """Save (with --out, --store) and print the result; the exit status."""
    # Save before printing: a reader that leaves early (`| head`) must not cost the result.
    saved, failed = [], []
    for where, save in ((args.out, lambda: result.save(args.out, force=args.force)),
                        (args.store, lambda: result.save(store=args.store))):
        if where:
            try:
                saved.append(save())
            except (OSError, ValueError, TypeError) as exc:  # still print what was measured
                failed.append(f"could not save to {where}: {exc}")
    _print(result, args)
    _print_status(result)
    for path in saved:
        print(f"saved to {path}", file=sys.stdout if args.format == "table" else sys.stderr)
    for error in failed:
        print(f"alloca-bench run: error: {error}", file=sys.stderr)
    if failed:
        return 2
    return 0 if result.complete else 1


def _print(result, args: argparse.Namespace) -> None:
    """The result on stdout in args.format; the header on stdout for a table, else stderr
    (none with --quiet); the interruption said under the table."""
    header = sys.stdout if args.format == "table" else sys.stderr
    if not args.quiet:
        _print_header(result, header)
    if args.format == "csv":
        sys.stdout.write(result_csv(result))
    elif args.format == "json":
        print(json.dumps(result.to_dict()))
    elif args.format == "md":
        print(result_markdown(result))
    elif args.quiet:
        print(result_table(result, with_warnings=False))
        kinds = list(dict.fromkeys(w.split(":", 1)[0] for w in result.warnings))
        if kinds:
            print(f"WARNING {', '.join(kinds)} (alloca-bench check FILE says why and what to "
                  "do)")
    else:
        print(result.table())
    stopped = interruption(result)
    if stopped:
        print(f"\n{stopped}", file=sys.stdout if args.format in ("table", "md") else sys.stderr)
    if cold_table_applies(result) and not args.quiet:  # every runner cell is a fresh process
        print("\nThe first batch of each fresh process (cold) beside the warm median:\n",
              file=header)
        print(cold_table(result), file=header)


def _print_header(result, header) -> None:
    """What ran (the rounds and processes measured, not planned), on which machine, and how to
    read the table."""
    timing, machine = result.timing, result.machine
    print(f"alloca-bench run: touch={result.touch}, heap={result.params.get('heap')}, "
          f"{measured_rounds(result)} per cell over {measured_processes(result)}; "
          f"{machine.get('cpu_model')}, {machine.get('libc_name')} {machine.get('libc_version')}, "
          f"stack headroom {machine.get('stack_headroom')} B", file=header)
    if kernel_line(result):
        print(kernel_line(result), file=header)
    print(f"{timing['wall_s']:.1f} s wall, {timing['in_batch_fraction']:.0%} of it in timed C "
          "batches. Medians over rounds; ± = the larger half of their 95% interval;",
          file=header)
    print("err% = nanobench's median abs. percentage error; net = minus baseline in the same "
          "round (< x: too small to resolve); x alloca = ratio of medians.\n", file=header)
    print("\n".join(format_placement(result.params)) + "\n", file=header)


def interruption(result) -> str:
    """The line under the table of a run Ctrl-C stopped ("" when none was interrupted)."""
    short = int(np.count_nonzero(result.status == "interrupted"))
    if not short:
        return ""
    return (f"INTERRUPTED (Ctrl-C) after {measured_rounds(result)} per cell over "
            f"{measured_processes(result)}: {short} cell(s) short of their rounds (status "
            "interrupted); the figures are what was measured before")


def _print_status(result) -> None:
    """On stderr, after the command's name: every cell that failed or is unavailable, with its
    reason (the command line's words for a stack limit), and how many Ctrl-C left short of
    rounds."""
    short = 0
    for index in zip(*np.nonzero(result.status != "ok")):
        s, z, i = (int(k) for k in index)
        word = str(result.status[s, z, i])
        key = (result.strategies[s], int(result.sizes[z]), result.iterations[i])
        if word == "interrupted":
            short += 1
        else:
            print(f"alloca-bench run: {word}: {key[0]} at {key[1]} B: "
                  f"{stack_advice(result.reasons[key])}", file=sys.stderr)
    if short:
        print(f"alloca-bench run: interrupted: {short} cell(s) short of rounds (Ctrl-C); what "
              "was measured is kept", file=sys.stderr)
