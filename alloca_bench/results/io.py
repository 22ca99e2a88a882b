"""Saving and loading results: the versioned JSON schema, its full validation, and files read
and written safely (no hang on a FIFO, no unbounded read, no half-written or clobbered file)."""
from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from typing import Any

import numpy as np

from alloca_bench.exceptions import ResultFileError
from alloca_bench.results import benchmark_json
from alloca_bench.results import status as cell_status
from alloca_bench.results.model import Result
from alloca_bench.strategies import TOUCHES

SCHEMA = "alloca_bench.result"
# Also read: the name one development build wrote by mistake.
_SCHEMAS = (SCHEMA, "alloca_bench.results.model")
# 2: a status per cell ("status", "reasons") replaced "complete" and params["errors"],
# ["unavailable"] and ["interrupted"]; version 1 files are converted when read.
SCHEMA_VERSION = 2
_LEGACY_PARAMS = ("errors", "unavailable", "interrupted")
# A saved sweep of the largest useful size is a few MiB; more is a wrong file, not a result.
MAX_FILE_BYTES = 256 << 20
_ARRAYS = ("ns_per_op", "faults_per_op", "major_faults_per_op")
_ESCAPES = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError,
            RecursionError, MemoryError)


def to_dict(result: Result) -> dict[str, Any]:
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
        # threads= sweeps only (older readers ignore these keys)
        **({"threads": list(result.threads),
            "thread_ns_per_op": result.thread_ns_per_op,
            "thread_span_ns_per_op": result.thread_span_ns_per_op}
           if result.thread_ns_per_op is not None else {}),
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


