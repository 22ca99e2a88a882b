"""Many machines in one view: `fleet(paths)` reads stores, result files and pytest-benchmark
files and answers, per machine, where the stack stops beating the heap.

A store (results.store) gives one row per machine, its latest result unless `latest=False`;
a directory that is not a store is read the same way (its JSON files grouped by machine id);
a file named on its own is a row of its own, so two runs of one machine can stand side by side.
Sizes or strategies a machine did not measure stay NaN / "" here: never filled in.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Sequence, Union

import numpy as np

from alloca_bench.analysis.crossover import Crossover, crossover, largest_safe
from alloca_bench.analysis.crossover_model import too_few_rounds
from alloca_bench.exceptions import ResultFileError
from alloca_bench.results.io import load_all
from alloca_bench.results.result import Result
from alloca_bench.results.store import MACHINE_KEYS, machine_id, preloaded_allocator
from alloca_bench.strategies import STRATEGIES, allocator_of, kernel

Source = Union[str, "os.PathLike[str]", Result]

# Compared between rows: what defines a machine, then what else changes the figures.
MACHINE_COMPARED: tuple[str, ...] = MACHINE_KEYS + (
    "hostname", "cpu_count", "virtualized", "rlimit_stack_soft", "glibc_tunables", "malloc_env",
    "clocksource", "page_size")
PARAMS_COMPARED: tuple[str, ...] = ("heap", "touch", "processes", "repeats", "binding")


@dataclass(frozen=True)
class CrossoverSize:
    """The largest size (bytes) at which `a` beats `b` by a significant factor (the crossover
    verdict `a`: interval excluding 1, speed-up beyond the tolerance), with an interval read
    from the per-size intervals: `low` is the largest size at which even the interval's lower
    end beats `b` by the tolerance, `high` the largest at which its upper end does.  None
    where `a` never wins (or was not measured).  `open` is True when `a` still wins at the
    largest size measured: the crossover lies there or beyond."""

    size: int | None
    low: int | None
    high: int | None
    open: bool


@dataclass(frozen=True, eq=False)
class FleetMachine:
    """One row of a fleet: one result, the machine it ran on and its answers."""

    label: str
    machine_id: str
    source: str  # the file it came from ("<Result>" for an object passed in)
    result: Result
    pair: Crossover | None  # `a` against `b` at every size of this result; None: not both
    crossover: CrossoverSize
    stack_limit: int | None  # RLIMIT_STACK soft, bytes; None: unlimited or not recorded
    stack_limit_recorded: bool
    largest_safe: int | None  # bytes: the largest one alloca the stack guard lets through

    @property
    def preloaded(self) -> str | None:
        """The allocator in this run's LD_PRELOAD ("tcmalloc_minimal"), None without one."""
        return preloaded_allocator(self.result.machine.get("ld_preload"))

    def __repr__(self) -> str:
        return (f"<alloca_bench.{type(self).__name__} {self.label!r} on {self.machine_id} "
                f"from {self.source}>")


@dataclass(frozen=True, eq=False)
class Fleet:
    """Rows (`machines`) and their answers on one size axis, the union of their sizes.

    ratio, low, high: shape (machine, size), `b`'s median ns/op over `a`'s (malloc/alloca:
    2.0 means malloc costs twice as much) with its `confidence` interval; NaN where not
    measured or too few rounds for an interval.  rounds: the rounds both measured per cell
    (0: not measured; fewer than results._stats.MIN_SAMPLES: no interval).  winner: `a`, `b`,
    "tie" or "" (no ratio).  fastest: the allocator serving
    malloc fastest by median where a row measured several (malloc and malloc@NAME), "" else;
    fastest_margin: the runner-up's median over the fastest's.  differing: {metadata key:
    one value per machine} for the keys whose values differ."""

    machines: tuple[FleetMachine, ...]
    sizes: np.ndarray  # bytes
    a: str
    b: str
    ratio: np.ndarray
    low: np.ndarray
    high: np.ndarray
    winner: np.ndarray  # str, shape (machine, size)
    rounds: np.ndarray  # int, shape (machine, size)
    fastest: np.ndarray  # str, shape (machine, size)
    fastest_margin: np.ndarray
    differing: dict
    confidence: float
    tolerance: float  # a gap smaller than this fraction is no reason to pick one side
    skipped: tuple[tuple[str, str], ...] = ()  # (path, why) of files in directories not read

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(m.label for m in self.machines)

    def measured(self) -> np.ndarray:
        """Bool, shape (machine, size): whether there is a ratio (both `a` and `b` measured,
        in enough rounds for an interval)."""
        return np.isfinite(self.ratio)

    def too_few_rounds(self) -> np.ndarray:
        """Bool, shape (machine, size): both measured, but in too few rounds for a ratio."""
        return too_few_rounds(self.rounds, self.winner)

    def __repr__(self) -> str:
        skipped = f"; {len(self.skipped)} file(s) skipped" if self.skipped else ""
        rows = f"{len(self.machines)} row{'s' if len(self.machines) != 1 else ''}"
        return (f"<alloca_bench.{type(self).__name__} {rows} "
                f"({', '.join(self.labels)}) x {len(self.sizes)} sizes "
                f"{int(self.sizes[0])}..{int(self.sizes[-1])} B; {self.b}/{self.a}{skipped}>")


