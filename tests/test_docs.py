"""The documentation: README.md (the front page) and docs/ (the manual, built by MkDocs).

The site builds with --strict; every python block of a page runs (in order, one namespace per
page, in a temporary directory) and every sh block runs its `alloca-bench` commands, unless a
`<!-- not run: REASON -->` line above the block says why not; text blocks are output. .ci/run
runs exactly the README's test command."""
from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
RUNNABLE = {"python", "sh"}
LANGUAGES = RUNNABLE | {"text"}
BLOCK = re.compile(r"^(?:<!-- not run: (?P<reason>.*?) -->\n)?```(?P<lang>\S*)\n(?P<body>.*?)^```$",
                   re.M | re.S)
COMMENT = re.compile(r"""^(?P<command>(?:[^'"#]|'[^']*'|"[^"]*")*)(?:#(?P<comment>.*))?$""")
LINK = re.compile(r"\]\((?!https?:|#)(?P<target>[^)#\s]+)(?:#[^)]*)?\)")


def blocks(page: pathlib.Path) -> list[tuple[int, str, str, str | None]]:
    """(line, language, body, reason it does not run) of every fenced block of `page`."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start("body")) + 1, m["lang"], m["body"], m["reason"])
            for m in BLOCK.finditer(text)]


def commands(body: str) -> list[tuple[list[str], str]]:
    """The command lines of a sh block (continuations joined) with their trailing comments."""
    lines = (COMMENT.match(line) for line in body.replace("\\\n", " ").splitlines())
    return [(shlex.split(m["command"]), m["comment"] or "") for m in lines if m["command"].strip()]


def test_the_front_page_is_at_most_200_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_every_block_names_its_language_and_a_block_left_unrun_says_why(page):
    for line, lang, body, reason in blocks(page):
        assert lang in LANGUAGES, f"{page.name}:{line}: a block in {lang or 'no language'}"
        assert reason is None or (lang in RUNNABLE and reason.strip()), f"{page.name}:{line}"
        if lang == "sh" and reason is None:
            for args, _ in commands(body):
                assert args[0] == "alloca-bench", (
                    f"{page.name}:{line}: only alloca-bench commands run; mark the block "
                    f"<!-- not run: REASON -->")


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_relative_links_point_at_files_that_exist(page):
    for match in LINK.finditer(page.read_text(encoding="utf-8")):
        assert (page.parent / match["target"]).exists(), f"{page.name}: {match['target']}"


def _kallsyms_readable() -> bool:
    from alloca_bench import kallsyms
    try:
        return kallsyms.load().addresses_visible
    except OSError:
        return False


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_the_code_of_a_page_runs(page, tmp_path, monkeypatch, capsys):
    """Its python blocks and alloca-bench commands, in order, as a reader would type them."""
    if page.name == "kallsyms.md" and not _kallsyms_readable():
        pytest.skip("needs a readable /proc/kallsyms with its addresses")
    pytest.importorskip("matplotlib").use("Agg")
    import matplotlib.pyplot as plt

    from alloca_bench.cli import main

    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for line, lang, body, reason in blocks(page):
        if reason is not None or lang not in RUNNABLE:
            continue
        if lang == "python":
            exec(compile(body, f"{page.name}:{line}", "exec"), namespace)
            continue
        for args, comment in commands(body):
            status = main(args[1:] + (["--no-progress"] if args[1:2] == ["run"] else []))
            allowed = {0, 1} if "exit 1" in comment else {0}
            assert status in allowed, (f"{page.name}:{line}: {shlex.join(args)} exited "
                                       f"{status}\n{capsys.readouterr()}")
    plt.close("all")


def test_ci_runs_the_readmes_test_command():
    """.ci/run ends with the command the README gives for running the tests, exactly."""
    setup = next(body for _, lang, body, _ in blocks(README) if lang == "sh")
    test_command = next(" ".join(args) for args, comment in commands(setup)
                        if "run the tests" in comment)
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert ci[-1] == test_command
    assert any("mkdocs build --strict" in line for line in ci)


def test_the_site_builds_strict_with_every_public_name_in_the_api_reference(tmp_path):
    """Every name of __all__ has an entry, and so has the type of what ab.threads(),
    ab.fleet() and ab.kernel() return."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    import alloca_bench

    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(site)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert build.returncode == 0, build.stderr[-3000:]
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in alloca_bench.__all__:
        assert f'id="alloca_bench.{name}' in api, name
    for returned in ("results.ThreadsResult", "analysis.fleet.Fleet", "measuring.Kernel"):
        assert f'id="alloca_bench.{returned}"' in api, returned
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert all(page.name in nav for page in PAGES)


def test_the_stack_limit_line_the_manual_quotes_is_the_one_run_prints(capsys):
    """one-machine.md quotes what `run` prints for a size past the stack: each part of the
    quote (between its '...') is on that line, in order."""
    from alloca_bench.cli import main

    page = " ".join((ROOT / "docs" / "one-machine.md").read_text().split())
    quoted = re.search(r"A size past the stack fails only its cells: the run prints what it "
                       r"measured, then `([^`]*)` on stderr, and exits 1", page)
    assert quoted, "the manual no longer quotes the line"
    assert main(["run", "--sizes", "64M", "--strategies", "alloca", "--repeats", "1",
                 "--iterations", "2", "--processes", "1", "--no-progress", "-q"]) == 1
    line = next(text for text in capsys.readouterr().err.splitlines() if "64 MiB" in text
                or "67108864" in text)
    at = 0
    for part in quoted.group(1).split("..."):
        at = line.find(part.strip(), at)
        assert at >= 0, (part, line)


def test_the_manuals_index_lists_every_command():
    from alloca_bench.cli import COMMANDS

    index = (ROOT / "docs" / "index.md").read_text()
    listed = re.findall(r"^alloca-bench ([a-z]+)  ", index, re.M)  # the table of commands
    assert sorted(listed) == sorted(COMMANDS)
