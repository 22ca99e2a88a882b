"""Results: the data of a measurement (Measurement, ResultData, ThreadsResultData, a status per
cell), its statistics (_stats, cell_stats), its files (files, schema, io, benchmark_json,
export) and the public Result and ThreadsResult, which add the files and the notebook
conveniences to the data.  Imports only the leaves, and present/ or analysis/ only inside those
conveniences; never the compiled module: a saved result opens on any machine."""
from alloca_bench.results.io import load, load_all
from alloca_bench.results.model import Measurement, ResultData
from alloca_bench.results.result import Result
from alloca_bench.results.status import Iterations
from alloca_bench.results.threads import ThreadsResult
from alloca_bench.results.threads_model import ThreadsResultData

__all__ = ["Iterations", "Measurement", "Result", "ResultData", "ThreadsResult",
           "ThreadsResultData", "load", "load_all"]
