"""Loading results: a file Result.save() or ThreadsResult.save() wrote (any schema version this
alloca_bench reads) or the alloca_bench_run benchmarks of a pytest-benchmark JSON."""
from __future__ import annotations

import os

from alloca_bench.results import benchmark_json
from alloca_bench.results.files import MAX_FILE_BYTES, read_json
from alloca_bench.results.result import Result
from alloca_bench.results.threads import ThreadsResult
from alloca_bench.results.threads_schema import is_threads


def load(path: str | os.PathLike, *, touch: str | None = None, binding: str | None = None,
         grid: int | None = None,
         max_bytes: int = MAX_FILE_BYTES) -> Result | ThreadsResult:
    """Read a Result written by Result.save() (a ThreadsResult for a file of
    ThreadsResult.save(): binding= and grid= do not apply to it), or the alloca_bench_run benchmarks of a
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
    result = (ThreadsResult.from_dict(data, source) if is_threads(data)
              else Result.from_dict(data, source=source))
    if touch is not None and touch != result.touch:
        raise ValueError(f"{source} holds touch {result.touch!r}, not {touch!r}")
    if isinstance(result, ThreadsResult):
        return result
    if binding is not None and binding != result.params.get("binding"):
        raise ValueError(f"{source} holds binding {result.params.get('binding')!r}, not "
                         f"{binding!r}")
    if grid not in (None, 0):
        raise ValueError(f"there is no grid {grid!r} in {source}: a saved result is one grid (0)")
    return result


def load_all(path: str | os.PathLike, *,
             max_bytes: int = MAX_FILE_BYTES) -> list[Result | ThreadsResult]:
    """Every Result in the file at `path`: the one Result.save() wrote, or every grid of the
    alloca_bench_run benchmarks of a pytest-benchmark JSON (each touch mode and binding, and
    each part of benchmarks too sparse for one grid), memory proportional to the samples."""
    source = os.fspath(path)
    data = read_json(path, max_bytes)
    if benchmark_json.is_benchmark_json(data):
        return benchmark_json.from_dict_all(data, source=source)
    if is_threads(data):
        return [ThreadsResult.from_dict(data, source)]
    return [Result.from_dict(data, source=source)]
