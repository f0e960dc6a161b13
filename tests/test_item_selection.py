"""Test-item records (doit_scout.item_records): a change re-runs the items whose own recorded
inputs changed, and a file none of whose items is stale is not collected. Real doit runs in real
projects, real pytest (with xdist where asked); each outcome is checked against plain pytest's.
A file's first run is not traced, so each project runs once, then again, traced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import doit_tests, git_init, run_doit, write_files

from doit_scout.project_state import read_state_json

# Each test runs its own function; the one that runs f5 comes last, so no other test ran after
# it in its process (what ran before a test counts for it: doit_scout.executed).
OPS = {
    "pkg/__init__.py": "",
    "pkg/ops.py": "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(1, 6)),
    "tests/test_ops.py": "from pkg import ops\n\n" + "".join(
        f"\ndef test_{i}():\n    assert ops.f{i}() == {i}\n\n" for i in range(1, 6)),
    "tests/test_other.py": "def test_other():\n    assert True\n",
}


def traced_project(root: Path, workers: int = 1, files: dict[str, str] | None = None) -> Path:
    write_files(root, {
        "dodo.py": "from doit_scout.dodo import *\n",
        "pyproject.toml": '[project]\nname = "p"\nversion = "0"\n\n[tool.pytest.ini_options]\n'
                          f'testpaths = ["tests"]\naddopts = "-p no:randomly"\n\n[tool.scout.test]\nworkers = {workers}\n',
        "tests/conftest.py": "",
        **OPS,
        **(files or {}),
    })
    git_init(root)
    doit_tests(root)
    edit(root, "tests/conftest.py", "", "EDITED = True\n")  # code every test file has as an input
    assert sorted(doit_tests(root)[1]["selected"]) == ["tests/test_ops.py", "tests/test_other.py"]
    return root


def edit(root: Path, path: str, old: str, new: str) -> None:
    text = (root / path).read_text()
    assert old in text
    (root / path).write_text(text.replace(old, new, 1))


def plain_pytest(root: Path) -> int:
    """Plain pytest's exit status over the whole suite: what doit's verdict must agree with."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root,
                          capture_output=True, text=True).returncode


def ran(root: Path, *args: str, ok: bool = True) -> tuple[list[str], dict]:
    """The tests the run ran (node ids), and its last-run record."""
    tests = doit_tests(root, *args, ok=ok)[1]
    assert (plain_pytest(root) == 0) is ok  # never a false green
    return sorted(tests["tests_ran"]), tests


def explained(root: Path) -> dict[str, dict]:
    return {t["path"]: t for t in json.loads(run_doit(root, "explain", "--json").stdout)["tests"]}


def test_what_every_item_ran_is_kept_once_and_an_item_without_it_has_no_record(tmp_path: Path):
    import os
    import sqlite3

    root = traced_project(tmp_path, files={"tests/conftest.py": "import pytest\n\nfrom pkg import ops\n\n\n"
                                                              "@pytest.fixture(autouse=True)\ndef base():\n"
                                                              "    return ops.f1()\n"})
    db = sqlite3.connect(Path(os.environ["DOIT_SCOUT_CACHE"]) / "cache.sqlite")
    shared = db.execute("SELECT value FROM entries WHERE kind = 'item-shared'").fetchall()
    own = [json.loads(v) for (v,) in db.execute("SELECT value FROM entries WHERE kind = 'item-bodies'").fetchall()]
    test_5 = next(entry for entry in own if entry["node"] == "tests/test_ops.py::test_5")
    assert shared and test_5["shared"] and list(test_5["bodies"]) == ["pkg/ops.py::f5", "tests/test_ops.py::test_5"]
    db.execute("DELETE FROM entries WHERE kind = 'item-shared'")  # evicted
    db.commit()
    edit(root, "pkg/ops.py", "return 5", "return 0 + 5")
    assert ran(root)[0] == [f"tests/test_ops.py::test_{i}" for i in range(1, 6)]  # none has a record: all run


