"""Which library serves malloc in a process, and the version each allocator reports about itself
(read through ctypes and dladdr, never by loading an allocator into this process)."""
from __future__ import annotations

import ctypes
import os
from typing import Optional


# --- which library serves malloc in a process, and its version ----------------------------------

class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


_GLOBAL = ctypes.CDLL(None)  # the process's global symbol scope: what the kernels' calls bind to


def _dladdr(address: int) -> Optional[str]:
    """The file of the shared object that holds `address`, or None."""
    dladdr = _GLOBAL.dladdr  # in libc since glibc 2.34, in libdl (loaded by Python) before
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    dladdr.restype = ctypes.c_int
    info = _DlInfo()
    if not dladdr(address, ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.fsdecode(info.dli_fname)


def symbol_library(name: str, handle: ctypes.CDLL = _GLOBAL) -> Optional[str]:
    """The file that defines the symbol `name` as `handle` resolves it (default: the global
    scope, where an LD_PRELOADed library comes first), or None when it is not defined."""
    try:
        function = getattr(handle, name)
    except AttributeError:
        return None
    return _dladdr(ctypes.cast(function, ctypes.c_void_p).value)


def malloc_library() -> Optional[str]:
    """The shared object that serves malloc() in this process."""
    return symbol_library("malloc")


def _own_symbol(handle: ctypes.CDLL, path: str, name: str):
    """`name` from `handle` if `path` itself defines it (dlsym also searches its dependencies,
    e.g. libc, which would give a custom allocator glibc's version)."""
    found = symbol_library(name, handle)
    if found is None or os.path.realpath(found) != os.path.realpath(path):
        return None
    return getattr(handle, name)


def _jemalloc_version(mallctl) -> Optional[str]:
    mallctl.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                        ctypes.c_void_p, ctypes.c_size_t]
    mallctl.restype = ctypes.c_int
    value = ctypes.c_char_p()
    size = ctypes.c_size_t(ctypes.sizeof(value))
    if mallctl(b"version", ctypes.byref(value), ctypes.byref(size), None, 0) != 0:
        return None
    return value.value.decode() if value.value else None


def _tcmalloc_version(tc_version) -> Optional[str]:
    tc_version.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    tc_version.restype = ctypes.c_char_p
    text = tc_version(None, None, None)  # "gperftools 2.10"; the out-pointers are optional
    return text.decode() if text else None


def _mimalloc_version(mi_version) -> str:
    mi_version.restype = ctypes.c_int
    number = mi_version()  # MI_MALLOC_VERSION: 209 is 2.0.9
    return f"{number // 100}.{number // 10 % 10}.{number % 10}"


def _glibc_version(function) -> Optional[str]:
    function.restype = ctypes.c_char_p
    text = function()
    return text.decode() if text else None


_VERSION_SYMBOLS = (
    ("mallctl", _jemalloc_version), ("je_mallctl", _jemalloc_version),
    ("tc_version", _tcmalloc_version), ("mi_version", _mimalloc_version),
    ("gnu_get_libc_version", _glibc_version),
)


def library_version(path: str) -> Optional[str]:
    """The version an allocator library reports about itself (jemalloc's mallctl("version"),
    gperftools' tc_version(), mimalloc's mi_version(), glibc's gnu_get_libc_version()), or None.
    Only call it on a library already loaded in this process: loading an allocator late into a
    running process is unsafe, which is why allocator_version() asks a child."""
    try:
        handle = ctypes.CDLL(path)
    except OSError:  # e.g. malloc is linked into the executable itself
        return None
    for name, read in _VERSION_SYMBOLS:
        function = _own_symbol(handle, path, name)
        if function is not None:
            return read(function)
    return None
