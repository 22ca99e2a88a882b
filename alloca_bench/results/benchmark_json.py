"""Read a pytest-benchmark JSON file back into a Result.

The `alloca_bench_run` fixture (alloca_bench/pytest_plugin.py, used by benchmarks/ and by users'
own suites) keeps every round's C-measured figures in each benchmark's `extra_info`, so a file
written with `--benchmark-json` or `--benchmark-save` (with or without `--benchmark-save-data`)
gives back the raw samples, not only pytest-benchmark's summary statistics.  Benchmarks that did
not come from the fixture (the FFI suite, a user's plain `benchmark(...)` calls) are skipped.

A Result is a dense grid (strategy, size, iterations, round).  Benchmarks that share few of those
values (each size with its own iteration count, strategies at disjoint sizes, one test with far
more rounds) would leave most of one grid empty, so such a file is split into dense grids, each
holding at most MAX_GRID_PER_SAMPLE values per sample of its benchmarks: memory follows the
samples, never the product of the axes.  `from_dict_all()` returns every grid; `from_dict()` the
one grid a file usually holds, or the one `grid=` picks (results.io.load and load_all read the
file and call them).

This module imports neither pytest nor the compiled kernels: a saved file can be read anywhere.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

from alloca_bench.exceptions import ResultFileError
from alloca_bench.results.result import Result
from alloca_bench.results.status import Iterations
from alloca_bench.strategies import KERNEL_TOUCH, TOUCHES

# The extra_info key that marks a benchmark written by alloca_bench_run; its value is the
# alloca_bench version that wrote it.
EXTRA_INFO_KEY = "alloca_bench_version"
# The machine_info key under which the plugin stores alloca_bench's machine and build metadata.
MACHINE_INFO_KEY = "alloca_bench"
_ROUND_ARRAYS = ("ns_per_op", "faults_per_op", "major_faults_per_op")
# A grid may hold this many values per sample of its benchmarks (the rest is NaN padding); a
# file whose benchmarks all fit in MIN_GRID_VALUES values (16 MiB per array) is one grid anyway.
MAX_GRID_PER_SAMPLE = 8
MIN_GRID_VALUES = 1 << 21


def is_benchmark_json(data: Any) -> bool:
    """True when `data` (a parsed JSON document) looks like a pytest-benchmark file."""
    return (isinstance(data, dict) and isinstance(data.get("benchmarks"), list)
            and isinstance(data.get("machine_info"), dict) and "schema" not in data)


def from_dict(data: dict, *, touch: Optional[str] = None, binding: Optional[str] = None,
              grid: Optional[int] = None, source: str = "<dict>") -> Result:
    """A Result of axes (strategy, size, iterations, repeat) from a parsed pytest-benchmark
    document.  A Result holds one touch mode and one binding: `touch=` / `binding=` choose one
    when the file holds several (ValueError names the ones present when they are needed).
    Benchmarks too sparse for one grid (see the module) make several: ResultFileError lists
    them, and `grid=` (from 0) picks one.

    `iterations` is the requested ops-per-batch axis ("auto" or explicit counts); the counts
    really run are in `batch_iterations`.  Cells the file lacks, and rounds a shorter cell
    lacks, are NaN; a cell the file lacks has the status "not_run"."""
    cells = _fixture_cells(data, source)
    touch = _pick("touch", touch, [c["touch"] for c in cells], source)
    cells = [c for c in cells if c["touch"] == touch]
    binding = _pick("binding", binding, [c["binding"] for c in cells], source)
    grids = _grids([c for c in cells if c["binding"] == binding], source)
    if grid is None and len(grids) > 1:
        raise ResultFileError(
            f"{source}: its {touch}/{binding} benchmarks share too few strategies, sizes, "
            f"iteration counts and round counts for one grid ({MAX_GRID_PER_SAMPLE} values per "
            f"sample at most); they form {len(grids)} grids:\n{_describe(grids)}\n"
            "pass grid=K for one of them, or read every grid with alloca_bench.results.load_all()")
    if grid is not None and (isinstance(grid, bool) or not isinstance(grid, int)
                             or not 0 <= grid < len(grids)):
        raise ValueError(f"there is no grid {grid!r} in {source}: its {touch}/{binding} "
                         f"benchmarks form {len(grids)} grid(s), 0 to {len(grids) - 1}")
    return _result(grids[grid or 0], data, _machine(data))


def from_dict_all(data: dict, *, source: str = "<dict>") -> list[Result]:
    """Every alloca_bench_run benchmark of a parsed pytest-benchmark document, as dense Results
    (one per touch mode and binding, split further only where one grid would hold more than
    MAX_GRID_PER_SAMPLE values per sample; see _grids), in the order the file lists them."""
    cells = _fixture_cells(data, source)
    modes = dict.fromkeys((c["touch"], c["binding"]) for c in cells)
    machine = _machine(data)  # one machine, shared by its grids: a copy each would cost
    # memory per grid x keys (4000 grids x 30,000 keys: gigabytes from a 2.7 MB file)
    return [_result(group, data, machine) for touch, binding in modes
            for group in _grids([c for c in cells
                                 if (c["touch"], c["binding"]) == (touch, binding)], source)]


def _fixture_cells(data: Any, source: str) -> list[dict[str, Any]]:
    """The checked fields of every benchmark alloca_bench_run wrote in `data`."""
    if not is_benchmark_json(data):
        raise ResultFileError(f"{source} is not a pytest-benchmark JSON file "
                              "(no 'benchmarks' list and 'machine_info' dict)")
    cells = [_cell(bench, source) for bench in data["benchmarks"]
             if isinstance(bench, dict) and isinstance(bench.get("extra_info"), dict)
             and EXTRA_INFO_KEY in bench["extra_info"]]
    if not cells:
        raise ResultFileError(f"{source} holds no benchmark written by alloca_bench_run "
                              f"(no extra_info[{EXTRA_INFO_KEY!r}])")
    return cells


def _grids(cells: list[dict[str, Any]], source: str) -> list[list[dict[str, Any]]]:
    """The cells of one touch mode and binding, split into dense grids: all of them when one
    grid holds at most MAX_GRID_PER_SAMPLE values per sample (or MIN_GRID_VALUES in all), else
    split by iteration count, then round count (within a factor of two), then strategy, then
    size, each part only as far as it needs (a single cell always fits: its values are its
    samples)."""
    seen: dict[tuple[str, int, Iterations], str] = {}
    for c in cells:
        key = (c["strategy"], c["size"], c["iterations"])
        if key in seen:
            raise ResultFileError(
                f"{source}: benchmarks {seen[key]!r} and {c['name']!r} both measure "
                f"{c['strategy']} at size {c['size']}, touch {c['touch']}, iterations "
                f"{c['iterations']!r}, binding {c['binding']}; split the file or drop one")
        seen[key] = c["name"]

    def split(group: list[dict[str, Any]], keys: tuple[str, ...], floor: int) -> list:
        if not keys or _grid_values(group) <= max(MAX_GRID_PER_SAMPLE * _samples(group), floor):
            return [group]
        parts: dict[Any, list[dict[str, Any]]] = {}
        for c in group:
            # Round counts within a factor of two share a part: 20 and 21 rounds stay together.
            key = len(c["ns_per_op"]).bit_length() if keys[0] == "rounds" else c[keys[0]]
            parts.setdefault(key, []).append(c)
        return [g for part in parts.values() for g in split(part, keys[1:], 0)]

    return split(cells, ("iterations", "rounds", "strategy", "size"), MIN_GRID_VALUES)


def _samples(cells: list[dict[str, Any]]) -> int:
    return sum(len(c["ns_per_op"]) for c in cells)


def _grid_values(cells: list[dict[str, Any]]) -> int:
    """Values of one array of the dense grid that would hold `cells`."""
    return (len({c["strategy"] for c in cells}) * len({c["size"] for c in cells})
            * len({c["iterations"] for c in cells}) * max(len(c["ns_per_op"]) for c in cells))


def _describe(grids: list[list[dict[str, Any]]], most: int = 8) -> str:
    """One line per grid (the first `most`): its strategies, sizes, iteration counts, rounds."""
    def span(values: set, unit: str) -> str:
        low, high = min(values), max(values)
        return f"{low} {unit}" if low == high else f"{low}..{high} {unit} ({len(values)})"

    lines = [f"  grid {k}: {len(cells)} benchmark(s); strategies "
             f"{', '.join(dict.fromkeys(c['strategy'] for c in cells))}; sizes "
             f"{span({c['size'] for c in cells}, 'B')}; iterations "
             f"{', '.join(map(str, dict.fromkeys(c['iterations'] for c in cells)))}; "
             f"{span({len(c['ns_per_op']) for c in cells}, 'rounds')}"
             for k, cells in enumerate(grids[:most])]
    if len(grids) > most:
        lines.append(f"  ... and {len(grids) - most} more grids")
    return "\n".join(lines)


def _result(cells: list[dict[str, Any]], data: dict, machine: dict) -> Result:
    """The dense Result of cells of one touch mode and binding (no two on one cell), on
    `machine` (the document's, shared, not copied)."""
    strategies = tuple(dict.fromkeys(c["strategy"] for c in cells))  # order of first appearance
    sizes = sorted({c["size"] for c in cells})
    requested = {c["iterations"] for c in cells}
    iterations: tuple[Iterations, ...] = (
        ("auto",) * ("auto" in requested) + tuple(sorted(i for i in requested if i != "auto")))
    repeats = max(len(c["ns_per_op"]) for c in cells)
    shape = (len(strategies), len(sizes), len(iterations))
    arrays = {name: np.full(shape + (repeats,), np.nan) for name in _ROUND_ARRAYS}
    batch_iterations = np.zeros(shape, dtype=np.int64)
    process = np.zeros(shape + (repeats,), dtype=np.int64)
    place = ({s: k for k, s in enumerate(strategies)}, {z: k for k, z in enumerate(sizes)},
             {i: k for k, i in enumerate(iterations)})
    for c in cells:
        index = (place[0][c["strategy"]], place[1][c["size"]], place[2][c["iterations"]])
        batch_iterations[index] = c["ops_per_batch"]
        for name in _ROUND_ARRAYS:
            arrays[name][index + (slice(0, len(c[name])),)] = c[name]
        if c["process"] is not None:  # files of older versions: one process
            process[index + (slice(0, len(c["process"])),)] = c["process"]
    process[np.isnan(arrays["ns_per_op"])] = -1

    stack_sizes = sorted({c["stack_size"] for c in cells})
    return Result(
        strategies=strategies, sizes=np.array(sizes, dtype=np.int64), iterations=iterations,
        touch=cells[0]["touch"], batch_iterations=batch_iterations,
        machine=machine,
        params={"repeats": repeats, "binding": cells[0]["binding"],
                "stack_size": stack_sizes[0] if len(stack_sizes) == 1 else stack_sizes,
                "source": "pytest-benchmark", "pytest_benchmark_version": data.get("version"),
                # Each test ran its rounds alone: round r of two strategies did not run
                # together, so ratio() and net() pair samples that drift did not share.
                "interleaved": False,
                "processes": int(process.max()) + 1},
        process=process, **arrays,
    )


def _cell(bench: dict, source: str) -> dict[str, Any]:
    """The fields of one alloca_bench_run benchmark, checked; ResultFileError names the bad one."""
    name = bench.get("fullname") or bench.get("name")
    name = name if isinstance(name, str) else "?"
    info = bench["extra_info"]
    try:
        cell = {
            "name": name,
            "strategy": _text(info["strategy"], "strategy"),
            "size": _int(info["size"], "size", 1),
            "touch": _text(info["touch"], "touch"),
            "binding": _text(info["binding"], "binding"),
            "stack_size": _int(info.get("stack_size", 0), "stack_size", 0),
            "iterations": _iterations(info["iterations"]),
            "ops_per_batch": _int(info["ops_per_batch"], "ops_per_batch", 0),
        }
        if cell["touch"] not in TOUCHES + (KERNEL_TOUCH,):
            raise ValueError(f"touch must be one of {', '.join(TOUCHES + (KERNEL_TOUCH,))}, "
                             f"not {cell['touch']!r}")
        for array in _ROUND_ARRAYS:
            cell[array] = _rounds(info[f"{array}_rounds"], f"{array}_rounds")
        cell["process"] = _process_rounds(info.get("process_rounds"), len(cell["ns_per_op"]))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ResultFileError(f"{source}: benchmark {name!r} has damaged alloca_bench "
                              f"extra_info: {type(exc).__name__}: {exc}") from None
    if not cell["ns_per_op"] or len({len(cell[a]) for a in _ROUND_ARRAYS}) != 1:
        raise ResultFileError(f"{source}: benchmark {name!r} has no rounds, or round lists of "
                              "different lengths, in its extra_info")
    return cell


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    return value


def _int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < 2**63:
        raise ValueError(f"{name} must be an int from {low} to 2**63-1, not {value!r}")
    return value


def _rounds(values: Any, name: str) -> list[float]:
    """Per-round figures: numbers >= 0, null for a round with none."""
    if not isinstance(values, list):
        raise TypeError(f"{name} must be a list, not {type(values).__name__}")
    out = []
    for x in values:
        if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float))
                              or not 0 <= float(x) < math.inf):
            raise ValueError(f"{name} holds {x!r}, not a finite number >= 0 or null")
        out.append(math.nan if x is None else float(x))
    return out


def _process_rounds(values: Any, rounds: int) -> Optional[list[int]]:
    """The process index of each round (None where the file does not say: one process)."""
    if values is None:
        return None
    if not isinstance(values, list) or len(values) != rounds or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < rounds for v in values):
        raise ValueError(f"process_rounds must be a list of {rounds} ints from 0 to "
                         f"{rounds - 1} (a process per round at most)")
    return values


def _iterations(value: Any) -> Iterations:
    if value == "auto":
        return "auto"
    return _int(value, "iterations", 1)


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
    def mapping(value: Any) -> dict:
        return value if isinstance(value, dict) else {}  # a damaged block is left out

    block = mapping(data["machine_info"].get(MACHINE_INFO_KEY))
    machine = dict(mapping(block.get("machine")))
    machine.update({f"build_{k}": " ".join(map(str, v)) if isinstance(v, list) else v
                    for k, v in mapping(block.get("build")).items()})
    if "stack_margin" in block:
        machine["stack_margin"] = block["stack_margin"]
    if isinstance(data.get("datetime"), str):
        machine.setdefault("timestamp", data["datetime"])
    return machine
