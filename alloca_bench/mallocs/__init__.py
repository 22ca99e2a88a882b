"""The allocators a strategy can name (`malloc@NAME`): discovery, introspection of which library
serves malloc, and the allocator policy of a run.  Whether a library can serve malloc when
preloaded, and the version it reports, need the runner: alloca_bench.measuring.allocator_probe."""
from alloca_bench.mallocs.discovery import (
    ENV_VAR,
    INSTALL_HINT,
    KNOWN,
    allocators,
    check_allocator,
    is_libc,
    libc_path,
)
from alloca_bench.mallocs.introspect import malloc_library, symbol_library
from alloca_bench.mallocs.policy import (
    MMAP_THRESHOLD_MAX,
    AllocatorPolicy,
    format_placement,
)

__all__ = [
    "ENV_VAR", "INSTALL_HINT", "KNOWN", "MMAP_THRESHOLD_MAX", "AllocatorPolicy", "allocators",
    "check_allocator", "format_placement", "is_libc", "libc_path", "malloc_library",
    "symbol_library",
]
