"""The user's own kernel: a C function `void work(char *buf, size_t n)` that every strategy calls
on the buffer it got (touch mode "kernel"), so that a sweep answers "should MY function take its
scratch buffer from the stack or the heap?".

kernel(source) compiles it with the system C compiler and the flags of the built-in kernels
into a shared object in a cache directory (ALLOCA_BENCH_CACHE, else $XDG_CACHE_HOME/alloca-bench,
else ~/.cache/alloca-bench), keyed by a hash of the source, the flags and the compiler, so that
an unchanged kernel is compiled once.  kernel(library=, function=) takes a shared object as it
is.  Only the runner's cell processes ever load it (dlopen): a kernel that crashes costs its
cell, never this interpreter."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sysconfig
import tempfile
from dataclasses import dataclass
from typing import Optional, Union

from alloca_bench import native
from alloca_bench.exceptions import KernelError
from alloca_bench.measuring.plan import HOST_BINDINGS
from alloca_bench.measuring.validate import check_touch
from alloca_bench.strategies import KERNEL_TOUCH

# Besides the built-in kernels' flags: a shared object whose code may load anywhere.
SHARED_FLAGS = ("-shared", "-fPIC")
COMPILE_TIMEOUT_S = 120.0
ERROR_LINES = 8  # lines of the compiler's message a KernelError quotes
ERROR_CHARS = 200  # characters of each, at most
# A compiler's message about a place in the source, "FILE:LINE:COL: error: ..." (COL optional);
# the source lines and carets quoted under it start with blanks (gcc) or are the source (clang).
_LOCATED = re.compile(r"\S[^:]*:\d+(?::\d+)?: ")
LIBRARY = "libkernel.so"
SOURCE = "kernel.c"
INSTALL_GCC = "install gcc (Debian/Ubuntu: apt-get install gcc)"


@dataclass(frozen=True)
class Kernel:
    """A user kernel ready for the runner: `function` in the shared object `library`.  sha256
    names it exactly: of the source, flags and compiler for a compiled kernel, of the file's
    bytes for a library given as it is.  source is None for the latter."""

    name: str
    function: str
    library: str
    sha256: str
    source: Optional[str] = None
    compiler: Optional[str] = None  # the compiler's version line (compiled kernels)
    flags: tuple[str, ...] = ()

    def plan_fields(self, strategy: str) -> dict:
        """The runner's plan fields of a cell of `strategy` running this kernel: touch mode
        kernel and the library to load.  The baseline stays the empty call (no buffer to work
        on): touch none, nothing loaded."""
        if strategy == "baseline":
            return {"touch": native.TOUCHES.index("none")}
        return {"touch": native.TOUCHES.index(KERNEL_TOUCH), "kernel": self.library,
                "function": self.function}

    def describe(self) -> dict:
        """What a result records: name, function, hash, and the source (with compiler and
        flags) or the library's path."""
        where = ({"source": self.source, "compiler": self.compiler, "flags": list(self.flags)}
                 if self.source is not None else {"library": self.library})
        return {"name": self.name, "function": self.function, "sha256": self.sha256, **where}


def cache_dir() -> str:
    """Where compiled kernels live: ALLOCA_BENCH_CACHE, else the XDG cache directory's
    alloca-bench (~/.cache/alloca-bench when XDG_CACHE_HOME is unset)."""
    chosen = os.environ.get("ALLOCA_BENCH_CACHE")
    if chosen:
        return os.path.abspath(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(xdg), "alloca-bench")


def compiler_command() -> list[str]:
    """The system C compiler as cffi and setup.py find it: $CC, else Python's CC, else cc."""
    return shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")


def kernel(source: Union[str, os.PathLike, None] = None, function: str = "work", *,
           library: Optional[str] = None, name: Optional[str] = None) -> Kernel:
    """A kernel from C source text (an os.PathLike is read as a file) or, with `library=`, from
    an existing shared object.  `function` must be `void function(char *buf, size_t n)`,
    exported (not static).  Raises KernelError (a ValueError) when the source does not compile
    (with the compiler's first error lines), when the function is not there (naming the
    functions found), or when no compiler is installed."""
    if not isinstance(function, str) or not function.isidentifier():
        raise KernelError(f"function must be a C identifier (the kernel's symbol), not "
                          f"{function!r}")
    if (source is None) == (library is None):
        raise KernelError("give either the C source or library= (a shared object), not "
                          f"{'both' if source is not None else 'neither'}")
    if library is not None:
        return _from_library(library, function, name)
    filename = SOURCE
    if isinstance(source, os.PathLike):  # the compiler's messages then name the user's file
        filename = os.path.basename(source)
        with open(source, encoding="utf-8") as f:
            source = f.read()
    if not isinstance(source, str):
        raise TypeError(f"source must be C source text (str) or a path (os.PathLike), not "
                        f"{type(source).__name__}")
    if "\n" not in source.strip() and os.path.isfile(source):
        raise KernelError(f"source {source!r} is the name of a file, and a str is C source: "
                          f"pass pathlib.Path({source!r}) to compile that file")
    return _compiled(source, function, name or function, filename)


