"""The file of a ThreadsResult: the result schema's name with "kind": "threads" and a version of
its own; to_dict() and the checked fields() that rebuild it (ResultFileError names the first
field that is wrong)."""
from __future__ import annotations

from typing import Any

import numpy as np

from alloca_bench.exceptions import ResultFileError
from alloca_bench.options import PATTERNS
from alloca_bench.results.schema import (_SCHEMAS, SCHEMA, _grid, _ints, _plain, _status, _whole,
                                         check_version, checking, fail, rounds_of,
                                         strategy_names)
from alloca_bench.results.threads_model import ThreadsResultData
from alloca_bench.strategies import KERNEL_TOUCH, TOUCHES

KIND = "threads"
VERSION = 1
_ARRAYS = ("span_ns_per_op", "faults_per_op")


def is_threads(data: Any) -> bool:
    """Whether a parsed file holds a ThreadsResult."""
    return isinstance(data, dict) and data.get("kind") == KIND


def to_dict(result: ThreadsResultData) -> dict[str, Any]:
    """A JSON-ready dict (NaN becomes null); reasons as a list of {"strategy", "size",
    "threads", "reason"} records."""
    return _plain({
        "schema": SCHEMA, "kind": KIND, "schema_version": VERSION,
        "strategies": list(result.strategies), "sizes": [int(s) for s in result.sizes],
        "threads": list(result.threads), "pattern": result.pattern, "touch": result.touch,
        "arrays": {"ns_per_op": result.ns_per_op,
                   **{name: getattr(result, name) for name in _ARRAYS}},
        "batch_iterations": result.batch_iterations, "process": result.process,
        "status": result.status,
        "reasons": [{"strategy": s, "size": z, "threads": t, "reason": why}
                    for (s, z, t), why in result.reasons.items()],
        "machine": result.machine, "params": result.params,
    }, "result")


def fields(data: Any, source: str = "<dict>") -> dict[str, Any]:
    """The keyword arguments of ThreadsResult from to_dict() output, every field checked."""
    if not is_threads(data) or data.get("schema") not in _SCHEMAS:
        raise ResultFileError(f"{source} is not an alloca_bench threads result")
    check_version(data, source, VERSION, "threads schema_version")
    return checking(_checked, data, source)


def _checked(data: dict, source: str) -> dict[str, Any]:
    strategies = strategy_names(data, source)
    sizes = _ints(data.get("sizes"), "sizes", source, 1)
    threads = _ints(data.get("threads"), "threads", source, 1)
    if threads != sorted(threads) or threads[0] != 1 or threads[-1] > 4096:
        raise fail(source, f"threads must rise from 1 and stay below 4097, not {threads}")
    touches = TOUCHES + (KERNEL_TOUCH,)
    if data.get("touch") not in touches or data.get("pattern") not in PATTERNS:
        raise fail(source, f"touch {data.get('touch')!r} or pattern {data.get('pattern')!r} "
                           "is not one alloca_bench knows")
    arrays = data.get("arrays")
    if not isinstance(arrays, dict):
        raise fail(source, "arrays must be an object")
    cells = (len(strategies), len(sizes), len(threads))
    repeats = rounds_of(arrays, "span_ns_per_op", cells, source)
    grids = {name: _grid(arrays.get(name), cells + (repeats,), f"arrays.{name}", source)
             for name in _ARRAYS}
    grids["ns_per_op"] = _grid(arrays.get("ns_per_op"), cells + (repeats, threads[-1]),
                               "arrays.ns_per_op", source)
    meta = {name: data.get(name, {}) for name in ("machine", "params")}
    if not all(isinstance(v, dict) for v in meta.values()):
        raise fail(source, "machine and params must be objects")
    return dict(
        strategies=tuple(strategies), sizes=np.array(sizes, dtype=np.int64),
        threads=tuple(threads), pattern=data["pattern"], touch=data["touch"],
        batch_iterations=_whole(data.get("batch_iterations"), cells, "batch_iterations",
                                source, 0),
        process=_whole(data.get("process"), cells + (repeats,), "process", source, -1),
        status=_status(data.get("status"), cells, source),
        reasons=_reasons(data.get("reasons"), source), **meta, **grids)


def _reasons(value: Any, source: str) -> dict:
    """The reasons records: {"strategy": str, "size": int, "threads": int, "reason": str}."""
    if not isinstance(value, list) or not all(
            isinstance(r, dict) and isinstance(r.get("strategy"), str)
            and isinstance(r.get("reason"), str)
            and all(isinstance(r.get(k), int) and not isinstance(r.get(k), bool)
                    for k in ("size", "threads")) for r in value):
        raise fail(source, "reasons must be a list of {strategy, size, threads, reason}")
    return {(r["strategy"], r["size"], r["threads"]): r["reason"] for r in value}
