"""The cffi builder of `alloca_bench._native`: the cdef and sources from csrc/, explicit flags.

cffi imports this module several times per build, so it only defines `ffibuilder`: no prints,
no files written.  Source paths stay relative (setuptools refuses absolute ones).
"""
import importlib.util
import json
import os
import re
import sysconfig

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, os.pardir, "csrc")
SOURCES = ["csrc/kernels.c", "csrc/run.c", "csrc/library.c", "csrc/user_kernel.c"]
HEADERS = ["csrc/alloca_bench.h", "csrc/kernels.h", "csrc/ab_compat.h", "csrc/ab_touch.h",
           "csrc/ab_util.h", "csrc/user_kernel.h"]

# What alloca costs depends on these, so they are fixed here rather than left to the
# environment: no stack protector canary, no stack-clash probes (the *_probed strategies switch
# them on per function), no fortify wrappers around memset; every function on a cache line of
# its own, so that code added elsewhere does not move a kernel's loop across a line boundary.
COMPILE_ARGS = [
    "-O2",
    "-std=gnu11",
    "-fno-stack-protector",
    "-fno-stack-clash-protection",
    "-U_FORTIFY_SOURCE",
    "-D_FORTIFY_SOURCE=0",
    "-fno-omit-frame-pointer",
    "-falign-functions=64",
    "-Wall",
    "-Wextra",
]


def _read(name: str) -> str:
    with open(os.path.join(CSRC, name), encoding="utf-8") as f:
        return f.read()


def _package_version() -> str:
    with open(os.path.join(HERE, "_version.py"), encoding="utf-8") as f:
        return re.search(r'__version__ = "([^"]+)"', f.read()).group(1)


def _csrc_sha256() -> str:
    """Hash of every file in csrc/, so a result can name the exact kernels it ran (the same
    function native.py checks an editable build with, loaded by path: the package itself
    cannot be imported before its extension exists)."""
    spec = importlib.util.spec_from_file_location("_alloca_bench_csrc_hash",
                                                  os.path.join(HERE, "_csrc_hash.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.csrc_sha256(CSRC)


def _build_info_source() -> str:
    """C source of ab_build_info(): a JSON object whose last field, the compiler, C supplies."""
    info = {
        "package_version": _package_version(),
        "csrc_sha256": _csrc_sha256(),
        "compile_args": COMPILE_ARGS,
        "python_cflags": sysconfig.get_config_var("CFLAGS") or "",
        "cc": sysconfig.get_config_var("CC") or "",
    }
    head = json.dumps(info)[:-1] + ', "compiler": "'
    # json.dumps escapes only ", \ and control characters, all valid C escapes too.
    return (
        "const char *ab_build_info(void)\n{\n"
        f"    return {json.dumps(head)} __VERSION__ \"\\\"}}\";\n}}\n"
    )


ffibuilder = FFI()
ffibuilder.cdef(_read("alloca_bench.cdef.txt"))
ffibuilder.set_source(
    "alloca_bench._native",
    '#include "alloca_bench.h"\n' + _build_info_source(),
    sources=SOURCES,
    depends=HEADERS,
    include_dirs=["csrc"],
    extra_compile_args=COMPILE_ARGS,
    libraries=["pthread", "dl"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
