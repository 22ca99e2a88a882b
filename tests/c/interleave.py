"""Interleaved comparison for heap="fresh": malloc at 64 B and 4 KiB, touch "none", measured
alone, inside a sweep of 64 B..1 MiB, after this Python process allocated and freed thousands
of blocks, and by the plain C program plain_malloc.c; each round runs the four in a shuffled
order.  Not a test (no thresholds): it prints figures.

    python tests/c/interleave.py [ROUNDS]
"""
import ctypes
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

import alloca_bench as ab

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (64, 4096)
N = 100_000  # ops per batch, the same everywhere
REPEATS = 7  # batches per measurement


def build_plain() -> str:
    cc = shutil.which("gcc") or shutil.which("cc")
    out = os.path.join(tempfile.mkdtemp(), "plain_malloc")
    subprocess.run([cc, "-O2", "-std=gnu11", "-fno-stack-protector", "-o", out,
                    os.path.join(HERE, "plain_malloc.c")], check=True)
    return out


def plain(binary: str, size: int) -> float:
    done = subprocess.run([binary, str(size), str(N), str(REPEATS)], capture_output=True,
                          text=True, check=True)
    return statistics.median(float(x) for x in done.stdout.split())


def alone(size: int) -> float:
    return ab.measure("malloc", size, touch="none", iterations=N, repeats=REPEATS,
                      processes=1).median()


def in_sweep(size: int) -> float:
    r = ab.sweep(sizes=[1 << k for k in range(6, 21)], strategies=("malloc",), touch="none",
                 iterations=N, repeats=REPEATS, processes=1)
    return r.sel("malloc", size).median()


def churn() -> None:
    """Thousands of mallocs of mixed sizes in this process, every other one freed."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    rng = random.Random(7)
    kept = []
    for i in range(4000):
        p = libc.malloc(rng.choice((24, 64, 200, 1000, 4096, 10000)))
        (kept.append(p) if i % 2 else libc.free(p))
    for p in kept[::2]:
        libc.free(p)


def after_churn(size: int) -> float:
    churn()
    return alone(size)


def main(rounds: int) -> None:
    binary = build_plain()
    ways = {"alone": alone, "in a sweep 64 B..1 MiB": in_sweep,
            "after Python heap churn": after_churn,
            "plain C program": lambda size: plain(binary, size)}
    got = {(w, s): [] for w in ways for s in SIZES}
    for r in range(rounds):
        order = [(w, s) for w in ways for s in SIZES]
        random.Random(r).shuffle(order)
        for w, s in order:
            got[w, s].append(ways[w](s))
    print(f"malloc, touch none, heap=fresh, {N} ops/batch, median of {REPEATS} batches per "
          f"measurement, {rounds} interleaved rounds: median [min..max] over rounds, ns/op")
    for s in SIZES:
        for w in ways:
            v = got[w, s]
            print(f"  {s:>5} B  {w:<24} {statistics.median(v):6.2f}  [{min(v):.2f}..{max(v):.2f}]")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