def fleet(paths: Source | Sequence[Source], *, labels: Sequence[str] | None = None,
          latest: bool = True, a: str = "alloca", b: str = "malloc",
          confidence: float = 0.95, tolerance: float = 0.05, seed: int | None = 0) -> Fleet:
    """Read `paths` (stores, directories, result or pytest-benchmark files, Result objects) and
    answer per row: the crossover size of `a` against `b` with its interval, the ratio b/a per
    size with intervals, the fastest allocator per size, the stack limit and largest safe
    alloca, and the metadata that differs (`confidence`, `tolerance` and `seed` as in
    analysis.crossover).  `labels` names the rows in order (default: the machine id for a row
    from a directory, the file name for a file); `latest=False` keeps every result of a
    store's machine, not only its newest."""
    if not isinstance(paths, Iterable) or isinstance(paths, (str, os.PathLike, Result)):
        paths = [paths]  # one source; its type is checked with the others'
    paths = list(paths)
    if not paths:
        raise ValueError("fleet() needs at least one store, directory, result file or Result")
    entries, skipped = _read(paths, latest)
    if not entries:
        raise ValueError(f"no results found in {', '.join(map(str, paths))}")
    # A known strategy no row measured reads "not measured" (a fleet of allocators alone has
    # no alloca); an unknown name no row has is a typo.
    measured = list(dict.fromkeys(s for _, _, r in entries for s in r.strategies))
    for which, name in (("a", a), ("b", b)):
        if name not in measured and not (isinstance(name, str) and kernel(name) in STRATEGIES):
            raise ValueError(f"{which}={name!r} is a strategy no row measured (they have "
                             f"{', '.join(measured)})")
    names = _labels([e[0] for e in entries], labels)
    rows = [_row(name, source, result, a, b, confidence, tolerance, seed)
            for name, (_, source, result) in zip(names, entries)]
    sizes = np.array(sorted({int(s) for _, _, r in entries for s in r.sizes}), dtype=np.int64)
    grids = _grids(rows, sizes)
    return Fleet(machines=tuple(rows), sizes=sizes, a=a, b=b, confidence=confidence,
                 tolerance=tolerance,
                 differing=_differing([r.result for r in rows]), skipped=tuple(skipped),
                 **grids)


def _read(paths: list, latest: bool) -> tuple[list[tuple[str, str, Result]], list]:
    """(default label, source, result) per row, in the order given, and skipped files."""
    entries: list[tuple[str, str, Result]] = []
    skipped: list[tuple[str, str]] = []
    for k, path in enumerate(paths):
        if isinstance(path, Result):
            entries.append((f"result {k + 1}", "<Result>", path))
        elif not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"fleet() takes paths or Results, not {type(path).__name__} "
                            f"({path!r})")
        elif os.path.isdir(path):
            entries += _directory(os.fspath(path), latest, skipped)
        else:
            name = os.path.splitext(os.path.basename(os.fspath(path)))[0]
            for g, result in enumerate(load_all(path)):
                if not isinstance(result, Result):  # a ThreadsResult: another question
                    raise ValueError(f"{os.fspath(path)} holds a {type(result).__name__}, not "
                                     "a sweep: fleet compares sweeps (alloca-bench run)")
                entries.append((name if g == 0 else f"{name} ({g + 1})", os.fspath(path), result))
    return entries, skipped


def _directory(path: str, latest: bool, skipped: list) -> list[tuple[str, str, Result]]:
    """The results under `path` (recursively), grouped by machine id, oldest first; the
    newest of each machine only when `latest`.  Files that are not results are skipped."""
    groups: dict[str, list[tuple[str, str, Result]]] = {}
    for file in _json_files(path):
        try:
            results = load_all(file)
        except (ResultFileError, ValueError, OSError) as exc:
            skipped.append((file, str(exc)))
            continue
        for result in results:
            if not isinstance(result, Result):  # a ThreadsResult: another question
                skipped.append((file, f"a {type(result).__name__}, not a sweep"))
                continue
            groups.setdefault(machine_id(result.machine), []).append(
                (str(result.machine.get("timestamp") or ""), file, result))
    rows = []
    for mid in sorted(groups):
        found = sorted(groups[mid], key=lambda e: (e[0], e[1]))
        if latest:
            found = found[-1:]
        for _, file, result in found:
            stem = os.path.splitext(os.path.basename(file))[0]
            rows.append((mid if latest or len(found) == 1 else f"{mid}/{stem}", file, result))
    return rows


def _json_files(path: str) -> Iterable[str]:
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".json") and not name.startswith("."):
                yield os.path.join(folder, name)


