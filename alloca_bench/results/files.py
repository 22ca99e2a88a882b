"""Files read and written safely: no hang on a FIFO, no unbounded read, no half-written or
clobbered file (pyperf's `_dump_open`: a unique temporary file renamed into place)."""
from __future__ import annotations

import json
import os
import stat
import tempfile
from typing import Any

from alloca_bench.exceptions import ResultFileError

# A saved sweep of the largest useful size is a few MiB; more is a wrong file, not a result.
MAX_FILE_BYTES = 256 << 20


def check_out_path(path: str | os.PathLike, force: bool = False) -> str:
    """The path a result will be saved to, checked before anything is measured: its directory
    exists and, unless `force`, no file is there yet.  FileNotFoundError/FileExistsError."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path}: the directory {folder} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path}: it is a directory; name a file")
    if not force and os.path.lexists(path):
        raise FileExistsError(f"{path} exists: pass force=True (--force) to replace it")
    return path


def write_text(path: str | os.PathLike, text: str, *, force: bool = False) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file of its own beside it, renamed
    into place, so concurrent writers never see each other's halves and a failure leaves no
    file behind.  check_out_path first; an existing file is kept (FileExistsError) unless
    `force`, also one that appeared while writing."""
    path = check_out_path(path, force)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp's 0600 would hide the file from others
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if force:
            os.replace(tmp, path)
        else:
            _link_or_rename(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} exists: pass force=True (--force) to replace it") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _link_or_rename(tmp: str, path: str) -> None:
    """Put `tmp` at `path` only if nothing is there: a hard link fails atomically when a file
    appeared meanwhile; where links are not supported, a check and a rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def _current_umask() -> int:
    """The process's umask now, read without setting it (os.umask would change it for every
    thread for a moment); 0o022 where /proc does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def read_json(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The parsed JSON document at `path`.  Refused before reading (ResultFileError): anything
    but a regular file (a FIFO would hang, /dev/zero never ends) and files over `max_bytes`.
    FileNotFoundError when missing."""
    source = os.fspath(path)
    fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ResultFileError(f"{source} is not a regular file; a result is a JSON file")
        if info.st_size > max_bytes:
            raise ResultFileError(f"{source} has {info.st_size} bytes, more than a result file "
                                  f"may have ({max_bytes}, max_bytes=)")
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ResultFileError(f"{source} grew past {max_bytes} bytes while it was read")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{source} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ResultFileError(f"{source} is not a result: JSON nested too deeply") from None
