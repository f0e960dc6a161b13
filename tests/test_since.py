"""`--since REV` in real git repositories."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import TODO_TESTS, doit_tests, git, git_init, run_doit, write_files


def since(root: Path, rev: str = "main") -> dict[str, dict]:
    result = run_doit(root, "explain", "--json", "--since", rev)
    assert result.returncode == 0, result.stdout + result.stderr
    return {t["path"]: t for t in json.loads(result.stdout)["tests"]}


def running(explained: dict[str, dict]) -> list[str]:
    return sorted(p for p, t in explained.items() if t["decision"] == "run")


def branch(root: Path) -> None:
    git(root, "checkout", "-q", "-b", "feature")


def test_leaf_change_committed_and_uncommitted(todo_app: Path):
    branch(todo_app)
    path = todo_app / "todo" / "cli.py"
    path.write_text(path.read_text() + "\n_COMMITTED = len('import time')\n")
    git(todo_app, "commit", "-qam", "leaf")
    assert running(since(todo_app)) == ["tests/test_cli.py"]
    store = todo_app / "todo" / "store.py"
    store.write_text(store.read_text() + "\n_NOT_COMMITTED_YET = len('import time')\n")
    assert running(since(todo_app)) == TODO_TESTS  # store.py is imported by todo/__init__.py


def test_a_body_change_since_a_revision_runs_only_tests_that_reach_it_by_name(todo_app: Path):
    branch(todo_app)
    path = todo_app / "todo" / "filters.py"
    path.write_text(path.read_text().replace("if tag in t.tags]", "if tag in t.tags and t]"))
    git(todo_app, "commit", "-qam", "body of filters.tagged")
    explained = since(todo_app)
    # tests/test_reports.py imports todo.filters too, but reaches only other functions of it
    assert "tests/test_filters.py" in running(explained) and "tests/test_reports.py" not in running(explained)
    git(todo_app, "rm", "-q", "todo/textutil.py")
    git(todo_app, "commit", "-qm", "remove textutil")
    assert "tests/test_reports.py" in running(since(todo_app))  # reports.summary used textutil.plural


def test_docs_only_diff_runs_nothing_and_config_change_runs_everything(todo_app: Path):
    branch(todo_app)
    (todo_app / "README.md").write_text("# changed\n")
    git(todo_app, "commit", "-qam", "docs")
    assert running(since(todo_app)) == []
    with open(todo_app / "pyproject.toml", "a") as f:
        f.write("\n# a comment\n")
    explained = since(todo_app)
    assert running(explained) == TODO_TESTS
    assert explained["tests/test_cli.py"]["reasons"][0] == "a config file changed since main"


def test_deleted_and_renamed_modules_run_their_old_importers_tests(todo_app: Path):
    branch(todo_app)
    git(todo_app, "mv", "todo/reports.py", "todo/summaries.py")
    git(todo_app, "commit", "-qm", "rename")
    assert running(since(todo_app)) == ["tests/test_cli.py", "tests/test_reports.py"]


def test_moved_test_file_runs(todo_app: Path):
    branch(todo_app)
    write_files(todo_app, {"tests/unit/.keep": ""})
    git(todo_app, "mv", "tests/test_store.py", "tests/unit/test_store.py")
    git(todo_app, "commit", "-qam", "move")
    assert "tests/unit/test_store.py" in running(since(todo_app))


def test_green_records_still_skip_affected_tests(todo_app: Path):
    branch(todo_app)
    path = todo_app / "todo" / "cli.py"
    path.write_text(path.read_text() + "\n_CHANGED = len('import time')\n")
    git(todo_app, "commit", "-qam", "leaf")
    assert doit_tests(todo_app, "test", "--since", "main")[1]["selected"] == ["tests/test_cli.py"]
    assert doit_tests(todo_app, "test", "--since", "main")[1]["selected"] == []


def test_bad_revisions_are_named(todo_app: Path, tmp_path: Path):
    unknown = run_doit(todo_app, "explain", "--since", "no-such-branch")
    assert unknown.returncode == 3 and "git knows no revision 'no-such-branch'" in unknown.stderr
    failed = run_doit(todo_app, "test", "--since", "no-such-branch")
    assert failed.returncode == 1 and "git knows no revision" in failed.stdout
    not_git = tmp_path / "plain"
    write_files(not_git, {"dodo.py": "from doit_scout.dodo import *\n", "tests/test_x.py": "def test_x():\n    pass\n"})
    outside = run_doit(not_git, "explain", "--since", "main")
    assert outside.returncode == 3 and "is not inside a git repository" in outside.stderr


def test_shallow_clone_without_the_merge_base_says_to_fetch_more(todo_app: Path, tmp_path: Path):
    branch(todo_app)
    for i in range(3):
        path = todo_app / "todo" / "cli.py"
        path.write_text(path.read_text() + f"\n# {i}\n")
        git(todo_app, "commit", "-qam", f"c{i}")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", f"file://{todo_app}", str(shallow))
    git(shallow, "checkout", "-q", "feature")
    result = run_doit(shallow, "explain", "--since", "origin/main")
    assert result.returncode == 3 and "git fetch --unshallow" in result.stderr


def test_revision_with_another_layout(todo_app: Path):
    branch(todo_app)
    (todo_app / "src").mkdir()
    git(todo_app, "mv", "todo", "src/todo")
    with open(todo_app / "pyproject.toml", "a") as f:
        f.write('\n[tool.scout]\nsource_roots = ["src", ""]\n')
    path = todo_app / "pyproject.toml"
    path.write_text(path.read_text().replace('pythonpath = ["."]', 'pythonpath = ["src"]'))
    git(todo_app, "commit", "-qam", "src layout")
    explained = since(todo_app)
    assert running(explained) == TODO_TESTS
    assert doit_tests(todo_app, "test", "--since", "main")[1]["passed"] == 10


def test_since_says_what_changed_since_the_revision_and_what_that_selects(tmp_path: Path):
    root = tmp_path / "proj"
    write_files(root, {
        "pyproject.toml": "[project]\nname = 'proj'\n", "dodo.py": "from doit_scout.dodo import *\n",
        "pkg/__init__.py": "", "pkg/a.py": "def fa():\n    return 1\n", "pkg/b.py": "def fb():\n    return 2\n",
        "tests/test_a.py": "from pkg.a import fa\n\ndef test_a():\n    assert fa() == 1\n",
        "tests/test_b.py": "from pkg.b import fb\n\ndef test_b():\n    assert fb() == 2\n",
    })
    git_init(root)
    assert run_doit(root).returncode == 0
    branch(root)
    write_files(root, {"pkg/a.py": "def fa():\n    return 0 + 1\n"})
    git(root, "commit", "-qam", "edit fa")
    expected = "since      main (merge base {}): 1 file changed (pkg/a.py) · 1 test file affected: {} · 1 not affected"
    base = git(root, "merge-base", "main", "HEAD").strip()[:10]
    first = run_doit(root, "test", "--since", "main")
    assert first.returncode == 0, first.stdout + first.stderr
    assert expected.format(base, "1 to run, 0 green in their records") in first.stdout.splitlines(), first.stdout
    again = run_doit(root, "test", "--since", "main")  # nothing runs: it still says what changed and why
    assert again.returncode == 0, again.stdout + again.stderr
    assert expected.format(base, "0 to run, 1 green in their records") in again.stdout.splitlines(), again.stdout