def check_out_path(path: str | os.PathLike, force: bool = False) -> str:
    """The path a result will be saved to, checked before anything is measured: its directory
    exists and, unless `force`, no file is there yet.  FileNotFoundError/FileExistsError."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path}: the directory {folder} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path}: it is a directory; name a file")
    if not force and os.path.lexists(path):
        raise FileExistsError(f"{path} exists: pass force=True (--force) to replace it")
    return path


def save(result: Result, path: str | os.PathLike, *, force: bool = False) -> None:
    """Write the result as strict JSON to `path` (write_text: encoded before any file is
    touched, a temporary file renamed into place, nothing left behind on failure).  An existing
    file is kept (FileExistsError) unless `force`."""
    write_text(path, json.dumps(to_dict(result), allow_nan=False), force=force)


def write_text(path: str | os.PathLike, text: str, *, force: bool = False) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file of its own beside it, renamed
    into place, so concurrent writers never see each other's halves and a failure leaves no
    file behind.  check_out_path first; an existing file is kept (FileExistsError) unless
    `force`, also one that appeared while writing."""
    path = check_out_path(path, force)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp's 0600 would hide the file from others
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if force:
            os.replace(tmp, path)
        else:
            _link_or_rename(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} exists: pass force=True (--force) to replace it") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _link_or_rename(tmp: str, path: str) -> None:
    """Put `tmp` at `path` only if nothing is there: a hard link fails atomically when a file
    appeared meanwhile; where links are not supported, a check and a rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def _current_umask() -> int:
    """The process's umask now, read without setting it (os.umask would change it for every
    thread for a moment); 0o022 where /proc does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def read_json(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The parsed JSON document at `path`.  Refused before reading (ResultFileError): anything
    but a regular file (a FIFO would hang, /dev/zero never ends) and files over `max_bytes`.
    FileNotFoundError when missing."""
    source = os.fspath(path)
    fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ResultFileError(f"{source} is not a regular file; a result is a JSON file")
        if info.st_size > max_bytes:
            raise ResultFileError(f"{source} has {info.st_size} bytes, more than a result file "
                                  f"may have ({max_bytes}, max_bytes=)")
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ResultFileError(f"{source} grew past {max_bytes} bytes while it was read")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{source} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ResultFileError(f"{source} is not a result: JSON nested too deeply") from None


def _fail(source: str, what: str) -> ResultFileError:
    return ResultFileError(f"{source} is damaged: {what}")


def _ints(value: Any, name: str, source: str, low: int) -> list[int]:
    """A list of distinct ints >= low."""
    if not isinstance(value, list) or not value:
        raise _fail(source, f"{name} must be a non-empty list, not {type(value).__name__}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v < 2**63:
            raise _fail(source, f"{name} holds {v!r}, not an int from {low} to 2**63-1")
    if len(set(value)) != len(value):
        raise _fail(source, f"{name} repeats a value: {value}")
    return value


def _grid(value: Any, shape: tuple[int, ...], name: str, source: str,
          low: float = 0) -> np.ndarray:
    """A nested list of exactly `shape` numbers >= low (None for NaN) as float64."""
    def check(node: Any, depth: int) -> None:
        if depth == len(shape):
            if node is not None and (isinstance(node, bool)
                                     or not isinstance(node, (int, float))):
                raise _fail(source, f"{name} holds {node!r}, not a number or null")
            return
        if not isinstance(node, list) or len(node) != shape[depth]:
            got = len(node) if isinstance(node, list) else type(node).__name__
            raise _fail(source, f"{name} must have shape {shape}: axis {depth} has {got}")
        for child in node:
            check(child, depth + 1)

    check(value, 0)
    with np.errstate(all="ignore"):
        array = np.array(value, dtype=np.float64).reshape(shape)  # None -> NaN
    if np.isinf(array).any() or (array < low).any():
        raise _fail(source, f"{name} holds an infinite figure or one below {low}")
    return array


def from_dict(data: Any, source: str = "<dict>") -> Result:
    """Rebuild a Result from to_dict() output, checking every field against the schema;
    ResultFileError names the first field that is wrong."""
    if not isinstance(data, dict) or data.get("schema") not in _SCHEMAS:
        raise ResultFileError(f"{source} is not an alloca_bench result (no schema "
                              f"{SCHEMA!r})")
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or not (
            1 <= version <= SCHEMA_VERSION):
        raise ResultFileError(
            f"{source} has schema_version {version!r}; this alloca_bench reads versions 1 to "
            f"{SCHEMA_VERSION}: upgrade alloca_bench to read it")
    try:
        return _from_checked(data, source)
    except ResultFileError:
        raise
    except _ESCAPES as exc:  # a case the checks above missed: still the file's fault
        raise _fail(source, f"{type(exc).__name__}: {exc}") from None


def _from_checked(data: dict, source: str) -> Result:
    strategies = data.get("strategies")
    if (not isinstance(strategies, list) or not strategies
            or not all(isinstance(s, str) and s for s in strategies)
            or len(set(strategies)) != len(strategies)):
        raise _fail(source, f"strategies must be a list of distinct names, not {strategies!r}")
    sizes = _ints(data.get("sizes"), "sizes", source, 1)
    iterations = data.get("iterations")
    if not isinstance(iterations, list):
        raise _fail(source, f"iterations must be a list, not {iterations!r}")
    _ints([i for i in iterations if i != "auto"] or [1], "iterations", source, 1)
    if not iterations or len(set(map(str, iterations))) != len(iterations):
        raise _fail(source, f"iterations must be distinct 'auto' or ints, not {iterations!r}")
    if data.get("touch") not in TOUCHES:
        raise _fail(source, f"touch must be one of {', '.join(TOUCHES)}, not "
                            f"{data.get('touch')!r}")
    if data["schema_version"] == 1 and not isinstance(data.get("complete"), bool):
        raise _fail(source, f"complete must be true or false, not {data.get('complete')!r}")
    arrays = data.get("arrays")
    if not isinstance(arrays, dict):
        raise _fail(source, "arrays must be an object holding " + ", ".join(_ARRAYS))
    shape = (len(strategies), len(sizes), len(iterations))
    first = arrays.get("ns_per_op")
    try:
        repeats = len(first[0][0][0])
    except (TypeError, IndexError, KeyError):
        repeats = 0
    if repeats < 1:
        raise _fail(source, f"arrays.ns_per_op must have shape {shape} + (repeats >= 1,)")
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
            raise _fail(source, f"{name} must be an object, not {type(meta[name]).__name__}")
    if data["schema_version"] == 1:
        status, reasons = cell_status.from_legacy_params(
            strategies, sizes, iterations, grids["ns_per_op"], meta["params"])
        meta["params"] = {k: v for k, v in meta["params"].items() if k not in _LEGACY_PARAMS}
    else:
        status = _status(data.get("status"), shape, source)
        reasons = _reasons(data.get("reasons"), status, strategies, sizes, iterations, source)
    return Result(
        strategies=tuple(strategies), sizes=np.array(sizes, dtype=np.int64),
        iterations=tuple(iterations), touch=data["touch"],
        batch_iterations=batch, process=process, status=status, reasons=reasons, **meta,
        **grids, **_threads(data, shape + (repeats,), source))


def _status(value: Any, shape: tuple[int, ...], source: str) -> np.ndarray:
    """The per-cell status grid: a nested list of `shape` words from STATUSES."""
    def check(node: Any, depth: int) -> None:
        if depth == len(shape):
            if node not in cell_status.STATUSES:
                raise _fail(source, f"status holds {node!r}, not one of "
                                    f"{', '.join(cell_status.STATUSES)}")
            return
        if not isinstance(node, list) or len(node) != shape[depth]:
            got = len(node) if isinstance(node, list) else type(node).__name__
            raise _fail(source, f"status must have shape {shape}: axis {depth} has {got}")
        for child in node:
            check(child, depth + 1)

    check(value, 0)
    return np.array(value, dtype=cell_status.DTYPE).reshape(shape)


def _reasons(value: Any, status: np.ndarray, strategies: list, sizes: list, iterations: list,
             source: str) -> dict:
    """The reasons records: each names a cell of the result whose status is not "ok"."""
    if not isinstance(value, list):
        raise _fail(source, f"reasons must be a list, not {type(value).__name__}")
    flat = dict(zip(cell_status.cells(strategies, sizes, iterations),
                    status.reshape(-1).tolist()))
    reasons = {}
    for record in value:
        if not isinstance(record, dict) or not isinstance(record.get("reason"), str):
            raise _fail(source, f"reasons holds {record!r}, not a record with strategy, size, "
                                "iterations and reason")
        cell = (record.get("strategy"), record.get("size"), record.get("iterations"))
        if flat.get(cell, "ok") == "ok":
            raise _fail(source, f"reasons names {cell!r}, not a cell whose status is not ok")
        reasons[cell] = record["reason"]
    return reasons


def _threads(data: dict, shape: tuple[int, ...], source: str) -> dict:
    """The thread axis of a threads= sweep, checked; {} for a result without one."""
    if "thread_ns_per_op" not in data and "threads" not in data:
        return {}
    threads = _ints(data.get("threads"), "threads", source, 1)
    if threads[0] != 1 or max(threads) > 4096:
        raise _fail(source, f"threads must start at 1 and stay below 4097, not {threads}")
    per_thread = (len(threads),) + shape
    return {"threads": tuple(threads),
            "thread_ns_per_op": _grid(data.get("thread_ns_per_op"),
                                      per_thread + (max(threads),), "thread_ns_per_op", source),
            "thread_span_ns_per_op": _grid(data.get("thread_span_ns_per_op"), per_thread,
                                           "thread_span_ns_per_op", source)}


def _whole(value: Any, shape: tuple[int, ...], name: str, source: str, low: int) -> np.ndarray:
    """Like _grid, for whole numbers (int64)."""
    array = _grid(value, shape, name, source, low)
    if np.isnan(array).any() or (array != np.round(array)).any() or (array >= 2**63).any():
        raise _fail(source, f"{name} must hold whole numbers")
    return array.astype(np.int64)


def load(path: str | os.PathLike, *, touch: str | None = None, binding: str | None = None,
         grid: int | None = None, max_bytes: int = MAX_FILE_BYTES) -> Result:
    """Read a Result written by Result.save(), or the alloca_bench_run benchmarks of a
    pytest-benchmark JSON (`touch=` picks one touch mode when it holds several, `binding=` one
    binding, `grid=` one grid when its benchmarks are too sparse for one; see
    alloca_bench.results.benchmark_json).
    FileNotFoundError when missing, ResultFileError (a ValueError) when damaged, not a regular
    file, over `max_bytes` or of a newer schema."""
    source = os.fspath(path)
    data = read_json(path, max_bytes)
    if benchmark_json.is_benchmark_json(data):
        return benchmark_json.from_dict(data, touch=touch, binding=binding, grid=grid,
                                        source=source)
    result = from_dict(data, source=source)
    if touch is not None and touch != result.touch:
        raise ValueError(f"{source} holds touch {result.touch!r}, not {touch!r}")
    if binding is not None and binding != result.params.get("backend"):
        raise ValueError(f"{source} holds binding {result.params.get('backend')!r}, not "
                         f"{binding!r}")
    if grid not in (None, 0):
        raise ValueError(f"there is no grid {grid!r} in {source}: a saved result is one grid (0)")
    return result


def load_all(path: str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> list[Result]:
    """Every Result in the file at `path`: the one Result.save() wrote, or every grid of the
    alloca_bench_run benchmarks of a pytest-benchmark JSON (each touch mode and binding, and
    each part of benchmarks too sparse for one grid), memory proportional to the samples."""
    source = os.fspath(path)
    data = read_json(path, max_bytes)
    if benchmark_json.is_benchmark_json(data):
        return benchmark_json.from_dict_all(data, source=source)
    return [from_dict(data, source=source)]
