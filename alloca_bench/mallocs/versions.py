"""Which version each allocator reports about itself: read by the C code of the extension for
the library serving malloc here, asked of the C runner started with the library preloaded for
any other (a library is never loaded late into this process); the table of
`alloca-bench allocators`."""
from __future__ import annotations

import functools
import os
from typing import Optional

from alloca_bench.mallocs.discovery import allocators, check_allocator, is_libc
from alloca_bench.mallocs.introspect import malloc_library
from alloca_bench.exceptions import WorkerError


def library_version(path: str) -> Optional[str]:
    """The version the library `path`, already loaded in this process, reports about itself
    (jemalloc's mallctl("version"), gperftools' tc_version(), mimalloc's mi_version(), glibc's
    gnu_get_libc_version()), or None: the runner's probe reads it with the same C code."""
    from alloca_bench import native  # a saved result opens without the extension

    return native.library_version(path)


def preload_env(library: str) -> dict[str, str]:
    """This process's environment with `library` serving malloc (glibc: nothing preloaded)."""
    env = dict(os.environ)
    if is_libc(library):
        env.pop("LD_PRELOAD", None)
    else:
        env["LD_PRELOAD"] = library
    return env


@functools.lru_cache(maxsize=None)
def _probe(library: str, mtime_ns: int) -> dict:
    """The runner's probe with `library` preloaded (cached per file version); WorkerError
    when the loader did not make it serve malloc."""
    from alloca_bench.measuring.runner import probe  # measure imports this package

    info = probe(preload_env(library))
    served = info.get("malloc_library")
    if served is None or os.path.realpath(served) != os.path.realpath(library):
        raise WorkerError(f"{library} cannot be preloaded: malloc is served by {served}, not by "
                          "it (the loader ignores an LD_PRELOAD it cannot open)")
    return info


def allocator_version(name: str) -> Optional[str]:
    """The version the allocator `name` reports about itself (None when it exposes none).
    A library is only ever loaded into the runner to ask (once per process and file)."""
    library = check_allocator(name)
    if os.path.realpath(library) == os.path.realpath(malloc_library() or ""):
        return library_version(library)  # already serving malloc here: safe to ask
    try:
        mtime_ns = os.stat(library).st_mtime_ns
    except OSError as exc:
        raise WorkerError(f"allocator {name!r}: cannot read {library}: {exc}") from exc
    return _probe(library, mtime_ns)["version"]


def format_allocators() -> str:
    """One line per allocator found: name, version, library (what `alloca-bench allocators`
    prints); the one serving malloc in this process is marked."""
    here = os.path.realpath(malloc_library() or "")
    rows = [("name", "version", "library", "")]
    for name, path in allocators().items():
        mark = "serves malloc in this process" if os.path.realpath(path) == here else ""
        try:
            version = allocator_version(name) or "-"
        except (WorkerError, OSError, ValueError) as exc:
            version, mark = "-", f"unusable: {exc}"
        rows.append((name, version, path, mark))
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths + [0])).rstrip()
                     for row in rows)
