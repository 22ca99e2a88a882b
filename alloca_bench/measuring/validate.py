"""Checking the arguments of measure() and sweep() before C runs (into the frozen Options and
the sizes axis), and the stack guard: every error names the value and the allowed range."""
from __future__ import annotations

import operator
import os
from typing import Iterable, Optional, Sequence, Union

from alloca_bench import native
from alloca_bench.mallocs import AllocatorPolicy
from alloca_bench.measuring.allocator_probe import split_strategy
from alloca_bench.exceptions import StrategyUnavailableError
from alloca_bench.measuring.plan import TARGET_BATCH_NS, Options
from alloca_bench.measuring.team import HOLD_WINDOW, live_blocks
from alloca_bench.options import (DEFAULT_PROCESSES, HEAPS, HOST_HEAPS, MAX_BATCH_NS, MAX_SIZE,
                                  MIN_BATCH_NS, MIN_STACK_SIZE, duration_ns)
from alloca_bench.results.model import Iterations
from alloca_bench.sizes import SizeDistribution
from alloca_bench.strategies import STACK_STRATEGIES, STRATEGIES, TOUCHES

MAX_ITERATIONS = 10**9
MAX_REPEATS = 10**6
# What one call may cost, checked before it starts.  Samples: each is 3 float64 figures, so a
# sweep holds at most 96 MiB of them.  Page touches of buffers of LARGE bytes or more: those
# come fresh from the kernel (glibc mmaps them), so each touch is a page fault (about 0.1-0.3
# us) and a call touching MAX_PAGE_TOUCHES pages runs for about a minute.  Smaller buffers
# reuse their pages; a long run of them is stopped with Ctrl-C, which keeps what was measured.
MAX_SAMPLES = 1 << 22
MAX_PAGE_TOUCHES = 1 << 28
LARGE = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
MAX_PROCESSES = 64
# Bytes a cell's blocks may keep live at once (its threads' held blocks together): half the
# machine's memory, as for one buffer (options.MAX_SIZE).
MAX_LIVE_BYTES = PAGE * os.sysconf("SC_PHYS_PAGES") // 2
SizeArg = Union[int, SizeDistribution]


def check_int(name: str, value: object, low: int, high: int) -> int:
    """`value` as an int from `low` to `high`; TypeError/ValueError naming it and the range."""
    wrong = TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise wrong
    try:
        value = operator.index(value)
    except TypeError:  # a numpy array has __index__ but is no int unless 0-d and integral
        raise wrong from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def check_size(size: object) -> int:
    """A size in bytes: an int from 1 to MAX_SIZE (half the machine's memory)."""
    return check_int("size", size, 1, MAX_SIZE)


def check_touch(touch: object) -> str:
    """A touch mode: one of TOUCHES."""
    if touch not in TOUCHES:
        raise ValueError(f"touch must be one of {', '.join(TOUCHES)}, not {touch!r}")
    return touch


def check_strategy(strategy: object) -> str:
    """A strategy name: one of STRATEGIES, or malloc@NAME / calloc@NAME with NAME an installed
    allocator (ab.allocators()); TypeError when it is no str."""
    if not isinstance(strategy, str):
        raise TypeError(f"strategy must be a str (a name such as 'malloc'), not "
                        f"{type(strategy).__name__} ({strategy!r})")
    if "@" in strategy:
        split_strategy(strategy)  # the kernel must call malloc; the allocator must be installed
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: choose from {', '.join(STRATEGIES)}")
    if not native.strategy_available(strategy):
        raise StrategyUnavailableError(
            f"strategy {strategy!r} is not available in this build (compiler: "
            f"{native.BUILD_INFO['compiler']}; stack-clash probing needs gcc >= 8)")
    return strategy


def check_strategy_axis(strategies: object) -> tuple[str, ...]:
    """The strategies axis of a call: baseline first (always measured: the harness's own
    cost), then each strategy checked (check_strategy), distinct; at least one."""
    if isinstance(strategies, str):
        strategies = (strategies,)
    if not isinstance(strategies, Iterable):
        raise TypeError(f"strategies must be a sequence of names, not "
                        f"{type(strategies).__name__} ({strategies!r})")
    strategies = list(strategies)
    if not strategies:
        raise ValueError(f"strategies is empty: give at least one of {', '.join(STRATEGIES)} "
                         "(the baseline alone: ['baseline'])")
    names = ["baseline"] + [check_strategy(s) for s in strategies if s != "baseline"]
    if len(set(names)) != len(names):
        raise ValueError(f"strategies must be distinct, got {strategies}")
    return tuple(names)


