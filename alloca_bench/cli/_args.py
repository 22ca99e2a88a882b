"""Parsing the command line's sizes ("4K", "16..1M"), iteration counts, batch lengths, CPU lists
and kernels."""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import pathlib
import re

from alloca_bench import sizes as distributions
from alloca_bench.exceptions import KernelError, StackLimitError
from alloca_bench.mallocs.policy import MMAP_THRESHOLD_MAX
from alloca_bench.options import (MAX_BATCH_NS, MAX_SIZE, MIN_BATCH_NS, MIN_STACK_SIZE,
                                  duration_ns)
from alloca_bench.strategies import TOUCHES

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1 << 10, "m": 1 << 20,
          "mib": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gib": 1 << 30, "gb": 1 << 30}


def parse_size(text: str) -> int:
    """'4096', '4K', '4KiB' -> 4096 bytes (binary units: K = 1024)."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 64, 4K, 1MiB)")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_stack_size(text: str) -> int:
    """--stack-size '128M' -> bytes, from MIN_STACK_SIZE (64K) to MAX_SIZE."""
    from alloca_bench.present._format import format_size_arg

    size = parse_size(text)
    if not MIN_STACK_SIZE <= size <= MAX_SIZE:
        raise argparse.ArgumentTypeError(
            f"a worker thread's stack takes {format_size_arg(MIN_STACK_SIZE)} to "
            f"{format_size_arg(MAX_SIZE)}, not {text}")
    return size


def parse_mmap_threshold(text: str) -> int:
    """--mmap-threshold '128K' -> bytes, at most MMAP_THRESHOLD_MAX (glibc ignores more)."""
    from alloca_bench.present._format import format_size_arg

    size = parse_size(text)
    if size > MMAP_THRESHOLD_MAX:
        raise argparse.ArgumentTypeError(
            f"glibc takes at most {format_size_arg(MMAP_THRESHOLD_MAX)} (it ignores larger "
            f"ones), not {text}")
    return size


# The library's names for what a command line option set, in its ValueErrors, and the option's.
_OPTION_WORDS = ((r"^(repeats|warmup|processes|iterations|strategies|threads) must",
                  r"--\1 must"),
                 (r"^size must", "--sizes: each size must"),
                 (r"^processes=(\d+)", r"--processes \1"),
                 (r"leave processes out \(or 1\)", "leave --processes out"),
                 (r"^kernel=", "--kernel"),
                 (r"leave touch= out, not '([\w-]+)'", r"leave --touch \1 out"),
                 (r"heap='fresh' or 'aged'", "--heap fresh or aged"),
                 (r"heap='(host(?:-ctypes)?)'", r"--heap \1"),
                 (r"\bglibc_tunables=?", "--glibc-tunables"))


@contextlib.contextmanager
def option_words():
    """A ValueError of the library's argument checks raised in the block, in the command
    line's words: "repeats must ..." -> "--repeats must ...", heap='host' -> --heap host,
    kernel= -> --kernel, glibc_tunables= -> --glibc-tunables (a StackLimitError or KernelError
    passes as it is)."""
    try:
        yield
    except (StackLimitError, KernelError):
        raise
    except ValueError as exc:
        text = str(exc)
        for pattern, words in _OPTION_WORDS:
            text = re.sub(pattern, words, text)
        raise ValueError(text) from None


def parse_distribution(text: str) -> distributions.SizeDistribution:
    """'loguniform:16:64K:1' (KIND:LOW:HIGH[:SEED], seed 1 by default) -> a distribution."""
    parts = text.split(":")
    try:
        if len(parts) not in (3, 4) or parts[0] not in distributions.KINDS:
            raise ValueError(f"use KIND:LOW:HIGH[:SEED] with KIND one of "
                             f"{', '.join(distributions.KINDS)}")
        if len(parts) == 4 and not parts[3].strip().isdecimal():
            raise ValueError(f"the seed must be a non-negative integer, not {parts[3]!r}")
        return distributions.SizeDistribution(parts[0], parse_size(parts[1]),
                                              parse_size(parts[2]),
                                              int(parts[3]) if len(parts) == 4 else 1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad size distribution {text!r}: {exc}") from None


def parse_threads(text: str) -> list[int]:
    """'1,2,4' -> thread counts."""
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"threads must be integers: {text!r}") from None


def parse_sizes(text: str) -> list:
    """'64,4K,1M' or '16..1M' -> sizes in bytes.  A range LOW..HIGH holds both ends and the
    powers of two between them: '3..9' is 3, 4, 8, 9 (never a silently dropped end).  An entry
    'loguniform:16:64K:1' is a seeded size distribution (alloca_bench.sizes)."""
    sizes: list = []
    for part in text.split(","):
        if ":" in part:
            sizes.append(parse_distribution(part))
        elif ".." in part:
            low, high = (parse_size(p) for p in part.split("..", 1))
            if low < 1 or high < low:
                raise argparse.ArgumentTypeError(
                    f"bad size range {part!r}: LOW..HIGH needs 1 <= LOW <= HIGH")
            power = 1 << (low - 1).bit_length()  # the first power of two >= low
            sizes += [low] if power != low else []
            while power <= high:
                sizes.append(power)
                power <<= 1
            sizes += [high] if sizes[-1] != high else []
        else:
            sizes.append(parse_size(part))
    return sizes


def parse_iterations(text: str) -> list:
    """'auto' or '1,100,10000' -> the iterations axis."""
    try:
        return [v if v == "auto" else int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"iterations must be 'auto' or integers: {text!r}") from None


def parse_cpu_list(text: str) -> list[int]:
    """--affinity '0', '0,2', '0-3,7' (pyperf's and the kernel's CPU-list syntax) -> CPU
    numbers; that this process may run on them is the library's check (cpus=)."""
    cpus: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
            raise argparse.ArgumentTypeError(
                f"not a CPU list: {text!r} (use e.g. 0 or 0,2 or 0-3,7)")
        low = int(match.group(1))
        cpus += range(low, int(match.group(2) or low) + 1)
    return cpus


