"""The versioned JSON schema of a Result: to_dict(), and the full validation of a document
back into the fields of a Result (ResultFileError names the first field that is wrong)."""
from __future__ import annotations

import json
import math
import os
from typing import Any, Callable

import numpy as np

from alloca_bench.exceptions import ResultFileError
from alloca_bench.results.status import DTYPE, STATUSES, cells, from_legacy_params
from alloca_bench.results.files import write_text
from alloca_bench.results.model import ResultData
from alloca_bench.strategies import KERNEL_TOUCH, TOUCHES


SCHEMA = "alloca_bench.result"
# Also read: the name one development build wrote by mistake.
_SCHEMAS = (SCHEMA, "alloca_bench.results.model")
# 2: a status per cell ("status", "reasons") replaced "complete" and params["errors"],
# ["unavailable"] and ["interrupted"]; version 1 files are converted when read.
SCHEMA_VERSION = 2
_LEGACY_PARAMS = ("errors", "unavailable", "interrupted")
_ARRAYS = ("ns_per_op", "faults_per_op", "major_faults_per_op")
_ESCAPES = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError,
            RecursionError, MemoryError)


def to_dict(result: ResultData) -> dict[str, Any]:
    """A JSON-ready dict of plain Python values (NaN and infinities become null)."""
    return _plain({
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "strategies": list(result.strategies),
        "sizes": [int(s) for s in result.sizes],
        "iterations": list(result.iterations),
        "touch": result.touch,
        "arrays": {name: getattr(result, name) for name in _ARRAYS},
        "batch_iterations": result.batch_iterations,
        "process": result.process,
        "status": result.status,
        "reasons": [{"strategy": s, "size": z, "iterations": i, "reason": reason}
                    for (s, z, i), reason in result.reasons.items()],
        "machine": result.machine,
        "params": result.params,
        "timing": result.timing,
    }, "result")