def check_iterations(iterations: object) -> Iterations:
    """Ops per batch: "auto" (calibrated) or an int from 1 to MAX_ITERATIONS."""
    if iterations == "auto":
        return "auto"
    return check_int("iterations", iterations, 1, MAX_ITERATIONS)


def check_batch_time(text: str, name: str = "iterations") -> float:
    """The ns a batch should last, from a duration string ("5ms", "500us", "0.01s"), from
    MIN_BATCH_NS (50 us) to MAX_BATCH_NS (10 s); ValueError naming the value and the range."""
    ns = duration_ns(text)
    if ns is None or not MIN_BATCH_NS <= ns <= MAX_BATCH_NS:
        raise ValueError(f"{name} {text!r}: a batch length must be a duration from 50us to 10s "
                         "(units s, ms, us), e.g. '5ms'")
    return ns


def check_iteration_axis(iterations: object) -> tuple[tuple[Iterations, ...], float]:
    """(the iterations axis, the ns per batch "auto" calibrates to) of an iterations= argument:
    "auto" (about 2 ms per batch), a count, a duration ("5ms": "auto" calibrated to that
    length) or a sequence of distinct counts and "auto"; a duration stands alone (one batch
    length per call).  TypeError/ValueError naming the value and what is allowed."""
    single = isinstance(iterations, str) or _scalar(iterations)
    if not single and not isinstance(iterations, Iterable):
        raise TypeError(f"iterations must be 'auto', an int, a duration such as '5ms' or a "
                        f"sequence of ints, not {type(iterations).__name__} ({iterations!r})")
    values = list((iterations,) if single else iterations)
    durations = [v for v in values if isinstance(v, str) and v != "auto"]
    if durations:
        if len(values) > 1:
            raise ValueError(f"iterations {iterations!r} mixes a batch length ({durations[0]!r}) "
                             "with other entries: give one duration, or counts and 'auto'")
        return ("auto",), check_batch_time(durations[0])
    checked = tuple(check_iterations(v) for v in values)
    if not checked or len(set(checked)) != len(checked):
        raise ValueError(
            f"iterations must be 'auto', an int or distinct values, got {iterations!r}")
    return checked, TARGET_BATCH_NS


def check_one_iteration(iterations: object) -> tuple[Iterations, float]:
    """(ops per batch, the ns per batch "auto" calibrates to) of a one-cell call's iterations=:
    "auto", a count or a duration ("5ms": "auto" calibrated to that length)."""
    if not (isinstance(iterations, str) or _scalar(iterations)):
        raise TypeError(f"iterations must be 'auto', an int or a duration such as '5ms', not "
                        f"{type(iterations).__name__} ({iterations!r})")
    axis, target_ns = check_iteration_axis(iterations)
    return axis[0], target_ns


def _scalar(value: object) -> bool:
    """Whether `value` stands for one int (an int, a numpy int, a 0-d array): a numpy array of
    more dimensions has __index__ too, but holds several."""
    return hasattr(value, "__index__") and getattr(value, "ndim", 0) == 0


def check_cpus(cpus: object) -> Optional[tuple[int, ...]]:
    """CPUs to run on: None (this process's own), or a non-empty iterable of CPU numbers, each
    one this process may run on (os.sched_getaffinity(0)); sorted, without repeats."""
    if cpus is None:
        return None
    if isinstance(cpus, (str, bytes)) or not isinstance(cpus, Iterable):
        raise TypeError(f"cpus must be an iterable of CPU numbers (ints), e.g. [0, 1], not "
                        f"{type(cpus).__name__} ({cpus!r})")
    allowed = os.sched_getaffinity(0)
    chosen = set()
    for cpu in cpus:
        if isinstance(cpu, bool) or not hasattr(cpu, "__index__"):
            raise TypeError(f"cpus must hold ints (CPU numbers), not {type(cpu).__name__} "
                            f"({cpu!r})")
        if operator.index(cpu) not in allowed:
            raise ValueError(f"cpus: CPU {cpu!r} is not one this process may run on "
                             f"({format_cpu_list(allowed)})")
        chosen.add(operator.index(cpu))
    if not chosen:
        raise ValueError(f"cpus is empty: give at least one of this process's CPUs "
                         f"({format_cpu_list(allowed)})")
    return tuple(sorted(chosen))


