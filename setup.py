# cffi's build hook is only reachable through setup(); all metadata lives in pyproject.toml.
# build_ext also links alloca_bench/_runner, the plain C process that measures by default, from
# the same csrc/ kernels and run loop, with the same flags and build info as the cffi module.
import importlib.util
import os
import shlex
import shutil
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_ext import build_ext

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


RUNNER = "_runner"
RUNNER_SOURCES = ["csrc/runner.c", "csrc/runner_plan.c", "csrc/runner_cell.c", "csrc/patterns.c",
                  "csrc/runner_wire.c"]


def _ffi_build():
    """alloca_bench/_ffi_build.py, loaded by path: the package itself cannot be imported before
    its extension exists.  It holds the one copy of the sources, flags and build info."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "_alloca_bench_ffi_build", os.path.join(here, "alloca_bench", "_ffi_build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class build_ext_with_runner(build_ext):
    """build_ext, then the runner executable beside the extension (and in the source tree for
    `pip install -e .`, as build_ext does for the extension itself)."""

    def run(self):
        super().run()
        ffi_build = _ffi_build()
        info_c = os.path.join(self.build_temp, "runner_build_info.c")
        os.makedirs(self.build_temp, exist_ok=True)
        with open(info_c, "w", encoding="utf-8") as f:
            f.write(ffi_build._build_info_source())
        objects = self.compiler.compile(
            ffi_build.SOURCES + RUNNER_SOURCES + [info_c],
            output_dir=os.path.join(self.build_temp, "runner"),
            include_dirs=["csrc"], extra_postargs=ffi_build.COMPILE_ARGS,
            depends=ffi_build.HEADERS + ["csrc/runner.h", "csrc/ab_framing.h", "csrc/patterns.h",
                                         "csrc/ab_cell.h", "csrc/runner_wire.h"])
        out_dir = os.path.join(self.build_lib, "alloca_bench")
        self.compiler.link_executable(objects, RUNNER, output_dir=out_dir,
                                      libraries=["pthread", "dl", "m"])
        if self.inplace:
            package_dir = self.get_finalized_command("build_py").get_package_dir("alloca_bench")
            self.copy_file(os.path.join(out_dir, RUNNER), os.path.join(package_dir, RUNNER))

    def get_outputs(self):
        return super().get_outputs() + [os.path.join(self.build_lib, "alloca_bench", RUNNER)]


check_build_tools()
setup(cffi_modules=["alloca_bench/_ffi_build.py:ffibuilder"],
      cmdclass={"build_ext": build_ext_with_runner})
