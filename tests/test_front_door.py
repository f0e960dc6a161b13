"""The pytest-native front door: options after `--`, exit statuses that follow pytest's, Ctrl-C and
timeouts, runs from a subfolder, and an import name that no project's own packages meet."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import TODO_TESTS, doit_tests, git_init, run_doit, write_files

from doit_scout.cmd_run import split_pass_through
from doit_scout.pass_through import pass_through

OTHER_THAN_STORE = [t for t in TODO_TESTS if t != "tests/test_store.py"]


def _tests_of_last_run(root: Path) -> dict:
    return json.loads((root / ".scout" / "last-run.json").read_text())["tests"]


def test_options_after_double_dash_narrow_the_run_and_only_what_completed_is_recorded(todo_app: Path):
    out, tests = doit_tests(todo_app, "test", "--", "-k", "store", "-q")
    assert tests["passed"] == 2 and tests["exit_code"] == 0
    # Only test_store.py ran whole: the next plain run takes the other files, and not that one.
    out, tests = doit_tests(todo_app)
    assert tests["selected"] == OTHER_THAN_STORE
    assert "nothing was recorded green" not in out


def test_paths_after_double_dash_from_a_subfolder_narrow_the_selection(todo_app: Path):
    result = run_doit(todo_app / "tests", "test", "--", "test_store.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _tests_of_last_run(todo_app)["selected"] == ["tests/test_store.py"]
    assert "· 0 files served from records" in result.stdout  # the other four were not asked for
    # pytest collected one file: what it did not collect is still a test for the next run.
    again = run_doit(todo_app / "tests")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _tests_of_last_run(todo_app)["selected"] == OTHER_THAN_STORE
    for command in (["explain", "--json"], ["forget", "test"]):  # the other commands find it too
        assert run_doit(todo_app / "tests", *command).returncode == 0, command


def test_exit_statuses_follow_pytest(todo_app: Path):
    usage = run_doit(todo_app, "test", "--", "--no-such-option")
    assert usage.returncode == 4, usage.stdout + usage.stderr
    assert "usage error (exit status 4)" in usage.stdout
    nothing = run_doit(todo_app, "test", "--", "-k", "no_test_has_this_name")
    assert nothing.returncode == 0, nothing.stdout  # pytest's 5: nothing to run is no failure
    path = todo_app / "todo" / "filters.py"
    path.write_text(path.read_text().replace("return [t for t in tasks if tag in t.tags]", "return []"))
    failed = run_doit(todo_app)
    assert failed.returncode == 1
    output = failed.stdout + failed.stderr
    assert "✗ tests/test_filters.py::test_tagged" in output
    assert "Python Task failed" not in output and "bound method" not in output and "TaskFailed" not in output


def test_options_that_can_change_outcomes_run_but_record_nothing_green(todo_app: Path):
    result = run_doit(todo_app, "test", "--", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pytest options that can change outcomes were given (-p)" in result.stdout
    out, tests = doit_tests(todo_app)
    assert tests["selected"] == TODO_TESTS


@pytest.mark.after_first_run
def test_a_failed_build_step_is_status_1_and_names_the_step(todo_app: Path):
    with open(todo_app / "todo" / "dates.py", "a") as f:
        f.write("import os\n")  # ruff: F401
    result = run_doit(todo_app)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ build:lint:" in result.stdout
    assert "build:typecheck did not run: it waits for build:lint" in result.stdout
    assert "UnmetDependency" not in result.stdout + result.stderr


def test_the_old_import_line_says_what_to_write(todo_app: Path):
    (todo_app / "dodo.py").write_text("from runner.dodo import *\n")
    result = run_doit(todo_app)
    assert result.returncode == 3
    assert "write `from doit_scout.dodo import *` in dodo.py" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_pyproject_that_is_not_toml_is_one_line_and_status_3(tmp_path: Path):
    # doit itself parses the working folder's pyproject.toml before any plugin of ours is loaded
    # (from a subfolder, doit-scout's own configuration loading meets it first): one line either way.
    root = tmp_path / "bad"
    write_files(root, {"pyproject.toml": "[project]\nname = 'bad'\nversion = 1.0.0\n",
                       "dodo.py": "from doit_scout.dodo import *\n", "tests/test_a.py": "def test_a():\n    pass\n"})
    for cwd in (root, root / "tests"):
        result = run_doit(cwd)
        assert result.returncode == 3, result.stdout + result.stderr
        assert result.stderr.strip().splitlines() == [
            f"ERROR: {root / 'pyproject.toml'}:3:14: not valid TOML: Expected newline or end of document after a "
            "statement in line 3 ('version = 1.0.0'). Fix that line and run again."], cwd
        assert not (root / ".scout" / "last-run.json").exists()
    # Any other uncaught exception still reaches Python's own hook, traceback and status 1.
    crash = subprocess.run([sys.executable, "-c", "import tomllib; tomllib.loads('x =')"], capture_output=True,
                           text=True)
    assert crash.returncode == 1 and "Traceback (most recent call last)" in crash.stderr


def test_a_project_with_its_own_runner_and_analyzers_packages(tmp_path: Path):
    root = tmp_path / "own"
    write_files(root, {
        "pyproject.toml": "[project]\nname = 'own'\n",
        "dodo.py": "from doit_scout.dodo import *\n",
        "runner/__init__.py": "",
        "runner/core.py": "def run():\n    return 'ran'\n",
        "analyzers/__init__.py": "",
        "analyzers/stats.py": "def mean(xs):\n    return sum(xs) / len(xs)\n",
        "tests/test_own.py": "from analyzers.stats import mean\nfrom runner.core import run\n\n"
                             "def test_run():\n    assert run() == 'ran'\n\n"
                             "def test_mean():\n    assert mean([1, 3]) == 2\n",
    })
    git_init(root)
    out, tests = doit_tests(root)
    assert tests["passed"] == 2 and tests["selected"] == ["tests/test_own.py"]
    (root / "dodo.py").write_text("from runner.dodo import *\n")  # the project's runner has no dodo
    old = run_doit(root)
    assert old.returncode == 3 and "from doit_scout.dodo import *" in old.stderr


def test_double_dash_arguments_survive_doit_variables():
    # doit takes `name=value` words for its own variables before any command sees them.
    args, argv = ["test", "--", "-k"], ["doit", "test", "--", "-k", "name=x"]
    assert split_pass_through(args, argv) == (["test"], ["-k", "name=x"])
    assert split_pass_through(["test", "--all"], ["doit", "test", "--all"]) == (["test", "--all"], [])


def test_which_pass_through_options_may_record_green(tmp_path: Path):
    (tmp_path / "tests").mkdir()
    vetted = pass_through(["-k", "a or b", "-x", "-vv", "--maxfail=2", "-n", "0", str(tmp_path / "tests")], tmp_path)
    assert vetted.may_record_green and vetted.paths == ("tests",) and vetted.narrows_collection()
    for unvetted in (["-W", "error"], ["--runxfail"], ["-o", "xfail_strict=true"], ["-p", "no:randomly"]):
        assert not pass_through(unvetted, tmp_path).may_record_green, unvetted
    assert pass_through(["--pdb"], tmp_path).interactive
    with pytest.raises(ValueError, match="outside the project"):
        pass_through([str(tmp_path.parent)], tmp_path)


HANGING = {
    "pyproject.toml": "[project]\nname = 'hang'\n",
    "dodo.py": "from doit_scout.dodo import *\n",
    "tests/test_hang.py": (
        "import os, time\nfrom pathlib import Path\n\n"
        "def test_quick():\n    pass\n\n"
        "def test_hangs():\n    Path(os.environ['HANG_MARKER']).write_text(str(os.getpid()))\n    time.sleep(120)\n"
    ),
}


def _hanging_project(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "hang"
    write_files(root, HANGING)
    git_init(root)
    return root, tmp_path / "hanging-test.pid"


def test_ctrl_c_at_a_terminal_ends_the_run_with_one_line(tmp_path: Path):
    root, marker = _hanging_project(tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # the child: doit on a terminal of its own, as a person would start it
        os.chdir(root)
        os.environ["HANG_MARKER"] = str(marker)
        os.execv(sys.executable, [sys.executable, "-m", "doit"])
    output = _read_until(fd, lambda: marker.exists() and marker.read_text() != "", timeout=120)
    os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT to doit, pytest and its workers
    output += _read_until(fd, lambda: False, timeout=60)
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 2, text
    assert "doit-scout: interrupted; nothing that did not finish was recorded green" in text
    assert "Traceback (most recent call last)" not in text
    with pytest.raises(ProcessLookupError):  # pytest ended before doit did
        os.kill(int(marker.read_text()), 0)
    tests = _tests_of_last_run(root)
    assert tests["interrupted"] == "Ctrl-C" and tests["incomplete"] == ["tests/test_hang.py"]


def test_sigint_to_doit_alone_stops_pytest_and_its_xdist_workers(tmp_path: Path):
    # `kill -INT <doit>`, as a CI runner or a supervisor sends it: pytest and its workers never get a
    # signal of their own, and doit-scout's must end them as cleanly as a terminal's Ctrl-C does.
    root, marker = _hanging_project(tmp_path)
    doit = subprocess.Popen([sys.executable, "-m", "doit", "test", "--", "-n", "2"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, "HANG_MARKER": str(marker), "COLUMNS": "200"})
    deadline = time.monotonic() + 120
    while not (marker.exists() and marker.read_text()) and doit.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    doit.send_signal(signal.SIGINT)
    text = doit.communicate(timeout=60)[0].decode(errors="replace")
    assert doit.returncode == 2, text
    assert "xdist 2 workers" in text  # the workers really ran
    assert text.count("doit-scout: interrupted; nothing that did not finish was recorded green") == 1
    assert "Traceback" not in text and 'File "' not in text, text
    with pytest.raises(ProcessLookupError):  # the worker that ran the hanging test is gone
        os.kill(int(marker.read_text()), 0)
    tests = _tests_of_last_run(root)
    assert tests["interrupted"] == "Ctrl-C" and tests["incomplete"] == ["tests/test_hang.py"]
    assert tests["workers"] == 2


def test_a_timeout_stops_a_hanging_session(tmp_path: Path, monkeypatch):
    root, marker = _hanging_project(tmp_path)
    monkeypatch.setenv("HANG_MARKER", str(marker))
    # Long enough for pytest to start and collect on a loaded 2-core machine: the hanging test runs.
    result = run_doit(root, "test", "--timeout", "6s")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "timed out after 6 s" in result.stdout
    tests = _tests_of_last_run(root)
    assert tests["interrupted"].startswith("timed out") and tests["incomplete"] == ["tests/test_hang.py"]
    with pytest.raises(ProcessLookupError):
        os.kill(int(marker.read_text()), 0)


def _read_until(fd: int, done, timeout: float) -> bytes:
    """What the terminal shows, until `done()` or the end of the output."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done():
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    return out


