"""The allocator policy of a run (GLIBC_TUNABLES, glibc's mmap threshold among them) and where
each strategy ran (Result.params["placement"])."""
from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from typing import Optional, Union

from alloca_bench.mallocs.discovery import _name_of, is_libc, libc_path
from alloca_bench.mallocs.introspect import symbol_library
from alloca_bench.strategies import MALLOC_STRATEGIES
from alloca_bench.strategies import kernel as kernel_of

# glibc ignores a larger mmap threshold (HEAP_MAX_SIZE / 2 on 64-bit) without a word.
MMAP_THRESHOLD_MAX = 32 << 20

_TUNABLE = re.compile(r"glibc\.[a-z0-9_]+\.[a-z0-9_]+=[^:=\s]+")  # glibc.cpu.x86_... too
LIST_TIMEOUT_S = 10.0


@functools.lru_cache(maxsize=None)
def known_tunables() -> Optional[frozenset[str]]:
    """The tunables this process's glibc knows, as its dynamic loader lists them
    (`ld.so --list-tunables`, glibc 2.33 on), or None where it cannot say (another libc, an
    older glibc): glibc ignores a name it does not know without a word."""
    loader = symbol_library("_r_debug")  # the debugger's interface: in every glibc's ld.so
    if loader is None or libc_path() is None:
        return None
    try:
        listed = subprocess.run([loader, "--list-tunables"], capture_output=True, text=True,
                                timeout=LIST_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    names = frozenset(re.findall(r"^(glibc\.[\w.]+):", listed.stdout, re.M))
    return names if listed.returncode == 0 and names else None


# --- the allocator policy of a run ----------------------------------------------------------------

ThresholdPolicy = Union[int, str]  # bytes when pinned, "dynamic" otherwise


def _pinned_threshold(glibc_tunables: Optional[str], environ) -> ThresholdPolicy:
    """glibc's threshold as the environment sets it: the tunable (last one wins), then the old
    MALLOC_MMAP_THRESHOLD_ variable, else "dynamic"."""
    value = None
    for item in (glibc_tunables or "").split(":"):
        key, _, text = item.partition("=")
        if key == "glibc.malloc.mmap_threshold":
            value = text
    value = value if value is not None else environ.get("MALLOC_MMAP_THRESHOLD_")
    if value is None:
        return "dynamic"
    try:
        return int(value, 0)
    except ValueError:
        return value


@dataclass(frozen=True)
class AllocatorPolicy:
    """How heap strategies are run: extra GLIBC_TUNABLES for malloc/calloc cells in the runner
    (glibc's mmap threshold among them: glibc.malloc.mmap_threshold=BYTES pins it)."""

    glibc_tunables: Optional[str] = None

    @classmethod
    def checked(cls, glibc_tunables: object = None) -> "AllocatorPolicy":
        """Validate the user's tunables; errors name the value and the allowed form, or the
        names this glibc does not know (known_tunables) with the glibc.malloc ones it does."""
        if glibc_tunables is None:
            return cls()
        if not isinstance(glibc_tunables, str):
            raise TypeError(f"glibc_tunables must be a str, not {type(glibc_tunables).__name__}")
        for item in glibc_tunables.split(":"):
            if not _TUNABLE.fullmatch(item):
                raise ValueError(
                    f"glibc_tunables item {item!r} is not glibc.NAMESPACE.NAME=VALUE "
                    "(items separated by ':', e.g. glibc.malloc.tcache_count=0)")
            key, _, value = item.partition("=")
            if key == "glibc.malloc.mmap_threshold" and not (
                    value.isdigit() and int(value) <= MMAP_THRESHOLD_MAX):
                raise ValueError(f"glibc.malloc.mmap_threshold must be between 0 and "
                                 f"{MMAP_THRESHOLD_MAX} (glibc ignores larger values), got "
                                 f"{value}")
        known = known_tunables()
        unknown = [item.partition("=")[0] for item in glibc_tunables.split(":")
                   if known is not None and item.partition("=")[0] not in known]
        if unknown:
            malloc = sorted(name for name in known if name.startswith("glibc.malloc."))
            what = "is not a tunable" if len(unknown) == 1 else "are not tunables"
            raise ValueError(f"glibc_tunables: {', '.join(unknown)} {what} this glibc knows "
                             f"(glibc ignores an unknown name without a word); its malloc ones: "
                             f"{', '.join(malloc)}")
        return cls(glibc_tunables or None)

    def tunables(self) -> Optional[str]:
        """The GLIBC_TUNABLES items this policy adds to a malloc/calloc cell's environment."""
        return self.glibc_tunables

    def describe(self) -> dict:
        """The policy for Result.params: the tunables and glibc's mmap threshold they pin
        ("dynamic": left to glibc)."""
        return {"mmap_threshold": _pinned_threshold(self.glibc_tunables, {}),
                "glibc_tunables": self.glibc_tunables}


def placement(process: str, library: Optional[str], version: Optional[str],
              glibc_tunables: Optional[str], environ) -> dict:
    """Where a strategy ran ("self": this process, "runner": the C runner) and with which
    malloc: the library, its version, the GLIBC_TUNABLES and glibc's mmap threshold."""
    return {"process": process, "allocator": _name_of(library), "library": library,
            "version": version, "glibc_tunables": glibc_tunables,
            # The threshold only means something where glibc serves malloc.
            "mmap_threshold": _pinned_threshold(glibc_tunables, environ) if is_libc(library)
            else None}


def format_placement(params: dict) -> list[str]:
    """Result.params as lines: where each strategy ran, under which library, and the policy."""
    groups: dict[str, list[str]] = {}
    for name, where in params.get("placement", {}).items():
        version = f" {where['version']}" if where.get("version") else ""
        place = {"self": "this process", "runner": "the runner"}.get(where.get("process"),
                                                                     "a child")
        tunables = f", GLIBC_TUNABLES={where['glibc_tunables']}" if where.get(
            "glibc_tunables") else ""
        key = (f"{place} with {where.get('allocator', 'an unknown allocator')}{version} "
               f"({where.get('library')}{tunables})")
        groups.setdefault(key, []).append(name)
    lines = [f"ran in {key}: {', '.join(names)}" for key, names in groups.items()]
    # glibc's threshold only means something where glibc served a malloc/calloc cell.
    glibc = any(where.get("allocator") == "glibc" and kernel_of(name) in MALLOC_STRATEGIES
                for name, where in params.get("placement", {}).items())
    threshold = (f"glibc mmap threshold {params.get('mmap_threshold', 'dynamic')}, " if glibc
                 else "")
    lines.append(f"{threshold}warm-up batches {params.get('warmup', 1)}")
    return lines
