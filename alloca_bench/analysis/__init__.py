"""Analysis of results: statistics (_stats), comparisons across results (compare) and the answers
within one (crossover, summary).  Never imports the compiled module or measure/."""
from alloca_bench.analysis.compare import Comparison, compare
from alloca_bench.analysis.crossover import Crossover, Summary, crossover, summary

__all__ = ["Comparison", "Crossover", "Summary", "compare", "crossover", "summary"]
