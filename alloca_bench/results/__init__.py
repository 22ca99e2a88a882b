"""Results: the data of a measurement (Measurement, Result) and its files (save, load, schema).
Never imports the compiled module: a saved result opens on any machine."""
from alloca_bench.results.io import load, load_all
from alloca_bench.results.model import Iterations, Measurement, Result

__all__ = ["Iterations", "Measurement", "Result", "load", "load_all"]
