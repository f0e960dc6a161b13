"""`doit watch`: a real watcher process driven by real file edits."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import watchfiles

from doit_scout.cmd_watch import ProjectChangeFilter, changes_project_files


class Watcher:
    def __init__(self, root: Path, *tasks: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "doit", "watch", *tasks], cwd=root, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 90) -> str:
        """The first new line matching `pattern`; fails with everything seen if none comes."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no line matching {pattern!r}; output so far:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def stop(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def watcher(todo_app: Path):
    started = []

    def start(*tasks: str) -> Watcher:
        started.append(Watcher(todo_app, *tasks))
        return started[-1]

    yield start
    for w in started:
        if w.process.poll() is None:
            os.killpg(w.process.pid, signal.SIGKILL)


def test_runs_at_start_and_after_each_save_and_stops_cleanly(todo_app: Path, watcher):
    w = watcher()
    w.wait_for(r"^watch: run 1 \(start\)")
    w.wait_for(r"^watch: watching \d+ files · last run ok")
    (todo_app / "tool-output").mkdir()  # an empty folder, as pytest-benchmark makes: not a change
    cli = todo_app / "todo" / "cli.py"
    cli.write_text(cli.read_text() + "\n_SAVED = len('import time')\n")
    w.wait_for(r"^watch: run 2 \(todo/cli\.py\)")
    w.wait_for(r"^\.  test")  # run 2 has scouted and is testing
    reports = todo_app / "todo" / "reports.py"
    reports.write_text(reports.read_text() + "\n_SAVED_WHILE_RUN_2_RUNS = len('import time')\n")
    w.wait_for(r"^tests .*1 of 5 files selected")
    w.wait_for(r"last run")
    w.wait_for(r"^watch: run 3 \(todo/reports\.py\)")
    w.wait_for(r"last run ok")
    assert w.stop() == 0
    w.wait_for(r"^watch: stopped")


def test_broken_dodo_and_pyproject_are_reported_and_a_fix_resumes(todo_app: Path, watcher):
    w = watcher("scout")
    w.wait_for(r"last run ok")
    (todo_app / "dodo.py").write_text("from doit_scout.dodo import *\ndef broken(:\n")
    w.wait_for(r"^watch: run 2 \(dodo\.py\)")
    w.wait_for(r"last run failed")
    (todo_app / "dodo.py").write_text("from doit_scout.dodo import *\n")
    w.wait_for(r"last run ok")
    pyproject = todo_app / "pyproject.toml"
    good = pyproject.read_text()
    pyproject.write_text(good + "\n[tool.scout]\npackages = 5\n")
    w.wait_for(r"^ERROR: \[tool.scout\] packages = 5 is not allowed")
    w.wait_for(r"last run failed \(exit 3\)")
    pyproject.write_text(good)
    w.wait_for(r"last run ok")
    assert w.stop() == 0


def test_a_burst_of_saves_is_one_run(todo_app: Path, watcher):
    w = watcher("scout")
    w.wait_for(r"last run ok")
    for i in range(1500):
        (todo_app / "todo" / f"generated_{i}.py").write_text(f"X = {i}\n")
    line = w.wait_for(r"^watch: run 2 ")
    assert "and " in line and "more" in line  # one run for many files
    w.wait_for(r"last run ok")
    assert w.stop() == 0


def test_state_caches_and_environments_are_not_changes(tmp_path: Path):
    keep = ProjectChangeFilter(tmp_path)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("")
    for ignored in (".scout/state.json", ".git/index", "pkg/__pycache__/m.pyc", ".doit.db", "env/lib/x.py",
                    "build/lib/x.py", ".venv/bin/python", ".pytest_cache/v/cache/nodeids"):
        assert not keep(watchfiles.Change.modified, str(tmp_path / ignored)), ignored
    assert keep(watchfiles.Change.modified, str(tmp_path / "pkg" / "core.py"))


def test_only_events_that_can_change_the_project_files_count(tmp_path: Path):
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    (tmp_path / "moved_in").mkdir()
    (tmp_path / "moved_in" / "m.py").write_text("")
    os.mkfifo(tmp_path / "pipe.py")
    known = frozenset({"pkg/gone.py", "old/sub/x.py"})
    assert not changes_project_files(tmp_path, "empty", known)
    # A folder a tool made and removed during the run (pytest builds its cache in one, then renames
    # it to .pytest_cache): gone when the run ends, so not a change.
    assert not changes_project_files(tmp_path, "pytest-cache-files-x1/README.md", known)
    assert changes_project_files(tmp_path, "moved_in", known)
    assert changes_project_files(tmp_path, "pipe.py", known)
    assert changes_project_files(tmp_path, "pkg/gone.py", known)
    assert changes_project_files(tmp_path, "old", known)
    assert not changes_project_files(tmp_path, "ol", known)


def test_a_folder_deleted_while_watching(todo_app: Path, watcher):
    w = watcher("scout")
    w.wait_for(r"last run ok")
    shutil.rmtree(todo_app / "tests" / "data")
    w.wait_for(r"^watch: run 2 \(.*tests/data/tasks\.json\)")
    w.wait_for(r"last run ok")
    assert w.stop() == 0


def test_a_file_that_cannot_be_read_at_event_time(todo_app: Path, watcher):
    w = watcher("scout")
    w.wait_for(r"last run ok")
    os.mkfifo(todo_app / "todo" / "pipe.py")  # opening it to read would block: it must never be read
    w.wait_for(r"^watch: run 2 \(todo/pipe\.py\)")
    w.wait_for(r"last run ok")
    assert w.stop() == 0
