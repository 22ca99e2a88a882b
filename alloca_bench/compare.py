"""Old import path of compare() and Comparison (now in alloca_bench.analysis.compare)."""
from alloca_bench.analysis.compare import Comparison, compare

__all__ = ["Comparison", "compare"]
