"""Measurement and Result: the raw per-batch samples in numpy arrays, their axes, the
reductions derived from them (median, net, err%, paired ratios), save/load and notebook display.

Every array keeps one value per batch: ns per op (wall time of the batch / ops in it) and page
faults per op.  Cells a sweep never reached (interrupted) hold NaN.
"""
from __future__ import annotations

import html
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence, Union

import numpy as np

from alloca_bench.exceptions import ResultFileError

SCHEMA = "alloca_bench.result"
SCHEMA_VERSION = 1
Iterations = Union[int, str]  # an explicit ops-per-batch count, or "auto" (calibrated)


def nanmedian(samples: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """Median ignoring NaN; a cell with no sample at all (interrupted, failed) stays NaN
    without numpy's "All-NaN slice" warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(samples, axis=axis, keepdims=keepdims)


def err_pct(samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """nanobench's err%: the median absolute deviation from the median, in % of the median."""
    med = nanmedian(samples, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * nanmedian(np.abs(samples - med), axis=axis) / np.squeeze(med, axis)


def format_size(n: int) -> str:
    """1024 -> '1 KiB', 131073 -> '131073 B': exact binary units, else bytes."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} B"


@dataclass(frozen=True, eq=False)
class Measurement:
    """One kernel (strategy x touch mode) at one size: `repeats` batches of `iterations` ops."""

    strategy: str
    size: int  # bytes per op
    touch: str
    iterations: int  # ops per batch
    ns_per_op: np.ndarray  # shape (repeats,): wall ns per op, one value per batch
    faults_per_op: np.ndarray  # shape (repeats,): minor + major page faults per op
    major_faults_per_op: np.ndarray  # shape (repeats,)
    params: dict = field(default_factory=dict)  # backend, stack_size, ...

    def median(self) -> float:
        """Median ns per op over the batches."""
        return float(np.median(self.ns_per_op))

    def err_pct(self) -> float:
        """Spread of ns per op: median absolute deviation in % of the median."""
        return float(err_pct(self.ns_per_op))

    def __repr__(self) -> str:
        return (
            f"Measurement({self.strategy!r}, size={self.size}, touch={self.touch!r}: "
            f"{self.median():.2f} ns/op ±{self.err_pct():.1f}%, "
            f"{np.median(self.faults_per_op):.3g} faults/op, "
            f"{len(self.ns_per_op)} batches x {self.iterations} ops)"
        )


@dataclass(frozen=True, eq=False)
class Result:
    """A sweep: arrays of shape (strategy, size, iterations, repeat) and their axes.

    `iterations` is the requested axis (ints, or "auto"); `batch_iterations`, of shape
    (strategy, size, iterations), holds the ops per batch really run in each cell.
    """

    strategies: tuple[str, ...]
    sizes: np.ndarray  # bytes, int64
    iterations: tuple[Iterations, ...]
    touch: str
    ns_per_op: np.ndarray
    faults_per_op: np.ndarray
    major_faults_per_op: np.ndarray
    batch_iterations: np.ndarray
    complete: bool = True
    machine: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # repeats, backend, stack_size, seed, ...
    timing: dict = field(default_factory=dict)  # wall_s, in_batch_s, in_batch_fraction

    def __post_init__(self) -> None:
        shape = (len(self.strategies), len(self.sizes), len(self.iterations))
        for name in ("ns_per_op", "faults_per_op", "major_faults_per_op"):
            array = getattr(self, name)
            if array.ndim != 4 or array.shape[:3] != shape:
                raise ValueError(f"{name} has shape {array.shape}, expected {shape} + (repeats,)")
        if self.batch_iterations.shape != shape:
            raise ValueError(
                f"batch_iterations has shape {self.batch_iterations.shape}, expected {shape}")

    # --- axes ------------------------------------------------------------------------------

    @property
    def repeats(self) -> int:
        """Batches per cell."""
        return self.ns_per_op.shape[3]

    def _strategy_index(self, strategy: str) -> int:
        if strategy not in self.strategies:
            raise KeyError(f"strategy {strategy!r} is not in this result: {self.strategies}")
        return self.strategies.index(strategy)

    def _index(self, strategy: str, size: int,
               iterations: Iterations | None = None) -> tuple[int, int, int]:
        s = self._strategy_index(strategy)
        found = np.flatnonzero(self.sizes == size)
        if not len(found):
            raise KeyError(f"size {size} is not in this result: {self.sizes.tolist()}")
        z = int(found[0])
        i = 0
        if iterations is not None:
            if iterations not in self.iterations:
                raise KeyError(f"iterations {iterations!r} not in this result: {self.iterations}")
            i = self.iterations.index(iterations)
        elif len(self.iterations) > 1:
            raise KeyError(f"this result has several iteration counts {self.iterations}: "
                           "pass iterations=")
        return s, z, i

    def sel(self, strategy: str, size: int, iterations: Iterations | None = None) -> Measurement:
        """The Measurement of one cell (iterations may be omitted when there is one count)."""
        s, z, i = self._index(strategy, size, iterations)
        return Measurement(
            strategy=strategy, size=int(self.sizes[z]), touch=self.touch,
            iterations=int(self.batch_iterations[s, z, i]),
            ns_per_op=self.ns_per_op[s, z, i].copy(),
            faults_per_op=self.faults_per_op[s, z, i].copy(),
            major_faults_per_op=self.major_faults_per_op[s, z, i].copy(),
            params=dict(self.params),
        )

    # --- reductions ------------------------------------------------------------------------

    def median(self, what: str = "ns_per_op") -> np.ndarray:
        """Median over repeats of `what` (an array name): shape (strategy, size, iterations)."""
        return nanmedian(self._array(what), axis=3)

    def err_pct(self) -> np.ndarray:
        """nanobench's err% of ns per op, shape (strategy, size, iterations)."""
        return err_pct(self.ns_per_op, axis=3)

    def net(self, baseline: str = "baseline") -> np.ndarray:
        """ns per op minus the baseline kernel's, paired by round (both ran in the same round,
        so drift cancels), median over rounds: shape (strategy, size, iterations)."""
        b = self._strategy_index(baseline)
        return nanmedian(self.ns_per_op - self.ns_per_op[b : b + 1], axis=3)

    def ratio(self, numerator: str, denominator: str) -> np.ndarray:
        """Median over rounds of numerator/denominator ns per op, paired by round: shape
        (size, iterations).  2.0 means the numerator costs twice as much."""
        a = self._strategy_index(numerator)
        b = self._strategy_index(denominator)
        with np.errstate(invalid="ignore", divide="ignore"):
            return nanmedian(self.ns_per_op[a] / self.ns_per_op[b], axis=2)

    def _array(self, what: str) -> np.ndarray:
        if what not in ("ns_per_op", "faults_per_op", "major_faults_per_op"):
            raise ValueError(f"unknown array {what!r}: use ns_per_op, faults_per_op or "
                             "major_faults_per_op")
        return getattr(self, what)

    # --- display ---------------------------------------------------------------------------

    def table(self, reference: str | None = None) -> str:
        """A text table, a row per (size, iterations, strategy): median ns/op, err%, net ns/op,
        faults/op and the paired ratio to `reference` (default: alloca when present)."""
        if reference is None:
            reference = "alloca" if "alloca" in self.strategies else None
        med, err, faults = self.median(), self.err_pct(), self.median("faults_per_op")
        net = self.net() if "baseline" in self.strategies else None
        headers = ["size", "iterations", "strategy", "ns/op", "err%", "net ns/op", "faults/op"]
        if reference:
            headers.append(f"x {reference}")
        ratios = self.ratio_to(reference) if reference else None
        rows = []
        for z, size in enumerate(self.sizes):
            for i, it in enumerate(self.iterations):
                for s, strategy in enumerate(self.strategies):
                    label = f"auto={self.batch_iterations[s, z, i]}" if it == "auto" else str(it)
                    net_text = format_number(net[s, z, i]) if net is not None else "-"
                    row = [format_size(int(size)), label, strategy, format_number(med[s, z, i]),
                           _pct(err[s, z, i]), net_text, format_number(faults[s, z, i], 3)]
                    if ratios is not None:
                        row.append(_ratio(ratios[s, z, i]))
                    rows.append(row)
        return format_rows(headers, rows)

    def ratio_to(self, reference: str) -> np.ndarray:
        """Paired ratio of every strategy to `reference`: shape (strategy, size, iterations)."""
        return np.stack([self.ratio(s, reference) for s in self.strategies])

    def __repr__(self) -> str:
        state = "complete" if self.complete else "INCOMPLETE"
        return (
            f"<alloca_bench.Result touch={self.touch!r} strategies={list(self.strategies)} "
            f"sizes={format_size(int(self.sizes[0]))}..{format_size(int(self.sizes[-1]))} "
            f"({len(self.sizes)}) iterations={list(self.iterations)} repeats={self.repeats} "
            f"{state}; machine={self.machine.get('cpu_model', '?')!r}>"
        )

    def _repr_html_(self) -> str:
        """Notebook display: median ns/op (err%) and faults/op per size and strategy."""
        med, err, faults = self.median(), self.err_pct(), self.median("faults_per_op")
        head = "".join(f"<th>{html.escape(s)}</th>" for s in self.strategies)
        body = []
        for z, size in enumerate(self.sizes):
            for i, it in enumerate(self.iterations):
                cells = "".join(
                    f"<td>{format_number(med[s, z, i])} ±{_pct(err[s, z, i])}"
                    f"<br><small>{format_number(faults[s, z, i], 3)} faults</small></td>"
                    for s in range(len(self.strategies)))
                body.append(f"<tr><th>{format_size(int(size))}</th><td>{it}</td>{cells}</tr>")
        state = "" if self.complete else " <b>(incomplete: interrupted)</b>"
        return (
            f"<p>alloca_bench result, touch <code>{html.escape(self.touch)}</code>, "
            f"{self.repeats} batches per cell, median ns/op ± err%{state}; "
            f"{html.escape(str(self.machine.get('cpu_model', '')))}</p>"
            f"<table><tr><th>size</th><th>iterations</th>{head}</tr>{''.join(body)}</table>"
        )

    # --- answers: thin methods over compare.py and plot.py ------------------------------------
    # Imported inside: those modules import this one.

    def crossover(self, a: str = "alloca", b: str = "malloc",
                  iterations: Iterations | None = None, **kwargs: Any) -> Any:
        """Where `a` stops beating `b`: speed-up (b ns/op / a ns/op, paired by round) per size
        with its interval, the winner per size and faults/op of each side (answers.Crossover)."""
        from alloca_bench.answers import crossover

        return crossover(self, a, b, iterations=iterations, **kwargs)

    def summary(self, size: int | None = None, stack: str | None = None) -> Any:
        """Plain sentences: stack vs each heap strategy per size, faults, stack headroom; with
        `size` (bytes), the answer for that buffer first (answers.Summary)."""
        from alloca_bench.answers import summary

        return summary(self, size=size, stack=stack)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Log-log ns/op per size and strategy with an interquartile band, a faults/op panel and
        markers at the page size, tcache limit, mmap threshold and stack headroom (needs the
        `plot` extra); returns the ns/op Axes."""
        from alloca_bench.plot import plot_result

        return plot_result(self, ax=ax, **kwargs)

    # --- save / load -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes null)."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "strategies": list(self.strategies),
            "sizes": [int(s) for s in self.sizes],
            "iterations": list(self.iterations),
            "touch": self.touch,
            "complete": self.complete,
            "arrays": {name: _to_json(getattr(self, name))
                       for name in ("ns_per_op", "faults_per_op", "major_faults_per_op")},
            "batch_iterations": self.batch_iterations.tolist(),
            "machine": self.machine,
            "params": self.params,
            "timing": self.timing,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the result as versioned JSON (atomically: a crash leaves no half file)."""
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f)
        os.replace(tmp, path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "Result":
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
            return cls(
                strategies=tuple(str(s) for s in data["strategies"]),
                sizes=np.array(data["sizes"], dtype=np.int64),
                iterations=tuple(data["iterations"]),
                touch=str(data["touch"]),
                batch_iterations=np.array(data["batch_iterations"], dtype=np.int64),
                complete=bool(data["complete"]),
                machine=dict(data.get("machine", {})),
                params=dict(data.get("params", {})),
                timing=dict(data.get("timing", {})),
                **arrays,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultFileError(f"{source} is damaged: {type(exc).__name__}: {exc}") from exc


def load(path: str | os.PathLike, *, touch: str | None = None) -> Result:
    """Read a Result written by Result.save(), or the alloca_bench_run benchmarks of a
    pytest-benchmark JSON (`touch=` picks one touch mode when it holds several; see
    alloca_bench.benchmark_json).  FileNotFoundError when missing, ResultFileError
    (a ValueError) when damaged or from a newer schema."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{os.fspath(path)} is not valid JSON: {exc}") from exc
    from alloca_bench import benchmark_json  # it imports this module

    if benchmark_json.is_benchmark_json(data):
        return benchmark_json.from_dict(data, touch=touch, source=os.fspath(path))
    result = Result.from_dict(data, source=os.fspath(path))
    if touch is not None and touch != result.touch:
        raise ValueError(f"{os.fspath(path)} holds touch {result.touch!r}, not {touch!r}")
    return result


def _to_json(array: np.ndarray) -> list:
    return np.where(np.isnan(array), None, array).tolist()


def _from_json(nested: Sequence) -> Any:
    if isinstance(nested, list):
        return [_from_json(x) for x in nested]
    return math.nan if nested is None else nested


def format_number(x: float, digits: int = 4) -> str:
    """`digits` significant digits; "-" for NaN (a cell never measured)."""
    if not np.isfinite(x):
        return "-"
    if x != 0 and abs(x) < 10 ** -(digits - 1):
        return f"{x:.{digits - 1}g}"
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:.0f}"


def _pct(x: float) -> str:
    return f"{x:.1f}%" if np.isfinite(x) else "-"


def _ratio(x: float) -> str:
    return f"{x:.2f}x" if np.isfinite(x) else "-"


def format_rows(headers: list[str], rows: list[list[str]], left: int = 3) -> str:
    """A text table: the first `left` columns left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if c < left else h.rjust(w) for c, (h, w)
                       in enumerate(zip(headers, widths)))]
    for row in rows:
        lines.append("  ".join(v.ljust(w) if c < left else v.rjust(w)
                               for c, (v, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)
