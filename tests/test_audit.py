"""Audits: periodic full runs that prove the incremental selection missed nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import TODO_TESTS, doit_tests, git_init, run_doit, write_files

from doit_scout.project_state import read_state_json

HIDDEN = {
    # The test reads a file outside the project, named by an undeclared environment variable:
    # neither the graph nor the observation of what it reads can make it an input.
    "tests/test_limits.py": """
        import os
        from pathlib import Path

        def test_limit():
            assert Path(os.environ["LIMITS_FILE"]).read_text() == "max=3\\n"
    """,
}


@pytest.fixture
def limits(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "outside" / "limits.cfg"
    path.parent.mkdir()
    path.write_text("max=3\n")
    monkeypatch.setenv("LIMITS_FILE", str(path))
    return path


def configure(root: Path, table: str) -> None:
    with open(root / "pyproject.toml", "a") as f:
        f.write(f"\n[tool.scout.test]\n{table}\n")


def test_audit_catches_a_failure_the_selection_would_skip(todo_app: Path, limits: Path):
    write_files(todo_app, HIDDEN)
    git_init(todo_app)
    doit_tests(todo_app)
    limits.write_text("max=4\n")
    (todo_app / "README.md").write_text("# edited\n")
    assert doit_tests(todo_app)[1]["selected"] == []  # the miss the audit exists for
    result = run_doit(todo_app, "test", "--audit")
    assert result.returncode == 1
    assert "SELECTION MISS: tests/test_limits.py fails (tests/test_limits.py::test_limit)" in result.stdout
    assert "README.md" in result.stdout and "declare" in result.stdout
    last = json.loads((todo_app / ".scout" / "last-run.json").read_text())["tests"]
    assert last["audit"] and last["selection_misses"] == {"tests/test_limits.py": ["tests/test_limits.py::test_limit"]}
    log = read_state_json(todo_app / ".scout" / "audit.json")
    assert [m["path"] for m in log["misses"]] == ["tests/test_limits.py"]
    assert log["misses"][0]["changed_since_last_run"] == ["README.md"]


def test_misses_only_warn_when_configured(todo_app: Path, limits: Path):
    write_files(todo_app, HIDDEN)
    configure(todo_app, 'audit_misses = "warn"')
    git_init(todo_app)
    doit_tests(todo_app)
    limits.write_text("max=4\n")
    result = run_doit(todo_app, "test", "--audit")
    assert result.returncode == 1  # the test itself failed
    assert "SELECTION MISS" in result.stdout
    limits.write_text("max=3\n")
    clean = run_doit(todo_app, "test", "--audit")
    assert clean.returncode == 0 and "SELECTION MISS" not in clean.stdout


def test_every_nth_run_is_an_audit_and_explain_says_when(todo_app: Path):
    configure(todo_app, "full_every = 3")
    assert doit_tests(todo_app)[1]["selected"] == TODO_TESTS  # run 1: first run
    explained = json.loads(run_doit(todo_app, "explain", "--json").stdout)
    assert explained["next_audit"]["due"] is False and explained["next_audit"]["runs_until"] == 1
    assert doit_tests(todo_app)[1]["selected"] == []  # run 2
    explained = json.loads(run_doit(todo_app, "explain", "--json").stdout)
    assert explained["next_audit"]["due"] is True
    audit = doit_tests(todo_app)[1]  # run 3: an audit
    assert audit["audit"] and audit["selected"] == TODO_TESTS and audit["selection_misses"] == {}
    assert doit_tests(todo_app)[1]["selected"] == []  # counting starts again


def test_audit_after_an_age(todo_app: Path):
    configure(todo_app, 'full_after = "24h"')
    first = doit_tests(todo_app)[1]
    assert first["audit"]  # no audit yet: due at once
    assert not doit_tests(todo_app)[1]["audit"]
