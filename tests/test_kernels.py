"""The kernels (csrc/kernels.c) as the runner runs them, read from its disassembly: each op is
the instruction sequence of the same op written by hand (tests/c/plain_ops.c, built with the
kernels' flags), and each batch loop calls its op directly, never through a pointer."""
import os
import re
import shutil
import subprocess

import pytest

from alloca_bench import TOUCHES
from alloca_bench.measuring import runner

HERE = os.path.dirname(os.path.abspath(__file__))
PLAIN = os.path.join(HERE, "c", "plain_ops.c")
HAND_WRITTEN = ("alloca", "vla", "malloc")  # the strategies plain_ops.c writes per touch mode


def _disassembly(binary: str) -> dict[str, list[tuple[str, str]]]:
    """Per function of `binary`: its instructions as (mnemonic, operands), padding nops left out."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("reading the kernels' code needs objdump (binutils)")
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", binary], capture_output=True,
                          text=True, check=True).stdout
    functions, current = {}, None
    for line in text.splitlines():
        head = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if head:
            current = functions.setdefault(head.group(1), [])
        elif current is not None and "\t" in line:
            mnemonic, _, operands = line.split("\t", 1)[1].strip().partition(" ")
            if "nop" not in mnemonic and not mnemonic.startswith(("data16", "cs")):
                current.append((mnemonic, operands.strip()))
    return functions


@pytest.fixture(scope="module")
def kernels() -> dict[str, list[tuple[str, str]]]:
    return _disassembly(runner.runner_path())


@pytest.fixture(scope="module")
def plain_ops(tmp_path_factory) -> str:
    """tests/c/plain_ops.c built with the flags the runner's build info names."""
    cc = shutil.which("gcc")
    if cc is None or not os.path.isfile(PLAIN):
        pytest.skip("the hand-written ops need gcc and tests/c/plain_ops.c")
    info = runner.runner_build_info()
    exe = tmp_path_factory.mktemp("plain") / "plain_ops"
    subprocess.run([cc, *info["compile_args"], PLAIN, "-o", str(exe)], check=True)
    return str(exe)


@pytest.fixture(scope="module")
def plain(plain_ops) -> dict[str, list[tuple[str, str]]]:
    return _disassembly(plain_ops)


@pytest.mark.parametrize("strategy", ("baseline",) + HAND_WRITTEN)
def test_the_hand_written_program_prints_one_figure_per_batch(plain_ops, strategy):
    """A line per batch: ns per op and the involuntary context switches of the batch."""
    out = subprocess.run([plain_ops, strategy, "none", "64", "1000", "3"], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert len(out) == 3
    assert all(float(line.split()[0]) > 0 and int(line.split()[1]) >= 0 for line in out)


@pytest.mark.parametrize("touch", TOUCHES)
@pytest.mark.parametrize("strategy", HAND_WRITTEN)
def test_each_kernel_is_the_instruction_sequence_of_the_op_written_by_hand(kernels, plain,
                                                                          strategy, touch):
    """No touch dispatch, no register kept across the allocator call that a hand-written op
    does without: the mnemonics match one for one."""
    ours = [m for m, _ in kernels[f"op_{strategy}_{touch}"]]
    theirs = [m for m, _ in plain[f"{strategy}_{touch}"]]
    assert ours == theirs


def test_every_batch_loop_calls_its_kernel_directly(kernels):
    """An indirect call per op costs about half a nanosecond and hides an alloca's own cost."""
    ops = [name for name in kernels
           if re.fullmatch(r"op_\w+_(none|first|pages|full|kernel)", name)]
    assert len(ops) >= 7 * (len(TOUCHES) + 1)  # and touch "kernel": the user's work()
    for op in ops:
        calls = [operands for m, operands in kernels[f"loop_{op}"] if m == "call"]
        assert calls and all(c.endswith(f"<{op}>") for c in calls), (op, calls)
