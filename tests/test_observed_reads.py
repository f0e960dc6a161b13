"""Observed inputs read without an `open` of the file's bytes: a path probed through a file, a
database, a file's metadata, the environment through its bytes views, a module a text tool reads in
a child process. Real doit, real pytest, in small real projects (the false-green harness of
test_false_greens: doit's exit status, and the tests that really ran as the project logs them)."""

from __future__ import annotations

import shutil

from test_false_greens import new_project  # noqa: F401 (a fixture)

FINDER = """\
def find(name):
    \"\"\"A module lookup: the package form first, then the module file.\"\"\"
    for candidate in (f"pkg/{name}/__init__.py", f"pkg/{name}"):
        try:
            with open(candidate) as f:
                return candidate, f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
    return None
"""


def test_a_path_probed_through_a_file_is_absent_and_results_stick(new_project):
    # open("pkg/mod.py/__init__.py") raises NotADirectoryError: nothing is there, as for a missing
    # folder, not an unreadable file that changes on every run.
    p = new_project({
        "pkg/__init__.py": "", "pkg/finder.py": FINDER, "pkg/mod.py": "X = 1\n",
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
