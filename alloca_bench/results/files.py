"""Files read and written safely: no hang on a FIFO, no unbounded read, no half-written or
clobbered file (pyperf's `_dump_open`: a unique temporary file renamed into place), nothing but
a regular file ever replaced, and an output path tried before any work."""
from __future__ import annotations

import errno
import json
import numbers
import os
import secrets
import stat
from typing import Any

from alloca_bench._reading import read_regular
from alloca_bench.exceptions import ResultFileError

# A saved sweep of the largest useful size is a few MiB; more is a wrong file, not a result.
MAX_FILE_BYTES = 256 << 20


def check_out_path(path: str | os.PathLike, force: bool = False) -> str:
    """The path a result will be saved to, checked before anything is measured: it names a file
    (not '' or 'out/'), its directory exists and takes a new file (one is created and removed
    there), nothing but a regular file is there (--force never replaces a device, a FIFO or a
    symbolic link) and, unless `force`, nothing at all.  OSError subclasses naming `path`."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path}: the directory {folder} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path}: it is a directory; name a file")
    if os.path.basename(path) in ("", ".", ".."):  # '', 'out/': the rename would fail late
        raise IsADirectoryError(f"cannot save to {path!r}: it names no file (it is empty or "
                                "ends in a directory); name a file")
    if not force and os.path.lexists(path):
        raise FileExistsError(f"{path} exists: pass force=True (--force) to replace it")
    _refuse_to_replace_special(path)
    try:
        fd, probe = _create_beside(path)
    except OSError as exc:
        raise type(exc)(f"cannot save to {path}: no file can be created in {folder} "
                        f"({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _refuse_to_replace_special(path: str) -> None:
    """Saving renames a new file onto `path`: that would replace a device, a FIFO or a
    symbolic link itself, so only a regular file (or nothing) may be there."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _SPECIAL_KINDS if test(mode)), "not a regular file")
        raise FileExistsError(f"cannot save to {path}: it is {kind}, which saving would "
                              "replace; name a regular file")


_SPECIAL_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                  (stat.S_ISSOCK, "a socket"))


def _create_beside(path: str) -> tuple[int, str]:
    """A new, empty file of a unique name in `path`'s directory, opened for writing: (fd, its
    path).  Created with mode 0666 so that the kernel applies the umask (mkstemp's 0600 would
    hide the file from others, and reading the umask needs /proc)."""
    folder = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue  # another writer's name: draw again
    raise FileExistsError(errno.EEXIST, f"no free temporary name beside {path}")


def write_text(path: str | os.PathLike, text: str, *, force: bool = False) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file of its own beside it, renamed
    into place, so concurrent writers never see each other's halves and a failure leaves no
    file behind.  check_out_path first; an existing file is kept (FileExistsError) unless
    `force`, also one that appeared while writing, and only a regular file is ever replaced."""
    path = check_out_path(path, force)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if force:
            _refuse_to_replace_special(path)  # again: a device may have appeared meanwhile
            os.replace(tmp, path)
        else:
            _link_or_rename(tmp, path)
    except FileExistsError:
        if force:
            raise  # _refuse_to_replace_special's, naming what is there
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


def read_json(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The parsed JSON document at `path`.  Refused before reading (ResultFileError): anything
    but a regular file (a FIFO would hang, /dev/zero never ends) and files over `max_bytes`.
    FileNotFoundError when missing; TypeError or ValueError for a `max_bytes` that is not an
    int >= 1 (the caller's mistake, not the file's)."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral):
        raise TypeError(f"max_bytes must be an int (bytes), not {type(max_bytes).__name__} "
                        f"({max_bytes!r})")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be an int >= 1 (bytes), got {max_bytes!r}")
    source = os.fspath(path)
    raw = read_regular(source, max_bytes, ResultFileError, "a result file")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{source} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ResultFileError(f"{source} is not a result: JSON nested too deeply") from None