def _labels(defaults: list[str], labels: Sequence[str] | None) -> list[str]:
    """The row labels: `labels` when given (one per row), else the defaults made distinct."""
    if labels is not None:
        labels = [str(x) for x in labels]
        if len(labels) != len(defaults):
            raise ValueError(f"labels= has {len(labels)} names for {len(defaults)} rows "
                             f"({', '.join(defaults)})")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels= repeats a name: {labels}")
        return labels
    out: list[str] = []
    for name in defaults:
        unique, n = name, 2
        while unique in out:
            unique, n = f"{name} ({n})", n + 1
        out.append(unique)
    return out


def _row(label: str, source: str, result: Result, a: str, b: str, confidence: float,
         tolerance: float, seed: int | None) -> FleetMachine:
    machine = result.machine
    limit = machine.get("rlimit_stack_soft")
    pair = None
    if a in result.strategies and b in result.strategies:
        pair = crossover(result, a, b, iterations=_iterations(result), confidence=confidence,
                         tolerance=tolerance, seed=seed)
    return FleetMachine(
        label=label, machine_id=machine_id(machine), source=source, result=result, pair=pair,
        crossover=_crossover_size(pair), stack_limit=limit if isinstance(limit, int) else None,
        stack_limit_recorded="rlimit_stack_soft" in machine,
        largest_safe=largest_safe(machine))


def _iterations(result: Result):
    """The iterations count a fleet compares: "auto" when measured, else the first."""
    return "auto" if "auto" in result.iterations else result.iterations[0]


def _crossover_size(cross: Crossover | None) -> CrossoverSize:
    if cross is None:
        return CrossoverSize(None, None, None, False)
    beyond = 1 + cross.tolerance
    measured = np.flatnonzero(cross.winner != "")

    def largest(where: np.ndarray) -> int | None:
        found = np.flatnonzero(where)
        return int(cross.sizes[found[-1]]) if len(found) else None

    with np.errstate(invalid="ignore"):
        return CrossoverSize(size=largest(cross.winner == cross.a),
                             low=largest(cross.low > beyond), high=largest(cross.high > beyond),
                             open=bool(len(measured)) and cross.winner[measured[-1]] == cross.a)


def _grids(rows: list[FleetMachine], sizes: np.ndarray) -> dict[str, np.ndarray]:
    shape = (len(rows), len(sizes))
    grids = {name: np.full(shape, np.nan) for name in ("ratio", "low", "high", "fastest_margin")}
    grids["winner"] = np.full(shape, "", dtype=object)
    grids["rounds"] = np.zeros(shape, dtype=np.int64)
    grids["fastest"] = np.full(shape, "", dtype=object)
    for m, row in enumerate(rows):
        at = {int(s): int(np.flatnonzero(sizes == s)[0]) for s in row.result.sizes}
        if row.pair is not None:
            for z, size in enumerate(row.pair.sizes):
                col = at[int(size)]
                grids["ratio"][m, col] = row.pair.speedup[z]
                grids["low"][m, col] = row.pair.low[z]
                grids["high"][m, col] = row.pair.high[z]
                grids["winner"][m, col] = row.pair.winner[z]
                grids["rounds"][m, col] = row.pair.rounds[z]
        _fastest(row.result, at, grids["fastest"][m], grids["fastest_margin"][m])
    return grids


def allocator_name(result: Result, strategy: str) -> str:
    """Who serves `strategy`'s malloc: the NAME of malloc@NAME, else the allocator the run
    recorded for it (params["placement"]), the preloaded library, or the libc."""
    named = allocator_of(strategy)
    if named:
        return named
    machine = result.machine
    return (result.params.get("placement", {}).get(strategy, {}).get("allocator")
            or preloaded_allocator(machine.get("ld_preload"))
            or machine.get("libc_name") or "libc")


def _fastest(result: Result, at: dict[int, int], fastest: np.ndarray,
             margin: np.ndarray) -> None:
    """Fill one row's fastest allocator per size, where it measured two or more mallocs."""
    mallocs = [s for s in result.strategies if kernel(s) == "malloc"]
    if len(mallocs) < 2:
        return
    i = result.iterations.index(_iterations(result))
    median = result.median()[[result.strategies.index(s) for s in mallocs], :, i]
    for z, size in enumerate(result.sizes):
        column = median[:, z]
        ok = np.flatnonzero(np.isfinite(column))
        if len(ok) < 2:
            continue
        order = ok[np.argsort(column[ok])]
        fastest[at[int(size)]] = allocator_name(result, mallocs[order[0]])
        margin[at[int(size)]] = column[order[1]] / column[order[0]]


def _differing(results: list[Result]) -> dict[str, tuple]:
    """{key: one value per result} for the compared metadata whose values differ."""
    out = {}
    for key in MACHINE_COMPARED:
        values = tuple(r.machine.get(key) for r in results)
        if len(set(map(repr, values))) > 1:
            out[key] = values
    for key in PARAMS_COMPARED:
        values = tuple(r.params.get(key) for r in results)
        if len(set(map(repr, values))) > 1:
            out[key] = values
    return out
