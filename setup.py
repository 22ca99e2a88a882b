# cffi's build hook is only reachable through setup(); all metadata lives in pyproject.toml.
import os
import shlex
import shutil
import sys
import sysconfig

from setuptools import setup

BUILD_TOOLS = "a C compiler (gcc) and the Python headers (python3-dev)"
_BUILDING = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}


def check_build_tools(argv=None):
    """Exit with one clear message, before the toolchain's raw error, when a build of the C
    kernels would fail for want of a compiler or of Python.h (metadata-only runs pass)."""
    if not _BUILDING & set(sys.argv[1:] if argv is None else argv):
        return
    missing = []
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    if not cc or shutil.which(cc[0]) is None:
        missing.append(f"no C compiler ({' '.join(cc) or 'CC is empty'} is not on PATH)")
    include = sysconfig.get_paths()["include"]
    if not os.path.isfile(os.path.join(include, "Python.h")):
        missing.append(f"no Python headers (no Python.h in {include})")
    if missing:
        sys.exit(f"alloca-bench builds C kernels and needs {BUILD_TOOLS}: "
                 f"{'; '.join(missing)}. On Debian or Ubuntu: apt-get install gcc python3-dev "
                 f"(or python{sys.version_info[0]}.{sys.version_info[1]}-dev, matching this "
                 "Python); elsewhere, your system's compiler and Python development package.")


check_build_tools()
setup(cffi_modules=["alloca_bench/_ffi_build.py:ffibuilder"])
