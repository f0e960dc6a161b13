"""The test task end to end: real doit, real pytest (and pytest-xdist) in copies of todo_app."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TODO_TESTS, doit_tests, git_init, interrupt_doit, run_doit, write_files

from doit_scout.project_state import atomic_write_checked, read_checked

ALL_TESTS = TODO_TESTS


def doit(root: Path, *args: str, ok: bool = True) -> dict:
    """Run doit; return .scout/last-run.json's "tests"."""
    return doit_tests(root, *args, ok=ok)[1]


def edit(root: Path, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    assert old in text, (path, old)
    file.write_text(text.replace(old, new))


def explain(root: Path, *paths: str) -> dict[str, dict]:
    result = run_doit(root, "explain", "--json", *paths)
    assert result.returncode == 0, result.stderr
    return {t["path"]: t for t in json.loads(result.stdout)["tests"]}


def test_first_run_runs_everything_and_a_second_run_nothing(todo_app: Path):
    first = doit(todo_app)
    assert first["selected"] == ALL_TESTS and first["passed"] == 10 and first["failed"] == []
    second = run_doit(todo_app)
    assert "-- test" in second.stdout  # doit's own "up to date" mark
    last = json.loads((todo_app / ".scout" / "last-run.json").read_text())["tests"]
    assert last["selected"] == [] and last["skipped"] == ALL_TESTS and last["total_files"] == 5


@pytest.mark.after_first_run
def test_leaf_change_runs_only_its_dependents(todo_app: Path):
    edit(todo_app, "todo/reports.py", "open, ", "open,  ")
    reasons = explain(todo_app)["tests/test_cli.py"]["reasons"]
    # the chain of names from the test to the changed definition
    assert reasons == ["tests/test_cli.py <- todo.cli:main <- todo/reports.py:summary changed"]
    assert doit(todo_app, ok=False)["selected"] == ["tests/test_cli.py", "tests/test_reports.py"]


@pytest.mark.after_first_run
def test_a_body_change_runs_only_tests_that_reach_it_by_name(todo_app: Path):
    edit(todo_app, "todo/filters.py", "return [t for t in tasks if tag in t.tags]",
         "return [t for t in tasks if tag in t.tags and t]")
    explained = explain(todo_app)
    filters = explained["tests/test_filters.py"]
    # The chain of names, last: a traced first run's item records come first, and narrow the run to
    # the test that ran the changed body (doit_scout.item_records).
    assert filters["decision"] == "run"
    assert filters["reasons"][-1] == "tests/test_filters.py <- todo/filters.py:tagged changed"
    assert set(filters["nodes"]) <= {"tests/test_filters.py::test_tagged"}
    # test_reports imports todo.filters (through todo.reports) but reaches only other functions of it
    assert explained["tests/test_reports.py"]["decision"] == "skip"
    assert "todo/filters.py changed (tagged), but nothing its code can reach by name" in \
        explained["tests/test_reports.py"]["reasons"]
    assert "tests/test_reports.py" not in doit(todo_app)["selected"]


@pytest.mark.after_first_run
@pytest.mark.parametrize("memo", ['{"entries": {"x": 1}}', "{not json", '{"entries": []}'])
def test_remembered_fingerprints_that_are_damaged_are_computed_again(todo_app: Path, memo: str):
    atomic_write_checked(todo_app / ".scout" / "unit-fingerprints.json", [memo])  # its checksum holds
    assert doit(todo_app)["selected"] == []
    edit(todo_app, "todo/filters.py", "return [t for t in tasks if tag in t.tags]",
         "return [t for t in tasks if tag in t.tags and t]")
    assert doit(todo_app)["selected"] == ["tests/test_filters.py"]


@pytest.mark.after_first_run
def test_malformed_names_in_the_state_make_that_module_count_as_a_whole(todo_app: Path):
    state_file = todo_app / ".scout" / "state.json"
    lines = read_checked(state_file) or []
    # a module's line: its node, its imports, its names (tab-separated)
    damaged = [line[::-1].replace("\t", "  ]2 ,1[\t", 1)[::-1] if line.startswith("todo.filters\t") else line
               for line in lines]
    assert damaged != lines
    atomic_write_checked(state_file, damaged)  # damage that its checksum does not catch
    edit(todo_app, "todo/priorities.py", "class Priority", "class Priority  ")  # a no-op edit: rescout
    edit(todo_app, "todo/reports.py", "open, ", "open,  ")
    selected = doit(todo_app, ok=False)["selected"]
    # reports changed; filters, unchanged, now counts as a whole, so its tests run once more
    assert selected == ["tests/test_cli.py", "tests/test_filters.py", "tests/test_reports.py"]


@pytest.mark.after_first_run
def test_five_modules_changed(todo_app: Path):
    for module in ("cli", "reports", "filters", "dates", "serialization"):
        # import-time code (a call; a new constant would reach only its readers): it reaches every importer
        (todo_app / "todo" / f"{module}.py").write_text((todo_app / "todo" / f"{module}.py").read_text()
                                                      + "\n_EDITED = len('import time')\n")
    assert doit(todo_app)["selected"] == ["tests/test_cli.py", "tests/test_filters.py", "tests/test_reports.py",
                                     "tests/test_serialization.py"]


@pytest.mark.after_first_run
def test_changed_test_file_runs_alone(todo_app: Path):
    edit(todo_app, "tests/test_store.py", "[1, 2, 3]", "[1, 2, 3]  # same ids")
    assert doit(todo_app)["selected"] == ["tests/test_store.py"]


@pytest.mark.after_first_run
def test_conftest_and_config_changes_run_everything(todo_app: Path):
    edit(todo_app, "tests/conftest.py", '"water plants"', '"water the plants"')
    assert doit(todo_app)["selected"] == ALL_TESTS
    assert explain(todo_app)["tests/test_store.py"]["reasons"] == ["a green record matches its inputs"]
    edit(todo_app, "pyproject.toml", 'testpaths = ["tests"]', 'testpaths = ["tests"]\naddopts = "-q"')
    assert explain(todo_app)["tests/test_store.py"]["reasons"] == ["config changed: pyproject.toml"]
    assert doit(todo_app)["selected"] == ALL_TESTS


@pytest.mark.after_first_run
def test_a_comment_in_a_conftest_runs_nothing(todo_app: Path):
    """A conftest.py counts as a whole (pytest finds its fixtures and hooks by name), but as code:
    a comment is none. Its bytes counted, and every comment there re-ran the whole suite."""
    edit(todo_app, "tests/conftest.py", 'def store() -> TaskStore:', 'def store() -> TaskStore:  # three tasks')
    assert doit(todo_app)["selected"] == []
    assert explain(todo_app)["tests/test_store.py"]["decision"] == "skip"


@pytest.mark.after_first_run
def test_data_file_change_runs_the_tests_of_its_folder(todo_app: Path):
    edit(todo_app, "tests/data/tasks.json", "buy milk", "buy oat milk")
    explanation = explain(todo_app)["tests/test_serialization.py"]
    assert explanation["decision"] == "run" and "data file changed: tests/data/tasks.json" in explanation["reasons"]
    last = doit(todo_app, ok=False)
    assert last["selected"] == ALL_TESTS  # data in tests/ belongs to every test there
    assert last["failed"] == ["tests/test_serialization.py::test_reads_a_saved_list"]


@pytest.mark.after_first_run
def test_docs_only_change_runs_nothing(todo_app: Path):
    (todo_app / "README.md").write_text("# todo_app\n\nNew words.\n")
    write_files(todo_app, {"docs/usage.rst": "Usage\n=====\n"})
    assert doit(todo_app)["selected"] == []


@pytest.mark.after_first_run
def test_deleted_module_runs_its_importers_tests_and_they_fail(todo_app: Path):
    (todo_app / "todo" / "reports.py").unlink()
    last = doit(todo_app, ok=False)
    assert last["selected"] == ["tests/test_cli.py", "tests/test_reports.py"]
    assert set(last["failed"]) == {"tests/test_cli.py", "tests/test_reports.py"}  # collection errors
    assert doit(todo_app, ok=False)["selected"] == ["tests/test_cli.py", "tests/test_reports.py"]


@pytest.mark.after_first_run
def test_failing_node_reruns_alone_until_fixed(todo_app: Path):
    edit(todo_app, "tests/test_store.py", "== [1, 2, 3]", "== [1, 2, 4]")
    assert doit(todo_app, ok=False)["failed"] == ["tests/test_store.py::test_ids_count_up"]
    again = explain(todo_app)["tests/test_store.py"]
    assert again["decision"] == "run" and again["nodes"] == ["tests/test_store.py::test_ids_count_up"]
    rerun = run_doit(todo_app)
    assert rerun.returncode == 1 and "1 passed" not in rerun.stdout and "1 failed" in rerun.stdout
    edit(todo_app, "tests/test_store.py", "== [1, 2, 4]", "== [1, 2, 3]  # fixed")
    fixed = doit(todo_app)
    assert fixed["selected"] == ["tests/test_store.py"] and fixed["passed"] == 2
    assert doit(todo_app)["selected"] == []


@pytest.mark.after_first_run
def test_a_node_that_passed_then_fails_loses_its_green_record(todo_app: Path):
    edit(todo_app, "todo/store.py", "self._next_id += 1", "self._next_id += 2")
    assert "tests/test_store.py::test_ids_count_up" in doit(todo_app, ok=False)["failed"]
    edit(todo_app, "todo/store.py", "self._next_id += 2", "self._next_id += 1")
    assert doit(todo_app)["selected"] == []  # back to content whose record is green
    edit(todo_app, "todo/store.py", "self._next_id += 1", "self._next_id += 2")
    assert "tests/test_store.py" in doit(todo_app, ok=False)["selected"]


@pytest.mark.after_first_run
def test_forget_and_all_run_everything(todo_app: Path):
    result = run_doit(todo_app, "forget", "test")
    assert result.returncode == 0 and "forgetting test" in result.stdout
    assert doit(todo_app)["selected"] == ALL_TESTS
    assert doit(todo_app)["selected"] == []  # the forgotten run recorded fresh results
    assert doit(todo_app, "test", "--all")["selected"] == ALL_TESTS
    assert doit(todo_app)["selected"] == []  # --all forgot nothing


def test_forget_without_default_tasks_does_not_crash(todo_app: Path):
    (todo_app / "dodo.py").write_text("from doit_scout.dodo import task_scout, task_test\n")
    doit(todo_app, "test")
    result = run_doit(todo_app, "forget")
    assert result.returncode == 0, result.stderr
    assert "forgetting all tasks" in result.stdout
    assert doit(todo_app, "test")["selected"] == ALL_TESTS


@pytest.mark.parametrize("workers, ran", [(0, 0), (1, 0), (2, 2)])  # 1: one process, not one worker
def test_xdist_on_and_off(todo_app: Path, workers: int, ran: int):
    with open(todo_app / "pyproject.toml", "a") as f:
        f.write(f"\n[tool.scout.test]\nworkers = {workers}\n")
    last = doit(todo_app)
    assert last["workers"] == ran and last["passed"] == 10
    assert doit(todo_app)["selected"] == []  # results from xdist workers were recorded


@pytest.mark.after_first_run
def test_test_that_fails_to_import_stays_stale_and_is_reported(todo_app: Path):
    edit(todo_app, "tests/test_store.py", "import pytest", "import pytest\nimport not_installed_anywhere")
    result = run_doit(todo_app)
    # pytest's own status for a collection error is 2 ("Interrupted: 1 error during collection")
    assert result.returncode == 2 and "✗ tests/test_store.py" in result.stdout
    assert "tests/test_store.py" in doit(todo_app, ok=False)["selected"]


@pytest.mark.after_first_run
def test_test_that_edits_a_source_file_while_running_stays_stale(todo_app: Path):
    write_files(todo_app, {"tests/test_editor.py": """
        from pathlib import Path
        import todo.cli

        def test_edits_source():
            path = Path(todo.cli.__file__)
            path.write_text(path.read_text() + "\\n_TOUCHED = len('import time')\\n")
    """})
    result = run_doit(todo_app)
    assert "changed while its tests ran" in result.stdout
    assert "tests/test_editor.py" in doit(todo_app)["selected"]


@pytest.mark.after_first_run
def test_damaged_records_are_dropped_and_the_tests_run(todo_app: Path, shared_cache_folder: Path):
    # The files' records (a traced run's under each fingerprint of a file), and their items' that it
    # writes besides (doit_scout.item_records): every one of them is of the checkout as it is.
    with sqlite3.connect(shared_cache_folder / "cache.sqlite") as db:
        records, items = (db.execute("SELECT count(*) FROM entries WHERE kind = ?", (kind,)).fetchone()[0]
                          for kind in ("test", "item-outcome"))
        assert records >= 5
        db.execute("UPDATE entries SET value = '{\"complete\": tru' WHERE kind IN ('test', 'item-outcome')")
    result = run_doit(todo_app)
    assert result.returncode == 0, result.stdout
    last = json.loads((todo_app / ".scout" / "last-run.json").read_text())
    assert last["tests"]["selected"] == ALL_TESTS
    assert last["cache"]["dropped"] == {"test": records, **({"item-outcome": items} if items else {})}


def test_two_runs_at_once_both_complete(todo_app: Path, shared_cache_folder: Path):
    runs = [subprocess.Popen([sys.executable, "-m", "doit"], cwd=todo_app, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert doit(todo_app)["selected"] == []
    with sqlite3.connect(shared_cache_folder / "cache.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_second_run_in_the_same_checkout_waits_for_the_first(todo_app: Path, shared_cache_folder: Path):
    from filelock import FileLock
    held = FileLock(todo_app / ".scout" / "run.lock")  # what a first run holds while it works
    held.acquire()
    run = subprocess.Popen([sys.executable, "-m", "doit"], cwd=todo_app, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    assert run.stdout.readline() == ".  scout\n"
    waiting = run.stdout.readline()
    assert "another doit run in this checkout is in progress" in waiting, waiting
    assert not (todo_app / ".scout" / "last-run.json").exists()  # it waited before doing anything
    held.release()
    rest = run.stdout.read()
    assert run.wait(timeout=180) == 0, rest
    assert "10 passed" in rest


def test_ctrl_c_records_nothing_green_for_unfinished_nodes(todo_app: Path, tmp_path: Path):
    started, release = tmp_path / "started", tmp_path / "release"
    write_files(todo_app, {"tests/test_waits.py": f"""
        from pathlib import Path

        def test_quick():
            pass

        def test_waits_for_release():
            Path({str(started)!r}).touch()
            while not Path({str(release)!r}).exists():
                pass
    """})
    git_init(todo_app)
    run = interrupt_doit(todo_app, started)
    assert run.returncode != 0
    release.touch()
    waits = explain(todo_app)["tests/test_waits.py"]
    assert waits["decision"] == "run" and waits["nodes"] == []  # the whole file runs again


def test_explain_names_each_kind_of_reason(todo_app: Path):
    with open(todo_app / "pyproject.toml", "a") as f:
        f.write('\n[tool.scout.test]\nalways_run = ["tests/test_store.py"]\n')
    doit(todo_app)
    write_files(todo_app, {"tests/test_new.py": "def test_new():\n    pass\n"})
    edit(todo_app, "tests/conftest.py", '"water plants"', '"water the plants"')
    explained = explain(todo_app)
    assert explained["tests/test_new.py"]["reasons"] == ["new test file"]
    assert explained["tests/test_cli.py"]["reasons"] == ["conftest changed: tests/conftest.py"]
    doit(todo_app)
    write_files(todo_app, {"tests/test_new.py": "def test_new():\n    assert True\n"})
    explained = explain(todo_app)
    assert explained["tests/test_new.py"]["reasons"] == ["test file changed"]
    store = explained["tests/test_store.py"]
    assert store.pop("tests") == 2  # as its last whole run counted them
    assert store == {
        "path": "tests/test_store.py", "decision": "run", "nodes": [], "reasons": ["always_run"],
        "unfollowed_imports": []}
    assert explained["tests/test_cli.py"]["decision"] == "skip"
    assert run_doit(todo_app, "forget", "test").returncode == 0
    cli = explain(todo_app, "tests/test_cli.py")
    assert list(cli) == ["tests/test_cli.py"] and cli["tests/test_cli.py"].pop("tests") > 0
    assert cli["tests/test_cli.py"] == {
        "path": "tests/test_cli.py", "decision": "run", "nodes": [],
        "reasons": ["forgotten: `doit forget` was run"], "unfollowed_imports": []}


def test_explain_points_at_dynamic_imports_it_cannot_follow(todo_app: Path):
    write_files(todo_app, {"todo/plugins.py": "import importlib\n\ndef load(name):\n    return importlib.import_module(name)\n"})
    edit(todo_app, "todo/cli.py", "import sys\n", "import sys\n\nimport todo.plugins\n")
    scouted = run_doit(todo_app, "scout").stdout
    assert "cannot follow: todo/plugins.py:4" in scouted
    explained = explain(todo_app)
    assert explained["tests/test_cli.py"]["unfollowed_imports"] == ["todo/plugins.py:4"]
    assert explained["tests/test_store.py"]["unfollowed_imports"] == []


def test_shards_of_one_selection_cover_it_exactly_once(todo_app: Path, tmp_path: Path, monkeypatch):
    selected = []
    for k in (1, 2, 3):
        job = tmp_path / f"job{k}"  # each CI job: its own checkout and its own restored cache
        subprocess.run(["git", "clone", "-q", str(todo_app), str(job)], check=True)
        monkeypatch.setenv("DOIT_SCOUT_CACHE", str(tmp_path / f"cache{k}"))
        selected.append(doit(job, "test", "--shard", f"{k}/3")["selected"])
    assert sorted(p for s in selected for p in s) == ALL_TESTS
    assert all(selected)  # five files over three shards: none is empty


def test_empty_shard_succeeds_and_bad_shard_is_named(todo_app: Path):
    result = run_doit(todo_app, "test", "--shard", "6/6")
    assert result.returncode == 0 and "no test files in this shard" in result.stdout
    bad = run_doit(todo_app, "test", "--shard", "7/6")
    assert bad.returncode == 1 and "--shard 7/6: K must be between 1 and N" in bad.stdout


@pytest.mark.after_first_run
def test_config_edits_no_test_can_see_run_nothing_and_pytest_settings_run_everything(todo_app: Path):
    edit(todo_app, "pyproject.toml", 'version = "0.1.0"', 'version = "0.2.0"')
    edit(todo_app, "pyproject.toml", 'select = ["E4", "E7", "E9", "F", "I"]', 'select = ["E4", "E7", "E9", "F"]')
    assert doit(todo_app)["selected"] == []
    edit(todo_app, "pyproject.toml", 'pythonpath = ["."]', 'pythonpath = ["."]\naddopts = "-q"')
    assert doit(todo_app)["selected"] == ALL_TESTS


def _session_plugin_project(tmp_path: Path, monkeypatch, name: str = "p") -> Path:
    """A project where a plugin outside it (on PYTHONPATH, as an installed one would be) imports
    a project module while pytest starts: what the session is observed to load."""
    outside = tmp_path / "site"
    write_files(outside, {"session_plugin.py": "def pytest_configure(config):\n    import pkg.tables  # noqa: F401\n"})
    root = tmp_path / name
    write_files(root, {
        "dodo.py": "from doit_scout.dodo import *\n",
        "pyproject.toml": '[project]\nname = "p"\nversion = "0"\n\n[dependency-groups]\ndev = ["pytest"]\n\n'
                          '[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "-p session_plugin -p no:randomly"\n',
        "uv.lock": "version = 1\n",
        "pkg/__init__.py": "",
        "pkg/tables.py": "TABLE = {'a': 1}\n",
        "tests/test_a.py": "def test_a():\n    assert 1\n",
    })
    git_init(root)
    monkeypatch.setenv("PYTHONPATH", f"{outside}{os.pathsep}{root}")
    return root


def _session_observations(root: Path) -> frozenset[str]:
    from doit_scout.config import load_config_for_doit
    from doit_scout.context import RunContext
    from doit_scout.observed import ObservedInputs
    from doit_scout.scout import current_state
    context = RunContext(root, load_config_for_doit(root))
    return ObservedInputs(context).load(current_state(context), ["tests/test_a.py"]).get("", frozenset())


def test_a_config_edit_no_test_can_see_keeps_what_pytest_itself_loaded(tmp_path: Path, monkeypatch):
    """A dependency group or a lock file edited leaves what pytest reads of the config as it was,
    and so what it loads."""
    root = _session_plugin_project(tmp_path, monkeypatch)
    assert doit(root)["selected"] == ["tests/test_a.py"]
    assert "pkg/tables.py" in _session_observations(root)
    edit(root, "uv.lock", "version = 1\n", "version = 1\nrevision = 2\n")
    edit(root, "pyproject.toml", 'dev = ["pytest"]', 'dev = ["pytest", "ruff"]')
    assert doit(root)["selected"] == []
    edit(root, "pkg/tables.py", "1", "2")
    assert doit(root)["selected"] == ["tests/test_a.py"]


def test_what_another_project_was_seen_to_load_is_no_input_of_this_one(tmp_path: Path, monkeypatch):
    """Two projects share the cache; what one's files were last seen to read stays its own."""
    plain = tmp_path / "plain"
    write_files(plain, {
        "dodo.py": "from doit_scout.dodo import *\n",
        "pyproject.toml": '[project]\nname = "q"\nversion = "0"\n\n[tool.pytest.ini_options]\n'
                          'testpaths = ["tests"]\naddopts = "-p no:randomly"\n',
        "tests/test_a.py": "def test_a():\n    assert 1\n",
    })
    git_init(plain)
    assert doit(plain)["selected"] == ["tests/test_a.py"]
    assert doit(plain)["selected"] == []
    root = _session_plugin_project(tmp_path, monkeypatch)
    assert doit(root)["selected"] == ["tests/test_a.py"] and _session_observations(root)
    assert _session_observations(plain) == frozenset()
    assert doit(plain)["selected"] == []