@pytest.mark.parametrize("workers", [1, 2])
def test_a_body_edit_reruns_only_the_test_that_ran_it(tmp_path: Path, workers: int):
    root = traced_project(tmp_path, workers)
    edit(root, "pkg/ops.py", "return 5", "return 0 + 5")
    decision = explained(root)["tests/test_ops.py"]
    assert decision["decision"] == "run" and decision["nodes"] == ["tests/test_ops.py::test_5"]
    assert "pkg/ops.py::f5 changed" in decision["reasons"][0]
    assert explained(root)["tests/test_other.py"]["decision"] == "skip"
    tests, last = ran(root)
    assert tests == ["tests/test_ops.py::test_5"]
    assert last["tests_total"] == 6 and last["tests_selected"] == 1
    assert ran(root)[0] == []  # settled
    edit(root, "pkg/ops.py", "return 0 + 5", "return 5")
    assert ran(root)[0] == []  # undone: its earlier record


def test_a_failing_item_reruns_alone_and_the_file_settles_after_the_fix(tmp_path: Path):
    root = traced_project(tmp_path)
    edit(root, "pkg/ops.py", "return 5", "return 6")
    assert ran(root, ok=False)[0] == ["tests/test_ops.py::test_5"]
    assert ran(root, ok=False)[0] == ["tests/test_ops.py::test_5"]  # still red: it runs again, alone
    edit(root, "pkg/ops.py", "return 6", "return 1 + 4")  # a fix that is no undo
    assert ran(root)[0] == ["tests/test_ops.py::test_5"]
    assert ran(root)[0] == []
    edit(root, "pkg/ops.py", "return 1 + 4", "return 6")  # the red content again: red again
    assert ran(root, ok=False)[0] == ["tests/test_ops.py::test_5"]


def test_an_edit_of_the_test_file_runs_its_tests(tmp_path: Path):
    root = traced_project(tmp_path)
    edit(root, "tests/test_ops.py", "assert ops.f5() == 5", "assert ops.f5() == 6")
    tests, _ = ran(root, ok=False)
    assert tests == [f"tests/test_ops.py::test_{i}" for i in range(1, 6)]


def test_a_new_test_in_a_file_runs_with_its_file(tmp_path: Path):
    """Adding a test edits its file, whose frame is every item's input: the file runs whole."""
    root = traced_project(tmp_path)
    (root / "tests/test_ops.py").write_text((root / "tests/test_ops.py").read_text()
                                            + "\ndef test_new():\n    assert ops.f1() == 2\n")
    tests, _ = ran(root, ok=False)
    assert "tests/test_ops.py::test_new" in tests and "tests/test_other.py::test_other" not in tests


def test_deselected_items_keep_their_records(tmp_path: Path):
    root = traced_project(tmp_path)
    edit(root, "pkg/ops.py", "return 5", "return 0 + 5")
    edit(root, "pkg/ops.py", "return 4", "return 0 + 4")
    tests, _ = ran(root, "test", "--", "-k", "test_5")
    assert tests == ["tests/test_ops.py::test_5"]
    assert ran(root)[0] == ["tests/test_ops.py::test_4"]
    assert ran(root)[0] == []


def test_time_saved_counts_untraced_durations_only(tmp_path: Path, monkeypatch):
    """A traced run's durations overstate what plain pytest costs where the probe is costly (the
    Python tracer; the C frame evaluator's do not): the untraced ones are kept, which "saved" is
    computed from."""
    monkeypatch.setenv("DOIT_SCOUT_TRACER", "python")
    root = tmp_path
    write_files(root, {"dodo.py": "from doit_scout.dodo import *\n", "pyproject.toml": "[tool.pytest.ini_options]\n",
                       "tests/conftest.py": "", **OPS})
    git_init(root)
    doit_tests(root)
    untraced = read_state_json(root / ".scout" / "durations.json")
    edit(root, "tests/conftest.py", "", "EDITED = True\n")  # code every test file has as an input
    assert ran(root)[1]["tests_total"] == 6
    traced = read_state_json(root / ".scout" / "durations.json")
    assert traced == untraced and all(timing[3] == 0 for timing in traced.values()), (untraced, traced)
