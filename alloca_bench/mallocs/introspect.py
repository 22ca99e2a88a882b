"""Which library serves malloc in this process (read through ctypes and dladdr, never by loading
an allocator into it).  The version a library reports about itself: measuring.allocator_probe."""
from __future__ import annotations

import ctypes
import os
from typing import Optional


# --- which library serves malloc in this process ------------------------------------------------

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