def format_cpu_list(cpus: Iterable[int]) -> str:
    """CPU numbers in the kernel's (and pyperf's) list syntax: {0, 1, 2, 3, 7} -> "0-3,7"."""
    runs: list[list[int]] = []
    for cpu in sorted(cpus):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def check_live_bytes(sizes: Sequence[int], threads: Sequence[int] = (), pattern: str = "same",
                     window: int = HOLD_WINDOW) -> None:
    """Refuse a cell whose threads would keep more than MAX_LIVE_BYTES live at once: each of
    max(threads) threads holds threads.live_blocks(pattern, window) blocks of the largest size
    (a hold window of 64 blocks of 32 MiB is 2 GiB).  ValueError names the estimate."""
    team = max(threads or (1,))
    blocks = live_blocks(pattern, window)
    live = max(sizes) * team * blocks
    if live > MAX_LIVE_BYTES:
        raise ValueError(
            f"a cell of {team} thread(s) x {blocks} live block(s) each (pattern={pattern!r}) x "
            f"{max(sizes)} bytes would keep {live} bytes live at once; a cell may keep at most "
            f"{MAX_LIVE_BYTES} (half this machine's memory): lower the size, the threads or "
            "the window")


def check_budget(kernels: int, sizes: Sequence[int], touch: str,
                 iterations: Sequence[Iterations], repeats: int, warmup: int,
                 threads: Sequence[int] = (), pattern: str = "same",
                 window: int = HOLD_WINDOW) -> None:
    """Refuse, before anything runs, a call of `kernels` strategies x `sizes` x `iterations`
    (x `threads` thread counts) that would hold more than MAX_SAMPLES samples, touch more
    than MAX_PAGE_TOUCHES pages of buffers of LARGE bytes or more ("auto" counts as one op per
    batch: the least it runs) or keep more than MAX_LIVE_BYTES live (check_live_bytes).  A
    cell of t threads stores 1 + max(threads) figures per batch (the mean and each thread's)
    and touches pages in each of its t threads.  ValueError names the estimate and the
    limit."""
    check_live_bytes(sizes, threads, pattern, window)
    per_batch = len(threads) * (1 + max(threads)) if threads else 1
    samples = kernels * len(sizes) * len(iterations) * repeats * per_batch
    if samples > MAX_SAMPLES:
        counts = f" x {len(threads)} thread counts" if threads else ""
        raise ValueError(
            f"{kernels} strategies x {len(sizes)} sizes x {len(iterations)} iteration counts"
            f"{counts} x {repeats} repeats = {samples} samples; one call holds at most "
            f"{MAX_SAMPLES} ({MAX_SAMPLES * 24 >> 20} MiB): lower repeats or split the sweep")
    ops = sum(1 if i == "auto" else i for i in iterations) * (repeats + warmup)
    pages = sum(-(-size // PAGE) for size in sizes
                if size >= LARGE and touch in ("pages", "full"))
    touches = kernels * sum(threads or (1,)) * pages * ops
    if touches > MAX_PAGE_TOUCHES:
        counts = (f" x {len(threads)} thread counts ({sum(threads)} threads in all)"
                  if threads else "")
        raise ValueError(
            f"this call would touch at least {touches} pages ({kernels} strategies{counts}, "
            f"{pages} pages per op over the sizes of {LARGE >> 20} MiB or more, {ops} ops per "
            f"size with touch={touch!r}); "
            f"one call may touch at most {MAX_PAGE_TOUCHES} (about a minute of page faults): "
            f"lower the sizes, iterations or repeats, or use touch='first'")


def check_heap(heap: object) -> str:
    """A heap state: one of HEAPS."""
    if heap not in HEAPS:
        raise ValueError(f"heap must be one of {', '.join(HEAPS)}, not {heap!r}")
    return heap


def check_binding(binding: object) -> str:
    """How this process calls the kernels: one of native.BINDINGS."""
    if binding not in native.BINDINGS:
        raise ValueError(f"binding must be one of {', '.join(native.BINDINGS)}, not "
                         f"{binding!r}")
    return binding


def check_options(repeats: object, warmup: object, heap: object, processes: object,
                  stack_size: object, glibc_tunables: object, cpus: object = None,
                  target_ns: float = TARGET_BATCH_NS) -> Options:
    """The options every cell of a call shares, checked once; `target_ns` comes checked
    (check_iteration_axis).  heap="host" and "host-ctypes" run in one process, this one:
    `processes` None means 1 there (DEFAULT_PROCESSES runners elsewhere), and more is refused."""
    heap = check_heap(heap)
    if processes is None:
        processes = 1 if heap in HOST_HEAPS else DEFAULT_PROCESSES
    processes = check_int("processes", processes, 1, MAX_PROCESSES)
    if heap in HOST_HEAPS and processes != 1:
        raise ValueError(f"processes={processes} spreads the rounds over runner processes, and "
                         f"heap={heap!r} runs in this process: leave processes out (or 1), or "
                         "use heap='fresh' or 'aged'")
    options = Options(repeats=check_int("repeats", repeats, 1, MAX_REPEATS),
                      warmup=check_int("warmup", warmup, 0, MAX_REPEATS), heap=heap,
                      processes=processes, stack_size=check_stack_size(stack_size),
                      policy=AllocatorPolicy.checked(glibc_tunables), target_ns=target_ns,
                      cpus=check_cpus(cpus))
    return options


def split_size(size: SizeArg) -> tuple[int, Optional[SizeDistribution]]:
    """(bytes the stack guard checks, the distribution or None) of a size= argument."""
    if isinstance(size, SizeDistribution):
        check_size(size.high)
        return size.high, size
    return check_size(size), None


def check_sizes(sizes: Iterable[SizeArg]) -> tuple[list[int], dict[int, SizeDistribution]]:
    """The sorted sizes axis and the distributions by the axis entry they stand at: their mean
    size in bytes, rounded (what a plot's x axis means); ValueError when a distribution and a
    size (or two distributions) would share an entry."""
    if isinstance(sizes, str) or not isinstance(sizes, Iterable):
        raise TypeError(f"sizes must be a sequence of ints (bytes), not "
                        f"{type(sizes).__name__} ({sizes!r})")
    plain, dists = set(), {}
    for size in sizes:
        value, dist = split_size(size)
        value = round(dist.mean()) if dist is not None else value
        if value in dists or (dist is not None and value in plain):
            other = dists.get(value, value)
            raise ValueError(f"sizes: {dist or size} and {other} both stand at {value} B on "
                             "the sizes axis: measure them in separate sweeps")
        if dist is None:
            plain.add(value)
        else:
            dists[value] = dist
    if not plain and not dists:
        raise ValueError("sizes is empty: give at least one size in bytes")
    return sorted(plain | set(dists)), dists


def check_stack_size(stack_size: object) -> int:
    """0 for the calling thread, else bytes of stack for a worker thread."""
    if stack_size is None:
        return 0
    return check_int("stack_size", stack_size, MIN_STACK_SIZE, MAX_SIZE)


def stack_fits(strategy: str, size: int, count: int, headroom: int) -> bool:
    """Whether what the compiler reserves for `count` x `strategy` of `size` bytes, plus the
    margin, fits in `headroom` bytes (the C guard's own rule)."""
    return native.stack_need(strategy, size, count) + native.STACK_MARGIN <= headroom


def _guard(strategy: str, size: int, count: int, stack_size: int, binding: str) -> None:
    """Raise StackLimitError when `count` x `strategy` of `size` bytes do not fit in what is
    left of the stack (stack_fits)."""
    headroom = native.binding(binding).stack_headroom(stack_size)
    if not stack_fits(strategy, size, count, headroom):
        raise native.stack_limit_error(strategy, size, count, headroom, stack_size)


def guard_stack(strategy: str, size: int, stack_size: int, binding: str = "cffi") -> None:
    """Raise StackLimitError before a stack strategy of `size` bytes could overrun the stack."""
    if strategy in STACK_STRATEGIES:
        _guard(strategy, size, 1, stack_size, binding)


def stack_headroom(stack_size: int | None = None, binding: str = "cffi") -> int:
    """Bytes left on this thread's stack (or on a worker thread with `stack_size` bytes).
    An alloca may use all of it but native.STACK_MARGIN bytes."""
    return native.binding(check_binding(binding)).stack_headroom(check_stack_size(stack_size))


def loop_stack_span(strategy: str, size: int, count: int, *, stack_size: int | None = None,
                    binding: str = "cffi") -> int:
    """Bytes of stack that `count` buffers of `size` bytes, allocated one per iteration of a
    loop inside one function, cover together.  "alloca" memory is released only when the
    function returns, so its span grows with `count` (about count x size); a "vla" declared in
    the loop body is released at the end of each iteration, so its span stays about `size`.
    Raises StackLimitError when the allocations would not fit (checked in C too)."""
    if strategy not in ("alloca", "vla"):
        raise ValueError(f"strategy must be 'alloca' or 'vla', not {strategy!r}")
    size = check_size(size)
    count = check_int("count", count, 1, 2**32 - 1)
    stack = check_stack_size(stack_size)
    _guard(strategy, size, count, stack, check_binding(binding))
    return native.binding(binding).stack_loop(strategy, size, count, stack)
