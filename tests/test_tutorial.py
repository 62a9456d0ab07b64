"""The README tutorial runs word for word on a fresh copy of the project, and prints what it shows.

Every ```console block of the README's Tutorial section is run in order (`$ review ...` lines, from
the project folder, with the installed `review`); each line shown under a command must appear in
its output, in that order; `...` in a line stands for text that changes (run ids, timings), a line
that is only `...` for lines left out. ```sh blocks are not run (papermill notebooks are tested in
test_notebooks.py).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
REVIEW = Path(sys.executable).parent / "review"


def tutorial_steps(readme: str) -> list[tuple[str, list[str]]]:
    """(command, expected lines) for every `$ ` line of the Tutorial section's console blocks."""
    section = readme.split("## Tutorial", 1)[1].split("\n## ", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
    return steps


def _norm(line: str) -> str:
    return " ".join(line.split())


def matches(expected: str, actual: str) -> bool:
    parts = [re.escape(_norm(p)) for p in expected.split("...")]
    return re.fullmatch(r"\s*(?:.*?)\s*".join(parts) if len(parts) > 1 else parts[0], _norm(actual)) is not None


def check_output(command: str, expected: list[str], output: str) -> None:
    lines = output.splitlines()
    at = 0
    for want in expected:
        if want.strip() == "...":
            continue
        for i in range(at, len(lines)):
            if matches(want, lines[i]):
                at = i + 1
                break
        else:
            raise AssertionError(f"`{command}`: expected line not printed (in order):\n  {want}\n"
                                 f"output was:\n{output}")


def test_steps_are_found_and_the_matcher_is_strict() -> None:
    steps = tutorial_steps((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(steps) >= 25 and all(c.startswith("review ") for c, _ in steps)
    assert all("--db outputs/tutorial.sqlite" in c for c, _ in steps if not c.startswith("review refresh"))
    assert matches("wrote 75 records to x (a; export ...)", "wrote 75 records to x (a; export 2026-1)")
    assert not matches("wrote 75 records to x (a; export ...)", "wrote 76 records to x (a; export 2026-1)")
    assert not matches("consistency: all checks pass", "consistency: 2 problems")
    with pytest.raises(AssertionError):
        check_output("x", ["a", "b"], "b\na\n")  # order matters


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh clone's view: the bundled files, no outputs."""
    proj = tmp_path / "proj"
    for name in ("sample", "queries", "notebooks", "imports"):
        shutil.copytree(ROOT / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "data" / "dedupe_store", proj / "tests" / "data" / "dedupe_store")
    shutil.copy(ROOT / "pyproject.toml", proj / "pyproject.toml")
    (proj / "outputs").mkdir()
    return proj


def test_readme_tutorial_runs_word_for_word(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NCBI_")}
    env["NCBI_EUTILS_URL"] = "http://127.0.0.1:9/"  # nothing may reach NCBI
    steps = tutorial_steps((ROOT / "README.md").read_text(encoding="utf-8"))
    for command, expected in steps:
        argv = shlex.split(command, comments=True)
        assert argv[0] == "review"
        done = subprocess.run([str(REVIEW), *argv[1:]], cwd=project, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"`{command}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        check_output(command, expected, done.stdout)
    assert (project / "outputs" / "tutorial.sqlite").is_file()
    assert (project / "outputs" / "included.ris").read_text(encoding="utf-8").count("ER  -") == 16
