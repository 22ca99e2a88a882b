"""Finding jemalloc, tcmalloc and mimalloc, and running strategies under them.

`malloc@NAME` and `calloc@NAME` run the same C kernels as plain `malloc` and `calloc`, in a
child process (alloca_bench._worker) started with the allocator in LD_PRELOAD, as allocator
benchmark suites do: an allocator cannot be swapped inside a running process.  The child stays
up for a whole sweep and answers one request per batch over a pipe, so its batches take their
place in the sweep's shuffled rounds like in-process ones.

glibc's own state is made explicit too: its mmap threshold starts at 128 KiB and rises after the
first free of a large mmapped block ("dynamic"), so what a 1 MiB malloc costs depends on what
ran before.  `mmap_threshold=N` pins it, in a child, with GLIBC_TUNABLES (which also turns the
dynamic rise off), rather than mallopt() in the user's own process.
"""
from __future__ import annotations

import ctypes
import functools
import json
import operator
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

from alloca_bench import exceptions
from alloca_bench.exceptions import StrategyUnavailableError, WorkerError
from alloca_bench.native import BUILD_INFO, Batches

ENV_VAR = "ALLOCA_BENCH_ALLOCATORS"
EXPECT_ENV = "ALLOCA_BENCH_EXPECT_MALLOC"  # tells a worker which library must serve its malloc
# The libraries looked for, by sonames in order of preference.  tcmalloc means gperftools'
# tcmalloc_minimal (no heap profiler), the package allocator benchmarks usually compare.
KNOWN: dict[str, tuple[str, ...]] = {
    "jemalloc": ("libjemalloc.so.2", "libjemalloc.so"),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc_minimal.so"),
    "mimalloc": ("libmimalloc.so.2", "libmimalloc.so"),
}
INSTALL_HINT = {"jemalloc": "libjemalloc2", "tcmalloc": "libtcmalloc-minimal4",
                "mimalloc": "libmimalloc2.0"}  # Debian package names
# Only these kernels call the allocator in their timed loop, so only they can name one.
CHILD_STRATEGIES = ("malloc", "calloc")
# glibc ignores a larger mmap threshold (HEAP_MAX_SIZE / 2 on 64-bit) without a word.
MMAP_THRESHOLD_MAX = 32 << 20

# Timeouts (seconds).  A worker that does not answer in time is killed and its strategy fails.
STARTUP_TIMEOUT_S = 60.0  # interpreter start, numpy and the extension: about 0.5 s here
BATCH_TIMEOUT_MIN_S = 10.0
BATCH_TIMEOUT_CAP_S = 600.0  # no batch may take longer, however much work it was asked
TIMEOUT_SAFETY = 20.0  # times the expected duration of a batch
# Expected ns per op before a (strategy, size) has run: generous, a page fault costs ~1 us.
PRIOR_NS_PER_OP = 2_000.0
PRIOR_NS_PER_PAGE = 10_000.0

_LENGTH = struct.Struct("<I")
_MAX_REPLY = 1 << 30
_NAME = re.compile(r"[A-Za-z0-9_.+-]+")
_TUNABLE = re.compile(r"glibc\.[a-z_]+\.[a-z_]+=[^:=\s]+")
_EXCEPTIONS = {"ValueError": ValueError, "TypeError": TypeError}
_EXCEPTIONS.update({name: getattr(exceptions, name) for name in dir(exceptions)
                    if isinstance(getattr(exceptions, name), type)})


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


def probe() -> dict:
    """Facts about this process's allocator: the library serving malloc and its version."""
    library = malloc_library()
    libc = symbol_library("gnu_get_libc_version")
    return {
        "pid": os.getpid(),
        "malloc_library": library,
        "version": library_version(library) if library else None,
        "glibc_version": library_version(libc) if libc else None,
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
        "ld_preload": os.environ.get("LD_PRELOAD"),
    }


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


