"""alloca_bench.exceptions: each error is also the builtin a caller would catch."""
import pytest

from alloca_bench import exceptions as e


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
