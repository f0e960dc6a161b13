"""Green results stick: going back to content that passed runs nothing, whatever ran in between
(an edit's run, red or green, an interrupted one) and however xdist spread the files over its
workers. What another content's run executed must not widen the inputs of the old content's
records. Real doit runs, real pytest, real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import doit_tests, git_init, interrupt_doit, run_doit, write_files

# Every test reads an environment variable through the package (so no static fingerprint stands
# in for the executed code's), runs a helper of its own, which every test can reach by name (what
# ran before a test in its process counts for it), and the one compute body every test runs.
PACKAGE = '''\
import os


def mode():
    return os.environ.get("PKG_MODE", "plain")


def extra(n):
    return n * 2


def compute(n):
    if n < 0:
        return extra(n)
    return n * 2
'''


def project(root: Path, workers: int, files: int = 4, waiter: str = "") -> Path:
    tests = {f"tests/test_{i}.py": f"import pkg\n\n\ndef test_{i}():\n    assert pkg.mode() == 'plain'\n"
             f"    assert pkg.helper_{i}() == {i}\n    assert pkg.compute({i}) == {2 * i}\n" for i in range(files)}
    helpers = "".join(f"\n\ndef helper_{i}():\n    return {i}\n" for i in range(files))
    write_files(root, {
        "dodo.py": "from doit_scout.dodo import *\n",
        "pyproject.toml": '[project]\nname = "p"\nversion = "0"\n\n[tool.pytest.ini_options]\n'
                          f'testpaths = ["tests"]\naddopts = "-p no:randomly"\n\n[tool.scout.test]\nworkers = {workers}\n',
        "tests/conftest.py": "",
        "pkg/__init__.py": PACKAGE + helpers,
        **tests,
        **({"tests/test_wait.py": waiter} if waiter else {}),
    })
    git_init(root)
    doit_tests(root)  # a first run is not traced
    conftest = root / "tests" / "conftest.py"
    conftest.write_text("TRACED = True\n")  # code every test has as an input
    assert len(doit_tests(root)[1]["selected"]) == files + bool(waiter)
    return root


def selected(root: Path, ok: bool = True) -> list[str]:
    return sorted(doit_tests(root, ok=ok)[1]["selected"])


def planned(root: Path) -> list[str]:
    """What `doit explain` says the next doit would run."""
    result = run_doit(root, "explain", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(t["path"] for t in json.loads(result.stdout)["tests"] if t["decision"] == "run")


def edit(root: Path, old: str, new: str) -> None:
    path = root / "pkg" / "__init__.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


# One line of compute's body: it now calls extra(), which the tests could reach by name but never
# ran (still green), or fails there.
EDITS = {"green": "if n < 1000:", "red": "if n < 1000 and extra(n) != 1 / 0:"}


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("outcome", EDITS)
def test_reverting_an_edit_runs_nothing(tmp_path: Path, outcome: str, workers: int):
    root = project(tmp_path / "p", workers)
    edit(root, "if n < 0:", EDITS[outcome])
    assert len(selected(root, ok=outcome == "green")) == 4
    edit(root, EDITS[outcome], "if n < 0:")
    assert planned(root) == []
    output, tests = doit_tests(root)
    assert tests["selected"] == [] and len(tests["skipped"]) == 4, output


def test_reverting_after_an_interrupted_run_runs_nothing(tmp_path: Path):
    started, release, wait = tmp_path / "started", tmp_path / "release", tmp_path / "wait"
    # Waits only when told to, by a file outside the project (no input of anything).
    waiter = (f"from pathlib import Path\n\nimport pkg\n\n\ndef test_wait():\n    assert pkg.compute(1)\n"
              f"    if Path({str(wait)!r}).exists():\n        Path({str(started)!r}).touch()\n"
              f"        while not Path({str(release)!r}).exists():\n            pass\n")
    root = project(tmp_path / "p", 1, waiter=waiter)
    edit(root, "if n < 0:", EDITS["green"])
    wait.touch()
    run = interrupt_doit(root, started)
    release.touch()
    assert run.returncode != 0
    edit(root, EDITS["green"], "if n < 0:")
    assert planned(root) == []
    output, tests = doit_tests(root)
    assert tests["selected"] == [] and len(tests["skipped"]) == 5, output


def test_green_results_stick_with_xdist(tmp_path: Path):
    # Which files share a worker, and so which helpers ran before a test in its process, changes
    # from run to run.
    root = project(tmp_path / "p", 2, files=8)
    for value in ("1", "2", "3"):
        edit(root, "if n < 0:" if value == "1" else f"if n < {int(value) - 1} - 1:", f"if n < {value} - 1:")
        selected(root)
    edit(root, "if n < 3 - 1:", "if n < 0:")
    for _ in range(3):
        plan = planned(root)
        output, tests = doit_tests(root)
        assert plan == sorted(tests["selected"]) == [], output


def test_switching_back_to_a_branch_runs_nothing_though_another_branch_taught_new_reads(tmp_path: Path):
    """On branch b the settings turn a read of extra.txt on, in code whose bytes are the same on
    both branches: what that code is known to read grows. Back on main, where the code does not
    read it, the content is the one recorded green: nothing runs (toolz's branch switch ran all)."""
    from helpers import git

    root = tmp_path / "p"
    write_files(root, {
        "dodo.py": "from doit_scout.dodo import *\n",
        "pyproject.toml": '[project]\nname = "p"\nversion = "0"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
        "settings.json": "{}\n",
        "pkg/__init__.py": "",
        "pkg/reader.py": (
            "import json\nfrom pathlib import Path\n\n\ndef value():\n"
            "    if json.loads(Path('settings.json').read_text()).get('extra'):\n"
            "        return Path('extra.txt').read_text().strip()\n    return 'none'\n"),
        "tests/test_reader.py": "from pkg.reader import value\n\n\ndef test_value():\n"
                                "    assert value() in ('none', 'x')\n",
        "tests/test_other.py": "def test_other():\n    assert True\n",
    })
    git_init(root)
    assert selected(root) == ["tests/test_other.py", "tests/test_reader.py"]
    git(root, "checkout", "-q", "-b", "b")
    write_files(root, {"settings.json": '{"extra": true}\n', "extra.txt": "x\n"})
    git(root, "add", "-A")
    git(root, "commit", "-qm", "extra")
    assert "tests/test_reader.py" in selected(root)
    git(root, "checkout", "-q", "main")
    assert selected(root) == []
    assert selected(root) == []