def _plain(value: Any, where: str) -> Any:
    """`value` as JSON-ready lists, dicts, str, int, float (finite) and None; TypeError names
    the key of anything else."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    raise TypeError(f"cannot save {where}: {type(value).__name__} is not JSON data")


def save(result: ResultData, path: str | os.PathLike, *, force: bool = False) -> None:
    """Write the result as strict JSON to `path` (write_text: encoded before any file is
    touched, a temporary file renamed into place, nothing left behind on failure).  An existing
    file is kept (FileExistsError) unless `force`."""
    write_text(path, json.dumps(to_dict(result), allow_nan=False), force=force)


def fail(source: str, what: str) -> ResultFileError:
    """The error of a damaged file: its source and what is wrong."""
    return ResultFileError(f"{source} is damaged: {what}")


def _ints(value: Any, name: str, source: str, low: int) -> list[int]:
    """A list of distinct ints >= low."""
    if not isinstance(value, list) or not value:
        raise fail(source, f"{name} must be a non-empty list, not {type(value).__name__}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v < 2**63:
            raise fail(source, f"{name} holds {v!r}, not an int from {low} to 2**63-1")
    if len(set(value)) != len(value):
        raise fail(source, f"{name} repeats a value: {value}")
    return value


def _nested(value: Any, shape: tuple[int, ...], name: str, source: str,
            leaf_error: Callable[[Any], str | None]) -> None:
    """Check that `value` is a nested list of exactly `shape`, each leaf passing `leaf_error`
    (which returns what is wrong with a leaf, or None)."""
    def check(node: Any, depth: int) -> None:
        if depth == len(shape):
            wrong = leaf_error(node)
            if wrong:
                raise fail(source, f"{name} holds {node!r}, {wrong}")
            return
        if not isinstance(node, list) or len(node) != shape[depth]:
            got = len(node) if isinstance(node, list) else type(node).__name__
            raise fail(source, f"{name} must have shape {shape}: axis {depth} has {got}")
        for child in node:
            check(child, depth + 1)

    check(value, 0)


def _not_a_number(node: Any) -> str | None:
    if node is None or (not isinstance(node, bool) and isinstance(node, (int, float))):
        return None
    return "not a number or null"


def _not_a_status(node: Any) -> str | None:
    return None if node in STATUSES else f"not one of {', '.join(STATUSES)}"


def rounds_of(arrays: dict, name: str, axes: tuple[int, ...], source: str) -> int:
    """The rounds of a file: the length of the innermost list of arrays[name], whose first
    axes are `axes`; ResultFileError when it has none."""
    try:
        rounds = len(arrays[name][0][0][0])
    except (TypeError, IndexError, KeyError):
        rounds = 0
    if rounds < 1:
        raise fail(source, f"arrays.{name} must have shape {axes} + (rounds >= 1,)")
    return rounds


def _grid(value: Any, shape: tuple[int, ...], name: str, source: str,
          low: float = 0) -> np.ndarray:
    """A nested list of exactly `shape` numbers >= low (None for NaN) as float64."""
    _nested(value, shape, name, source, _not_a_number)
    with np.errstate(all="ignore"):
        array = np.array(value, dtype=np.float64).reshape(shape)  # None -> NaN
    if np.isinf(array).any() or (array < low).any():
        raise fail(source, f"{name} holds an infinite figure or one below {low}")
    return array


def fields(data: Any, source: str = "<dict>") -> dict[str, Any]:
    """The keyword arguments of Result from to_dict() output, every field checked against the
    schema; ResultFileError names the first field that is wrong."""
    if not isinstance(data, dict) or data.get("schema") not in _SCHEMAS:
        raise ResultFileError(f"{source} is not an alloca_bench result (no schema "
                              f"{SCHEMA!r})")
    if data.get("kind") == "threads":
        raise ResultFileError(f"{source} is a threads result: read it with alloca_bench.load() "
                              "or ThreadsResult.from_dict()")
    if "iterations" not in data and "threads" in data and "pattern" in data:
        # Only a threads file has these keys (threads_schema.to_dict): say so, not "iterations".
        raise fail(source, "it looks like a threads result (it has threads and a pattern, no "
                           f"iterations) but its kind is {data.get('kind')!r}, not 'threads'")
    check_version(data, source, SCHEMA_VERSION)
    return checking(_from_checked, data, source)


def check_version(data: dict, source: str, newest: int, what: str = "schema_version") -> None:
    """ResultFileError unless data["schema_version"] is a version from 1 to `newest`, saying
    whether the file is older, newer (upgrade) or damaged; `what` names the field."""
    version = data.get("schema_version")
    whole = isinstance(version, int) and not isinstance(version, bool)
    if whole and 1 <= version <= newest:
        return
    if not whole:
        remedy = "that is not a version number: the file is damaged"
    elif version < 1:
        remedy = "it is older than any this one reads: read it with an older alloca_bench"
    else:
        remedy = "it is newer: upgrade alloca_bench to read it"
    reads = f"versions 1 to {newest}" if newest > 1 else "version 1"
    raise ResultFileError(f"{source} has {what} {version!r}; this alloca_bench reads {reads}, "
                          f"and {remedy}")


def checking(check: Any, data: dict, source: str) -> Any:
    """check(data, source), with an exception the checks missed turned into the file's
    ResultFileError (it is still the file's fault)."""
    try:
        return check(data, source)
    except ResultFileError:
        raise
    except _ESCAPES as exc:
        raise fail(source, f"{type(exc).__name__}: {exc}") from None


def strategy_names(data: dict, source: str) -> list[str]:
    """The file's "strategies": a non-empty list of distinct non-empty names."""
    strategies = data.get("strategies")
    if (not isinstance(strategies, list) or not strategies
            or not all(isinstance(s, str) and s for s in strategies)
            or len(set(strategies)) != len(strategies)):
        raise fail(source, f"strategies must be a list of distinct names, not {strategies!r}")
    return strategies


def _from_checked(data: dict, source: str) -> dict[str, Any]:
    strategies = strategy_names(data, source)
    sizes = _ints(data.get("sizes"), "sizes", source, 1)
    iterations = data.get("iterations")
    if not isinstance(iterations, list):
        raise fail(source, f"iterations must be a list, not {iterations!r}")
    _ints([i for i in iterations if i != "auto"] or [1], "iterations", source, 1)
    if not iterations or len(set(map(str, iterations))) != len(iterations):
        raise fail(source, f"iterations must be distinct 'auto' or ints, not {iterations!r}")
    if data.get("touch") not in TOUCHES + (KERNEL_TOUCH,):
        raise fail(source, f"touch must be one of {', '.join(TOUCHES + (KERNEL_TOUCH,))}, not "
                            f"{data.get('touch')!r}")
    if data["schema_version"] == 1 and not isinstance(data.get("complete"), bool):
        raise fail(source, f"complete must be true or false, not {data.get('complete')!r}")
    arrays = data.get("arrays")
    if not isinstance(arrays, dict):
        raise fail(source, "arrays must be an object holding " + ", ".join(_ARRAYS))
    shape = (len(strategies), len(sizes), len(iterations))
    repeats = rounds_of(arrays, "ns_per_op", shape, source)
    grids = {name: _grid(arrays.get(name), shape + (repeats,), f"arrays.{name}", source)
             for name in _ARRAYS}
    batch = _whole(data.get("batch_iterations"), shape, "batch_iterations", source, 0)
    # Files from before processes were recorded have none: one process.
    process = (_whole(data["process"], shape + (repeats,), "process", source, -1)
               if "process" in data else None)
    meta = {}
    for name in ("machine", "params", "timing"):
        meta[name] = data.get(name, {})
        if not isinstance(meta[name], dict):
            raise fail(source, f"{name} must be an object, not {type(meta[name]).__name__}")
    placement = meta["params"].get("placement", {})
    if not isinstance(placement, dict) or not all(isinstance(where, dict)
                                                  for where in placement.values()):
        raise fail(source, "params.placement must map each strategy to an object (where it "
                           f"ran), not {str(placement)[:80]}")
    for strategy, where in placement.items():  # words of tables and pages: flat values only
        for key, value in where.items():
            if value is not None and not isinstance(value, (str, int, float)):
                raise fail(source, f"params.placement.{strategy}.{key} must be a string, a "
                                   f"number or null, not {str(value)[:80]}")
    if "backend" in meta["params"] and "binding" not in meta["params"]:
        # The word of files written before "binding" (cffi or ctypes) replaced it.
        meta["params"] = {("binding" if k == "backend" else k): v
                          for k, v in meta["params"].items()}
    if data["schema_version"] == 1:
        status, reasons = from_legacy_params(
            strategies, sizes, iterations, grids["ns_per_op"], meta["params"])
        meta["params"] = {k: v for k, v in meta["params"].items() if k not in _LEGACY_PARAMS}
    else:
        status = _status(data.get("status"), shape, source)
        reasons = _reasons(data.get("reasons"), status, strategies, sizes, iterations, source)
    return dict(
        strategies=tuple(strategies), sizes=np.array(sizes, dtype=np.int64),
        iterations=tuple(iterations), touch=data["touch"],
        batch_iterations=batch, process=process, status=status, reasons=reasons, **meta,
        **grids)


def _status(value: Any, shape: tuple[int, ...], source: str) -> np.ndarray:
    """The per-cell status grid: a nested list of `shape` words from STATUSES."""
    _nested(value, shape, "status", source, _not_a_status)
    return np.array(value, dtype=DTYPE).reshape(shape)


def _reasons(value: Any, status: np.ndarray, strategies: list, sizes: list, iterations: list,
             source: str) -> dict:
    """The reasons records: each names a cell of the result whose status is not "ok"."""
    if not isinstance(value, list):
        raise fail(source, f"reasons must be a list, not {type(value).__name__}")
    flat = dict(zip(cells(strategies, sizes, iterations),
                    status.reshape(-1).tolist()))
    reasons = {}
    for record in value:
        if not isinstance(record, dict) or not isinstance(record.get("reason"), str):
            raise fail(source, f"reasons holds {record!r}, not a record with strategy, size, "
                                "iterations and reason")
        cell = (record.get("strategy"), record.get("size"), record.get("iterations"))
        if flat.get(cell, "ok") == "ok":
            raise fail(source, f"reasons names {cell!r}, not a cell whose status is not ok")
        reasons[cell] = record["reason"]
    return reasons


def _whole(value: Any, shape: tuple[int, ...], name: str, source: str, low: int) -> np.ndarray:
    """Like _grid, for whole numbers (int64)."""
    array = _grid(value, shape, name, source, low)
    if np.isnan(array).any() or (array != np.round(array)).any() or (array >= 2**63).any():
        raise fail(source, f"{name} must hold whole numbers")
    return array.astype(np.int64)
