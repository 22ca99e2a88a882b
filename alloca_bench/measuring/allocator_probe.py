"""Whether an allocator can serve malloc (checked before measuring: `malloc@NAME`) and which
version it reports about itself: read by the C code of the extension for the library serving
malloc here, asked of the C runner started with the library preloaded for any other (a library
is never loaded late into this process).  Here, not in alloca_bench.mallocs, because it runs the
runner and the extension: mallocs only finds and describes libraries, and imports neither."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from typing import Optional

from alloca_bench import native
from alloca_bench.exceptions import StrategyUnavailableError, WorkerError
from alloca_bench.mallocs.discovery import _elf_abi, check_allocator, is_libc
from alloca_bench.mallocs.introspect import malloc_library
from alloca_bench.mallocs.policy import placement
from alloca_bench.measuring.runner import probe, runner_path
from alloca_bench.strategies import MALLOC_STRATEGIES


def library_version(path: str) -> Optional[str]:
    """The version the library `path`, already loaded in this process, reports about itself
    (jemalloc's mallctl("version"), gperftools' tc_version(), mimalloc's mi_version(), glibc's
    gnu_get_libc_version()), or None: the runner's probe reads it with the same C code."""
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
    when the loader did not make it serve malloc, with the loader's own words."""
    info = probe(preload_env(library))
    served = info.get("malloc_library")
    if served is None or os.path.realpath(served) != os.path.realpath(library):
        loader = _loader_words(library)
        raise WorkerError(f"{library} cannot be preloaded: malloc is served by {served}, not by "
                          "it" + (f" (the loader: {loader})" if loader else
                                  " (it does not define malloc)"))
    return info


def _loader_words(library: str) -> str:
    """What the dynamic loader prints when it refuses `library` in LD_PRELOAD ("" if nothing):
    it goes on without the library, so only its stderr says why."""
    try:
        done = subprocess.run([runner_path(), "--build-info"], capture_output=True, timeout=30,
                              env=preload_env(library))
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = done.stderr.decode(errors="replace").splitlines()
    return " | ".join(line.strip() for line in lines if "ld.so" in line or "LD_PRELOAD" in line)


def usable_library(name: str) -> str:
    """The library of the allocator `name`, checked before anything is measured: installed
    (check_allocator), and, unless it already serves malloc here, a readable ELF library of
    this machine's ABI whose path LD_PRELOAD can hold, which serves malloc in a runner started
    with it preloaded.  StrategyUnavailableError says which check failed (with the loader's
    words when it refused the library)."""
    library = check_allocator(name)
    if any(c.isspace() or c == ":" for c in library):
        raise StrategyUnavailableError(
            f"allocator {name!r}: LD_PRELOAD splits {library!r} at its spaces or colons, so it "
            "cannot be preloaded; link the library from a path without them")
    if is_libc(library) or os.path.realpath(library) == os.path.realpath(
            malloc_library() or ""):
        return library
    try:
        mtime_ns = os.stat(library).st_mtime_ns
    except OSError as exc:
        raise StrategyUnavailableError(f"allocator {name!r}: cannot read {library}: "
                                       f"{exc.strerror or exc}") from None
    if _elf_abi(library) != _elf_abi(sys.executable):
        raise StrategyUnavailableError(
            f"allocator {name!r}: {library} is not a shared library for this Python's machine "
            f"(no ELF header of its class and architecture); the loader would ignore it")
    try:
        _probe(library, mtime_ns)
    except WorkerError as exc:
        raise StrategyUnavailableError(f"allocator {name!r}: {exc}") from None
    return library


def split_strategy(strategy: str) -> tuple[str, Optional[str]]:
    """"malloc@jemalloc" -> ("malloc", "jemalloc"); "alloca" -> ("alloca", None).  Only the
    kernels in MALLOC_STRATEGIES may name an allocator, and it must be usable (installed and
    serving malloc when preloaded: usable_library), which is known before measuring."""

    kernel, sep, allocator = strategy.partition("@")
    if not sep:
        return strategy, None
    if kernel not in MALLOC_STRATEGIES:
        raise ValueError(f"strategy {strategy!r}: only {' and '.join(MALLOC_STRATEGIES)} can name "
                         f"an allocator (e.g. malloc@jemalloc); {kernel!r} does not call malloc "
                         "in its timed loop")
    usable_library(allocator)
    return kernel, allocator


def allocator_version(name: str) -> Optional[str]:
    """The version the allocator `name` reports about itself (None when it exposes none).
    A library is only ever loaded into the runner to ask (once per process and file).
    StrategyUnavailableError when it cannot serve malloc (usable_library)."""
    library = usable_library(name)
    if os.path.realpath(library) == os.path.realpath(malloc_library() or ""):
        return library_version(library)  # already serving malloc here: safe to ask
    return _probe(library, os.stat(library).st_mtime_ns)["version"]


def self_placement() -> dict:
    """Where in-process strategies run: this process, with whatever serves its malloc (glibc
    unless the user preloaded another allocator)."""
    library = malloc_library()
    return placement("self", library, library_version(library) if library else None,
                     os.environ.get("GLIBC_TUNABLES"), os.environ)
