"""`alloca-bench run`: a sweep, saved with --out first, then printed (table, csv, json, md)."""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import sys

import numpy as np

from alloca_bench.mallocs import format_placement
from alloca_bench.cli._args import (check_output, parse_cpus, parse_iterations, parse_size,
                                    parse_sizes, stack_advice)
from alloca_bench.options import DEFAULT_PROCESSES, DEFAULT_SIZES, HEAPS
from alloca_bench.present.tables import (cold_table, cold_table_applies, result_csv,
                                         result_markdown)
from alloca_bench.results.store import check_store
from alloca_bench.strategies import DEFAULT_STRATEGIES, STRATEGIES, TOUCHES

FORMATS = ("table", "csv", "json", "md")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="sweep sizes x strategies and print a table",
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
                   help="ops per batch: auto (about 2 ms per batch) or a comma list, e.g. "
                        "1,100,10000")
    p.add_argument("--repeats", type=int, default=21,
                   help="rounds: timed batches per cell (default 21)")
    p.add_argument("--stack-size", type=parse_size, default=None,
                   help="run stack cells on a worker thread with this much stack, e.g. 128M")
    p.add_argument("--heap", choices=HEAPS, default="fresh",
                   help="what the heap has seen before a heap cell is timed: fresh (default: a "
                        "C program just started), aged (after a fixed ageing workload) or host "
                        "(this Python process, in-process)")
    p.add_argument("--processes", type=int, default=DEFAULT_PROCESSES,
                   help=f"runner processes the rounds are spread over (default "
                        f"{DEFAULT_PROCESSES})")
    p.add_argument("--affinity", type=parse_cpus, default=None, metavar="CPU_LIST",
                   help="CPUs the runner processes may run on, as pyperf's --affinity: e.g. "
                        "0,2-3 (default: those this command may use); each runner and its "
                        "cells stay on one of them")
    p.add_argument("--min-time", type=float, default=None, metavar="SECONDS",
                   help="length of one timed batch that --iterations auto calibrates to, as "
                        "pyperf's --min-time (default 0.002)")
    p.add_argument("--binding", choices=("cffi", "ctypes"), default="cffi",
                   help="how Python calls the C kernels with --heap host (default cffi); the "
                        "kernels and their timing are the same C code either way")
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
    p.add_argument("--warmup", type=int, default=1,
                   help="discarded batches per cell before the rounds (default 1; 0 with "
                        "explicit --iterations shows the cold first call of each fresh "
                        "process)")
    p.add_argument("--mmap-threshold", type=parse_size, default=None, metavar="SIZE",
                   help="pin glibc's mmap threshold (e.g. 128K) for malloc/calloc: adds "
                        "glibc.malloc.mmap_threshold=BYTES to --glibc-tunables; default: left "
                        "dynamic")
    p.add_argument("--glibc-tunables", default=None, metavar="TUNABLES",
                   help="GLIBC_TUNABLES for the malloc/calloc cells' processes, e.g. "
                        "glibc.malloc.tcache_count=0")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    # Here, not at the top: every other command works where the compiled module does not load.
    from alloca_bench.measuring import sweep
    from alloca_bench.measuring.executor import InterruptShield

    if args.out:  # a path that cannot be written fails now, not after the whole sweep
        check_output(args.out, args.force, (".json",))
    if args.store:
        check_store(args.store)
    threshold = (f"glibc.malloc.mmap_threshold={args.mmap_threshold}"
                 if args.mmap_threshold is not None else None)
    user_kernel = kernel_argument(args.kernel) if args.kernel else None
    result = sweep(sizes=args.sizes, strategies=args.strategies.split(","),
                   iterations=args.iterations, touch=args.touch, repeats=args.repeats,
                   warmup=args.warmup, heap=args.heap, processes=args.processes,
                   stack_size=args.stack_size, binding=args.binding, cpus=args.affinity,
                   min_time=args.min_time,
                   glibc_tunables=":".join(filter(None, (args.glibc_tunables, threshold)))
                   or None, progress=not args.no_progress, kernel=user_kernel)
    with InterruptShield() as shield:
        if (result.status == "interrupted").any():
            shield.hold()  # a second Ctrl-C must not lose the table or the file
        return _show(args, result)


def kernel_argument(text: str):
    """--kernel FILE.c, FILE.c:FUNCTION or LIB.so:FUNCTION -> a Kernel (compiled or cached)."""
    from alloca_bench.measuring.usercode import kernel

    path, colon, function = text.rpartition(":")
    if not colon or not function.isidentifier():  # no function named: the whole is the path
        path, function = text, "work"
    name = os.path.basename(path)
    if re.search(r"\.so(\.\d+)*$", path):
        return kernel(library=path, function=function, name=f"{name}:{function}")
    if not os.path.isfile(path):
        raise ValueError(f"--kernel {text}: {path} is not a file (give FILE.c, FILE.c:FUNCTION "
                         "or LIB.so:FUNCTION)")
    return kernel(pathlib.Path(path), function, name=f"{name}:{function}")


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
    """The result on stdout in args.format; the header on stdout for a table, else stderr."""
    header = sys.stdout if args.format == "table" else sys.stderr
    timing = result.timing
    machine = result.machine
    print(f"alloca-bench run: touch={result.touch}, heap={result.params.get('heap')}, "
          f"{result.repeats} rounds per cell over {result.params.get('processes', 1)} "
          "process(es); "
          f"{machine.get('cpu_model')}, {machine.get('libc_name')} {machine.get('libc_version')}, "
          f"stack headroom {machine.get('stack_headroom')} B", file=header)
    if result.params.get("kernel"):
        k = result.params["kernel"]
        print(f"kernel {k['name']} (sha256 {k['sha256'][:12]}, "
              f"{k.get('compiler') or k.get('library')}): every op calls {k['function']}(buf, "
              f"size); it used {k.get('stack_bytes')} B of stack", file=header)
    print(f"{timing['wall_s']:.1f} s wall, {timing['in_batch_fraction']:.0%} of it in timed C "
          "batches. Medians over rounds; ± = the larger half of their 95% interval;",
          file=header)
    print("err% = nanobench's median abs. percentage error; net = minus baseline in the same "
          "round (< x: too small to resolve); x alloca = ratio of medians.\n", file=header)
    print("\n".join(format_placement(result.params)) + "\n", file=header)
    if args.format == "csv":
        sys.stdout.write(result_csv(result))
    elif args.format == "json":
        print(json.dumps(result.to_dict()))
    elif args.format == "md":
        print(result_markdown(result))
    else:
        print(result.table())
    if cold_table_applies(result):  # every runner cell is a fresh process
        print("\nThe first batch of each fresh process (cold) beside the warm median:\n",
              file=header)
        print(cold_table(result), file=header)


def _print_status(result) -> None:
    """On stderr: every cell that failed or is unavailable, with its reason (the command
    line's words for a stack limit), and how many Ctrl-C left short of rounds."""
    short = 0
    for index in zip(*np.nonzero(result.status != "ok")):
        s, z, i = (int(k) for k in index)
        word = str(result.status[s, z, i])
        key = (result.strategies[s], int(result.sizes[z]), result.iterations[i])
        if word == "interrupted":
            short += 1
        else:
            print(f"{word}: {key[0]} at {key[1]} B: {stack_advice(result.reasons[key])}",
                  file=sys.stderr)
    if short:
        print(f"interrupted: {short} cell(s) short of rounds (Ctrl-C); what was measured is "
              "kept", file=sys.stderr)
