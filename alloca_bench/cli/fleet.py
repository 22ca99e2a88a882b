"""`alloca-bench fleet`: many machines' answers side by side (a table, or a page with -o), and
`fleet --list STORE` to see what a store holds."""
from __future__ import annotations

import argparse
import os

from alloca_bench.analysis.fleet import fleet
from alloca_bench.cli._args import check_output, write_output
from alloca_bench.present._format import format_rows
from alloca_bench.present.fleet_page import (fleet_csv, fleet_html, fleet_json, fleet_markdown,
                                             fleet_table)
from alloca_bench.results.store import list_store

WRITERS = {".html": fleet_html, ".htm": fleet_html, ".md": fleet_markdown, ".csv": fleet_csv,
           ".json": fleet_json}


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "fleet", help=summary,
        description="Read results stores (run --store DIR), result files and pytest-benchmark "
                    "files (directories recursively) and show a row per machine: up to what "
                    "size alloca beats malloc, malloc/alloca per size with intervals, the "
                    "fastest allocator per size, the stack limit, the metadata that differs "
                    "and each result's warnings.  A directory gives one row per machine (its "
                    "newest result); a file named on its own is a row of its own.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="results stores, directories or result files")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write FILE instead of printing a table: .html (one self-contained "
                        "page), .md, .csv or .json, by its extension")
    p.add_argument("--labels", default=None,
                   help="comma list naming the rows in order (default: the machine id for a "
                        "directory's rows, the file name for a file)")
    p.add_argument("--all", action="store_true",
                   help="every result of each machine in a directory, not only its newest")
    p.add_argument("--list", metavar="STORE", dest="list_store",
                   help="list the machines of a results store and their result files")
    p.add_argument("--force", action="store_true", help="replace the -o file if it exists")
    p.set_defaults(handler=_fleet)


def _fleet(args: argparse.Namespace) -> int:
    if args.list_store is not None:
        if args.paths or args.output is not None or args.labels is not None or args.all:
            raise ValueError("--list STORE lists one store and takes no PATH, -o, --labels or "
                             "--all")
        print(_listing(args.list_store))
        return 0
    if not args.paths:
        raise ValueError("fleet needs at least one PATH (a store, directory or result file), "
                         "or --list STORE")
    writer = None
    if args.output is not None:
        extension = os.path.splitext(args.output)[1].lower()
        writer = WRITERS.get(extension)
        if writer is None:
            raise ValueError(f"-o {args.output!r}: the extension must be one of "
                             f"{', '.join(sorted(WRITERS))}, not {extension or 'none'!r}")
        check_output(args.output, args.force)
    labels = args.labels.split(",") if args.labels else None
    result = fleet(args.paths, labels=labels, latest=not args.all)
    if writer is None:
        print(fleet_table(result))
        return 0
    write_output(args.output, writer(result), args.force)
    print(f"wrote {args.output} ({len(result.machines)} machine(s))")
    return 0


def _listing(store: str) -> str:
    machines = list_store(store)
    if not machines:
        return f"{store}: no machines (no <machine id>/*.json inside)"
    rows = [[m.machine_id, str(len(m.files)), os.path.basename(m.files[0]),
             os.path.basename(m.latest)] for m in machines]
    lines = [format_rows(["machine id", "results", "oldest", "newest"], rows, left=2)]
    for m in machines:
        lines += [f"\n{m.machine_id}:"] + [f"  {f}" for f in m.files]
    return "\n".join(lines)