def parse_min_time(text: str) -> str:
    """--min-time 0.005 (seconds, as pyperf) or a duration with its unit ('5ms', '500us'), from
    50 us to 10 s -> the duration iterations= takes ('0.005s')."""
    given = text.strip()
    try:
        seconds: float | None = float(given)
    except ValueError:
        seconds = None
    if seconds is not None and math.isfinite(seconds):  # seconds, as pyperf's (< 0: too short)
        text, ns = f"{seconds!r}s", seconds * 1e9
    else:  # a duration with its unit; "nan" and "inf" are none, and are quoted as typed
        text, ns = given, duration_ns(given)
    if ns is None:
        raise argparse.ArgumentTypeError(
            f"not a duration: {given!r} (seconds, e.g. 0.005, or with a unit: 5ms, 500us)")
    if not MIN_BATCH_NS <= ns <= MAX_BATCH_NS:
        raise argparse.ArgumentTypeError(f"a batch lasts from 50us to 10s, not {text}")
    return text


def add_batch_options(p: argparse.ArgumentParser, heap_option: bool) -> None:
    """--min-time and --affinity, as pyperf's (run and threads); `heap_option`: the command
    takes --heap, whose host heap --affinity treats apart."""
    p.add_argument("--min-time", type=parse_min_time, default=None, metavar="SECONDS",
                   help="how long a batch lasts, its ops calibrated to it (as pyperf's "
                        "--min-time): seconds (0.005) or a duration with its unit (5ms, 500us), "
                        "from 50us to 10s (default about 2 ms); not with --iterations")
    p.add_argument("--affinity", type=parse_cpu_list, default=None, metavar="CPU_LIST",
                   help="the CPUs to run on, e.g. 0 or 0,2 or 0-3,7 (as pyperf's --affinity): "
                        "each runner starts on them and stays on one of them"
                        + (" (--heap host: this process's measuring thread, while it measures)"
                           if heap_option else "") + "; default: the CPUs this process may use")


def check_affinity(cpus: list[int] | None) -> list[int] | None:
    """--affinity's CPUs checked now, before anything runs (the library's check_cpus, in the
    option's words)."""
    from alloca_bench.measuring.validate import check_cpus

    try:
        return None if cpus is None else list(check_cpus(cpus))
    except ValueError as exc:
        raise ValueError(str(exc).replace("cpus:", "--affinity:", 1)) from None


def batch_options(iterations: list, min_time: str | None) -> list:
    """The iterations= of --iterations and --min-time: --min-time's duration, or the
    iterations; ValueError naming both when both are given (--iterations other than auto)."""
    if min_time is None:
        return iterations
    if iterations != ["auto"]:
        raise ValueError(f"--min-time {min_time} and --iterations {','.join(map(str, iterations))}"
                         " both set the batch: --min-time calibrates the ops per batch to that "
                         "length, --iterations fixes them; give one")
    return [min_time]


def stack_advice(message: str) -> str:
    """A StackLimitError's message in the command line's words: `--stack-size 8M` for the
    thread it ran on and the remedy `--stack-size 128M`, in place of `stack_size=8388608`."""
    from alloca_bench.present._format import format_size_arg

    head, found, tail = message.partition("Pass stack_size=")
    head = re.sub(r"stack_size=(\d+)",
                  lambda m: f"--stack-size {format_size_arg(int(m.group(1)))}", head)
    if not found:
        return head.replace("No stack_size", "No --stack-size")
    numbers = re.findall(r"stack_size=(\d+)", tail)
    size = format_size_arg(int(numbers[-1])) if numbers else "128M"
    return (f"{head}Pass --stack-size {size} (for example) to run on a worker thread with that "
            "much stack.")


