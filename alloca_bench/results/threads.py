"""ThreadsResult, what ab.threads() returns: the data of a threads question
(threads_model.ThreadsResultData) with its file (to_dict, save, from_dict) and its notebook
conveniences (table, plot).

The conveniences import present/ inside; present reads threads results through
ThreadsResultData and never imports this module, so the imports run one way."""
from __future__ import annotations

import json
import os
from typing import Any

from alloca_bench.results import threads_schema
from alloca_bench.results.files import write_text
from alloca_bench.results.threads_model import ThreadsResultData


class ThreadsResult(ThreadsResultData):
    """Cells of strategy x size x thread count (see ThreadsResultData), with its file and its
    notebook conveniences."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes null)."""
        return threads_schema.to_dict(self)

    def save(self, path: str | os.PathLike, *, force: bool = False) -> str:
        """Write the result as strict, versioned JSON (atomically); an existing file is kept
        (FileExistsError) unless `force`.  Returns the path written; alloca_bench.load() reads
        it back."""
        write_text(path, json.dumps(self.to_dict(), allow_nan=False), force=force)
        return os.fspath(path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "ThreadsResult":
        """Rebuild from to_dict() output; ResultFileError names what is wrong."""
        return cls(**threads_schema.fields(data, source))

    # --- notebook conveniences: thin methods over present/, imported inside ---------------

    def table(self) -> str:
        """A text table, a row per (size, strategy, thread count): each thread's median ns/op,
        all threads' throughput (Mops/s), the scaling and same-CPU efficiencies."""
        from alloca_bench.present.threads import threads_table

        return threads_table(self)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Scaling efficiency per thread count, a line per strategy and size (needs the `plot`
        extra); returns the Axes."""
        from alloca_bench.present.threads import plot_threads

        return plot_threads(self, ax=ax, **kwargs)
