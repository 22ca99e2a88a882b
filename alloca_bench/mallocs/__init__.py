"""The allocators a strategy can name (`malloc@NAME`): discovery, introspection of which library
serves malloc, the allocator policy of a run, and the versions allocators report."""
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
    self_placement,
)
from alloca_bench.mallocs.versions import (
    allocator_version,
    format_allocators,
    library_version,
    preload_env,
    split_strategy,
    usable_library,
)

__all__ = [
    "ENV_VAR", "INSTALL_HINT", "KNOWN", "MMAP_THRESHOLD_MAX", "AllocatorPolicy",
    "allocator_version", "allocators", "check_allocator", "format_allocators",
    "format_placement", "is_libc", "libc_path", "library_version", "malloc_library", "preload_env",
    "self_placement", "split_strategy", "symbol_library", "usable_library",
]
