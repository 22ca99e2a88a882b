"""Result, what ab.sweep() and ab.load() return: the data of a sweep (model.ResultData) with its
files (to_dict, save, from_dict, the exports) and its notebook conveniences (table, plot,
summary, warnings, crossover).

The conveniences are thin methods that import present/ and analysis/ inside; those layers read
results through ResultData and never import this module, so the imports run one way."""
from __future__ import annotations

import os
from typing import Any

from alloca_bench.results import export, schema
from alloca_bench.results.model import ResultData
from alloca_bench.results.status import Iterations
from alloca_bench.results.store import file_result


class Result(ResultData):
    """A sweep: arrays of shape (strategy, size, iterations, repeat) and their axes (see
    ResultData), with its files and its notebook conveniences."""

    # --- files -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes null)."""
        return schema.to_dict(self)

    def save(self, path: str | os.PathLike | None = None, *, force: bool = False,
             store: str | os.PathLike | None = None) -> str:
        """Write the result as strict, versioned JSON (atomically: a crash leaves no half file
        and no temporary file) to `path`, or with `store=DIR` file it as
        DIR/<machine id>/<UTC time>.json (results.store); returns the path written.  An
        existing file is kept (FileExistsError) unless `force`."""
        if (path is None) == (store is None):
            raise TypeError("save() takes a path or store=DIR, exactly one of them")
        if store is not None:
            return file_result(self, store)
        schema.save(self, path, force=force)
        return os.fspath(path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "Result":
        """Rebuild a Result from to_dict() output; ResultFileError names what is wrong."""
        checked = schema.fields(data, source)
        try:
            return cls(**checked)
        except ValueError as exc:  # a mismatch between fields the checks did not relate
            raise schema.fail(source, str(exc)) from None

    def to_pyperf(self) -> dict[str, Any]:
        """A pyperf suite (json.dump it; `python -m pyperf stats FILE` reads it): a benchmark
        per cell, a run per process, values in seconds per op."""
        return export.to_pyperf(self)

    def to_gbench(self) -> dict[str, Any]:
        """google benchmark's JSON output (its tools/compare.py reads it): per cell, one entry
        per batch and a median aggregate, ns per op."""
        return export.to_gbench(self)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per sample (needs pandas)."""
        return export.to_dataframe(self)

    # --- notebook conveniences: thin methods over present/ and analysis/ ------------------
    # Imported inside, the only upward imports of results/ (the layers contract names them).

    @property
    def warnings(self) -> tuple[str, ...]:
        """Why figures of this result may be unstable or misleading, each with what to do:
        unstable cells, short batches, net costs inside the resolution, a loaded machine, CPU
        scaling, a VM, too few processes."""
        from alloca_bench.present.warnings import result_warnings

        return tuple(result_warnings(self))

    def table(self, reference: str | None = None) -> str:
        """A text table, a row per (size, iterations, strategy): median ns/op, ± (half width
        of its 95% interval), err%, net ns/op, faults/op and the ratio of medians to
        `reference` (default: alloca when present); the warnings under it."""
        from alloca_bench.present.tables import result_table

        return result_table(self, reference)

    def _repr_html_(self) -> str:
        """Notebook display: median ns/op (err%) and faults/op per size and strategy."""
        from alloca_bench.present.tables import result_html

        return result_html(self)

    def crossover(self, a: str = "alloca", b: str = "malloc",
                  iterations: Iterations | None = None, **kwargs: Any) -> Any:
        """Where `a` stops beating `b`: speed-up (b median ns/op / a's) per size
        with its interval, the winner per size and faults/op of each side
        (analysis.crossover.Crossover)."""
        from alloca_bench.analysis.crossover import crossover

        return crossover(self, a, b, iterations=iterations, **kwargs)

    def summary(self, size: int | None = None, stack: str | None = None) -> Any:
        """Plain sentences: stack vs each heap strategy per size, faults, stack headroom; with
        `size` (bytes), the answer for that buffer first (present.summary.Summary)."""
        from alloca_bench.present.summary import summary

        return summary(self, size=size, stack=stack)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Log-log ns/op per size and strategy with an interquartile band, a faults/op panel and
        markers at the page size, tcache limit, mmap threshold and stack headroom (needs the
        `plot` extra); returns the ns/op Axes."""
        from alloca_bench.present.plot import plot_result

        return plot_result(self, ax=ax, **kwargs)
