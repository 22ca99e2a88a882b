"""Reading a file safely, for results and kallsyms tables alike: only a regular file (a FIFO
would hang, /dev/zero never ends), never more than a bound."""
from __future__ import annotations

import os
import stat


def read_regular(path: str | os.PathLike, max_bytes: int, error: type[Exception],
                 kind: str) -> bytes:
    """The bytes of the regular file at `path`, read without blocking on a FIFO.  `error`, with
    a message naming the path and `kind` (what the file should be, e.g. "a result file"), for
    anything but a regular file and for more than `max_bytes` (/proc files say size 0, so the
    read is bounded too).  FileNotFoundError and the other OSErrors of open() pass through."""
    source = os.fspath(path)
    fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)  # before fdopen, which names a directory by its descriptor
        if not stat.S_ISREG(info.st_mode):
            kind_here = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise error(f"{source} is {kind_here}; {kind} is a regular file")
        if info.st_size > max_bytes:
            raise error(f"{source} has {info.st_size} bytes, more than {kind} may have "
                        f"({max_bytes}, max_bytes=)")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise error(f"{source} grew past {max_bytes} bytes while it was read")
    return raw
