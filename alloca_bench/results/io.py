"""Saving and loading results: the versioned JSON schema and its validation."""
from __future__ import annotations

import json
import math
import os
from typing import Any, Sequence

import numpy as np

from alloca_bench.exceptions import ResultFileError
from alloca_bench.results.model import Result

SCHEMA = "alloca_bench.results.model"
SCHEMA_VERSION = 1


def to_dict(result: Result) -> dict[str, Any]:
    """A JSON-ready dict (NaN becomes null)."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "strategies": list(result.strategies),
        "sizes": [int(s) for s in result.sizes],
        "iterations": list(result.iterations),
        "touch": result.touch,
        "complete": result.complete,
        "arrays": {name: _to_json(getattr(result, name))
                   for name in ("ns_per_op", "faults_per_op", "major_faults_per_op")},
        "batch_iterations": result.batch_iterations.tolist(),
        "process": result.process.tolist(),
        "machine": result.machine,
        "params": result.params,
        "timing": result.timing,
        # threads= sweeps only (older readers ignore these keys)
        **({"threads": list(result.threads),
            "thread_ns_per_op": _to_json(result.thread_ns_per_op),
            "thread_span_ns_per_op": _to_json(result.thread_span_ns_per_op)}
           if result.thread_ns_per_op is not None else {}),
    }


def save(result: Result, path: str | os.PathLike) -> None:
    """Write the result as versioned JSON (atomically: a crash leaves no half file)."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(to_dict(result), f)
    os.replace(tmp, path)


def from_dict(data: dict[str, Any], source: str = "<dict>") -> Result:
    """Rebuild a Result from to_dict() output; ResultFileError names what is wrong."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ResultFileError(f"{source} is not an alloca_bench result (no schema "
                              f"{SCHEMA!r})")
    version = data.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
        raise ResultFileError(
            f"{source} has schema_version {version!r}; this alloca_bench reads versions 1 to "
            f"{SCHEMA_VERSION}: upgrade alloca_bench to read it")
    try:
        arrays = {name: np.array(_from_json(data["arrays"][name]), dtype=np.float64)
                  for name in ("ns_per_op", "faults_per_op", "major_faults_per_op")}
        return Result(
            strategies=tuple(str(s) for s in data["strategies"]),
            sizes=np.array(data["sizes"], dtype=np.int64),
            iterations=tuple(data["iterations"]),
            touch=str(data["touch"]),
            batch_iterations=np.array(data["batch_iterations"], dtype=np.int64),
            complete=bool(data["complete"]),
            machine=dict(data.get("machine", {})),
            params=dict(data.get("params", {})),
            timing=dict(data.get("timing", {})),
            # older files have no process indices: one process
            process=(np.array(data["process"], dtype=np.int64) if "process" in data else None),
            threads=tuple(data.get("threads", (1,))),
            thread_ns_per_op=(np.array(_from_json(data["thread_ns_per_op"]), dtype=np.float64)
                              if "thread_ns_per_op" in data else None),
            thread_span_ns_per_op=(
                np.array(_from_json(data["thread_span_ns_per_op"]), dtype=np.float64)
                if "thread_span_ns_per_op" in data else None),
            **arrays,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultFileError(f"{source} is damaged: {type(exc).__name__}: {exc}") from exc


def load(path: str | os.PathLike, *, touch: str | None = None) -> Result:
    """Read a Result written by Result.save(), or the alloca_bench_run benchmarks of a
    pytest-benchmark JSON (`touch=` picks one touch mode when it holds several; see
    alloca_bench.results.benchmark_json).  FileNotFoundError when missing, ResultFileError
    (a ValueError) when damaged or from a newer schema."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{os.fspath(path)} is not valid JSON: {exc}") from exc
    from alloca_bench.results import benchmark_json  # it imports this module

    if benchmark_json.is_benchmark_json(data):
        return benchmark_json.from_dict(data, touch=touch, source=os.fspath(path))
    result = from_dict(data, source=os.fspath(path))
    if touch is not None and touch != result.touch:
        raise ValueError(f"{os.fspath(path)} holds touch {result.touch!r}, not {touch!r}")
    return result


def _to_json(array: np.ndarray) -> list:
    return np.where(np.isnan(array), None, array).tolist()


def _from_json(nested: Sequence) -> Any:
    if isinstance(nested, list):
        return [_from_json(x) for x in nested]
    return math.nan if nested is None else nested
