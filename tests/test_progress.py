"""measuring._progress: the sweep's bar shows while someone watches, and only then."""
import io
import sys

import pytest

from alloca_bench.measuring import _progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def quiet_env(monkeypatch):
    monkeypatch.delenv("ALLOCA_BENCH_PROGRESS", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    return monkeypatch


def test_a_bar_shows_on_a_terminal_and_not_into_a_pipe(quiet_env):
    quiet_env.setattr(sys, "stderr", _Terminal())
    assert _progress.watched()
    quiet_env.setattr(sys, "stderr", io.StringIO())
    assert not _progress.watched()


def test_a_notebook_kernel_counts_as_watching(quiet_env):
    quiet_env.setattr(sys, "stderr", io.StringIO())
    quiet_env.setitem(sys.modules, "ipykernel", object())
    assert _progress.watched()


def test_the_environment_variable_decides_both_ways(quiet_env):
    quiet_env.setattr(sys, "stderr", _Terminal())
    quiet_env.setenv("ALLOCA_BENCH_PROGRESS", "0")
    assert not _progress.watched()
    quiet_env.setattr(sys, "stderr", io.StringIO())
    quiet_env.setenv("ALLOCA_BENCH_PROGRESS", "1")
    assert _progress.watched()


def test_hidden_hides_the_bar_inside_only(quiet_env):
    quiet_env.setattr(sys, "stderr", _Terminal())
    with _progress.hidden():
        assert not _progress.watched()
    assert _progress.watched()
