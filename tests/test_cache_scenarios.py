"""The shared cache across clones, branches and projects: real git repositories, real doit runs."""

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import EXAMPLES, TODO_TESTS, doit_tests, git, git_init, run_doit

ALL_TESTS = TODO_TESTS
doit = doit_tests


@pytest.fixture
def clones(todo_app: Path, tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    for clone in (first, second):
        subprocess.run(["git", "clone", "-q", str(todo_app), str(clone)], check=True)
    return first, second


def test_second_clone_runs_no_test_and_parses_no_file(clones):
    first, second = clones
    assert doit(first)[1]["selected"] == ALL_TESTS
    tests = doit(second)[1]
    assert tests["selected"] == [] and tests["skipped"] == ALL_TESTS
    scouted = json.loads((second / ".scout" / "last-run.json").read_text())["scout"]
    assert scouted["from_snapshot"] and scouted["parsed"] == 0


@pytest.mark.after_first_run
def test_branch_switch_back_runs_nothing_that_passed_there(todo_app: Path):
    git(todo_app, "checkout", "-q", "-b", "feature")
    path = todo_app / "todo" / "cli.py"
    path.write_text(path.read_text().replace('"usage: todo FILE.json"', '"usage: todo TASKS.json"'))
    git(todo_app, "commit", "-qam", "feature")
    assert doit(todo_app)[1]["selected"] == ["tests/test_cli.py"]
    git(todo_app, "checkout", "-q", "main")
    assert doit(todo_app)[1]["selected"] == []
    git(todo_app, "checkout", "-q", "feature")
    assert doit(todo_app)[1]["selected"] == []


@pytest.mark.after_first_run
def test_content_that_failed_keeps_failing_after_a_fix_elsewhere(todo_app: Path):
    test = todo_app / "tests" / "test_store.py"
    test.write_text(test.read_text().replace("== [1, 2, 3]", "== [3, 2, 1]"))
    git(todo_app, "commit", "-qam", "broken")
    assert doit(todo_app, ok=False)[1]["failed"] == ["tests/test_store.py::test_ids_count_up"]
    test.write_text(test.read_text().replace("== [3, 2, 1]", "== [1, 2, 3]  # fixed"))
    git(todo_app, "commit", "-qam", "fixed")
    assert doit(todo_app)[1]["selected"] == ["tests/test_store.py"]
    git(todo_app, "checkout", "-q", "HEAD~1")  # the broken content again: no green record for it
    assert doit(todo_app, ok=False)[1]["failed"] == ["tests/test_store.py::test_ids_count_up"]


def test_forget_in_one_clone_leaves_the_other_alone(clones):
    first, second = clones
    doit(first)
    assert run_doit(first, "forget").returncode == 0
    assert doit(second)[1]["selected"] == []
    tests = doit(first)[1]
    scouted = json.loads((first / ".scout" / "last-run.json").read_text())["scout"]
    assert tests["selected"] == ALL_TESTS and scouted["parsed"] == 18  # ignored every cache
    assert doit(second)[1]["selected"] == []


def test_two_projects_at_once_share_one_cache(tmp_path: Path, shared_cache_folder: Path):
    projects = []
    for name in ("todo_app", "weather_app"):
        root = tmp_path / name
        shutil.copytree(EXAMPLES / name, root, ignore=shutil.ignore_patterns(".scout", "__pycache__"))
        git_init(root)
        projects.append(root)
    runs = [subprocess.Popen([sys.executable, "-m", "doit"], cwd=root, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True) for root in projects]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    for root in projects:
        assert doit(root)[1]["selected"] == []
    with sqlite3.connect(shared_cache_folder / "cache.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_unusable_cache_location_still_runs_everything_with_one_warning(todo_app: Path, tmp_path: Path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("DOIT_SCOUT_CACHE", str(tmp_path / "not-a-folder" / "cache"))
    out, tests = doit(todo_app)
    assert tests["selected"] == ALL_TESTS and tests["passed"] == 10
    assert out.count("running without it") == 1
    assert doit(todo_app)[1]["selected"] == ALL_TESTS  # no records anywhere: never a false green


@pytest.mark.after_first_run
def test_cache_command_stats_gc_and_clear(todo_app: Path):
    stats = run_doit(todo_app, "cache", "stats")
    assert stats.returncode == 0
    rows = {line.split("│")[1].strip(): line for line in stats.stdout.splitlines() if line.startswith("│ ")}
    assert {"parse", "scout", "test"} <= set(rows)
    refused = run_doit(todo_app, "cache", "clear")  # no terminal to confirm at
    assert refused.returncode == 1 and "pass --yes" in refused.stdout
    assert doit(todo_app)[1]["selected"] == []
    assert "evicted 0 entries" in run_doit(todo_app, "cache", "gc", "--max-age", "30d").stdout
    assert run_doit(todo_app, "cache", "gc").returncode == 3  # says what it needs
    cleared = run_doit(todo_app, "cache", "clear", "--yes")
    assert cleared.returncode == 0 and "cleared" in cleared.stdout
    assert doit(todo_app)[1]["selected"] == ALL_TESTS
