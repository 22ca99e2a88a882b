"""Results: the data of a measurement (Measurement, Result, ThreadsResult, a status per cell), its statistics
(_stats, cell_stats) and its files (files, schema, io, benchmark_json, export).  Imports only
the leaves, and present/ or analysis/ only inside the notebook conveniences of Result; never
the compiled module: a saved result opens on any machine."""
from alloca_bench.results.io import load, load_all
from alloca_bench.results.model import Iterations, Measurement, Result
from alloca_bench.results.threads import ThreadsResult

__all__ = ["Iterations", "Measurement", "Result", "ThreadsResult", "load", "load_all"]
