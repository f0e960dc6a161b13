"""Build steps: real doit runs in temporary projects, with a real checker program (and, for the
example, real ruff and mypy)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from helpers import run_doit, write_files

from doit_scout.analyzers.steps import StepUnit, batches, fill_command, step_units
from doit_scout.environment import tool_identity

# A checker that logs the files it is given and fails on any that contains "BAD".
CHECKER = """\
import pathlib, sys
files = sys.argv[2:]
with open(sys.argv[1], "a") as log:
    log.write(" ".join(files) + "\\n")
bad = [f for f in files if "BAD" in pathlib.Path(f).read_text()]
for f in bad:
    print(f"{f}:1: BAD found")
sys.exit(1 if bad else 0)
"""
SOURCES = ["pkg/__init__.py", "pkg/core.py", "pkg/extra.py", "pkg/util.py"]


class Steps:
    """A project with build steps that run the checker; `invocations()` says what it was given."""

    def __init__(self, root: Path) -> None:
        self.root = root
        write_files(root, {"dodo.py": "from doit_scout.dodo import *\n"})
        self.checker = root.parent / "checker.py"
        self.checker.write_text(CHECKER)
        self.log = root.parent / "invocations.log"

    def declare(self, toml: str) -> None:
        with (self.root / "pyproject.toml").open("a") as f:
            f.write("\n" + toml.replace("CHECK", f'"python", "{self.checker}", "{self.log}"') + "\n")

    def invocations(self) -> list[list[str]]:
        """The file lists of the invocations since the last call."""
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        self.log.unlink()
        return [line.split() for line in lines]

    def doit(self, *args: str, ok: bool = True) -> str:
        result = run_doit(self.root, *args)
        assert (result.returncode == 0) is ok, result.stdout + result.stderr
        return result.stdout + result.stderr

    def last_run(self) -> dict:
        return json.loads((self.root / ".scout" / "last-run.json").read_text())["steps"]


@pytest.fixture
def steps(project: Path) -> Steps:
    return Steps(project)


def test_files_scope_runs_changed_and_added_files_only(steps: Steps):
    steps.declare('[tool.scout.steps.check]\ncommand = [CHECK, "{files}"]\nscope = "files"')
    steps.doit("build")
    assert steps.invocations() == [SOURCES]  # default inputs: the source .py files
    assert steps.last_run()["check"] == {"units": 4, "stale": 4, "ran": 4, "failed": 0}
    assert "-- build:check" in steps.doit("build")  # up to date
    assert steps.invocations() == []
    (steps.root / "pkg" / "util.py").write_text("def base():\n    return 40 + 1\n")
    (steps.root / "pkg" / "new.py").write_text("X = 1\n")
    steps.doit("build")
    assert steps.invocations() == [["pkg/new.py", "pkg/util.py"]]
    (steps.root / "pkg" / "extra.py").unlink()
    steps.doit("build")
    assert steps.invocations() == []  # a deleted file is no unit, and nothing else changed
    assert steps.last_run()["check"] == {"units": 4, "stale": 0, "ran": 0, "failed": 0}


def test_a_tool_config_file_makes_every_unit_stale(steps: Steps):
    steps.declare('[tool.scout.steps.check]\ncommand = [CHECK, "{files}"]')
    write_files(steps.root, {"ruff.toml": "line-length = 100\n"})
    steps.doit("build")
    steps.invocations()
    (steps.root / "ruff.toml").write_text("line-length = 120\n")
    steps.doit("build")
    assert steps.invocations() == [SOURCES]  # ruff.toml is a config file: it configures the tools


def test_the_tool_counts_in_the_fingerprint(steps: Steps, tmp_path: Path, monkeypatch):
    assert tool_identity(("python", "-m", "pytest")) == f"pytest {importlib.metadata.version('pytest')}"
    assert tool_identity(("pytest",)) == f"pytest {importlib.metadata.version('pytest')}"
    tools = tmp_path / "bin"
    tools.mkdir()
    tool = tools / "mytool"  # a program no installed distribution provides: its bytes identify it
    tool.write_text(f"#!{sys.executable}\nimport sys\nopen({str(steps.log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    steps.declare('[tool.scout.steps.check]\ncommand = ["mytool", "{files}"]')
    steps.doit("build")
    assert steps.invocations() == [SOURCES]
    steps.doit("build")
    assert steps.invocations() == []
    tool.write_text(tool.read_text() + "# version 2\n")
    steps.doit("build")
    assert steps.invocations() == [SOURCES]


def test_dependents_scope_reruns_a_module_and_everything_that_imports_it(steps: Steps):
    steps.declare('[tool.scout.steps.types]\ncommand = [CHECK, "{files}"]\nscope = "dependents"')
    steps.doit("build")
    steps.invocations()
    (steps.root / "pkg" / "util.py").write_text("def base():\n    return 40 + 1\n")  # a leaf's body
    steps.doit("build")
    assert steps.invocations() == [["pkg/util.py"]]  # its importers read its interface, not its bodies
    (steps.root / "pkg" / "util.py").write_text("def base(offset=0):\n    return 40 + 1\n")  # its interface
    steps.doit("build")
    assert steps.invocations() == [["pkg/core.py", "pkg/util.py"]]
    (steps.root / "pkg" / "__init__.py").write_text("VERSION = 2\n")  # the hub: every import runs it
    steps.doit("build")
    assert steps.invocations() == [SOURCES]
    (steps.root / "pkg" / "util.py").unlink()  # core's import now resolves to nothing
    steps.doit("build")
    assert steps.invocations() == [["pkg/core.py"]]


def test_all_scope_is_one_unit_over_its_inputs(steps: Steps):
    steps.declare('[tool.scout.steps.docs]\ncommand = [CHECK, "{files}"]\nscope = "all"\n'
                  'inputs = ["README.md", "docs/**"]')
    steps.doit("build")
    assert steps.invocations() == [["README.md"]]
    (steps.root / "pkg" / "util.py").write_text("def base():\n    return 40 + 1\n")
    steps.doit("build")
    assert steps.invocations() == []  # not an input
    write_files(steps.root, {"docs/guide.md": "# guide\n"})
    steps.doit("build")
    assert steps.invocations() == [["README.md", "docs/guide.md"]]
    (steps.root / "docs" / "guide.md").unlink()
    steps.doit("build")
    assert steps.invocations() == []  # the inputs are as they were at the first run, which passed
    (steps.root / "README.md").write_text("# proj, documented\n")
    steps.doit("build")
    assert steps.invocations() == [["README.md"]]
    assert steps.last_run()["docs"] == {"units": 1, "stale": 1, "ran": 1, "failed": 0}


def test_a_failed_invocation_records_none_of_its_units_and_fails_the_task(steps: Steps):
    steps.declare('[tool.scout.steps.check]\ncommand = [CHECK, "{files}"]\nbatch = 3')
    (steps.root / "pkg" / "extra.py").write_text("import json  # BAD\n")
    output = steps.doit("build", ok=False)
    assert steps.invocations() == [SOURCES[:3], SOURCES[3:]]  # batches of at most 3, in order
    assert "pkg/extra.py:1: BAD found" in output and "exited with 1" in output
    assert steps.last_run()["check"] == {"units": 4, "stale": 4, "ran": 4, "failed": 3}
    steps.doit("build", ok=False)
    assert steps.invocations() == [SOURCES[:3]]  # util.py passed in its own invocation
    (steps.root / "pkg" / "extra.py").write_text("import json\n")
    steps.doit("build")
    assert steps.invocations() == [SOURCES[:3]]
    steps.doit("build")
    assert steps.invocations() == []


def test_a_command_failing_without_naming_its_files_is_reported_as_such(steps: Steps):
    steps.declare('[tool.scout.steps.broken]\ncommand = ["python", "-c", "import sys; sys.exit(2)", "{files}"]')
    output = steps.doit("build", ok=False)
    assert "output names none of its 4 units, so the command itself failed" in output
    assert "[tool.scout.steps.broken]" in output
    assert steps.last_run()["broken"]["failed"] == 4
    steps.doit("build", ok=False)
    assert steps.last_run()["broken"]["stale"] == 4  # nothing was recorded


@pytest.mark.parametrize("command, named", [
    ('["no-such-linter-xyz", "{files}"]', "the program 'no-such-linter-xyz' is not installed"),
    ('["python", "-m", "no_such_module_xyz", "{files}"]', "the module 'no_such_module_xyz' is not installed"),
])
def test_a_command_that_is_not_installed_is_named_with_its_step(steps: Steps, command: str, named: str):
    steps.declare(f"[tool.scout.steps.lint]\ncommand = {command}")
    output = steps.doit("build", ok=False)
    assert f"build:lint: {named}" in output and "[tool.scout.steps.lint]" in output
    assert "Traceback" not in output
    explained = json.loads(run_doit(steps.root, "explain", "--json").stdout)
    assert explained["steps"][0]["decision"] == "error" and named in explained["steps"][0]["reasons"][0]
    assert explained["tests"]  # the tests are still explained


@pytest.mark.parametrize("toml, message", [
    ('[tool.scout.steps.lint]\ncommand = "ruff check {file}"',
     "steps.lint.command = 'ruff check {file}' is not allowed; expected only the placeholders {files}, {modules}"),
    ('[tool.scout.steps.lint]\ncommand = "ruff check {files}"\nscope = "module"',
     'steps.lint.scope = \'module\' is not allowed; expected "files" or "dependents" or "all"'),
    ('[tool.scout.steps.a]\ncommand = "a"\nafter = ["b"]\n[tool.scout.steps.b]\ncommand = "b"\nafter = ["a"]',
     "the `after` lists make a cycle: a waits for b waits for a"),
    ('[tool.scout.steps.a]\ncommand = "a"\nafter = ["test"]\n[tool.scout.test]\nafter = ["a"]',
     "the `after` lists make a cycle"),
    ('[tool.scout.steps.a]\ncommand = "a"\nafter = ["lint"]',
     "steps.a.after = ['lint'] is not allowed; expected names of declared steps or \"test\""),
    ('[tool.scout.steps.a]\ncommand = "a {files}"\nbatch = 0', "steps.a.batch = 0 is not allowed"),
])
def test_a_bad_step_declaration_stops_before_any_work(steps: Steps, toml: str, message: str):
    steps.declare(toml)
    result = run_doit(steps.root)
    assert result.returncode == 3
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (steps.root / ".scout" / "state.json").exists()


def test_after_orders_steps_and_the_test_task(steps: Steps):
    # Distinct commands: two steps running the same command over the same files share records.
    steps.declare('[tool.scout.steps.first]\ncommand = ["python", "-c", "1", "{files}"]\nafter = ["second"]\n'
                  '[tool.scout.steps.second]\ncommand = ["python", "-c", "2", "{files}"]\n'
                  '[tool.scout.steps.last]\ncommand = ["python", "-c", "3", "{files}"]\nafter = ["test"]\n'
                  '[tool.scout.test]\nafter = ["first"]')
    output = steps.doit()
    order = [output.index(f".  {task}\n") for task in ("build:second", "build:first", "test", "build:last")]
    assert order == sorted(order)
    assert "-- test" in run_doit(steps.root, "test").stdout  # waits for the steps, which are up to date


def test_independent_steps_run_in_their_declared_order(steps: Steps):
    steps.declare('[tool.scout.steps.zeta]\ncommand = ["python", "-c", "1", "{files}"]\n'
                  '[tool.scout.steps.alpha]\ncommand = ["python", "-c", "2", "{files}"]')
    for _ in range(3):  # without an order, doit resumes waiting tasks in a set's (random) order
        output = steps.doit("build")
        assert output.index(".  build:zeta\n") < output.index(".  build:alpha\n")
        steps.doit("forget", "build")


def test_a_failed_step_holds_back_what_waits_for_it_but_nothing_else(steps: Steps):
    steps.declare('[tool.scout.steps.check]\ncommand = [CHECK, "{files}"]\n'
                  '[tool.scout.steps.other]\ncommand = ["python", "-c", "1", "{files}"]\n'
                  '[tool.scout.test]\nafter = ["check"]')
    (steps.root / "pkg" / "extra.py").write_text("import json  # BAD\n")
    output = steps.doit(ok=False)
    assert ".  build:other" in output  # independent: runs although check failed
    assert ".  test\n" not in output and "✗ test did not run: it waits for build:check" in output
    (steps.root / "pkg" / "extra.py").write_text("import json\n")
    assert ".  test\n" in steps.doit()


def test_units_changed_while_their_step_ran_stay_stale(steps: Steps):
    fixer = steps.root.parent / "fixer.py"
    fixer.write_text("import sys\nfor f in sys.argv[1:]:\n    text = open(f).read()\n"
                     "    if '# fixed' not in text:\n        open(f, 'a').write('# fixed\\n')\n")
    steps.declare(f'[tool.scout.steps.fmt]\ncommand = ["python", "{fixer}", "{{files}}"]')
    assert "4 units changed while build:fmt ran" in steps.doit("build")
    assert steps.last_run()["fmt"]["ran"] == 4
    steps.doit("build")  # formatted files: the fixer changes nothing, so they are recorded
    assert steps.last_run()["fmt"]["ran"] == 4
    steps.doit("build")
    assert steps.last_run()["fmt"] == {"units": 4, "stale": 0, "ran": 0, "failed": 0}


def test_two_steps_with_the_same_command_share_records(steps: Steps):
    steps.declare('[tool.scout.steps.one]\ncommand = [CHECK, "{files}"]\n'
                  '[tool.scout.steps.two]\ncommand = [CHECK, "{files}"]\nafter = ["one"]')
    steps.doit("build")
    assert steps.invocations() == [SOURCES]  # two found one's records: same command, same files
    assert steps.last_run()["two"] == {"units": 4, "stale": 0, "ran": 0, "failed": 0}


def test_forget_and_a_second_clone(steps: Steps, tmp_path: Path):
    steps.declare('[tool.scout.steps.check]\ncommand = [CHECK, "{files}"]')
    steps.doit("build")
    steps.invocations()
    steps.doit("forget", "build")
    steps.doit("build")
    assert steps.invocations() == [SOURCES]  # forgotten: every unit again
    clone = tmp_path / "clone"
    shutil.copytree(steps.root, clone, ignore=shutil.ignore_patterns(".scout"))
    result = run_doit(clone, "build")
    assert result.returncode == 0
    assert steps.invocations() == []  # same content, same command: the shared cache's records count


def test_explain_gives_each_stale_unit_its_reason(steps: Steps):
    steps.declare('[tool.scout.steps.types]\ncommand = [CHECK, "{files}"]\nscope = "dependents"')
    steps.doit("build")
    (steps.root / "pkg" / "util.py").write_text("def base(offset=0):\n    return 40 + 1\n")
    explained = json.loads(run_doit(steps.root, "explain", "--json").stdout)["steps"]
    running = {row["unit"]: row["reasons"] for row in explained if row["decision"] == "run"}
    assert running == {
        "pkg/core.py": ["imports changed module pkg.util (pkg.core -> pkg.util)"],
        "pkg/util.py": ["changed: pkg/util.py"],
    }
    assert steps.invocations() == [SOURCES]  # explain ran nothing


def test_the_example_lints_typechecks_and_builds_docs_for_what_changed(todo_app: Path):
    """The README's walk-through, with the real ruff and mypy."""
    steps = Steps(todo_app)
    steps.doit()
    assert steps.last_run() == {"lint": {"units": 12, "stale": 12, "ran": 12, "failed": 0},
                                "typecheck": {"units": 12, "stale": 12, "ran": 12, "failed": 0},
                                "docs": {"units": 1, "stale": 1, "ran": 1, "failed": 0}}
    assert (todo_app / "build" / "docs" / "index.html").exists()
    leaf = todo_app / "todo" / "textutil.py"
    leaf.write_text(leaf.read_text() + "\n\ndef shout(text: str) -> str:\n    return text.upper()\n")
    steps.doit()
    assert {name: counts["ran"] for name, counts in steps.last_run().items()} == {"lint": 1, "typecheck": 3, "docs": 0}
    (todo_app / "README.md").write_text((todo_app / "README.md").read_text() + "\nMore words.\n")
    output = steps.doit()
    assert {name: counts["ran"] for name, counts in steps.last_run().items()} == {"lint": 0, "typecheck": 0, "docs": 1}
    assert "-- test" in output
    leaf.write_text(leaf.read_text() + "\n\ndef broken() -> int:\n    return 'text'\n")
    output = steps.doit(ok=False)
    assert "todo/textutil.py" in output and "incompatible return value" in output.lower()


