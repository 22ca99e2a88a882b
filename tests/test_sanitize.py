"""The C sources under AddressSanitizer and UndefinedBehaviorSanitizer: tests/c/sanitize_driver.c
runs every kernel, touch mode and stack-guard edge; any sanitizer report fails the test."""
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, os.pardir, "csrc")
DRIVER = os.path.join(HERE, "c", "sanitize_driver.c")
FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1",
         "-fno-omit-frame-pointer", "-fno-stack-protector", "-std=gnu11", "-Wall", "-Wextra"]
# ASan replaces malloc: a preloaded allocator must never meet it in one process.
ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "GLIBC_TUNABLES")}
ENV.update(ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:abort_on_error=0",
           UBSAN_OPTIONS="print_stacktrace=1")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """The driver built with the sanitizers, or a skip naming what is missing."""
    if not os.path.isdir(CSRC):
        pytest.skip("no csrc/ beside the tests (installed package)")
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("the sanitizer check needs gcc")
    where = tmp_path_factory.mktemp("sanitize")
    probe = where / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    built = subprocess.run([cc, *FLAGS, str(probe), "-o", str(where / "probe")],
                           capture_output=True, text=True, env=ENV)
    if built.returncode != 0:
        pytest.skip(f"gcc cannot link -fsanitize=address,undefined (libasan/libubsan "
                    f"missing?): {built.stderr.strip()[:300]}")
    exe = where / "sanitize_driver"
    sources = [DRIVER, os.path.join(CSRC, "kernels.c"), os.path.join(CSRC, "run.c")]
    built = subprocess.run([cc, *FLAGS, "-I", CSRC, *sources, "-o", str(exe), "-lpthread",
                            "-lm"], capture_output=True, text=True, env=ENV)
    assert built.returncode == 0, built.stderr
    assert "warning" not in built.stderr, built.stderr
    return str(exe)


def test_every_kernel_touch_and_guard_edge_is_sanitizer_clean(driver):
    run = subprocess.run([driver], capture_output=True, text=True, env=ENV, timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "clean: 0 failures" in run.stdout
    assert "ERROR: AddressSanitizer" not in report and "runtime error" not in report, report
