"""Observed inputs read without an `open` of the file's bytes: a path probed through a file, a
database, a file's metadata, the environment through its bytes views, a module a text tool reads in
a child process. Real doit, real pytest, in small real projects (the false-green harness of
test_false_greens: doit's exit status, and the tests that really ran as the project logs them)."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
import test_false_greens
from helpers import git
from test_executed_code import selected, traced_project

new_project = test_false_greens.new_project  # the fixture: a git project with doit-scout's dodo.py

FINDERS = {  # a module lookup: the package form first, then the module file
    "open": """\
def find(name):
    for candidate in (f"pkg/{name}/__init__.py", f"pkg/{name}"):
        try:
            with open(candidate) as f:
                return candidate, f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
    return None
""",
    "stat": """\
import os


def find(name):
    for candidate in (f"pkg/{name}/__init__.py", f"pkg/{name}"):
        if os.path.isfile(candidate):
            with open(candidate) as f:
                return candidate, f.read()
    return None
""",
}


@pytest.mark.parametrize("probe", list(FINDERS))
def test_a_path_probed_through_a_file_is_absent_and_results_stick(new_project, probe: str):
    # open or stat of "pkg/mod.py/__init__.py" raises NotADirectoryError: nothing is there, as for
    # a missing folder, not an unreadable file that changes on every run.
    p = new_project({
        "pkg/__init__.py": "", "pkg/finder.py": FINDERS[probe], "pkg/mod.py": "X = 1\n",
        "tests/test_find.py": "from pkg.finder import find\n\n\ndef test_find():\n"
                              "    assert find('mod.py') == ('pkg/mod.py', 'X = 1\\n')\n",
        "tests/test_other.py": "def test_other():\n    pass\n",
    })
    first = p.doit()
    assert first.green and first.files == {"tests/test_find.py", "tests/test_other.py"}, first.output
    assert "changed while its tests ran" not in first.output, first.output
    again = p.doit()
    assert again.green and again.ran == [], again.output
    # The file the probe went through changes: its readers run.
    p.edit("pkg/mod.py", "X = 1", "X = 2")
    changed = p.doit()
    assert not changed.green and "tests/test_find.py::test_find" in changed.ran, changed.output
    p.edit("pkg/mod.py", "X = 2", "X = 1")
    assert p.doit().green
    # What was probed comes to exist: the file becomes a package of that name.
    (p.root / "pkg" / "mod.py").unlink()
    p.write({"pkg/mod.py/__init__.py": "X = 1\n"})
    moved = p.doit()
    assert not moved.green and "tests/test_find.py::test_find" in moved.ran, moved.output
    shutil.rmtree(p.root / "pkg" / "mod.py")
    p.write({"pkg/mod.py": "X = 1\n"})
    back = p.doit()
    assert back.green, back.output  # content that passed before: its record serves


def changed_input_reruns(p, change, node: str = "tests/test_read.py::test_read") -> None:
    """Green, and a second run with nothing changed runs nothing; `change()` makes `node` fail
    (pytest agrees): doit runs it and is red."""
    first = p.doit()
    assert first.green and node in first.ran, first.output
    again = p.doit()
    assert again.green and again.ran == [], again.output
    change()
    oracle = p.pytest()
    assert oracle.returncode != 0 and node in oracle.ran, oracle.output
    broken = p.doit()
    assert not broken.green and node in broken.ran, f"false green:\n{broken.output}"


@pytest.mark.parametrize("check", [
    "os.stat('data/size.txt').st_size == 3",
    "os.path.getsize('data/size.txt') == 3",
    "pathlib.Path('data/size.txt').stat().st_size == 3",
    "os.path.exists('data/size.txt')",
    "not os.path.exists('data/flag.txt')",
    "not os.path.lexists('data/flag.txt')",
])
def test_a_file_s_metadata_read_with_no_open_is_an_input(new_project, check: str):
    """os.stat raises no audit event: the plugin wraps it while it records."""
    p = new_project({
        "data/size.txt": "abc",
        "tests/test_read.py": f"import os\nimport pathlib\n\n\ndef test_read():\n    assert {check}\n",
        "tests/test_other.py": "def test_other():\n    pass\n",
    })

    def change() -> None:
        if "flag" in check:
            p.write({"data/flag.txt": "here"})
        elif "exists" in check:
            (p.root / "data" / "size.txt").unlink()
        else:
            p.write({"data/size.txt": "abcd"})

    changed_input_reruns(p, change)


def test_a_database_sqlite_opens_is_an_input(new_project):
    """sqlite opens the file in C: its own audit event, sqlite3.connect, names it."""
    p = new_project({
        "tests/test_read.py": "import sqlite3\n\n\ndef test_read():\n"
                              "    with sqlite3.connect('file:data/app.db?mode=ro', uri=True) as db:\n"
                              "        assert db.execute('select v from t').fetchone() == (1,)\n",
        "tests/test_other.py": "def test_other():\n    pass\n",
    }, commit=False)

    def write(value: int) -> None:
        with sqlite3.connect(p.root / "data" / "app.db") as db:
            db.execute("create table if not exists t (v)")
            db.execute("delete from t")
            db.execute("insert into t values (?)", (value,))
        db.close()

    (p.root / "data").mkdir()
    write(1)
    git(p.root, "add", "-A")
    git(p.root, "commit", "-qm", "initial")
    changed_input_reruns(p, lambda: write(2))


@pytest.mark.parametrize("read", [
    "subprocess.run(['cat', 'src/pkg/mod.py'], capture_output=True, text=True, check=True).stdout",
    "open('src/pkg/mod.py').read()",
], ids=["cat-in-a-child-process", "open"])
def test_a_comment_edit_of_a_module_a_test_reads_as_text_reruns_it(new_project, read: str):
    """The graph leaves a module's comments out of its fingerprint; a test that reads the module as
    text sees them."""
    p = new_project({
        "src/pkg/__init__.py": "", "src/pkg/mod.py": "# version 1\nX = 1\n",
        "tests/test_read.py": f"import subprocess\n\n\ndef test_read():\n    assert '# version 1' in {read}\n",
        "tests/test_other.py": "def test_other():\n    pass\n",
    })
    changed_input_reruns(p, lambda: p.edit("src/pkg/mod.py", "# version 1", "# version 2"))


@pytest.mark.parametrize("read", ["os.environb.get(b'PKG_MODE')", "posix.environ.get(b'PKG_MODE')",
                                  "os.environb[b'PKG_MODE']", "dict(posix.environ)[b'PKG_MODE']"])
def test_an_environment_variable_read_through_its_bytes_is_an_input(tmp_path, monkeypatch, read: str):
    """os.environb and posix.environ read the dict os.environ keeps its bytes in: where runs are
    traced, a variable read there is an input of the tests that read it, as through os.environ."""
    monkeypatch.setenv("PKG_MODE", "fast")
    root = traced_project(tmp_path, {
        "pkg/__init__.py": f"import os\nimport posix\n\n\ndef mode():\n    return {read}\n",
        "tests/test_read.py": "import pkg\n\n\ndef test_read():\n    assert pkg.mode() == b'fast'\n",
        "tests/test_other.py": "def test_other():\n    pass\n",
    })
    assert selected(root) == []
    monkeypatch.setenv("PKG_MODE", "slow")
    assert selected(root, ok=False) == ["tests/test_read.py"]