def _from_library(library: str, function: str, name: Optional[str]) -> Kernel:
    path = os.path.abspath(os.fspath(library))
    if not os.path.isfile(path):
        raise KernelError(f"library {library!r} is not a file: give the path of a shared "
                          "object (for example ./libkernel.so)")
    _check_plan_path(path, "library")
    _check_exports(path, function, path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return Kernel(name or f"{os.path.basename(path)}:{function}", function, path, digest)


def _check_plan_path(path: str, what: str) -> None:
    """The runner's plan is words separated by spaces: a path with blanks cannot travel."""
    if any(c.isspace() for c in path):
        hint = " (set ALLOCA_BENCH_CACHE to a directory without them)" if what == "cache" \
            else ""
        raise KernelError(f"the {what} path {path!r} holds blanks, which the runner's plan "
                          f"cannot carry{hint}")


def _compiler_identity(command: list[str]) -> dict:
    """The compiler without running it: its resolved file, size and modification time (a new
    compiler gives a new hash, and a cache hit starts no process)."""
    found = shutil.which(command[0]) if command else None
    if found is None:
        raise KernelError(
            f"no C compiler: {' '.join(command) or 'CC is empty'} is not on PATH.  Kernels "
            f"are compiled with the system C compiler: {INSTALL_GCC}, or set CC")
    real = os.path.realpath(found)
    st = os.stat(real)
    return {"command": command, "path": real, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _compiled(source: str, function: str, name: str, filename: str) -> Kernel:
    command = compiler_command()
    flags = tuple(native.BUILD_INFO["compile_args"]) + SHARED_FLAGS
    key = json.dumps({"source": source, "flags": flags, "compiler": _compiler_identity(command)},
                     sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()
    root = os.path.join(cache_dir(), "kernels")
    _check_plan_path(root, "cache")
    final = os.path.join(root, digest[:32])
    if not os.path.isfile(os.path.join(final, "kernel.json")):
        _compile_into(root, final, source, filename, command, flags)
    with open(os.path.join(final, "kernel.json"), encoding="utf-8") as f:
        compiler = json.load(f)["compiler"]
    library = os.path.join(final, LIBRARY)
    _check_exports(library, function, filename)
    return Kernel(name, function, library, digest, source, compiler, flags)


def _compile_into(root: str, final: str, source: str, filename: str, command: list[str],
                  flags: tuple[str, ...]) -> None:
    """Compile in a private directory and rename it into place: a concurrent run or an
    interrupted compile never leaves a half-written kernel under its hash."""
    try:
        os.makedirs(root, exist_ok=True)
        work = tempfile.mkdtemp(prefix=".compile-", dir=root)
    except OSError as exc:
        raise KernelError(f"cannot write the kernel cache {root} ({exc.strerror}): set "
                          "ALLOCA_BENCH_CACHE to a directory you can write") from None
    try:
        with open(os.path.join(work, filename), "w", encoding="utf-8") as f:
            f.write(source)
        # -x c: C whatever the name's ending (notc.txt), which the messages then keep.
        argv = [*command, *flags, "-o", LIBRARY, "-x", "c", filename]
        try:
            done = subprocess.run(argv, cwd=work, capture_output=True, text=True,
                                  timeout=COMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise KernelError(f"the compiler did not finish within {COMPILE_TIMEOUT_S:g} s: "
                              f"{' '.join(argv)}") from None
        except OSError as exc:
            raise KernelError(f"the compiler {command[0]} could not start ({exc}); "
                              f"{INSTALL_GCC}") from None
        if done.returncode != 0:
            raise KernelError(f"the kernel does not compile ({' '.join(command)}, exit "
                              f"status {done.returncode}):\n{_first_errors(done.stderr)}")
        version = subprocess.run([*command, "--version"], capture_output=True, text=True,
                                 timeout=COMPILE_TIMEOUT_S).stdout.partition("\n")[0].strip()
        with open(os.path.join(work, "kernel.json"), "w", encoding="utf-8") as f:
            json.dump({"compiler": version, "command": argv, "warnings": done.stderr}, f)
        try:
            os.rename(work, final)
        except OSError:  # another process put the same kernel there first: keep that one
            if not os.path.isfile(os.path.join(final, "kernel.json")):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _first_errors(stderr: str) -> str:
    """The compiler's message from its first "error" line on, at most ERROR_LINES lines of at
    most ERROR_CHARS characters: only its FILE:LINE: lines where it has some, without the
    source it quotes under them (a file that is not C would be quoted whole)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    lines = [line for line in lines if _LOCATED.match(line)] or lines
    first = next((i for i, line in enumerate(lines) if "error" in line), 0)
    shown = [line if len(line) <= ERROR_CHARS else line[:ERROR_CHARS - 3] + "..."
             for line in lines[first:first + ERROR_LINES]]
    return "\n".join(shown) or "(the compiler printed nothing)"


def _check_exports(path: str, function: str, shown_as: str) -> None:
    """KernelError naming `shown_as` (the user's file, not the cache's library) when the
    shared object at `path` does not export `function`."""
    found = exported_functions(path)
    if function not in found:
        shown = ", ".join(found[:20]) + (", ..." if len(found) > 20 else "")
        raise KernelError(f"{shown_as} has no exported function {function!r}; it exports "
                          f"{shown or 'no functions'} (a static function is not exported)")


# ---- the functions a shared object exports, read from its ELF dynamic symbol table ----------
# Read, never loaded: loading runs the library's constructors, which belong in a cell's
# process, not in this interpreter.

_SHT_DYNSYM = 11
_STT_FUNC, _STT_GNU_IFUNC = 2, 10
_SHN_UNDEF = 0
# per ELF class: header offsets (e_shoff, e_shentsize), section header and symbol formats
_ELF = {1: (0x20, 0x2E, "IIIIIIIIII", "IIIBBH"), 2: (0x28, 0x3A, "IIQQQQIIQQ", "IBBHQQ")}


def exported_functions(path: str) -> list[str]:
    """Sorted names of the functions `path` defines in its dynamic symbol table (what dlsym
    finds); KernelError when it is not an ELF shared object."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] not in _ELF or data[5] not in (1, 2):
        raise KernelError(f"{path} is not an ELF shared object")
    shoff_at, shentsize_at, shdr, sym = _ELF[data[4]]
    endian = "<" if data[5] == 1 else ">"
    try:
        (shoff,) = struct.unpack_from(endian + shdr[2], data, shoff_at)
        shentsize, shnum = struct.unpack_from(endian + "HH", data, shentsize_at)
        sections = [struct.unpack_from(endian + shdr, data, shoff + i * shentsize)
                    for i in range(shnum)]
        names = set()
        for section in sections:
            if section[1] != _SHT_DYNSYM:
                continue
            offset, size, link, entsize = section[4], section[5], section[6], section[9]
            strtab = sections[link][4]
            for at in range(offset + entsize, offset + size, entsize):  # entry 0 is null
                fields = struct.unpack_from(endian + sym, data, at)
                if data[4] == 2:
                    st_name, info, _, shndx = fields[:4]
                else:
                    st_name, info, shndx = fields[0], fields[3], fields[5]
                if info & 0xF in (_STT_FUNC, _STT_GNU_IFUNC) and shndx != _SHN_UNDEF:
                    end = data.index(b"\0", strtab + st_name)
                    names.add(data[strtab + st_name:end].decode(errors="replace"))
    except (struct.error, IndexError, ValueError):
        raise KernelError(f"{path}: its ELF symbol tables are damaged") from None
    return sorted(names)


# ---- what sweep() and measure() do with kernel= ----------------------------------------------

def check_kernel_touch(kernel: object, touch: object, heap: str) -> str:
    """The touch of a call: `touch` itself without a kernel; "kernel" (KERNEL_TOUCH) with one,
    which then replaces touch= (left at its default "pages") and runs in the runner only."""
    if kernel is None:
        return check_touch(touch)
    if not isinstance(kernel, Kernel):
        raise TypeError(f"kernel must be an alloca_bench.kernel(...), not "
                        f"{type(kernel).__name__} ({kernel!r})")
    check_kernel_options(touch, heap)
    return KERNEL_TOUCH


def check_kernel_options(touch: object, heap: object) -> None:
    """What a kernel does not go with, checked before it is compiled or loaded: a touch mode
    (left at its default "pages") and the host heaps (the runner's processes only)."""
    if touch not in ("pages", KERNEL_TOUCH):
        raise ValueError(f"kernel= replaces the touch mode (every op calls the kernel on the "
                         f"buffer its strategy got): leave touch= out, not {touch!r}")
    if heap in HOST_BINDINGS:
        raise ValueError(f"kernel= runs in the runner's processes only, where a kernel that "
                         f"crashes costs its cell and not this process: use heap='fresh' or "
                         f"'aged', not heap={heap!r}")


def kernel_params(kernel: Optional[Kernel], cells: list) -> dict:
    """Result.params["kernel"]: what the kernel is (Kernel.describe) and stack_bytes, the most
    stack one call of it used in any cell (measured in the cell's process; the stack guard adds
    it); {} without a kernel."""
    if kernel is None:
        return {}
    used = [c["kernel_stack"] for c in cells if c and "kernel_stack" in c]
    return {"kernel": {**kernel.describe(), "stack_bytes": max(used) if used else None}}
