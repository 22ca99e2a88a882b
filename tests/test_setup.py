"""setup.py: a build without a C compiler or without the Python headers stops with one message
naming gcc and python3-dev, before the toolchain's raw error; metadata-only runs are not
stopped.  Each case runs setup.py in a child (nothing is built: the check comes first)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WANTED = "needs a C compiler (gcc) and the Python headers (python3-dev)"


def _setup(python_child, code: str = "", argv=("build_ext",), **env):
    """setup.py run with `argv` in a child, after `code`, with `env` added to the environment."""
    script = (f"import sys, sysconfig\n{code}\nsys.argv = ['setup.py', *{list(argv)!r}]\n"
              "exec(compile(open('setup.py').read(), 'setup.py', 'exec'))")
    return python_child(script, cwd=ROOT, env=dict(os.environ, **env))


def test_without_a_compiler_the_build_names_gcc_and_python3_dev(python_child):
    child = _setup(python_child, CC="/nonexistent/gcc")
    assert child.returncode == 1
    assert WANTED in child.stderr and "/nonexistent/gcc is not on PATH" in child.stderr
    assert "Traceback" not in child.stderr


def test_without_python_headers_the_build_says_so(python_child):
    hide = ("real = sysconfig.get_paths\n"
            "sysconfig.get_paths = lambda *a, **k: dict(real(*a, **k), include='/nonexistent')")
    child = _setup(python_child, hide, argv=("editable_wheel",))
    assert child.returncode == 1
    assert WANTED in child.stderr and "no Python.h in /nonexistent" in child.stderr


def test_metadata_alone_needs_no_compiler(python_child):
    child = _setup(python_child, argv=("--version",), CC="/nonexistent/gcc")
    assert child.returncode == 0 and child.stdout.strip().splitlines()[-1][0].isdigit()
