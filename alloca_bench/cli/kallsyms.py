"""`alloca-bench kallsyms`: look up, grep and count the kernel's symbols."""
from __future__ import annotations

import argparse
import sys

from alloca_bench import kallsyms


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "kallsyms", help=summary,
        description="Read the kernel's symbol table: /proc/kallsyms, or a file in its format.")
    # Shared by every action, given before it or after: `kallsyms --file PATH stats`,
    # `kallsyms lookup NAME --file PATH`.  The action's copies default to nothing, so that
    # they do not overwrite what was given before the action.
    _add_common_options(p)
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    _add_common_options(common)
    actions = p.add_subparsers(dest="kallsyms_action", required=True, metavar="ACTION")
    lookup = actions.add_parser("lookup", parents=[common],
                                help="the address kallsyms_lookup_name() gives for NAME")
    lookup.add_argument("name", help="the symbol's name, e.g. kallsyms_lookup_name")
    lookup.add_argument("--module", help="search only this module (the kernel's module:name)")
    lookup.add_argument("--all", action="store_true",
                        help="print every symbol with this name, in any module")
    lookup.set_defaults(handler=_kallsyms_lookup)
    grep = actions.add_parser("grep", parents=[common],
                              help="symbols whose name matches a regular expression")
    grep.add_argument("pattern",
                      help="a Python regular expression searched in each name, e.g. "
                           "'^__x64_sys_' for the system calls on x86-64")
    grep.add_argument("--type", metavar="LETTERS",
                      help="keep only these type letters, e.g. T or Tt")
    grep.set_defaults(handler=_kallsyms_grep)
    stats = actions.add_parser("stats", parents=[common],
                               help="counts per type letter, linkage, export and module")
    stats.set_defaults(handler=_kallsyms_stats)


def _add_common_options(p: argparse.ArgumentParser) -> None:
    """--file, --symvers and --skip-malformed."""
    p.add_argument("--file", metavar="PATH",
                   help="a kallsyms-format file to read (default: /proc/kallsyms)")
    p.add_argument("--symvers", metavar="PATH",
                   help="the kernel build's Module.symvers, to know what is exported")
    p.add_argument("--skip-malformed", action="store_true",
                   help="leave malformed lines out (counted on stderr) instead of failing")


def _kallsyms_load(args: argparse.Namespace):
    table = kallsyms.load(args.file, symvers=args.symvers, skip_malformed=args.skip_malformed)
    if table.skipped:
        print(f"alloca-bench kallsyms: skipped {len(table.skipped)} malformed line(s) of "
              f"{table.path}, the first at line {table.skipped[0]}", file=sys.stderr)
    return table


def _kallsyms_lookup(args: argparse.Namespace) -> int:
    table = _kallsyms_load(args)
    if table.lookup_name(args.name, args.module) is None:  # PermissionError if hidden
        where = "" if args.module is None else f" in module {args.module!r}"
        print(f"alloca-bench kallsyms: no symbol {args.name!r}{where} in {table.path}",
              file=sys.stderr)
        return 1
    matches = table.lookup_all(args.name)
    for symbol in matches if args.all else [table.find(args.name, args.module)]:
        print(symbol.line())
    if len(matches) > 1 and not args.all:
        print(f"note: {len(matches)} symbols are named {args.name!r}; this is the one "
              "kallsyms_lookup_name() returns (--all lists them)", file=sys.stderr)
    return 0


def _kallsyms_grep(args: argparse.Namespace) -> int:
    table = _kallsyms_load(args)
    symbols = table.grep(args.pattern, args.type)
    if symbols and not table.addresses_visible:
        print(f"alloca-bench kallsyms: {table.path} hides addresses (all 0); "
              "they are not real", file=sys.stderr)
    for symbol in symbols:
        print(symbol.line())
    return 0 if symbols else 1  # like grep: 1 when nothing matched


def _kallsyms_stats(args: argparse.Namespace) -> int:
    table = _kallsyms_load(args)
    stats = table.stats()  # parses the whole table: a malformed line fails before any output
    print(f"file: {table.path}")
    print(f"symbols: {len(table)}")
    print("addresses visible: " + ("yes" if table.addresses_visible else
                                   "no (all 0: the kernel hides them from this reader)"))
    print("kernel exports known: " + ("yes" if table.exports_known else
                                      "no (no __ksymtab_ entries; try --symvers)"))
    for title, counts in stats.items():
        print(title.replace("_", " ") + ":")
        for key, count in counts.items():
            print(f"  {key:<30} {count:>8}")
    return 0
