"""`alloca-bench machine`: the metadata recorded with every result."""
from __future__ import annotations

import argparse

from alloca_bench.machine import format_machine
from alloca_bench.measure import (
    machine_metadata,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("machine", help="print the metadata recorded with every result")
    p.set_defaults(handler=_machine)


def _machine(args: argparse.Namespace) -> int:
    print(format_machine(machine_metadata()))
    return 0
