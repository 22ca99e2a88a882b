"""alloca_bench.exceptions: each error is also the builtin a caller would catch."""
import re

import pytest

from alloca_bench import exceptions as e
from alloca_bench.measuring.validate import check_stack_size
from alloca_bench.options import MAX_SIZE


@pytest.mark.parametrize("cls, builtin", [
    (e.StackLimitError, ValueError),
    (e.StrategyUnavailableError, ValueError),
    (e.ResultFileError, ValueError),
    (e.NativeError, RuntimeError),
    (e.WorkerError, RuntimeError),
    (e.BuildMismatchError, ImportError),
])
def test_errors_subclass_the_project_base_and_a_builtin(cls, builtin):
    assert issubclass(cls, e.AllocaBenchError) and issubclass(cls, builtin)


def test_stack_limit_message_names_size_headroom_largest_safe_size_and_remedy():
    error = e.StackLimitError.for_size("vla", 10 << 20, 8 << 20, 256 << 10)
    text = str(error)
    assert "vla of 10485760 bytes" in text
    assert "8388608 bytes are left" in text and "262144 must stay free" in text
    assert f"largest safe size is {(8 << 20) - (256 << 10)} bytes" in text
    assert "stack_size=16777216" in text


def test_stack_limit_message_names_the_worker_thread():
    text = str(e.StackLimitError.for_size("alloca", 1 << 20, 1 << 19, 1 << 18, 1 << 19))
    assert "worker thread with stack_size=524288" in text


@pytest.mark.parametrize("size", [1 << 20, MAX_SIZE - (4 << 20), MAX_SIZE])
def test_a_stack_limit_error_suggests_only_a_stack_size_that_validation_accepts(size):
    """Near the largest size (1 GiB, or half the memory), the next power of two is past what
    stack_size= accepts: the suggestion stops there, or says that no stack_size holds it."""
    text = str(e.StackLimitError.for_size("alloca", size, 8 << 20, 256 << 10))
    suggested = re.search(r"for example stack_size=(\d+)\)", text)
    if size + (256 << 10) + (1 << 20) <= MAX_SIZE:
        assert suggested, text
        assert check_stack_size(int(suggested.group(1))) >= size
    else:
        assert suggested is None and "No stack_size accepted" in text, text