def test_file_names_that_are_not_utf8_do_not_break_a_run(tmp_path: Path):
    root = tmp_path / "bytes"
    write_files(root, {
        "pyproject.toml": "[project]\nname = 'bytes'\n",
        "dodo.py": "from doit_scout.dodo import *\n",
        "pkg/__init__.py": "",
        "tests/test_reads.py": "import os\n\ndef test_reads():\n    assert any(n.startswith(b'notes_') "
                               "for n in os.listdir(os.fsencode('tests/data')))\n",
    })
    (root / "tests" / "data").mkdir()
    (root / "tests" / "data" / os.fsdecode(b"notes_\xff.txt")).write_bytes(b"x")
    (root / "pkg" / os.fsdecode(b"odd_\xfe.py")).write_bytes(b"X = 1\n")
    git_init(root)
    out, tests = doit_tests(root)
    assert tests["passed"] == 1
    out, tests = doit_tests(root)  # and the state it wrote reads back
    assert tests["selected"] == [] and "rebuilt from scratch" not in out


# False greens that real projects showed: a narrowed or interrupted run must never vouch for more
# than it ran, nor shrink what doit-scout knows to be tests.

def _break_tagged(root: Path) -> None:
    path = root / "todo" / "filters.py"
    path.write_text(path.read_text().replace("return [t for t in tasks if tag in t.tags]", "return []"))


