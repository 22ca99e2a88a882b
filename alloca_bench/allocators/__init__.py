"""The allocators a strategy can name (`malloc@NAME`): discovery, introspection of which library
serves malloc, the allocator policy of a run, and the worker that runs kernels under one."""
from alloca_bench.allocators.discovery import (
    ENV_VAR,
    INSTALL_HINT,
    KNOWN,
    allocators,
    check_allocator,
    libc_path,
    split_strategy,
)
from alloca_bench.allocators.introspect import (
    EXPECT_ENV,
    library_version,
    malloc_library,
    probe,
    symbol_library,
)
from alloca_bench.allocators.policy import (
    MMAP_THRESHOLD_MAX,
    AllocatorPolicy,
    format_placement,
    self_placement,
)
from alloca_bench.allocators.worker import Worker, allocator_version, format_allocators

__all__ = [
    "ENV_VAR", "EXPECT_ENV", "INSTALL_HINT", "KNOWN", "MMAP_THRESHOLD_MAX", "AllocatorPolicy",
    "Worker", "allocator_version", "allocators", "check_allocator", "format_allocators",
    "format_placement", "libc_path", "library_version", "malloc_library", "probe",
    "self_placement", "split_strategy", "symbol_library",
]
