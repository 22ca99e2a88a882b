"""alloca_bench.kallsyms against a raw read of /proc/kallsyms, the least any reader pays (the
kernel formats the whole table on every read), and `alloca-bench kallsyms grep` against grep.

    pytest benchmarks/test_bench_kallsyms.py --benchmark-only -s

Each round runs every reader once, in an order shuffled per round so drift cancels; the ratios
are the medians of the per-round ratios to the reference of the same round, printed and kept in
extra_info (``load_over_read``, ``lookup_name_over_read``, ``full_parse_over_read``;
``cli_grep_over_grep``, ``python_over_grep``).  The table's time is one whole round.
"""
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from typing import Callable

import pytest

from alloca_bench import kallsyms

ROUNDS = 21
NAME = "kallsyms_lookup_name"
readable = pytest.mark.skipif(not os.access(kallsyms.DEFAULT_PATH, os.R_OK),
                              reason=f"{kallsyms.DEFAULT_PATH} is not readable here")


def _read() -> bytes:
    with open(kallsyms.DEFAULT_PATH, "rb") as f:
        return f.read()


def _interleaved(benchmark, readers: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Seconds per reader and round, ROUNDS rounds after one warm-up, each round running every
    reader once in a shuffled order."""
    seconds: dict[str, list[float]] = {name: [] for name in readers}
    shuffle = random.Random(0).shuffle

    def one_round() -> None:
        order = list(readers)
        shuffle(order)
        for name in order:
            start = time.perf_counter()
            readers[name]()
            seconds[name].append(time.perf_counter() - start)

    benchmark.pedantic(one_round, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    return {name: times[-ROUNDS:] for name, times in seconds.items()}  # not the warm-up


def _ratio(times: list[float], reference: list[float]) -> float:
    """The median of the per-round ratios."""
    return round(statistics.median(t / r for t, r in zip(times, reference)), 3)


@readable
def test_kallsyms_load_and_cold_lookup_against_a_raw_read(benchmark):
    """load() and a cold lookup_name() read the bytes and parse (almost) nothing; the full
    parse, len(load()), splits every line, as grep(), iteration and stats() do."""
    benchmark.group = ("kallsyms: one round of read, load(), a cold lookup_name() and a full "
                       "parse")
    seconds = _interleaved(benchmark, {"read": _read, "load": kallsyms.load,
                                       "lookup_name": lambda: kallsyms.lookup_name(NAME),
                                       "full_parse": lambda: len(kallsyms.load())})
    read = seconds["read"]
    for name in ("load", "lookup_name", "full_parse"):
        benchmark.extra_info[f"{name}_over_read"] = _ratio(seconds[name], read)
    benchmark.extra_info["read_ms"] = round(statistics.median(read) * 1e3, 2)
    info = benchmark.extra_info
    print(f"\nkallsyms over {len(read)} round(s): raw read {statistics.median(read) * 1e3:.1f} "
          f"ms; load() {info['load_over_read']:.2f}x, cold lookup_name() "
          f"{info['lookup_name_over_read']:.2f}x, full parse {info['full_parse_over_read']:.2f}x "
          f"the raw read")


@readable
@pytest.mark.skipif(shutil.which("grep") is None, reason="no grep here")
def test_the_kallsyms_grep_command_against_grep(benchmark):
    """Whole processes, as a shell runs them: `alloca-bench kallsyms grep ^NAME$` (python -m
    alloca_bench), `grep ' NAME$'` on the same file, and an empty Python (`python -c pass`),
    the least any Python command pays."""
    commands = {"cli_grep": [sys.executable, "-m", "alloca_bench", "kallsyms", "grep",
                             f"^{NAME}$"],
                "grep": [shutil.which("grep"), f" {NAME}$", kallsyms.DEFAULT_PATH],
                "python": [sys.executable, "-c", "pass"]}
    for name in ("cli_grep", "grep"):  # both find the symbol, or the race is not the same
        assert subprocess.run(commands[name], capture_output=True).stdout.count(b"\n") >= 1

    benchmark.group = "kallsyms: one round of alloca-bench kallsyms grep, grep and python -c pass"
    # Output to a pipe, as `| less` takes it: GNU grep writing to /dev/null stops at the first
    # match (as -q does), which would time a fraction of the read.
    seconds = _interleaved(benchmark, {
        name: lambda argv=argv: subprocess.run(argv, capture_output=True, check=True)
        for name, argv in commands.items()})
    grep = seconds["grep"]
    for name in ("cli_grep", "python"):
        benchmark.extra_info[f"{name}_over_grep"] = _ratio(seconds[name], grep)
    for name, times in seconds.items():
        benchmark.extra_info[f"{name}_ms"] = round(statistics.median(times) * 1e3, 1)
    info = benchmark.extra_info
    print(f"\nkallsyms grep over {len(grep)} round(s): grep {info['grep_ms']} ms; alloca-bench "
          f"kallsyms grep {info['cli_grep_ms']} ms ({info['cli_grep_over_grep']:.2f}x grep); "
          f"python -c pass {info['python_ms']} ms ({info['python_over_grep']:.2f}x grep)")
