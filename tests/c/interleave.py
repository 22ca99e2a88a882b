"""The library against a plain C program (plain_ops.c beside this file, built with the
kernels' flags), interleaved: malloc at 64 B and 4 KiB, alloca and vla at 64 B, touch "none".
Each round measures every configuration once, in a shuffled order, each in processes of its
own: a runner (alloca_bench.sweep, processes=1: the strategy and baseline cells) and two runs
of the C program (the strategy, then the baseline).  Not a test (no thresholds): it prints, per
configuration, the median over rounds of each process's median and the 10th-90th percentile
of those, in ns per op, and the net (strategy minus baseline, per round).

    python tests/c/interleave.py [ROUNDS]
"""
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

import alloca_bench as ab
from alloca_bench.measuring import runner

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = (("malloc", 64), ("malloc", 4096), ("alloca", 64), ("vla", 64))
TOUCH = "none"
N = 200_000  # ops per batch, the same everywhere
REPEATS = 9  # batches per process


def build_plain() -> str:
    cc = shutil.which("gcc") or shutil.which("cc")
    out = os.path.join(tempfile.mkdtemp(), "plain_ops")
    flags = runner.runner_build_info()["compile_args"]
    subprocess.run([cc, *flags, "-o", out, os.path.join(HERE, "plain_ops.c")], check=True)
    return out


def plain(binary: str, strategy: str, size: int) -> float:
    """Median of the C program's batches that were not preempted (all, if every one was), as
    the runner keeps a batch only once it ran unpreempted or was retaken enough."""
    done = subprocess.run([binary, strategy, TOUCH, str(size), str(N), str(REPEATS)],
                          capture_output=True, text=True, check=True)
    batches = [(float(ns), int(switches)) for ns, switches in
               (line.split() for line in done.stdout.splitlines())]
    clean = [ns for ns, switches in batches if switches == 0]
    return statistics.median(clean or [ns for ns, _ in batches])


def library(strategy: str, size: int) -> tuple[float, float]:
    """Medians of the strategy's and the baseline's batches, from one runner process."""
    r = ab.sweep(sizes=[size], strategies=(strategy,), touch=TOUCH, iterations=N,
                 repeats=REPEATS, processes=1)
    return r.sel(strategy, size).median(), r.sel("baseline", size).median()


def percentiles(values: list[float], ratio: bool = False) -> str:
    """Median [10th..90th percentile], and with `ratio` the 90th/10th percentile ratio."""
    v = sorted(values)
    low, high = v[int(0.1 * (len(v) - 1))], v[int(round(0.9 * (len(v) - 1)))]
    text = f"{statistics.median(v):7.3f} [{low:.3f}..{high:.3f}]"
    return text + (f" p90/p10 {high / low:.3f}" if ratio else "")


def main(rounds: int) -> None:
    binary = build_plain()
    got = {(c, way): [] for c in CONFIGS for way in ("library", "C")}
    base = {(c, way): [] for c in CONFIGS for way in ("library", "C")}
    for r in range(rounds):
        order = [(c, way) for c in CONFIGS for way in ("library", "C")]
        random.Random(r).shuffle(order)
        for (strategy, size), way in order:
            if way == "library":
                op, baseline = library(strategy, size)
            else:
                op, baseline = plain(binary, strategy, size), plain(binary, "baseline", size)
            got[(strategy, size), way].append(op)
            base[(strategy, size), way].append(baseline)
    print(f"touch {TOUCH}, {N} ops/batch, median of {REPEATS} batches per process, {rounds} "
          f"interleaved rounds: median [p10..p90] over processes, ns/op")
    for c in CONFIGS:
        for way in ("library", "C"):
            ops, bases = got[c, way], base[c, way]
            net = [o - b for o, b in zip(ops, bases)]
            print(f"  {c[0]:>6} {c[1]:>5} B  {way:<8} op {percentiles(ops, ratio=True)}  "
                  f"baseline {percentiles(bases)}  net {percentiles(net)}")
        lib, c_prog = statistics.median(got[c, "library"]), statistics.median(got[c, "C"])
        print(f"  {c[0]:>6} {c[1]:>5} B  library/C {lib / c_prog:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
