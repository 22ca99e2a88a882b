"""The status of each cell of a result (Google Benchmark's `error_occurred`/`skipped` per run):
an array beside the samples, and the words for every cell that is not "ok"."""
from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

Iterations = Union[int, str]  # an explicit ops-per-batch count, or "auto" (calibrated)
Cell = tuple[str, int, Iterations]  # (strategy, size in bytes, iterations label)

# ok: measured in every round asked for; failed: the cell's process or kernel failed (samples
# before the failure are kept); unavailable: the cell cannot exist here (a pattern the stack
# cannot do, an allocator not installed); interrupted: Ctrl-C stopped it (samples kept);
# not_run: no sample, and nothing else to say why.
STATUSES = ("ok", "failed", "unavailable", "interrupted", "not_run")
DTYPE = "<U11"
# The words for a cell whose status came without any.
DEFAULT_REASONS = {"failed": "failed", "unavailable": "unavailable here",
                   "interrupted": "interrupted (Ctrl-C)", "not_run": "not run"}


def default_status(ns_per_op: np.ndarray) -> np.ndarray:
    """"ok" where a cell (the leading 3 axes of `ns_per_op`) has a sample, "not_run" where it
    has none."""
    measured = np.isfinite(ns_per_op).any(axis=-1)
    return np.where(measured, "ok", "not_run").astype(DTYPE)


def check_status(status: Any, shape: tuple[int, ...]) -> np.ndarray:
    """`status` as an array of dtype DTYPE and `shape`; ValueError names a wrong shape or word."""
    array = np.asarray(status, dtype=DTYPE)
    if array.shape != shape:
        raise ValueError(f"status has shape {array.shape}, expected {shape}")
    unknown = sorted(set(np.unique(array).tolist()) - set(STATUSES))
    if unknown:
        raise ValueError(f"status holds {unknown[0]!r}; a status is one of {', '.join(STATUSES)}")
    return array


def cells(strategies: Sequence[str], sizes: Sequence[int],
          iterations: Sequence[Iterations]) -> list[Cell]:
    """Every cell's key, in the order of the arrays' leading axes."""
    return [(s, int(z), it) for s in strategies for z in sizes for it in iterations]


def from_legacy_params(strategies: Sequence[str], sizes: Sequence[int],
                       iterations: Sequence[Iterations], ns_per_op: np.ndarray,
                       params: dict) -> tuple[np.ndarray, dict[Cell, str]]:
    """Status and reasons of a result of schema version 1, which kept its failures in
    params["errors"] (failed), params["unavailable"] and params["interrupted"] (a bool)."""
    status = default_status(ns_per_op)
    reasons: dict[Cell, str] = {}
    index = {cell: np.unravel_index(k, status.shape)
             for k, cell in enumerate(cells(strategies, sizes, iterations))}
    repeats = ns_per_op.shape[-1]
    if params.get("interrupted"):
        for cell, at in index.items():
            done = int(np.isfinite(ns_per_op[at]).sum())
            if done < repeats:
                status[at] = "interrupted"
                reasons[cell] = f"interrupted (Ctrl-C) after {done} of {repeats} rounds"
    for key, word in (("errors", "failed"), ("unavailable", "unavailable")):
        for record in params.get(key) or ():
            if not isinstance(record, dict):
                continue
            iteration = record.get("iterations", "auto")
            for cell in _matching(index, record.get("strategy"), record.get("size"), iteration):
                status[index[cell]] = word
                threads = record.get("threads")
                prefix = f"with {threads} threads: " if threads and threads > 1 else ""
                reasons[cell] = prefix + str(record.get("reason") or DEFAULT_REASONS[word])
    for strategy in {r.get("strategy") for r in params.get("errors") or ()
                     if isinstance(r, dict)}:
        # A strategy that failed in this process was not run at the cells after it.
        for cell, at in index.items():
            if cell[0] == strategy and status[at] == "not_run":
                reasons[cell] = f"not run: {strategy} failed before it"
    return status, reasons


def _matching(index: dict, strategy: Any, size: Any, iterations: Any) -> list[Cell]:
    """The cells a version-1 failure record names (no size: every size of the strategy)."""
    return [cell for cell in index if cell[0] == strategy
            and (size in (None, 0) or cell[1] == size)
            and (iterations is None or str(cell[2]) == str(iterations))]


def complete_reasons(status: np.ndarray, reasons: dict[Cell, str],
                     keys: Sequence[Cell]) -> dict[Cell, str]:
    """`reasons` with the default words added for every cell not "ok" that has none;
    ValueError for a reason given to an "ok" cell or to no cell at all."""
    flat = dict(zip(keys, status.reshape(-1).tolist()))
    for cell in reasons:
        if cell not in flat:
            raise ValueError(f"reasons names {cell!r}, which is not a cell of this result")
        if flat[cell] == "ok":
            raise ValueError(f"reasons names {cell!r}, whose status is ok")
    return {cell: reasons.get(cell) or DEFAULT_REASONS[word]
            for cell, word in flat.items() if word != "ok"}


def by_status(status: np.ndarray, reasons: dict[Cell, str],
              keys: Sequence[Cell]) -> dict[str, list[tuple[Cell, str]]]:
    """The cells that are not "ok" with their reasons, grouped by status (in STATUSES order;
    only the statuses that occur)."""
    groups: dict[str, list[tuple[Cell, str]]] = {w: [] for w in STATUSES[1:]}
    for cell, word in zip(keys, status.reshape(-1).tolist()):
        if word != "ok":
            groups[word].append((cell, reasons.get(cell, DEFAULT_REASONS[word])))
    return {word: found for word, found in groups.items() if found}
