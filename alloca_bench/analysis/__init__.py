"""Analysis of results: comparisons across results (compare), the answers within one
(crossover) and why figures may mislead (checks).  Returns data, never words (present/ writes
them); never imports the compiled module or measuring/."""
from alloca_bench.analysis.compare import Comparison, compare
from alloca_bench.analysis.crossover import Crossover, crossover

__all__ = ["Comparison", "Crossover", "compare", "crossover"]
