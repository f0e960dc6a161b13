"""Audits: periodic full runs that prove the incremental selection missed nothing."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import TODO_TESTS, doit_tests, git_init, run_doit, write_files

HIDDEN = {
    # The test reads a file at the root that no rule makes its input: the graph cannot see it.
    "limits.cfg": "max=3\n",
    "tests/test_limits.py": """
        from pathlib import Path

        def test_limit():
            assert Path(__file__).parent.parent.joinpath("limits.cfg").read_text() == "max=3\\n"
    """,
}


def configure(root: Path, table: str) -> None:
    with open(root / "pyproject.toml", "a") as f:
        f.write(f"\n[tool.scout.test]\n{table}\n")


def test_audit_catches_a_failure_the_selection_would_skip(todo_app: Path):
    write_files(todo_app, HIDDEN)
    git_init(todo_app)
    doit_tests(todo_app)
    (todo_app / "limits.cfg").write_text("max=4\n")
    assert doit_tests(todo_app)[1]["selected"] == []  # the miss the audit exists for
    result = run_doit(todo_app, "test", "--audit")
    assert result.returncode == 1
    assert "SELECTION MISS: tests/test_limits.py fails (tests/test_limits.py::test_limit)" in result.stdout
    assert "limits.cfg" in result.stdout
    last = json.loads((todo_app / ".scout" / "last-run.json").read_text())["tests"]
    assert last["audit"] and last["selection_misses"] == {"tests/test_limits.py": ["tests/test_limits.py::test_limit"]}
    log = json.loads((todo_app / ".scout" / "audit.json").read_text())
    assert [m["path"] for m in log["misses"]] == ["tests/test_limits.py"]
    assert log["misses"][0]["changed_since_last_run"] == ["limits.cfg"]


def test_misses_only_warn_when_configured(todo_app: Path):
    write_files(todo_app, HIDDEN)
    configure(todo_app, 'audit_misses = "warn"')
    git_init(todo_app)
    doit_tests(todo_app)
    (todo_app / "limits.cfg").write_text("max=4\n")
    result = run_doit(todo_app, "test", "--audit")
    assert result.returncode == 1  # the test itself failed
    assert "SELECTION MISS" in result.stdout
    (todo_app / "limits.cfg").write_text("max=3\n")
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
