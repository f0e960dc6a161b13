"""Runs that cover part of the tests (a shard, `-k`, pytest's own `--lf`) never make the records of
what they left out worse, and never stand in for a run of it: real doit, real pytest, real git.

Which tests ran is what the project itself logs (test_false_greens' logging conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import test_false_greens
from helpers import git, run_doit
from test_false_greens import Project

new_project = test_false_greens.new_project  # the fixture: a real project with a logging conftest.py

PASSING = {f"tests/test_{name}.py": f"def test_{name}_x():\n    pass\n\n\ndef test_{name}_y():\n    pass\n"
           for name in "abcd"}
EVERY_FILE = set(PASSING)


@pytest.mark.parametrize("order", [(1, 2), (2, 1)], ids=["1-then-2", "2-then-1"])
def test_a_forget_holds_for_every_shard_until_each_has_run_its_part(new_project, order: tuple[int, int]):
    p = new_project({"pkg/__init__.py": "", **PASSING})
    assert p.doit().files == EVERY_FILE
    assert run_doit(p.root, "forget", "test").returncode == 0
    first, second = (p.doit("test", "--shard", f"{k}/2") for k in order)
    assert first.green and second.green, first.output + second.output
    assert first.files and second.files, f"a shard ran nothing after the forget:\n{first.output}\n{second.output}"
    assert first.files | second.files == EVERY_FILE and not first.files & second.files
    after = p.doit()
    assert after.green and after.ran == [], after.output  # every file ran since the forget: it is used up


def test_a_forget_one_shard_used_leaves_the_rest_forgotten(new_project):
    p = new_project({"pkg/__init__.py": "", **PASSING})
    assert p.doit().files == EVERY_FILE
    assert run_doit(p.root, "forget", "test").returncode == 0
    shard = p.doit("test", "--shard", "1/2")
    rest = p.doit()  # a plain run: what shard 1 did not run since the forget runs now
    assert rest.green and rest.files == EVERY_FILE - shard.files, rest.output
    assert p.doit().ran == []


def test_a_run_narrowed_by_k_leaves_the_records_of_what_it_did_not_run_green(new_project):
    p = new_project({"pkg/__init__.py": "", **PASSING})
    assert p.doit().files == EVERY_FILE
    narrowed = p.doit("test", "--all", "--", "-k", "a_x or b")
    assert narrowed.green and sorted(narrowed.ran) == [
        "tests/test_a.py::test_a_x", "tests/test_b.py::test_b_x", "tests/test_b.py::test_b_y"], narrowed.output
    after = p.doit()
    assert after.green and after.ran == [], after.output


LF_INI = 'addopts = "--lf"'


def _lf_project(new_project, workers: int = 0) -> Project:
    """--lf in the project's addopts; test_a fails and pytest's cache knows it; then test_b breaks
    where pytest's cache does not know it. `workers`: xdist workers (0: one process)."""
    p = new_project({"tests/test_a.py": "def test_a():\n    assert False\n",
                     "tests/test_b.py": "def test_b():\n    assert True\n",
                     "tests/test_c.py": "def test_c():\n    assert True\n",
                     ".gitignore": ".pytest_cache/\n"}, pytest_ini=LF_INI,
                    extra_toml=f"[tool.scout.test]\nworkers = {workers}\n")
    first = p.doit()
    assert not first.green and first.files == {"tests/test_a.py", "tests/test_b.py", "tests/test_c.py"}
    p.edit("tests/test_b.py", "assert True", "assert False")
    broken = p.doit()
    assert not broken.green, broken.output
    return p


@pytest.mark.parametrize("workers", [0, 2], ids=["one-process", "xdist"])
def test_a_file_lf_in_the_addopts_never_collected_is_never_green(new_project, workers: int):
    p = _lf_project(new_project, workers)
    p.edit("tests/test_a.py", "assert False", "assert 1")  # fix one of the two failing files
    fixed = p.doit()
    assert not fixed.green, f"test_b fails and never ran, and doit is green:\n{fixed.output}"
    assert "tests/test_b.py" in fixed.output
    again = p.doit()  # pytest's cache no longer narrows: test_b runs, and fails
    assert not again.green and "tests/test_b.py::test_b" in again.ran, again.output
    oracle = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=p.root, capture_output=True, text=True, timeout=120)
    assert oracle.returncode != 0, oracle.stdout


def test_a_fresh_clone_sharing_the_cache_runs_what_lf_kept_from_running(new_project, tmp_path: Path):
    p = _lf_project(new_project)
    p.edit("tests/test_a.py", "assert False", "assert 1")
    p.doit()
    git(p.root, "add", "-A")
    git(p.root, "commit", "-qm", "fix a, break b")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(p.root), str(clone)], check=True)
    # The shared cache: DOIT_SCOUT_CACHE, set for this test, points both clones at one folder.
    result = run_doit(clone)
    assert result.returncode != 0, f"a fresh clone is green while test_b fails:\n{result.stdout}"
    assert "tests/test_b.py::test_b" in result.stdout