@pytest.mark.after_first_run
def test_a_node_id_after_double_dash_does_not_make_its_file_green(todo_app: Path):
    _break_tagged(todo_app)  # test_tagged fails now; test_overdue_skips_done_tasks still passes
    narrow = run_doit(todo_app, "test", "--", "tests/test_filters.py::test_overdue_skips_done_tasks")
    assert narrow.returncode == 0, narrow.stdout + narrow.stderr
    out, tests = doit_tests(todo_app, ok=False)
    assert "tests/test_filters.py" in tests["selected"] and "tests/test_filters.py::test_tagged" in tests["failed"]


@pytest.mark.after_first_run
def test_options_and_paths_pytest_rejects_are_status_4_and_leave_what_is_known(todo_app: Path):
    # Nothing is stale, and pytest is still asked: it alone knows its options and its plugins'.
    usage = run_doit(todo_app, "test", "--", "--no-such-option")
    assert usage.returncode == 4, usage.stdout + usage.stderr
    assert "unrecognized arguments: --no-such-option" in usage.stdout
    assert "usage error (exit status 4)" in usage.stdout
    plugin_option = run_doit(todo_app, "test", "--", "--dist", "loadfile", "-k", "store")  # xdist's: accepted
    assert plugin_option.returncode == 0, plugin_option.stdout + plugin_option.stderr
    assert "no tests ran" not in plugin_option.stdout and "collected" not in plugin_option.stdout
    assert _tests_of_last_run(todo_app)["selected"] == []
    _break_tagged(todo_app)
    rejected = run_doit(todo_app, "test", "--", "tests/no_such_file.py")
    assert rejected.returncode == 4, rejected.stdout + rejected.stderr
    out, tests = doit_tests(todo_app, ok=False)
    assert "tests/test_filters.py::test_tagged" in tests["failed"]


