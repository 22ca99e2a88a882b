"""The status of a cell: what became of it ("ok": measured; the others say why not, in words
kept beside the status as its reason)."""
from __future__ import annotations

import numpy as np

STATUSES = ("ok", "failed", "unavailable", "interrupted", "not_run")


def default_status(ns_per_op: np.ndarray) -> np.ndarray:
    """Per cell (all axes of `ns_per_op` but the last, the rounds): "ok" where a cell has a
    sample, "not_run" where it has none."""
    measured = np.isfinite(ns_per_op).any(axis=-1)
    return np.where(measured, "ok", "not_run").astype("<U11")