def test_units_fill_commands_and_batch():
    assert fill_command(["ruff", "{files}", "--x={modules}"], ["a.py", "b.py"], ["a", "b"]) == \
        ["ruff", "a.py", "b.py", "--x=a b"]
    units = [StepUnit(str(i), str(i), (str(i),), ()) for i in range(5)]
    assert [len(b) for b in batches(units, 2)] == [2, 2, 1]
    assert batches(units, None) == [units] and batches([], 3) == []
    digests = {"a.py": "1", "b.py": "2"}
    before = step_units("dependents", ["a.py", "b.py"], digests, {"a.py": "a", "b.py": "b"}, {"a": "x", "b": "y"}, "k")
    after = step_units("dependents", ["a.py", "b.py"], digests, {"a.py": "a", "b.py": "b"}, {"a": "x2", "b": "y"}, "k")
    assert [u.fingerprint == v.fingerprint for u, v in zip(before, after)] == [False, True]
    files = step_units("files", ["a.py", "b.py"], digests, {"a.py": "a", "b.py": "b"}, {"a": "x2", "b": "y"}, "k")
    assert [u.fingerprint for u in files] == [u.fingerprint for u in step_units(
        "files", ["a.py", "b.py"], digests, {"a.py": "a", "b.py": "b"}, {"a": "x", "b": "y"}, "k")]
