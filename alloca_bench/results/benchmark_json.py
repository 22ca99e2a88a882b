"""Read a pytest-benchmark JSON file back into a Result.

The `alloca_bench_run` fixture (alloca_bench/pytest_plugin.py, used by benchmarks/ and by users'
own suites) keeps every round's C-measured figures in each benchmark's `extra_info`, so a file
written with `--benchmark-json` or `--benchmark-save` (with or without `--benchmark-save-data`)
gives back the raw samples, not only pytest-benchmark's summary statistics.  Benchmarks that did
not come from the fixture (the FFI suite, a user's plain `benchmark(...)` calls) are skipped.

This module imports neither pytest nor the compiled kernels: a saved file can be read anywhere.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Optional, Sequence

import numpy as np
from alloca_bench.results.model import Iterations, Result

from alloca_bench.exceptions import ResultFileError

# The extra_info key that marks a benchmark written by alloca_bench_run; its value is the
# alloca_bench version that wrote it.
EXTRA_INFO_KEY = "alloca_bench_version"
# The machine_info key under which the plugin stores alloca_bench's machine and build metadata.
MACHINE_INFO_KEY = "alloca_bench"
_ROUND_ARRAYS = ("ns_per_op", "faults_per_op", "major_faults_per_op")


def is_benchmark_json(data: Any) -> bool:
    """True when `data` (a parsed JSON document) looks like a pytest-benchmark file."""
    return (isinstance(data, dict) and isinstance(data.get("benchmarks"), list)
            and isinstance(data.get("machine_info"), dict) and "schema" not in data)


def load(path: str | os.PathLike, *, touch: Optional[str] = None,
         binding: Optional[str] = None) -> Result:
    """Read the alloca_bench_run benchmarks of the pytest-benchmark JSON at `path` (see
    from_dict for `touch` and `binding`).  FileNotFoundError when missing, ResultFileError
    (a ValueError) when it is not valid JSON or not a pytest-benchmark file."""
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{source} is not valid JSON: {exc}") from exc
    return from_dict(data, touch=touch, binding=binding, source=source)


def from_dict(data: dict, *, touch: Optional[str] = None, binding: Optional[str] = None,
              source: str = "<dict>") -> Result:
    """A Result of axes (strategy, size, iterations, repeat) from a parsed pytest-benchmark
    document.  A Result holds one touch mode and one binding: `touch=` / `binding=` choose one
    when the file holds several (ValueError names the ones present when they are needed).

    `iterations` is the requested ops-per-batch axis ("auto" or explicit counts); the counts
    really run are in `batch_iterations`.  Cells the file lacks, and rounds a shorter cell
    lacks, are NaN, and the Result is then marked incomplete."""
    if not is_benchmark_json(data):
        raise ResultFileError(f"{source} is not a pytest-benchmark JSON file "
                              "(no 'benchmarks' list and 'machine_info' dict)")
    cells = [_cell(bench, source) for bench in data["benchmarks"]
             if isinstance(bench, dict) and EXTRA_INFO_KEY in (bench.get("extra_info") or {})]
    if not cells:
        raise ResultFileError(f"{source} holds no benchmark written by alloca_bench_run "
                              f"(no extra_info[{EXTRA_INFO_KEY!r}])")
    touch = _pick("touch", touch, [c["touch"] for c in cells], source)
    cells = [c for c in cells if c["touch"] == touch]
    binding = _pick("binding", binding, [c["binding"] for c in cells], source)
    cells = [c for c in cells if c["binding"] == binding]

    strategies = tuple(dict.fromkeys(c["strategy"] for c in cells))  # order of first appearance
    sizes = sorted({c["size"] for c in cells})
    requested = {c["iterations"] for c in cells}
    iterations: tuple[Iterations, ...] = (
        ("auto",) * ("auto" in requested) + tuple(sorted(i for i in requested if i != "auto")))
    repeats = max(len(c["ns_per_op"]) for c in cells)
    shape = (len(strategies), len(sizes), len(iterations))
    arrays = {name: np.full(shape + (repeats,), np.nan) for name in _ROUND_ARRAYS}
    batch_iterations = np.zeros(shape, dtype=np.int64)
    seen: dict[tuple[int, int, int], str] = {}
    for c in cells:
        index = (strategies.index(c["strategy"]), sizes.index(c["size"]),
                 iterations.index(c["iterations"]))
        if index in seen:
            raise ResultFileError(
                f"{source}: benchmarks {seen[index]!r} and {c['name']!r} both measure "
                f"{c['strategy']} at size {c['size']}, touch {touch}, iterations "
                f"{c['iterations']!r}, binding {binding}; split the file or drop one")
        seen[index] = c["name"]
        batch_iterations[index] = c["ops_per_batch"]
        for name in _ROUND_ARRAYS:
            arrays[name][index + (slice(0, len(c[name])),)] = c[name]

    stack_sizes = sorted({c["stack_size"] for c in cells})
    return Result(
        strategies=strategies, sizes=np.array(sizes, dtype=np.int64), iterations=iterations,
        touch=touch, batch_iterations=batch_iterations,
        complete=not np.isnan(arrays["ns_per_op"]).any(),
        machine=_machine(data),
        params={"repeats": repeats, "backend": binding,
                "stack_size": stack_sizes[0] if len(stack_sizes) == 1 else stack_sizes,
                "source": "pytest-benchmark", "pytest_benchmark_version": data.get("version"),
                # Each test ran its rounds alone: round r of two strategies did not run
                # together, so ratio() and net() pair samples that drift did not share.
                "interleaved": False},
        **arrays,
    )


def _cell(bench: dict, source: str) -> dict[str, Any]:
    """The fields of one alloca_bench_run benchmark, checked; ResultFileError names the bad one."""
    name = str(bench.get("fullname") or bench.get("name") or "?")
    info = bench["extra_info"]
    try:
        cell = {
            "name": name,
            "strategy": str(info["strategy"]),
            "size": int(info["size"]),
            "touch": str(info["touch"]),
            "binding": str(info["binding"]),
            "stack_size": int(info.get("stack_size", 0)),
            "iterations": _iterations(info["iterations"]),
            "ops_per_batch": int(info["ops_per_batch"]),
        }
        for array in _ROUND_ARRAYS:
            cell[array] = [math.nan if x is None else float(x)
                           for x in info[f"{array}_rounds"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultFileError(f"{source}: benchmark {name!r} has damaged alloca_bench "
                              f"extra_info: {type(exc).__name__}: {exc}") from exc
    if not cell["ns_per_op"] or len({len(cell[a]) for a in _ROUND_ARRAYS}) != 1:
        raise ResultFileError(f"{source}: benchmark {name!r} has no rounds, or round lists of "
                              "different lengths, in its extra_info")
    return cell


def _iterations(value: Any) -> Iterations:
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"iterations must be 'auto' or an int, not {value!r}")
    return value


def _pick(name: str, wanted: Optional[str], present: Sequence[str], source: str) -> str:
    """The one value of `name` to keep: `wanted`, or the only one present."""
    values = sorted(set(present))
    if wanted is None:
        if len(values) > 1:
            raise ValueError(f"{source} holds benchmarks for several {name} values {values}; "
                             f"a Result holds one: pass {name}= (one of {values})")
        return values[0]
    if wanted not in values:
        raise ValueError(f"{name}={wanted!r} is not in {source}: it holds {values}")
    return wanted


def _machine(data: dict) -> dict:
    """The machine metadata of a Result (as measure() records it): alloca_bench's block of
    machine_info, build info as build_* keys, and the run's date as the timestamp."""
    block = data["machine_info"].get(MACHINE_INFO_KEY) or {}
    machine = dict(block.get("machine") or {})
    machine.update({f"build_{k}": " ".join(v) if isinstance(v, list) else v
                    for k, v in (block.get("build") or {}).items()})
    if "stack_margin" in block:
        machine["stack_margin"] = block["stack_margin"]
    if data.get("datetime"):
        machine.setdefault("timestamp", data["datetime"])
    return machine
