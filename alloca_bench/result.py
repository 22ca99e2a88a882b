"""Old import path of Measurement, Result and load (now in alloca_bench.results)."""
from alloca_bench.results import Iterations, Measurement, Result, load

__all__ = ["Iterations", "Measurement", "Result", "load"]