@functools.lru_cache(maxsize=None)
def _probe(library: str, mtime_ns: int) -> dict:
    """probe() run in a worker child with `library` serving malloc (cached per file version)."""
    env = _child_env(library, tunables=None)
    command = [sys.executable, "-m", "alloca_bench._worker", "--probe"]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=STARTUP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise WorkerError(f"probing {library} in a child did not finish within "
                          f"{STARTUP_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise WorkerError(f"probing {library} in a child failed with {_status(done.returncode)}"
                          f": {_tail(done.stderr)}")
    lines = done.stdout.strip().splitlines() or [""]
    try:
        return json.loads(lines[-1])  # the last line: an allocator may print a banner first
    except ValueError:
        raise WorkerError(f"probing {library} in a child gave no answer but {done.stdout!r}"
                          ) from None


def allocator_version(name: str) -> Optional[str]:
    """The version the allocator `name` reports about itself (None when it exposes none).
    A library is only ever loaded into a child to ask (about 0.2 s, once per process and file)."""
    library = check_allocator(name)
    if os.path.realpath(library) == os.path.realpath(malloc_library() or ""):
        return library_version(library)  # already serving malloc here: safe to ask
    try:
        mtime_ns = os.stat(library).st_mtime_ns
    except OSError as exc:
        raise WorkerError(f"allocator {name!r}: cannot read {library}: {exc}") from exc
    return _probe(library, mtime_ns)["version"]


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


def split_strategy(strategy: str) -> tuple[str, Optional[str]]:
    """"malloc@jemalloc" -> ("malloc", "jemalloc"); "alloca" -> ("alloca", None).  Only the
    kernels in CHILD_STRATEGIES may name an allocator, and it must be installed."""
    kernel, sep, allocator = strategy.partition("@")
    if not sep:
        return strategy, None
    if kernel not in CHILD_STRATEGIES:
        raise ValueError(f"strategy {strategy!r}: only {' and '.join(CHILD_STRATEGIES)} can name "
                         f"an allocator (e.g. malloc@jemalloc); {kernel!r} does not call malloc "
                         "in its timed loop")
    check_allocator(allocator)
    return kernel, allocator


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
    """How heap strategies are run: glibc's mmap threshold (None: left dynamic), extra
    GLIBC_TUNABLES for the children, and isolate (every (strategy, size) in a fresh child)."""

    mmap_threshold: Optional[int] = None
    glibc_tunables: Optional[str] = None
    isolate: bool = False

    @classmethod
    def checked(cls, mmap_threshold: object = None, glibc_tunables: object = None,
                isolate: object = False) -> "AllocatorPolicy":
        """Validate user arguments; errors name the value and the allowed form."""
        if mmap_threshold is not None:
            if isinstance(mmap_threshold, bool) or not hasattr(mmap_threshold, "__index__"):
                raise TypeError(f"mmap_threshold must be an int (bytes) or None, not "
                                f"{type(mmap_threshold).__name__} ({mmap_threshold!r})")
            mmap_threshold = operator.index(mmap_threshold)
            if not 0 <= mmap_threshold <= MMAP_THRESHOLD_MAX:
                raise ValueError(f"mmap_threshold must be between 0 and {MMAP_THRESHOLD_MAX} "
                                 f"(glibc ignores larger values), got {mmap_threshold}")
        if glibc_tunables is not None:
            if not isinstance(glibc_tunables, str):
                raise TypeError(f"glibc_tunables must be a str, not "
                                f"{type(glibc_tunables).__name__}")
            for item in glibc_tunables.split(":"):
                if not _TUNABLE.fullmatch(item):
                    raise ValueError(
                        f"glibc_tunables item {item!r} is not glibc.NAMESPACE.NAME=VALUE "
                        "(items separated by ':', e.g. glibc.malloc.tcache_count=0)")
            if mmap_threshold is not None and "glibc.malloc.mmap_threshold=" in glibc_tunables:
                raise ValueError("give the mmap threshold either as mmap_threshold= or in "
                                 "glibc_tunables=, not both")
        if not isinstance(isolate, bool):
            raise TypeError(f"isolate must be True or False, not {isolate!r}")
        return cls(mmap_threshold, glibc_tunables or None, isolate)

    def tunables(self) -> Optional[str]:
        """The GLIBC_TUNABLES items this policy adds to a child's environment."""
        items = [self.glibc_tunables] if self.glibc_tunables else []
        if self.mmap_threshold is not None:
            items.append(f"glibc.malloc.mmap_threshold={self.mmap_threshold}")
        return ":".join(items) or None

    def in_child(self, strategy: str) -> bool:
        """Whether `strategy` runs in a worker child: a named allocator, isolate, or glibc
        settings that must not be applied to the user's own process."""
        kernel, allocator = split_strategy(strategy)
        return (allocator is not None or self.isolate
                or (kernel in CHILD_STRATEGIES and self.tunables() is not None))

    def describe(self) -> dict:
        """The policy for Result.params."""
        return {"mmap_threshold": "dynamic" if self.mmap_threshold is None
                else self.mmap_threshold,
                "glibc_tunables": self.glibc_tunables, "isolate": self.isolate}


