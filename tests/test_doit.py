"""Real doit runs: the one-line dodo.py, the scout task and its summary."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO_ROOT, git, run_doit

from doit_scout.project_state import atomic_write_checked, read_checked


def summary(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def scout_report(root: Path) -> dict:
    """What .scout/last-run.json says of the last scout (the details `doit scout -v 2` prints)."""
    return json.loads((root / ".scout" / "last-run.json").read_text())["scout"]


def test_doit_in_the_example_scouts_and_then_sees_nothing_changed(todo_app: Path):
    first = summary(run_doit(todo_app, "scout"))
    assert re.search(r"^scout      23 files · 18 modules · first scout: everything is new · \d+\.\d\d s$", first, re.M)
    report = scout_report(todo_app)
    assert report["categories"] == {"source": 12, "test": 5, "conftest": 1, "config": 2, "docs": 1, "data": 1,
                                    "other": 1}
    assert report["inventory"] == "git" and report["parsed"] == 18 and report["parse_cache_hits"] == 0
    second = summary(run_doit(todo_app, "scout"))
    assert "23 files · 18 modules · nothing since the last scout" in second and scout_report(todo_app)["parsed"] == 0


def test_doit_reports_changes_and_broken_files(todo_app: Path):
    summary(run_doit(todo_app, "scout"))
    (todo_app / "todo" / "dates.py").write_text("def parse_due(:\n")
    (todo_app / "todo" / "notes.txt").write_text("data inside the package\n")
    out = summary(run_doit(todo_app, "scout"))
    assert "1 added · 1 modified · 0 deleted (todo/dates.py, todo/notes.txt)" in out
    assert "todo/dates.py: syntax error at line 1" in out
    assert scout_report(todo_app)["categories"]["data"] == 2


def test_doit_scout_in_this_repository(tmp_path: Path):
    clone = tmp_path / "clone"
    shutil.copytree(REPO_ROOT, clone, ignore=shutil.ignore_patterns(".scout", "__pycache__", ".hypothesis",
                                                                    ".pytest_cache", "*.egg-info"))
    out = summary(run_doit(clone, "scout"))
    tracked = git(clone, "ls-files", "--cached", "--others", "--exclude-standard").split()
    # dodo.py and setup.py at the root are config files, not modules.
    modules = [p for p in tracked if p.endswith(".py") and not p.startswith("examples/")
               and p not in ("dodo.py", "setup.py")]
    tests = [p for p in modules if p.startswith("tests/test_")]
    assert f"{len(tracked)} files · {len(modules)} modules ·" in out
    assert scout_report(clone)["inventory"] == "git" and scout_report(clone)["categories"]["test"] == len(tests)
    for problem in ("syntax error", "cannot read", "rebuilt from scratch", "same module name"):
        assert problem not in out, out


def test_two_doit_processes_at_once_both_finish_and_leave_a_sound_state(todo_app: Path):
    runs = [subprocess.Popen([sys.executable, "-m", "doit", "scout"], cwd=todo_app, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    after = summary(run_doit(todo_app, "scout"))
    assert "18 modules" in after and "rebuilt from scratch" not in after and "nothing since the last scout" in after


def test_scout_verify_compares_with_a_scout_from_scratch(todo_app: Path):
    assert "equals a scout from scratch (23 files)" in summary(run_doit(todo_app, "scout", "--verify"))
    state_file = todo_app / ".scout" / "state.json"
    header, graph_text, *lines = read_checked(state_file) or []
    state = json.loads(header)
    assert "tests.conftest" in state["fingerprints"]
    state["fingerprints"]["tests.conftest"] = "0" * 32  # a state gone wrong, which the stat cache trusts
    # todo.filters's line (node, imports, names) without its imports
    lines = [f"todo.filters\t[]\t{line.split(chr(9))[2]}" if line.startswith("todo.filters\t") else line
             for line in lines]
    atomic_write_checked(state_file, [json.dumps(state), graph_text, *lines])  # a bug of ours, not damage
    failed = run_doit(todo_app, "scout", "--verify")
    assert failed.returncode == 1
    assert "differs from a scout from scratch for: tests/conftest.py, todo/filters.py." in failed.stdout