def check_output(path: str, force: bool, suffixes: tuple[str, ...] = ()) -> str:
    """results.files.check_out_path with the command line's remedy: checked before any work, so
    a path that cannot be written fails first.  With `suffixes` (".json", ...), a path whose
    suffix names another format is refused (a path without one is taken)."""
    from alloca_bench.results.files import check_out_path

    suffix = os.path.splitext(path)[1].lower()
    if suffixes and suffix and suffix not in suffixes:
        raise ValueError(f"{path}: a {suffix} file would not hold what this command writes "
                         f"there; name a {' or '.join(suffixes)} file")
    return _with_force_option(check_out_path, path, force=force)


def write_output(path: str, text: str, force: bool) -> None:
    """results.files.write_text (a temporary file renamed into place) with the command line's
    remedy."""
    from alloca_bench.results.files import write_text

    _with_force_option(write_text, path, text, force=force)


def _with_force_option(call, path: str, *args, force: bool):
    try:
        return call(path, *args, force=force)
    except FileExistsError:
        raise FileExistsError(f"{path} exists: pass --force to replace it") from None


def add_file_options(parser: argparse.ArgumentParser) -> None:
    """--touch, --binding and --grid, to pick one Result of a pytest-benchmark JSON."""
    parser.add_argument("--touch", choices=TOUCHES, default=None,
                        help="the touch mode to read from a pytest-benchmark JSON that holds "
                             "several (a result saved by run --out holds one)")
    parser.add_argument("--binding", choices=("cffi", "ctypes"), default=None,
                        help="the binding to read from a pytest-benchmark JSON that holds both")
    parser.add_argument("--grid", type=int, default=None, metavar="K",
                        help="the grid to read from a pytest-benchmark JSON whose benchmarks "
                             "are too sparse for one (the error without it lists them)")


def file_labels(text: str | None, paths: list[str]) -> list[str]:
    """--labels A,B,C: one name per file, in order; without it, each file's name (with a letter
    in front where two files share one)."""
    from alloca_bench.analysis._align import distinct_labels, path_label

    if text is None:
        return list(distinct_labels([path_label(path) for path in paths]))
    labels = [label.strip() for label in text.split(",")]
    if len(labels) != len(paths) or not all(labels):
        raise ValueError(f"--labels names {len(labels)} file(s) for {len(paths)}: give one "
                         f"non-empty name per file, comma-separated, e.g. --labels "
                         f"{','.join(chr(ord('a') + k) for k in range(min(len(paths), 26)))}")
    return labels


def load_results(paths: list[str], args: argparse.Namespace) -> list:
    """The Results saved at `paths`, picked by add_file_options' --touch, --binding and --grid;
    the library's "pass touch=" (binding=, grid=K) becomes the option's name.  A threads result
    is refused (ValueError): these commands read sweeps."""
    from alloca_bench.results import ThreadsResult, load

    try:
        results = [load(path, touch=args.touch, binding=args.binding, grid=args.grid)
                   for path in paths]
    except ValueError as exc:
        text = re.sub(r"pass (touch|binding)=", r"pass --\1", str(exc))
        raise type(exc)(text.replace("pass grid=K", "pass --grid K")) from None
    for path, result in zip(paths, results):
        if isinstance(result, ThreadsResult):
            raise ValueError(f"{path} holds a threads result (alloca-bench threads); this "
                             "command reads sweeps (alloca-bench run --out)")
    return results


def kernel_argument(text: str, touch: str, heap: str = "fresh"):
    """--kernel FILE.c, FILE.c:FUNCTION or LIB.so:FUNCTION -> a Kernel (compiled or cached);
    its conflicts with --touch and --heap are refused first, before it compiles."""
    from alloca_bench.measuring.usercode import check_kernel_options, kernel

    with option_words():
        check_kernel_options(touch, heap)
    path, colon, function = text.rpartition(":")
    if not colon or not function.isidentifier():  # no function named: the whole is the path
        path, function = text, "work"
    name = os.path.basename(path)
    if re.search(r"\.so(\.\d+)*$", path):
        return kernel(library=path, function=function, name=f"{name}:{function}")
    if not os.path.isfile(path):
        raise ValueError(f"--kernel {text}: {path} is not a file (give FILE.c, FILE.c:FUNCTION "
                         "or LIB.so:FUNCTION)")
    return kernel(pathlib.Path(path), function, name=f"{name}:{function}")