def _placement(process: str, library: Optional[str], version: Optional[str],
               glibc_tunables: Optional[str], environ) -> dict:
    is_glibc = library is not None and os.path.realpath(library) == os.path.realpath(
        libc_path() or "")
    return {"process": process, "allocator": _name_of(library), "library": library,
            "version": version, "glibc_tunables": glibc_tunables,
            # The threshold only means something where glibc serves malloc.
            "mmap_threshold": _pinned_threshold(glibc_tunables, environ) if is_glibc else None}


def self_placement() -> dict:
    """Where in-process strategies run: this process, with whatever serves its malloc (glibc
    unless the user preloaded another allocator)."""
    library = malloc_library()
    return _placement("self", library, library_version(library) if library else None,
                      os.environ.get("GLIBC_TUNABLES"), os.environ)


# --- the worker child -------------------------------------------------------------------------

def _child_env(library: Optional[str], tunables: Optional[str]) -> dict[str, str]:
    """The environment of a child whose malloc is `library` (None: the same as this process)."""
    env = dict(os.environ)
    env.pop(EXPECT_ENV, None)
    if library is not None:
        if os.path.realpath(library) == os.path.realpath(libc_path() or ""):
            env.pop("LD_PRELOAD", None)  # glibc: nothing preloaded, whatever this process has
        else:
            env["LD_PRELOAD"] = library
        env[EXPECT_ENV] = library
    if tunables:
        env["GLIBC_TUNABLES"] = ":".join(filter(None, (env.get("GLIBC_TUNABLES"), tunables)))
    # The child imports this very alloca_bench, wherever it was imported from.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
    return env


def _status(returncode: Optional[int]) -> str:
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        try:
            return f"exit status {returncode} (killed by {signal.Signals(-returncode).name})"
        except ValueError:
            return f"exit status {returncode}"
    return f"exit status {returncode}"


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(nothing on stderr)"


class _Died(Exception):
    pass


