"""The one table of strategies: each kernel's name, kind and properties.

Everything else reads this table: validation, the allocator policy, statistics, plots, the report
and the benchmarks. The C enum in csrc/alloca_bench.h lists the same names in the same order (a
test compares them with the compiled module's ab_strategy_name()). `malloc@NAME` and
`calloc@NAME` are the `malloc`/`calloc` kernels with the allocator NAME serving malloc.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Strategy:
    """One kernel. kind: "reference" (no allocation: the floor and the touch alone), "stack"
    (alloca/VLA: goes through the stack guard) or "heap" (an allocator call per op)."""

    name: str
    kind: str
    calls_malloc: bool  # its timed loop calls malloc/calloc: it may name an allocator (@NAME)
    probed: bool  # compiled with -fstack-clash-protection
    description: str


TABLE: tuple[Strategy, ...] = (
    Strategy("baseline", "reference", False, False,
             "the same noinline call with no allocation and no touch: the floor net subtracts"),
    Strategy("fixed", "reference", False, False,
             "touch a buffer allocated once before timing: the cost of touching alone"),
    Strategy("alloca", "stack", False, False,
             "alloca(size) in a noinline function, released by returning from it"),
    Strategy("vla", "stack", False, False, "char buf[size] in a noinline function"),
    Strategy("malloc", "heap", True, False, "malloc(size) ... free()"),
    Strategy("calloc", "heap", True, False, "calloc(1, size) ... free()"),
    Strategy("mmap", "heap", False, False, "anonymous private mmap() ... munmap()"),
    Strategy("alloca_probed", "stack", False, True,
             "alloca compiled with -fstack-clash-protection (gcc only)"),
    Strategy("vla_probed", "stack", False, True,
             "a VLA compiled with -fstack-clash-protection (gcc only)"),
)
BY_NAME: dict[str, Strategy] = {s.name: s for s in TABLE}

STRATEGIES: tuple[str, ...] = tuple(s.name for s in TABLE)  # C enum order
STACK_STRATEGIES: tuple[str, ...] = tuple(s.name for s in TABLE if s.kind == "stack")
REFERENCE_STRATEGIES: tuple[str, ...] = tuple(s.name for s in TABLE if s.kind == "reference")
MALLOC_STRATEGIES: tuple[str, ...] = tuple(s.name for s in TABLE if s.calls_malloc)
DEFAULT_STRATEGIES: tuple[str, ...] = ("baseline", "alloca", "vla", "malloc", "calloc")
TOUCHES: tuple[str, ...] = ("none", "first", "pages", "full")  # C enum order
# The touch of a user kernel (measuring.usercode: every op calls the user's function on its
# buffer): last in the C enum, set by kernel=, never chosen as touch=.
KERNEL_TOUCH = "kernel"


def kernel(strategy: str) -> str:
    """The kernel a strategy name runs: "malloc@jemalloc" -> "malloc"."""
    return strategy.partition("@")[0]


def allocator_of(strategy: str) -> str | None:
    """The allocator a strategy names: "malloc@jemalloc" -> "jemalloc"; None when it names none."""
    return strategy.partition("@")[2] or None


def kind(strategy: str) -> str:
    """"reference", "stack" or "heap" for any strategy name, `malloc@NAME` included."""
    return BY_NAME[kernel(strategy)].kind


def is_stack(strategy: str) -> bool:
    """Whether the strategy allocates on the stack (alloca, VLA and their probed versions)."""
    return kernel(strategy) in STACK_STRATEGIES


def calls_allocator(strategy: str) -> bool:
    """Whether the strategy's timed loop calls an allocator (malloc, calloc, mmap, @NAME)."""
    return kind(strategy) == "heap"


def heap_strategies(strategies: Iterable[str]) -> list[str]:
    """The strategies that call an allocator, in their order."""
    return [s for s in strategies if kernel(s) in BY_NAME and calls_allocator(s)]
