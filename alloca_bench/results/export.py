"""Exports of a Result to the formats other tools read: pyperf's JSON (`python -m pyperf stats`,
`hist`, `compare_to`), google benchmark's JSON (its tools/compare.py), CSV rows and a pandas
DataFrame (pandas optional).  One row or benchmark per cell (strategy x size x iterations);
raw samples are kept, NaN (never measured) samples are left out."""
from __future__ import annotations

import csv
import io
from typing import Any, Iterator

import numpy as np

from alloca_bench.results.model import ResultData


# Machine metadata pyperf shows in its `metadata` command; values must be str, int or float.
_PYPERF_KEYS = {"hostname": "hostname", "cpu_model": "cpu_model_name", "cpu_count": "cpu_count",
                "kernel_release": "platform", "python_version": "python_version",
                "timestamp": "date"}
CSV_COLUMNS = ("strategy", "size", "touch", "iterations", "ops_per_batch", "repeat", "process",
               "ns_per_op", "faults_per_op", "major_faults_per_op")


def cell_name(result: ResultData, s: int, z: int, i: int) -> str:
    """A cell's benchmark name: 'alloca/4096/pages' (+ '/iterations=N' with several counts)."""
    name = f"{result.strategies[s]}/{int(result.sizes[z])}/{result.touch}"
    return name if len(result.iterations) == 1 else f"{name}/iterations={result.iterations[i]}"


def _cells(result: ResultData) -> Iterator[tuple[str, tuple[int, int, int], np.ndarray]]:
    for index in np.ndindex(*result.ns_per_op.shape[:3]):
        yield cell_name(result, *index), index, result.ns_per_op[index]


def to_pyperf(result: ResultData) -> dict[str, Any]:
    """A pyperf BenchmarkSuite as a dict (json.dump it to a file): a benchmark per cell, a run
    per process holding that process's samples in seconds per op, `loops` = ops per batch."""
    meta = {"unit": "second"}
    for key, name in _PYPERF_KEYS.items():
        value = result.machine.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "":
            meta[name] = value if name != "platform" else f"Linux-{value}"
    benchmarks = []
    for name, index, x in _cells(result):
        proc = result.process[index]
        runs = []
        for p in np.unique(proc[np.isfinite(x)]):
            values = x[(proc == p) & np.isfinite(x)] * 1e-9
            runs.append({"metadata": {"loops": int(max(result.batch_iterations[index], 1))},
                         "values": [float(v) for v in values]})
        if runs:
            benchmarks.append({"metadata": {"name": name}, "runs": runs})
    return {"version": "1.0", "metadata": meta, "benchmarks": benchmarks}


def to_gbench(result: ResultData) -> dict[str, Any]:
    """google benchmark's JSON output as a dict: a "context" and, per cell, one "iteration"
    entry per batch (its repetitions) and a "median" aggregate, times in ns per op; a cell
    whose status is not ok also gets an entry with "error_occurred" and its reason as
    "error_message" (as google benchmark reports a run that failed or was skipped)."""
    m = result.machine
    context = {"date": m.get("timestamp") or "", "host_name": m.get("hostname") or "",
               "executable": "alloca-bench", "num_cpus": m.get("cpu_count") or 0,
               "mhz_per_cpu": int(m.get("cpu_mhz") or 0),
               "cpu_scaling_enabled": bool(m.get("cpu_governor")
                                           and m.get("cpu_governor") != "performance"),
               "caches": [], "library_build_type": "release"}
    if isinstance(m.get("loadavg_1min"), (int, float)):
        context["load_avg"] = [float(m["loadavg_1min"])]
    entries = []
    for family, (name, index, x) in enumerate(_cells(result)):
        valid = x[np.isfinite(x)]
        base = {"family_index": family, "per_family_instance_index": 0, "run_name": name,
                "repetitions": int(len(valid)), "threads": 1,
                "iterations": int(result.batch_iterations[index]), "time_unit": "ns"}
        for k, v in enumerate(valid):
            entries.append({"name": name, **base, "run_type": "iteration",
                            "repetition_index": k, "real_time": float(v), "cpu_time": float(v)})
        status = str(result.status[index])
        if status != "ok":
            s, z, i = index
            reason = result.reasons[(result.strategies[s], int(result.sizes[z]),
                                     result.iterations[i])]
            entries.append({"name": name, **base, "run_type": "iteration",
                            "error_occurred": True, "error_message": f"{status}: {reason}",
                            "real_time": 0.0, "cpu_time": 0.0})
        if len(valid):
            med = float(np.median(valid))
            entries.append({"name": f"{name}_median", **base, "run_type": "aggregate",
                            "aggregate_name": "median", "aggregate_unit": "time",
                            "real_time": med, "cpu_time": med})
    return {"context": context, "benchmarks": entries}


def rows(result: ResultData) -> Iterator[dict[str, Any]]:
    """One dict per sample (CSV_COLUMNS): the long ("tidy") form of the result."""
    for _, (s, z, i), x in _cells(result):
        for r, value in enumerate(x):
            if not np.isfinite(value):
                continue
            yield {"strategy": result.strategies[s], "size": int(result.sizes[z]),
                   "touch": result.touch, "iterations": result.iterations[i],
                   "ops_per_batch": int(result.batch_iterations[s, z, i]), "repeat": r,
                   "process": int(result.process[s, z, i, r]), "ns_per_op": float(value),
                   "faults_per_op": float(result.faults_per_op[s, z, i, r]),
                   "major_faults_per_op": float(result.major_faults_per_op[s, z, i, r])}


def to_csv(result: ResultData) -> str:
    """The samples as CSV text, a header and one line per sample (CSV_COLUMNS)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(result))
    return out.getvalue()


def to_dataframe(result: ResultData) -> Any:
    """A pandas DataFrame, one row per sample (CSV_COLUMNS); needs pandas."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError('to_dataframe() needs pandas: pip install pandas') from None
    return pd.DataFrame(list(rows(result)), columns=list(CSV_COLUMNS))