class Worker:
    """A child process that runs kernels under one allocator and answers batch requests.

    `allocator` is an allocators() name, or None for a child with this process's own malloc
    (isolate, or glibc settings kept out of this process).  Start is lazy: the first run()
    starts it.  Any crash, hang or garbage becomes a WorkerError naming `label`, the library
    and the exit status; the worker is then dead for good."""

    def __init__(self, label: str, allocator: Optional[str], policy: AllocatorPolicy) -> None:
        self.label = label
        self.allocator = allocator
        self.library = check_allocator(allocator) if allocator is not None else None
        self._tunables = policy.tunables()
        self._process: Optional[subprocess.Popen] = None
        self._reply_fd = -1
        self._stderr = None
        self._ns_per_op: dict[tuple, float] = {}  # what a kernel took last time, for timeouts
        self.hello: Optional[dict] = None
        self.error: Optional[WorkerError] = None

    # -- lifecycle --

    def start(self) -> dict:
        """Start the child and check its hello: the right allocator and the same build."""
        if self.error is not None:
            raise self.error
        if self.hello is not None:
            return self.hello
        env = _child_env(self.library, self._tunables)
        read_fd, write_fd = os.pipe()
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "alloca_bench._worker", "--reply-fd", str(write_fd)],
                stdin=subprocess.PIPE, stdout=self._stderr, stderr=self._stderr, env=env,
                pass_fds=(write_fd,))
        except OSError as exc:
            os.close(read_fd)
            raise self._fail(f"could not start {sys.executable}: {exc}") from exc
        finally:
            os.close(write_fd)
        self._reply_fd = read_fd
        hello, _ = self._receive(STARTUP_TIMEOUT_S)
        if hello.get("csrc_sha256") != BUILD_INFO["csrc_sha256"]:
            raise self._fail("the child loaded another build of the kernels "
                             f"({hello.get('csrc_sha256')}): reinstall alloca_bench")
        self.hello = hello
        return hello

    def close(self) -> None:
        """End the child (EOF on its stdin, then a kill if it lingers)."""
        process, self._process = self._process, None
        if process is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reply_fd >= 0:
            os.close(self._reply_fd)
            self._reply_fd = -1
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def placement(self) -> dict:
        """Where this worker's strategies run, for Result.params["placement"]."""
        if self.hello is None:
            return {"process": "child", "allocator": self.allocator, "library": self.library,
                    "version": None, "glibc_tunables": self._tunables, "mmap_threshold": None}
        return _placement("child", self.hello["malloc_library"], self.hello["version"],
                          self.hello["glibc_tunables"], _child_env(self.library, self._tunables))

    # -- requests --

    def run(self, strategy: str, touch: str, size: int, iterations: int, repeats: int,
            stack_size: int = 0, backend: str = "cffi") -> Batches:
        """One ab_run() in the child: like native.binding(backend).run()."""
        result = self.run_jobs([(strategy, touch, size, iterations, repeats)], stack_size,
                               backend)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def run_jobs(self, jobs: list[tuple[str, str, int, int, int]], stack_size: int = 0,
                 backend: str = "cffi") -> list[Union[Batches, Exception]]:
        """Several (strategy, touch, size, iterations, repeats) runs in one request, back to
        back in the child.  A job the C layer refuses comes back as its exception (the same
        class as in-process); a dead or hung child raises WorkerError."""
        self.start()
        expected_s = sum(self._expected_ns(job) * job[3] * job[4] for job in jobs) / 1e9
        timeout = min(BATCH_TIMEOUT_CAP_S, BATCH_TIMEOUT_MIN_S + TIMEOUT_SAFETY * expected_s)
        request = {"jobs": [{"strategy": s, "touch": t, "size": z, "iterations": n,
                             "repeats": r, "stack_size": stack_size, "backend": backend}
                            for s, t, z, n, r in jobs]}
        body = json.dumps(request).encode()
        try:
            self._process.stdin.write(_LENGTH.pack(len(body)) + body)
            self._process.stdin.flush()
        except OSError:
            raise self._fail("it died before the request could be sent") from None
        reply, payload = self._receive(timeout)
        return self._unpack(jobs, reply, payload)

    def _unpack(self, jobs: list, reply: dict, payload: bytes) -> list:
        results, offset = [], 0
        try:
            answers = reply["results"]
            if len(answers) != len(jobs):
                raise ValueError(f"{len(answers)} results for {len(jobs)} jobs")
            for job, answer in zip(jobs, answers):
                if "error" in answer:
                    cls = _EXCEPTIONS.get(answer["error"], WorkerError)
                    results.append(cls(f"{answer['message']} (in the {self.label} worker)"))
                    continue
                n = int(answer["repeats"])
                arrays = []
                for _ in range(3):
                    arrays.append(np.frombuffer(payload, np.float64, n, offset).copy())
                    offset += 8 * n
                results.append(Batches(*arrays))
                self._ns_per_op[job[:3]] = float(np.max(arrays[0]))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._fail(f"it sent a malformed reply ({type(exc).__name__}: {exc})") from None
        if offset != len(payload):
            raise self._fail(f"it sent {len(payload)} payload bytes, {offset} expected")
        return results

    def _expected_ns(self, job: tuple) -> float:
        known = self._ns_per_op.get(job[:3])
        if known is not None:
            return known
        return PRIOR_NS_PER_OP + PRIOR_NS_PER_PAGE * (-(-job[2] // 4096))

    def _receive(self, timeout: float) -> tuple[dict, bytes]:
        deadline = time.monotonic() + timeout
        try:
            (length,) = _LENGTH.unpack(self._read(_LENGTH.size, deadline))
            if length > _MAX_REPLY:
                raise self._fail(f"it sent garbage (a {length}-byte header)")
            header = json.loads(self._read(length, deadline))
            payload = self._read(int(header.pop("payload_bytes", 0)), deadline)
        except TimeoutError:
            self._process.kill()
            raise self._fail(f"it did not answer within {timeout:.0f} s (hung?) and was "
                             "killed") from None
        except _Died:
            raise self._fail("it died") from None
        except (ValueError, AttributeError) as exc:  # JSON errors are ValueErrors
            raise self._fail(f"it sent garbage ({exc})") from None
        return header, payload

    def _read(self, n: int, deadline: float) -> bytes:
        chunks, left = [], n
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._reply_fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(self._reply_fd, min(left, 1 << 20))
            if not chunk:
                raise _Died
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _fail(self, what: str) -> WorkerError:
        """The WorkerError for this worker (which is dead from now on): what happened, its exit
        status and the end of its stderr."""
        process = self._process
        status = "no process"
        if process is not None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            status = _status(process.returncode)
        stderr = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            stderr = self._stderr.read()[-4000:].decode(errors="replace")
        library = self.library or "this process's malloc"
        pid = f" pid {process.pid}," if process is not None else ""
        self.error = WorkerError(f"{self.label}: the worker ({library},{pid} {status}): {what}; "
                                 f"stderr: {_tail(stderr)}")
        self.close()
        return self.error


# --- text for the command line --------------------------------------------------------------------

def format_allocators() -> str:
    """One line per allocator found: name, version, library (what `alloca-bench allocators`
    prints); the one serving malloc in this process is marked."""
    here = os.path.realpath(malloc_library() or "")
    rows = [("name", "version", "library", "")]
    for name, path in allocators().items():
        mark = "serves malloc in this process" if os.path.realpath(path) == here else ""
        try:
            version = allocator_version(name) or "-"
        except (WorkerError, OSError, ValueError) as exc:
            version, mark = "-", f"unusable: {exc}"
        rows.append((name, version, path, mark))
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths + [0])).rstrip()
                     for row in rows)


def format_placement(params: dict) -> list[str]:
    """Result.params as lines: where each strategy ran, under which library, and the policy."""
    groups: dict[str, list[str]] = {}
    for name, where in params.get("placement", {}).items():
        version = f" {where['version']}" if where.get("version") else ""
        place = "this process" if where["process"] == "self" else "a child"
        tunables = f", GLIBC_TUNABLES={where['glibc_tunables']}" if where.get(
            "glibc_tunables") else ""
        key = f"{place} with {where['allocator']}{version} ({where['library']}{tunables})"
        groups.setdefault(key, []).append(name)
    lines = [f"ran in {key}: {', '.join(names)}" for key, names in groups.items()]
    lines.append(f"mmap threshold {params.get('mmap_threshold', 'dynamic')}, isolate "
                 f"{'on' if params.get('isolate') else 'off'}, warm-up batches "
                 f"{params.get('warmup', 1)}")
    return lines
