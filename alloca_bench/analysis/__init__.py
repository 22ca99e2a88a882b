"""Analysis of results: comparisons across results (compare), the answers within one
(crossover) and why figures may mislead (checks).  Returns data, never words (present/ writes
them); never imports the compiled module or measuring/."""
from alloca_bench.analysis.compare import Comparison, compare
from alloca_bench.analysis.comparison_model import ComparisonData
from alloca_bench.analysis.crossover import Crossover, crossover
from alloca_bench.analysis.crossover_model import CrossoverData

__all__ = ["Comparison", "ComparisonData", "Crossover", "CrossoverData", "compare", "crossover"]
