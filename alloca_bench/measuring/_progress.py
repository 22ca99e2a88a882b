"""The sweep's progress bar, shown when someone watches: standard error is a terminal, or the code
runs in a Jupyter kernel.  ALLOCA_BENCH_PROGRESS=1 or 0 decides instead, and the command line's
--no-progress hides it (`hidden()`).  tqdm's notebook widget where ipywidgets is installed, else
its text bar, without the "IProgress not found" warning tqdm.auto prints in a notebook lacking
ipywidgets (a text bar is what it falls back to anyway)."""
from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import os
import sys
from typing import Iterator

if importlib.util.find_spec("ipywidgets") is not None:
    from tqdm.auto import tqdm
else:
    from tqdm.std import tqdm

_HIDDEN: contextvars.ContextVar[bool] = contextvars.ContextVar("progress_hidden", default=False)


def watched() -> bool:
    """Whether a sweep started now shows its progress bar."""
    setting = os.environ.get("ALLOCA_BENCH_PROGRESS", "").strip()
    if _HIDDEN.get() or setting == "0":
        return False
    if setting == "1" or "ipykernel" in sys.modules:
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


@contextlib.contextmanager
def hidden() -> Iterator[None]:
    """No progress bar for the sweeps run inside (the command line's --no-progress)."""
    token = _HIDDEN.set(True)
    try:
        yield
    finally:
        _HIDDEN.reset(token)


__all__ = ["hidden", "tqdm", "watched"]
