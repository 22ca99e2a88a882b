"""`alloca-bench machine`: the metadata recorded with every result."""
from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser("machine", help=summary,
                       description="The machine, libc, allocator, Python and build metadata "
                                   "that every saved result records.")
    p.add_argument("--json", action="store_true",
                   help="print it as one JSON object (the keys of a result's \"machine\")")
    p.set_defaults(handler=_machine)


def _machine(args: argparse.Namespace) -> int:
    from alloca_bench.present.machine_text import format_machine
    from alloca_bench.measuring import machine_metadata

    info = machine_metadata()
    print(json.dumps(info, indent=2) if args.json else format_machine(info))
    return 0
