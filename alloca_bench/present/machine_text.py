"""The machine metadata as text: aligned "key  value" lines grouped by domain."""
from __future__ import annotations

from typing import Dict

from alloca_bench.machine import DOMAINS, Value
from alloca_bench.present._format import format_size_approx


def _show(key: str, value: Value) -> str:
    """One value as format_machine prints it: sizes in bytes also in binary units."""
    if value is None:
        return "unlimited" if key.startswith("rlimit_") else "-"
    is_bytes = key.endswith("_bytes") or key == "page_size" or key.startswith("rlimit_")
    if not is_bytes or isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    return f"{value} ({format_size_approx(value, 4)})" if value >= 1024 else str(value)


def format_machine(info: Dict[str, Value]) -> str:
    """`info` as aligned "key  value" lines, grouped by domain with a blank line between groups;
    keys alloca_bench.machine does not know (added by other layers) come last, sorted."""
    known = {key for group in DOMAINS for key in group}
    groups = [[k for k in group if k in info] for group in DOMAINS]
    groups.append(sorted(k for k in info if k not in known))
    width = max((len(k) for k in info), default=0)
    blocks = ["\n".join(f"{k:<{width}}  {_show(k, info[k])}" for k in g) for g in groups if g]
    return "\n\n".join(blocks)
