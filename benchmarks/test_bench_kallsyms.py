"""alloca_bench.kallsyms against a raw read of /proc/kallsyms, the least any reader pays (the
kernel formats the whole table on every read).

    pytest benchmarks/test_bench_kallsyms.py --benchmark-only -s

Each round reads the file raw, then runs ``load()`` and a cold ``lookup_name()`` (a new read
each), in an order shuffled per round so drift cancels; the ratios are the medians of the
per-round ratios to the raw read of the same round, printed and kept in extra_info
(``load_over_read``, ``lookup_name_over_read``).  The table's time is one whole round.
"""
import os
import random
import statistics
import time

import pytest

from alloca_bench import kallsyms

ROUNDS = 21
NAME = "kallsyms_lookup_name"


def _read() -> bytes:
    with open(kallsyms.DEFAULT_PATH, "rb") as f:
        return f.read()


@pytest.mark.skipif(not os.access(kallsyms.DEFAULT_PATH, os.R_OK),
                    reason=f"{kallsyms.DEFAULT_PATH} is not readable here")
def test_kallsyms_load_and_cold_lookup_against_a_raw_read(benchmark):
    readers = {"read": _read, "load": kallsyms.load,
               "lookup_name": lambda: kallsyms.lookup_name(NAME)}
    seconds: dict[str, list[float]] = {name: [] for name in readers}
    shuffle = random.Random(0).shuffle

    def one_round() -> None:
        order = list(readers)
        shuffle(order)
        for name in order:
            start = time.perf_counter()
            readers[name]()
            seconds[name].append(time.perf_counter() - start)

    benchmark.group = "kallsyms: one round of read, load() and a cold lookup_name()"
    benchmark.pedantic(one_round, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    for name in seconds:  # the rounds timed, not the warm-up
        seconds[name] = seconds[name][-ROUNDS:]
    read = seconds["read"]
    for name in ("load", "lookup_name"):
        ratio = statistics.median(t / r for t, r in zip(seconds[name], read))
        benchmark.extra_info[f"{name}_over_read"] = round(ratio, 3)
    benchmark.extra_info["read_ms"] = round(statistics.median(read) * 1e3, 2)
    print(f"\nkallsyms over {len(read)} round(s): raw read {statistics.median(read) * 1e3:.1f} "
          f"ms; load() {benchmark.extra_info['load_over_read']:.2f}x, cold lookup_name() "
          f"{benchmark.extra_info['lookup_name_over_read']:.2f}x the raw read")
