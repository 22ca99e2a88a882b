# cffi's build hook is only reachable through setup(); all metadata lives in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["alloca_bench/_ffi_build.py:ffibuilder"])
