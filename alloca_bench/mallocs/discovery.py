"""Finding the allocators installed on this machine (glibc, jemalloc, tcmalloc, mimalloc, or a
custom build named in ALLOCA_BENCH_ALLOCATORS), naming them and checking `malloc@NAME`."""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from typing import Optional

from alloca_bench.mallocs.introspect import symbol_library
from alloca_bench.exceptions import StrategyUnavailableError

ENV_VAR = "ALLOCA_BENCH_ALLOCATORS"
# The libraries looked for, by sonames in order of preference.  tcmalloc means gperftools'
# tcmalloc_minimal (no heap profiler), the package allocator benchmarks usually compare.
KNOWN: dict[str, tuple[str, ...]] = {
    "jemalloc": ("libjemalloc.so.2", "libjemalloc.so"),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc_minimal.so"),
    "mimalloc": ("libmimalloc.so.2", "libmimalloc.so"),
}
INSTALL_HINT = {"jemalloc": "libjemalloc2", "tcmalloc": "libtcmalloc-minimal4",
                "mimalloc": "libmimalloc2.0"}  # Debian package names
_NAME = re.compile(r"[A-Za-z0-9_.+-]+")


# --- discovery ---------------------------------------------------------------------------------

def _library_dirs() -> list[str]:
    multiarch = sysconfig.get_config_var("MULTIARCH")
    dirs = ["/usr/local/lib", "/usr/lib", "/lib", "/usr/lib64", "/lib64"]
    if multiarch:
        dirs[:0] = [f"/usr/local/lib/{multiarch}", f"/usr/lib/{multiarch}", f"/lib/{multiarch}"]
    return dirs


@functools.lru_cache(maxsize=1)
def _ldconfig_cache() -> dict[str, list[str]]:
    """soname -> paths, from `ldconfig -p` (the loader's own cache), read once per process."""
    ldconfig = shutil.which("ldconfig") or next(
        (p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig") if os.path.exists(p)), None)
    if ldconfig is None:
        return {}
    try:
        text = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=10,
                              check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, list[str]] = {}
    for line in text.splitlines():  # "\tlibjemalloc.so.2 (libc6,x86-64) => /lib/.../..."
        match = re.match(r"\s*(\S+)\s+\(.*\)\s+=>\s+(\S+)", line)
        if match:
            found.setdefault(match.group(1), []).append(match.group(2))
    return found


@functools.lru_cache(maxsize=None)
def _elf_abi(path: str) -> Optional[bytes]:
    """ELF class, byte order and machine of a file: a 32-bit or foreign library cannot be
    preloaded into this Python, so it does not count as installed."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return head[4:6] + head[18:20]


def _find(sonames: tuple[str, ...]) -> Optional[str]:
    own = _elf_abi(sys.executable)
    cache = _ldconfig_cache()
    for soname in sonames:
        candidates = cache.get(soname, []) + [os.path.join(d, soname) for d in _library_dirs()]
        for path in candidates:
            if os.path.isfile(path) and _elf_abi(path) == own:
                return path
    return None


def _overrides() -> dict[str, str]:
    """ALLOCA_BENCH_ALLOCATORS=name=path,... : custom builds, or other paths for known names."""
    text = os.environ.get(ENV_VAR, "").strip()
    found: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, path = item.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not _NAME.fullmatch(name) or not path:
            raise ValueError(f"{ENV_VAR} entry {item!r} is not name=/path/to/lib.so "
                             "(comma-separated; names of letters, digits, _ . + -)")
        if name == "glibc":
            raise ValueError(f"{ENV_VAR} cannot override glibc: it is the libc this Python runs "
                             "on, not a library that can be preloaded")
        found[name] = path
    return found


def libc_path() -> Optional[str]:
    """The glibc this process runs on (None on another libc)."""
    return symbol_library("gnu_get_libc_version")


def is_libc(library: Optional[str]) -> bool:
    """Whether the library at this path is the glibc this process runs on (symlinks resolved)."""
    libc = libc_path()
    return (library is not None and libc is not None
            and os.path.realpath(library) == os.path.realpath(libc))


def allocators() -> dict[str, str]:
    """{name: library path} of the allocators on this machine: "glibc" (the libc in use),
    then jemalloc, tcmalloc (gperftools' tcmalloc_minimal) and mimalloc where found (the
    ldconfig cache, then the usual library directories), then the entries of
    ALLOCA_BENCH_ALLOCATORS=name=path,... (which also replace a found path).  Every name
    works in a `malloc@NAME` or `calloc@NAME` strategy."""
    found: dict[str, str] = {}
    libc = libc_path()
    if libc:
        found["glibc"] = libc
    overrides = _overrides()
    for name, sonames in KNOWN.items():
        path = overrides.pop(name, None) or _find(sonames)
        if path:
            found[name] = path
    found.update(overrides)
    return found


def _name_of(library: Optional[str]) -> str:
    """The allocators() name of a library path, else its file name."""
    if library is None:
        return "unknown"
    real = os.path.realpath(library)
    for name, path in allocators().items():
        if os.path.realpath(path) == real:
            return name
    return os.path.basename(library)


def _installed_text() -> str:
    return ", ".join(f"{name} ({path})" for name, path in allocators().items())


def check_allocator(name: str) -> str:
    """The library path of the allocator `name`; a ValueError that lists what is installed."""
    found = allocators()
    if name in found:
        return found[name]
    if name in KNOWN:
        raise StrategyUnavailableError(
            f"allocator {name!r} is not installed on this machine (looked for "
            f"{', '.join(KNOWN[name])} in the ldconfig cache and {', '.join(_library_dirs())}; "
            f"on Debian: apt-get install {INSTALL_HINT[name]}). Installed: {_installed_text()}")
    raise ValueError(f"unknown allocator {name!r}: installed are {_installed_text()}; set "
                     f"{ENV_VAR}={name}=/path/to/lib.so to use a custom build")


# --- text for the command line --------------------------------------------------------------------