def test_an_interrupted_collection_leaves_what_is_known_to_be_tests(todo_app: Path, monkeypatch):
    # As Ctrl-C while pytest collects: files collected before it count, those after were never seen.
    with open(todo_app / "tests" / "conftest.py", "a") as f:
        f.write("\n\ndef pytest_collectstart(collector):\n    import os\n"
                "    if os.environ.get('STOP_AT') and collector.nodeid.endswith(os.environ['STOP_AT']):\n"
                "        raise KeyboardInterrupt\n")
    monkeypatch.setenv("STOP_AT", "test_serialization.py")
    stopped = run_doit(todo_app)
    assert stopped.returncode == 2, stopped.stdout + stopped.stderr
    monkeypatch.delenv("STOP_AT")
    _break_tagged(todo_app)
    with open(todo_app / "tests" / "test_store.py", "a") as f:
        f.write("\n\ndef test_added_after_the_interruption():\n    assert False\n")
    out, tests = doit_tests(todo_app, ok=False)
    assert {"tests/test_filters.py::test_tagged", "tests/test_store.py::test_added_after_the_interruption"} \
        <= set(tests["failed"])
    assert tests["total_files"] == len(TODO_TESTS)


def test_items_the_project_deselects_itself_leave_their_file_complete(todo_app: Path):
    pyproject = todo_app / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('testpaths = ["tests"]', 'testpaths = ["tests"]\n'
                                                       'addopts = "-m \\"not slow\\""\nmarkers = ["slow"]'))
    with open(todo_app / "tests" / "test_store.py", "a") as f:
        f.write("\n\nimport pytest\n\n\n@pytest.mark.slow\ndef test_slow():\n    assert False\n")
    out, tests = doit_tests(todo_app)  # as plain pytest: the slow test is not one of this project's runs
    assert tests["incomplete"] == []
    out, tests = doit_tests(todo_app)
    assert tests["selected"] == []
