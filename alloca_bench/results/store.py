"""A results store: plain files, one folder per machine, one JSON file per run.

    STORE/<machine id>/<UTC time>.json        e.g. store/vm-tcmalloc_minimal-3f9a02c1/20261207T013022Z.json

The machine id is a short readable name (host name, and the allocator in LD_PRELOAD when there
is one) plus a hash of what defines the machine for the stack-versus-heap question: CPU model,
kernel, libc, the allocator in LD_PRELOAD, transparent huge pages and the kernels' build flags.
Two runs on one machine land in one folder; a run with tcmalloc preloaded lands in another.
A store is fit for git, rsync or an artifact store: nothing but folders and result files.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from alloca_bench.results.model import ResultData
from alloca_bench.results.schema import save


# What defines a machine for this question; a change in any of them changes the machine id.
MACHINE_KEYS: tuple[str, ...] = (
    "cpu_model", "kernel_release", "libc_name", "libc_version", "ld_preload", "thp_enabled",
    "build_compile_args",
)
_HASH_CHARS = 8
_FILE_TIME = "%Y%m%dT%H%M%SZ"


def preloaded_allocator(ld_preload: Any) -> str | None:
    """The library name in LD_PRELOAD: "/usr/lib/libtcmalloc_minimal.so.4" -> "tcmalloc_minimal";
    several libraries joined by "+"; None when nothing is preloaded."""
    if not isinstance(ld_preload, str) or not ld_preload.strip():
        return None
    names = []
    for item in re.split(r"[:\s]+", ld_preload.strip()):
        base = os.path.basename(item)
        base = base[3:] if base.startswith("lib") else base
        names.append(base.split(".so")[0])
    return "+".join(n for n in names if n) or None


def _slug(text: str) -> str:
    """`text` as a folder-name part: letters, digits, '.', '_' and '-' only, at most 32."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:32] or "machine"


def machine_id(machine: dict) -> str:
    """The store folder of a result with this machine metadata: "<host>[-<preload>]-<hash>",
    the hash over MACHINE_KEYS (a missing key counts as None)."""
    defining = {key: machine.get(key) for key in MACHINE_KEYS}
    digest = hashlib.sha256(json.dumps(defining, sort_keys=True).encode()).hexdigest()
    parts = [_slug(str(machine.get("hostname") or "machine"))]
    allocator = preloaded_allocator(machine.get("ld_preload"))
    if allocator:
        parts.append(_slug(allocator))
    return "-".join(parts + [digest[:_HASH_CHARS]])


def _run_time(result: ResultData) -> datetime.datetime:
    """When the result was measured (its machine timestamp, UTC), else now."""
    stamp = result.machine.get("timestamp")
    try:
        when = datetime.datetime.fromisoformat(str(stamp))
    except ValueError:
        return datetime.datetime.now(datetime.timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc)


def check_store(store: str | os.PathLike) -> str:
    """The store folder, created if missing and checked writable before anything is measured;
    ValueError for '', else OSError subclasses naming the path."""
    path = os.fspath(store)
    if not path:  # `--store "$UNSET"`: not the current directory, and not "no store"
        raise ValueError("cannot file results in store '': it names no directory")
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"store {path} is a file; a store is a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise type(exc)(f"cannot file results in store {path!r}: it cannot be created "
                        f"({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"store {path} is not writable")
    return path


def file_result(result: ResultData, store: str | os.PathLike) -> str:
    """Save `result` into the store as <store>/<machine id>/<UTC time>.json and return that
    path; a second result of the same second gets a suffix ("-1"), never overwrites."""
    folder = os.path.join(check_store(store), machine_id(result.machine))
    os.makedirs(folder, exist_ok=True)
    stem = _run_time(result).strftime(_FILE_TIME)
    for n in range(1000):
        path = os.path.join(folder, f"{stem}{'' if n == 0 else f'-{n}'}.json")
        try:
            save(result, path)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder} already holds 1000 results of {stem}")


def _time_order(name: str) -> tuple[str, int]:
    """Sort key of a result file name: its time, then its same-second suffix (-1, -2...)."""
    match = re.fullmatch(r"(.*?)(?:-(\d+))?\.json", name)
    return (match.group(1), int(match.group(2) or 0)) if match else (name, 0)


@dataclass(frozen=True)
class StoredMachine:
    """One machine folder of a store: its id and its result files, oldest first."""

    machine_id: str
    files: tuple[str, ...]

    @property
    def latest(self) -> str:
        """The newest result file (names sort by UTC time)."""
        return self.files[-1]


def list_store(store: str | os.PathLike) -> list[StoredMachine]:
    """The machines of a store, sorted by id, each with its result files (*.json) oldest first;
    NotADirectoryError when `store` is not a directory.  Files are not opened here."""
    path = os.fspath(store)
    if not os.path.isdir(path):
        raise NotADirectoryError(f"store {path} is not a directory")
    machines = []
    for name in sorted(os.listdir(path)):
        folder = os.path.join(path, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue
        names = [f for f in os.listdir(folder) if f.endswith(".json") and not f.startswith(".")]
        files = [os.path.join(folder, f) for f in sorted(names, key=_time_order)]
        if files:
            machines.append(StoredMachine(name, tuple(files)))
    return machines
