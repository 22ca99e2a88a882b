"""Results: the data of a measurement (Measurement, Result, ThreadsResult) and its files (save, load, schema).
Never imports the compiled module: a saved result opens on any machine."""
from alloca_bench.results.io import load, load_all
from alloca_bench.results.model import Iterations, Measurement, Result
from alloca_bench.results.threads import ThreadsResult

__all__ = ["Iterations", "Measurement", "Result", "ThreadsResult", "load", "load_all"]
