"""False greens: `doit` must never exit 0 while a test that pytest would run fails.

Every case builds a small real project, runs real doit (and, as the oracle, plain pytest) in it, and
asserts only what is visible from outside doit-scout:

- doit's exit status (0 is green);
- which tests really ran, as the project itself logs them: the project's root conftest.py appends
  the node id of every item that starts running to the file named by $FG_LOG (outside the project,
  set with monkeypatch, inherited by doit's pytest and its xdist workers).

So no assertion depends on doit-scout's internal formats (only the "green" cases also read the
documented `.scout/last-run.json` "tests" -> "failed" list, to check that no collection error is
reported).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import git, git_init, run_doit, write_files

# The project's own conftest.py: each item that starts running logs its node id (doctest items and
# items of conftest collectors included, which a log call inside test functions would miss).
LOG_CONFTEST = """\
import os


def pytest_runtest_call(item):
    log = os.environ.get("FG_LOG")
    if log:
        with open(log, "a") as f:
            f.write(item.nodeid + "\\n")
"""


@dataclass
class Run:
    returncode: int
    ran: list[str]  # node ids, in the order they started
    output: str

    @property
    def green(self) -> bool:
        return self.returncode == 0

    @property
    def files(self) -> set[str]:
        return {node.split("::")[0] for node in self.ran}


class Project:
    def __init__(self, root: Path, logs: Path) -> None:
        self.root = root
        self.log = logs / "doit.log"  # $FG_LOG of doit's runs (set by the fixture)
        self.oracle_log = logs / "pytest.log"  # that of plain pytest's runs

    def write(self, files: dict[str, str]) -> None:
        write_files(self.root, files)

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.root / path
        text = file.read_text()
        assert old in text, (path, old)
        file.write_text(text.replace(old, new))

    @staticmethod
    def _take(log: Path) -> list[str]:
        if not log.exists():
            return []
        lines = log.read_text().splitlines()
        log.unlink()
        return lines

    def doit(self, *args: str) -> Run:
        self._take(self.log)
        result = run_doit(self.root, *args)
        return Run(result.returncode, self._take(self.log), result.stdout + result.stderr)

    def pytest(self, *args: str) -> Run:
        """Plain pytest with the project's own configuration: the oracle."""
        self._take(self.oracle_log)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=self.root,
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
            env={**os.environ, "FG_LOG": str(self.oracle_log)},
        )
        return Run(result.returncode, self._take(self.oracle_log), result.stdout + result.stderr)

    def reported_failures(self) -> list[str]:
        path = self.root / ".scout" / "last-run.json"
        return json.loads(path.read_text())["tests"]["failed"] if path.exists() else []


@pytest.fixture
def new_project(tmp_path: Path, monkeypatch):
    """new_project(files, pytest_ini="", extra_toml="", commit=True): a git project with the
    one-line dodo.py and the logging root conftest.py."""
    logs = tmp_path / "logs"
    logs.mkdir()
    monkeypatch.setenv("FG_LOG", str(logs / "doit.log"))

    def make(files: dict[str, str], pytest_ini: str = "", extra_toml: str = "", commit: bool = True) -> Project:
        root = tmp_path / "proj"
        pyproject = ("[project]\nname = \"proj\"\nversion = \"0\"\n\n"
                     f"[tool.pytest.ini_options]\n{textwrap.dedent(pytest_ini)}\n{textwrap.dedent(extra_toml)}")
        write_files(root, {"pyproject.toml": pyproject, "dodo.py": "from doit_scout.dodo import *\n",
                           "conftest.py": LOG_CONFTEST, **files})
        git_init(root, commit=commit)
        return Project(root, logs)

    return make


def green_then_red(p: Project, path: str, good: str, bad: str, node: str, fixed: str | None = None) -> None:
    """The common story: green; `good` -> `bad` in `path` makes `node` fail (pytest agrees) and doit
    red; `bad` -> `fixed` (new content, so no record can serve it) makes doit green, `node` ran."""
    first = p.doit()
    assert first.green, first.output
    assert node in first.ran, first.ran
    p.edit(path, good, bad)
    oracle = p.pytest()
    assert oracle.returncode != 0 and node in oracle.ran, oracle.output
    broken = p.doit()
    assert not broken.green, f"false green after {path} changed:\n{broken.output}"
    assert node in broken.ran, broken.ran
    if fixed is not None:
        p.edit(path, bad, fixed)
        again = p.doit()
        assert again.green, again.output
        assert node in again.ran, again.ran


CORE = "def value():\n    return 1\n"


def uses_core(name: str) -> str:
    return f"from pkg.core import value\n\n\ndef {name}():\n    assert value() == 1\n"


# 1. Options that stop the session early must not leave a failing file looking green.

@pytest.mark.parametrize("where", ["scout_pytest_args_x", "addopts_maxfail"])
def test_stopping_early_does_not_hide_the_second_failing_file(new_project, where: str):
    if where == "scout_pytest_args_x":
        p = new_project({"pkg/__init__.py": "", "pkg/core.py": CORE,
                         "tests/test_a.py": uses_core("test_a"), "tests/test_b.py": uses_core("test_b")},
                        extra_toml='[tool.scout.test]\npytest_args = ["-x"]\n')
        oracle_args: tuple[str, ...] = ("-x",)
    else:
        p = new_project({"pkg/__init__.py": "", "pkg/core.py": CORE,
                         "tests/test_a.py": uses_core("test_a"), "tests/test_b.py": uses_core("test_b")},
                        pytest_ini='addopts = "--maxfail=1"\n')
        oracle_args = ()
    first = p.doit()
    assert first.green and first.files == {"tests/test_a.py", "tests/test_b.py"}, first.output
    p.edit("pkg/core.py", "return 1", "return 2")  # both files fail now
    oracle = p.pytest(*oracle_args)
    assert oracle.returncode != 0 and oracle.files == {"tests/test_a.py"}  # the session stopped there
    assert p.pytest("tests/test_b.py").returncode != 0
    broken = p.doit()
    assert not broken.green, broken.output
    assert len(broken.ran) == 1, f"the scenario needs the session to stop at the first failure: {broken.ran}"
    p.edit("tests/test_a.py", "== 1", "== 2")  # fix only the first file
    second = p.doit()
    assert not second.green, f"tests/test_b.py still fails:\n{second.output}"
    assert "tests/test_b.py::test_b" in second.ran
    p.edit("tests/test_b.py", "== 1", "== 2")
    fixed = p.doit()
    assert fixed.green, fixed.output
    assert "tests/test_b.py::test_b" in fixed.ran


# 2. A test that ends the whole session with status 0.

@pytest.mark.parametrize("stop", [
    'pytest.exit("stop", returncode=0)', "os._exit(0)"], ids=["pytest_exit_0", "os_exit_0"])
def test_a_test_that_ends_the_session_with_status_0_is_not_green(new_project, stop: str):
    p = new_project({"pkg/__init__.py": "", "pkg/core.py": CORE,
                     "tests/test_a_stop.py": "import os\n\nimport pytest\n\n\ndef test_stop():\n    pass\n",
                     "tests/test_b_fail.py": uses_core("test_fail")})
    first = p.doit()
    assert first.green and first.files == {"tests/test_a_stop.py", "tests/test_b_fail.py"}, first.output
    p.edit("tests/test_a_stop.py", "    pass", f"    {stop}")
    p.edit("pkg/core.py", "return 1", "return 2")
    oracle = p.pytest()
    # pytest itself exits 0 here, and never ran the failing test: that is the trap.
    assert oracle.returncode == 0 and oracle.files == {"tests/test_a_stop.py"}, oracle.output
    assert p.pytest("tests/test_b_fail.py").returncode != 0
    broken = p.doit()
    assert not broken.green, f"false green: tests/test_b_fail.py never ran and fails:\n{broken.output}"
    again = p.doit()  # nothing changed: still not green (no record was made from that session)
    assert not again.green, again.output
    p.edit("tests/test_a_stop.py", f"    {stop}", "    assert True")
    third = p.doit()
    assert not third.green, third.output
    assert "tests/test_b_fail.py::test_fail" in third.ran


def test_xdist_workers_that_collect_different_tests_make_a_red_run_that_says_why(new_project):
    # Parameter ids built from the process (as marshmallow's are from the clock): under xdist each
    # worker collects other ids, and xdist runs nothing. That is red, and the report says what to do.
    p = new_project({"pkg/__init__.py": "", "pkg/core.py": CORE,
                     "tests/test_ids.py": "import os\n\nimport pytest\n\n\n"
                                          "@pytest.mark.parametrize('pid', [os.getpid()])\n"
                                          "def test_pid(pid):\n    pass\n",
                     "tests/test_core.py": uses_core("test_core")},
                    extra_toml="[tool.scout.test]\nworkers = 2\n")
    red = p.doit()
    assert not red.green and red.ran == [], red.output
    assert "workers collected different tests" in red.output and "workers = 0" in red.output
    p.edit("pyproject.toml", "workers = 2", "workers = 0")
    green = p.doit()
    assert green.green and green.files == {"tests/test_ids.py", "tests/test_core.py"}, green.output


# 3. pytest's configuration decides what a test file is.

@pytest.mark.parametrize("layout", ["star_test_glob", "tests_py"])
def test_files_that_python_files_makes_tests_are_run(new_project, layout: str):
    if layout == "star_test_glob":
        path, ini = "tests/unittest_foo.py", 'python_files = ["*test_*.py"]\n'
    else:
        path, ini = "pkg/tests.py", 'python_files = ["test_*.py", "tests.py"]\n'
    p = new_project({"pkg/__init__.py": "", "pkg/core.py": CORE, path: uses_core("test_foo"),
                     "tests/test_other.py": "def test_other():\n    pass\n"}, pytest_ini=ini)
    green_then_red(p, "pkg/core.py", "return 1", "return 2", f"{path}::test_foo", fixed="return 0 + 1")


BENCH = "from pkg.core import value\n\nraise RuntimeError('bench is not a test suite')\n\n\ndef test_bench():\n    pass\n"


@pytest.mark.parametrize("how", ["testpaths", "ignore_in_addopts", "collect_ignore", "norecursedirs"])
def test_files_pytest_does_not_collect_do_not_make_doit_red(new_project, how: str):
    files = {"pkg/__init__.py": "", "pkg/core.py": CORE, "tests/test_a.py": uses_core("test_a")}
    if how == "norecursedirs":  # marshmallow keeps mypy inputs named test_*.py in tests/mypy_test_cases
        ignored = "tests/cases/test_case.py"
        files[ignored] = BENCH
        ini = 'norecursedirs = ["tests/cases"]\n'
    elif how == "collect_ignore":
        ignored = "tests/test_skipme.py"
        files.update({"tests/conftest.py": 'collect_ignore = ["test_skipme.py"]\n',
                      ignored: "from pkg.core import value\n\n\ndef test_skipme():\n    assert False\n"})
        ini = ""
    else:
        ignored = "bench/test_bench.py"
        files[ignored] = BENCH
        ini = 'testpaths = ["tests"]\n' if how == "testpaths" else 'addopts = "--ignore=bench"\n'
    p = new_project(files, pytest_ini=ini)
    oracle = p.pytest()
    assert oracle.returncode == 0 and oracle.files == {"tests/test_a.py"}, oracle.output
    # Named on pytest's command line, the same file is collected (and fails): an explicit path
    # overrides testpaths, --ignore and collect_ignore alike.
    assert p.pytest(ignored).returncode != 0
    first = p.doit()
    assert first.green, f"{ignored} is not a test for pytest here:\n{first.output}"
    assert "tests/test_a.py::test_a" in first.ran and ignored not in first.files
    assert not any(node.startswith(ignored) for node in p.reported_failures())
    assert "did not run to completion" not in first.output, first.output  # it is no test: nothing to complete
    # A change the ignored file imports (and the ignored file itself) must not drag it in either.
    p.edit("pkg/core.py", "return 1", "return 0 + 1")
    (p.root / ignored).write_text((p.root / ignored).read_text() + "\n# edited\n")
    second = p.doit()
    assert second.green, second.output
    assert ignored not in second.files
    assert not any(node.startswith(ignored) for node in p.reported_failures())
    # Stop ignoring it: now pytest collects it, and it fails.
    if how == "testpaths":
        p.edit("pyproject.toml", 'testpaths = ["tests"]', 'testpaths = ["tests", "bench"]')
    elif how == "ignore_in_addopts":
        p.edit("pyproject.toml", 'addopts = "--ignore=bench"', 'addopts = ""')
    elif how == "norecursedirs":
        p.edit("pyproject.toml", 'norecursedirs = ["tests/cases"]', "norecursedirs = []")
    else:
        p.edit("tests/conftest.py", 'collect_ignore = ["test_skipme.py"]', "collect_ignore = []")
    assert p.pytest().returncode != 0
    third = p.doit()
    assert not third.green, f"false green: pytest now collects {ignored}, which fails:\n{third.output}"
    if how == "collect_ignore":
        assert "tests/test_skipme.py::test_skipme" in third.ran


# 4. Doctests.

MATHY = '''\
def add(a, b):
    """Add.

    >>> add(1, 1)
    3
    """
    return a + b
'''


def test_doctest_modules(new_project):
    p = new_project({"pkg/__init__.py": "", "pkg/mathy.py": MATHY,
                     "tests/test_ok.py": "def test_ok():\n    pass\n"},
                    pytest_ini='addopts = "--doctest-modules"\n')
    node = "pkg/mathy.py::pkg.mathy.add"
    oracle = p.pytest()
    assert oracle.returncode != 0 and node in oracle.ran, oracle.output
    wrong = p.doit()
    assert not wrong.green, f"the doctest of pkg/mathy.py fails:\n{wrong.output}"
    p.edit("pkg/mathy.py", "    3\n", "    2\n")
    right = p.doit()
    assert right.green, right.output
    assert node in right.ran
    p.edit("pkg/mathy.py", ">>> add(1, 1)\n    2", ">>> add(2, 2)\n    5")  # only the docstring
    assert p.pytest().returncode != 0
    broken = p.doit()
    assert not broken.green, f"false green after a docstring example broke:\n{broken.output}"
    assert node in broken.ran


def test_doctest_modules_import_inside_the_example(new_project):
    """The docstring imports pkg.other; pkg/mathy.py itself does not."""
    p = new_project({"pkg/__init__.py": "", "pkg/other.py": "X = 2\n",
                     "pkg/mathy.py": 'def add(a, b):\n    """Add.\n\n    >>> from pkg.other import X\n'
                                     '    >>> add(X, 1)\n    3\n    """\n    return a + b\n',
                     "tests/test_ok.py": "def test_ok():\n    pass\n"},
                    pytest_ini='addopts = "--doctest-modules"\n')
    green_then_red(p, "pkg/other.py", "X = 2", "X = 3", "pkg/mathy.py::pkg.mathy.add", fixed="X = 1 + 1")


USAGE_RST = """\
Usage
=====

>>> from pkg.mathy import add
>>> add(2, 2)
4
"""


def test_doctest_glob_rst(new_project):
    p = new_project({"pkg/__init__.py": "", "pkg/mathy.py": "def add(a, b):\n    return a + b\n",
                     "docs/usage.rst": USAGE_RST, "tests/test_ok.py": "def test_ok():\n    pass\n"},
                    pytest_ini="addopts = \"--doctest-glob='*.rst'\"\n")
    node = "docs/usage.rst::usage.rst"
    first = p.doit()
    assert first.green and node in first.ran, (first.ran, first.output)
    p.edit("docs/usage.rst", "4\n", "5\n")
    oracle = p.pytest()
    assert oracle.returncode != 0 and node in oracle.ran, oracle.output
    broken = p.doit()
    assert not broken.green, f"false green after docs/usage.rst broke:\n{broken.output}"
    assert node in broken.ran
    p.edit("docs/usage.rst", ">>> add(2, 2)\n5\n", ">>> add(2, 2)\n4\n>>> add(1, 2)\n3\n")
    fixed = p.doit()
    assert fixed.green and node in fixed.ran, (fixed.ran, fixed.output)


def test_doctest_glob_rst_import_inside_the_example(new_project):
    """Only the .rst imports pkg.mathy, inside the doctest: no static import shows it."""
    p = new_project({"pkg/__init__.py": "", "pkg/mathy.py": "def add(a, b):\n    return a + b\n",
                     "docs/usage.rst": USAGE_RST, "tests/test_ok.py": "def test_ok():\n    pass\n"},
                    pytest_ini="addopts = \"--doctest-glob='*.rst'\"\n")
    green_then_red(p, "pkg/mathy.py", "return a + b", "return a + b + 1", "docs/usage.rst::usage.rst",
                   fixed="return b + a")


# 5. A conftest.py hook that turns golden .txt files into test items.

GOLDEN_CONFTEST = """\
import pytest


class GoldenItem(pytest.Item):
    def runtest(self):
        if self.path.read_text().strip() == "bad":
            raise AssertionError(f"{self.path.name} says bad")

    def reportinfo(self):
        return self.path, 0, self.name


class GoldenFile(pytest.File):
    def collect(self):
        yield GoldenItem.from_parent(self, name=self.path.stem)


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".txt" and file_path.parent.name == "cases":
        return GoldenFile.from_parent(parent, path=file_path)
"""


def test_golden_files_collected_by_a_conftest_hook(new_project):
    p = new_project({"tests/conftest.py": GOLDEN_CONFTEST, "tests/cases/one.txt": "good\n",
                     "tests/cases/two.txt": "good\n", "tests/test_plain.py": "def test_plain():\n    pass\n"})
    golden = {"tests/cases/one.txt::one", "tests/cases/two.txt::two"}
    first = p.doit()
    assert first.green and golden <= set(first.ran), (first.ran, first.output)
    everything = p.doit("test", "--all")
    assert everything.green and golden <= set(everything.ran), (everything.ran, everything.output)
    p.edit("tests/cases/two.txt", "good", "bad")
    oracle = p.pytest()
    assert oracle.returncode != 0 and "tests/cases/two.txt::two" in oracle.ran, oracle.output
    broken = p.doit()
    assert not broken.green, f"false green after tests/cases/two.txt turned bad:\n{broken.output}"
    assert "tests/cases/two.txt::two" in broken.ran
    p.edit("tests/cases/two.txt", "bad", "good again")
    fixed = p.doit()
    assert fixed.green and "tests/cases/two.txt::two" in fixed.ran, (fixed.ran, fixed.output)
    p.write({"tests/cases/three.txt": "bad\n"})  # a new golden file (untracked), failing
    added = p.doit()
    assert not added.green, f"false green after a failing tests/cases/three.txt was added:\n{added.output}"
    assert "tests/cases/three.txt::three" in added.ran


# 6. Modules the static graph may not see.

def test_implicit_namespace_subpackage(new_project):
    p = new_project({"pkg/__init__.py": "", "pkg/ns/mod.py": "def f():\n    return 1\n",
                     "tests/test_ns.py": "from pkg.ns.mod import f\n\n\ndef test_ns():\n    assert f() == 1\n"})
    green_then_red(p, "pkg/ns/mod.py", "return 1", "return 2", "tests/test_ns.py::test_ns", fixed="return 0 + 1")


def test_git_ignored_version_module(new_project):
    p = new_project({".gitignore": "pkg/_version.py\n", "pkg/_version.py": 'version = "1.0"\n',
                     "pkg/__init__.py": "from pkg._version import version\n",
                     "tests/test_version.py": 'import pkg\n\n\ndef test_version():\n    assert pkg.version == "1.0"\n'})
    assert "pkg/_version.py" not in git(p.root, "ls-files")  # really ignored, as setuptools_scm's is
    green_then_red(p, "pkg/_version.py", '"1.0"', '"2.0"', "tests/test_version.py::test_version",
                   fixed='"1" + ".0"')


def test_untracked_subpackage_named_build(new_project):
    p = new_project({"pkg/__init__.py": "",
                     "tests/test_build.py": "from pkg.build import built\n\n\ndef test_build():\n    assert built() == 1\n"})
    p.write({"pkg/build/__init__.py": "def built():\n    return 1\n"})  # after the commit: untracked
    assert "pkg/build/__init__.py" in git(p.root, "status", "--porcelain", "--untracked-files=all")
    green_then_red(p, "pkg/build/__init__.py", "return 1", "return 2", "tests/test_build.py::test_build",
                   fixed="return 0 + 1")


def test_module_on_pytest_pythonpath(new_project):
    p = new_project({"tests/helpers/helper_mod.py": "def h():\n    return 1\n",
                     "tests/test_helper.py": "import helper_mod\n\n\ndef test_helper():\n    assert helper_mod.h() == 1\n"},
                    pytest_ini='pythonpath = ["tests/helpers"]\n')
    green_then_red(p, "tests/helpers/helper_mod.py", "return 1", "return 2", "tests/test_helper.py::test_helper",
                   fixed="return 0 + 1")


# 7. Dependencies that no static import shows.

def test_lazy_submodule_through_module_getattr(new_project):
    p = new_project({
        "pkg/__init__.py": "import importlib\n\n\ndef __getattr__(name):\n"
                           "    return importlib.import_module(\".\" + name, __name__)\n",
        "pkg/lazy.py": "def value():\n    return 1\n",
        "tests/test_lazy.py": "import pkg\n\n\ndef test_lazy():\n    assert pkg.lazy.value() == 1\n",
    })
    green_then_red(p, "pkg/lazy.py", "return 1", "return 2", "tests/test_lazy.py::test_lazy", fixed="return 0 + 1")


def test_import_module_with_a_computed_name(new_project):
    p = new_project({
        "pkg/__init__.py": "",
        "pkg/loader.py": "import importlib\n\nVERSION = 2\n\n\ndef load():\n"
                         "    return importlib.import_module(f\"pkg.tables.v{VERSION}\")\n",
        "pkg/tables/__init__.py": "", "pkg/tables/v1.py": "ROWS = 1\n", "pkg/tables/v2.py": "ROWS = 3\n",
        "tests/test_table.py": "from pkg.loader import load\n\n\ndef test_table():\n    assert load().ROWS == 3\n",
    })
    green_then_red(p, "pkg/tables/v2.py", "ROWS = 3", "ROWS = 4", "tests/test_table.py::test_table",
                   fixed="ROWS = 1 + 2")


REGISTRY = """\
import importlib.util
import os

PLUGIN_DIR = os.path.join(os.path.dirname(__file__), "plugins")


def load_all():
    plugins = []
    for name in sorted(os.listdir(PLUGIN_DIR)):
        if name.endswith(".py"):
            spec = importlib.util.spec_from_file_location("plugin_" + name[:-3], os.path.join(PLUGIN_DIR, name))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            plugins.append((name, module))
    return plugins
"""


def test_plugins_loaded_by_scanning_a_folder(new_project):
    node = "tests/test_plugins.py::test_plugins"
    p = new_project({
        "pkg/__init__.py": "", "pkg/registry.py": REGISTRY,
        "pkg/plugins/alpha.py": "def check():\n    return True\n",
        "pkg/plugins/beta.py": "def check():\n    return True\n",
        "tests/test_plugins.py": "from pkg.registry import load_all\n\n\ndef test_plugins():\n"
                                 "    plugins = load_all()\n    assert len(plugins) >= 2\n"
                                 "    for name, module in plugins:\n        assert module.check(), name\n",
    })
    green_then_red(p, "pkg/plugins/beta.py", "return True", "return False", node, fixed="return not False")
    p.write({"pkg/plugins/gamma.py": "def check():\n    return False\n"})  # a new, failing plugin
    oracle = p.pytest()
    assert oracle.returncode != 0 and node in oracle.ran, oracle.output
    added = p.doit()
    assert not added.green, f"false green after a failing plugin was added:\n{added.output}"
    assert node in added.ran


def test_a_listed_folder_counts_as_changed_only_when_a_file_is_added_or_removed(new_project):
    """A listing holds names: `doit explain` names the folder for an added file, not for a file
    edited in place (the edited file is a reason of its own, read by the running test)."""
    p = new_project({
        "pkg/__init__.py": "", "pkg/registry.py": REGISTRY,
        "pkg/plugins/alpha.py": "def check():\n    return True\n",
        "tests/test_plugins.py": "from pkg.registry import load_all\n\n\ndef test_plugins():\n"
                                 "    assert all(module.check() for _, module in load_all())\n",
    })
    assert p.doit().green

    def reasons() -> list[str]:
        result = run_doit(p.root, "explain", "--json", "tests/test_plugins.py")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["tests"][0]["reasons"]

    listed = "a file was added to or removed from pkg/plugins/, which its code lists"
    p.edit("pkg/plugins/alpha.py", "return True", "return 1 == 1")
    assert reasons() and listed not in reasons()
    p.write({"pkg/plugins/beta.py": "def check():\n    return True\n"})
    assert listed in reasons()


def test_script_run_in_a_subprocess(new_project):
    p = new_project({
        "tests/scripts/tool.py": 'print("ok")\n',
        "tests/test_tool.py": "import subprocess\nimport sys\nfrom pathlib import Path\n\n"
                              "TOOL = Path(__file__).parent / \"scripts\" / \"tool.py\"\n\n\n"
                              "def test_tool():\n"
                              "    out = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True).stdout\n"
                              "    assert out.strip() == \"ok\"\n",
    })
    green_then_red(p, "tests/scripts/tool.py", 'print("ok")', 'print("not ok")', "tests/test_tool.py::test_tool",
                   fixed='print("o" + "k")')


def test_a_linter_setting_read_by_a_child_process_a_test_starts(new_project):
    # Linter settings are no input of a test, unless a test runs the linter (or anything) in a child
    # process, which the audit hook does not see: then every config file counts whole.
    reader = "import sys, tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['tool']['ruff']['line-length'])"
    p = new_project({
        "tests/test_lint_settings.py": "import subprocess\nimport sys\n\n\n"
                                       "def test_line_length():\n"
                                       f"    out = subprocess.run([sys.executable, '-c', {reader!r}], capture_output=True, text=True).stdout\n"
                                       "    assert out.strip() == '100'\n",
        "tests/test_other.py": "def test_other():\n    pass\n",
    }, extra_toml="[tool.ruff]\nline-length = 100\n")
    green_then_red(p, "pyproject.toml", "line-length = 100", "line-length = 120",
                   "tests/test_lint_settings.py::test_line_length", fixed="line-length = 100  # back")
    # A new comment: only the test that starts a child process runs again, and explain says why.
    p.edit("pyproject.toml", "line-length = 100  # back", "line-length = 100  # still")
    explained = json.loads(run_doit(p.root, "explain", "--json").stdout)
    reasons = {t["path"]: t["reasons"] for t in explained["tests"]}
    assert any("config changed: pyproject.toml" in r and "child process" in r
               for r in reasons["tests/test_lint_settings.py"]), reasons
    assert p.doit().files == {"tests/test_lint_settings.py"}


def test_data_file_read_by_a_helper(new_project):
    p = new_project({
        "tests/util.py": "import json\nfrom pathlib import Path\n\n\ndef load_case(rel):\n"
                         "    with open(Path(__file__).parent / rel) as f:\n        return json.load(f)\n",
        "tests/testdata/sub/case.json": '{"value": 1}\n',
        "tests/test_case.py": "from util import load_case\n\n\ndef test_case():\n"
                              "    assert load_case(\"testdata/sub/case.json\")[\"value\"] == 1\n",
    })
    green_then_red(p, "tests/testdata/sub/case.json", '{"value": 1}', '{"value": 2}', "tests/test_case.py::test_case",
                   fixed='{"value": 1, "note": "fixed"}')



def test_a_test_reading_its_own_file_through_project_code_makes_no_other_test_depend_on_it(new_project):
    """click's test_termui opens its own __file__ with click.open_file: the read is project code's,
    but what it read was only that test's input, so editing that test runs that test alone."""
    p = new_project({
        "pkg/__init__.py": "", "pkg/files.py": "def read(path):\n    with open(path) as f:\n        return f.read()\n",
        "tests/test_a.py": "from pkg.files import read\n\n\ndef test_a():\n    assert 'test_a' in read(__file__)\n",
        "tests/test_b.py": "from pkg.files import read\n\n\ndef test_b():\n    assert read('data.txt') == 'one'\n",
        "data.txt": "one",
    })
    first = p.doit()
    assert first.green and first.files == {"tests/test_a.py", "tests/test_b.py"}, first.output
    p.edit("tests/test_a.py", "assert 'test_a'", "assert 'def test_a'")
    again = p.doit()
    assert again.green and again.files == {"tests/test_a.py"}, again.output
    p.edit("data.txt", "one", "two")  # what test_b reads through the same code still counts
    third = p.doit()
    assert not third.green and "tests/test_b.py" in third.files, third.output


KEEPING_REGISTRY = """\
HANDLERS = {}


def register(thing):
    HANDLERS[getattr(thing, "key", None) or thing.__name__.lower()] = thing
    return thing


class Registered:
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)


class Meta(type):
    def __init__(cls, name, bases, namespace):
        super().__init__(name, bases, namespace)
        register(cls)


def handle(name):
    handler = HANDLERS[name]
    return handler() if not isinstance(handler, type) else handler().run()
"""
KEPT_AT_IMPORT = {
    "class-decorator": "@register\nclass Foo:\n    def run(self):\n        return 1\n",
    "function-decorator": "@register\ndef foo():\n    return 1\n",
    "method-decorator": "class Views:\n    @register\n    def foo():\n        return 1\n",
    "init-subclass": "class Foo(Registered):\n    def run(self):\n        return 1\n",
    "metaclass": "class Foo(metaclass=Meta):\n    def run(self):\n        return 1\n",
}


@pytest.mark.parametrize("handlers", list(KEPT_AT_IMPORT.values()), ids=list(KEPT_AT_IMPORT))
def test_what_importing_a_module_registers_reaches_the_tests_that_look_it_up(new_project, handlers: str):
    """A plugin registry, a route table, a command group: importing the module hands the function
    or class to code that keeps it, and the test reaches it by a key, never by its name."""
    p = new_project({
        "pkg/__init__.py": "", "pkg/registry.py": KEEPING_REGISTRY,
        "pkg/handlers.py": "from pkg.registry import Meta, Registered, register\n\n\n" + handlers,
        "pkg/app.py": "import pkg.handlers  # noqa: F401\nfrom pkg.registry import handle\n\n\n"
                      "def main():\n    return handle('foo')\n",
        "tests/test_app.py": "from pkg.app import main\n\n\ndef test_main():\n    assert main() == 1\n",
    })
    green_then_red(p, "pkg/handlers.py", "return 1", "return 2", "tests/test_app.py::test_main", fixed="return 1 + 0")


def test_a_class_only_the_standard_library_decorates_stays_with_the_code_that_names_it(new_project):
    """dataclass, property and staticmethod keep nothing: a method body edit runs only the tests
    whose code can reach the class by name, not every test that imports its module."""
    p = new_project({
        "pkg/__init__.py": "",
        "pkg/shapes.py": "from dataclasses import dataclass\n\n\n@dataclass\nclass Box:\n    side: int = 2\n\n"
                         "    @property\n    def area(self):\n        return self.side * self.side\n\n\n"
                         "def unit():\n    return 1\n",
        "tests/test_box.py": "from pkg.shapes import Box\n\n\ndef test_area():\n    assert Box().area == 4\n",
        "tests/test_unit.py": "from pkg.shapes import unit\n\n\ndef test_unit():\n    assert unit() == 1\n",
    })
    assert p.doit().green
    p.edit("pkg/shapes.py", "return self.side * self.side", "return self.side ** 2")
    again = p.doit()
    assert again.green and again.files == {"tests/test_box.py"}, again.output

# 8. Shards of one checkout, one after the other.

@pytest.mark.parametrize("order", [(1, 2), (2, 1)], ids=["1-then-2", "2-then-1"])
def test_shards_in_one_checkout_each_run_every_failing_file_once(new_project, order: tuple[int, int]):
    files = {"pkg/__init__.py": "", "pkg/core.py": "X = int(1)\nY = int(1)\n"}  # import-time code
    for name, attr in (("a", "X"), ("b", "X"), ("c", "Y"), ("d", "Y")):
        files[f"tests/test_{name}.py"] = f"from pkg import core\n\n\ndef test_{name}():\n    assert core.{attr} == 1\n"
    p = new_project(files)
    first = p.doit()
    assert first.green and first.files == {f"tests/test_{name}.py" for name in "abcd"}, first.output
    p.edit("pkg/core.py", "X = int(1)", "X = int(2)")  # test_a and test_b fail; all four import the change
    p.write({"tests/test_e.py": "def test_e():\n    assert False\n"})  # a new file (untracked), failing
    everything = {f"tests/test_{name}.py" for name in "abcde"}
    failing = {"tests/test_a.py", "tests/test_b.py", "tests/test_e.py"}
    oracle = p.pytest()
    assert oracle.returncode != 0 and oracle.files == everything, oracle.output
    runs = {k: p.doit("test", "--shard", f"{k}/2") for k in order}
    for k, run in runs.items():
        assert run.green == (not run.files & failing), f"shard {k}/2 ran {sorted(run.files)}:\n{run.output}"
    for path in everything:
        times = [k for k, run in runs.items() if path in run.files]
        assert len(times) == 1, f"{path} ran in shards {times}"


# 9. Bytecode Python would load instead of the file's new content.

@pytest.mark.parametrize("path, good, bad", [
    ("pkg/core.py", "return 1", "return 2"),  # the interpreter's own .pyc
    ("tests/test_core.py", "== 1", "== 2"),  # pytest's rewritten test module
], ids=["module", "test-file"])
def test_a_file_rewritten_in_the_same_second_at_the_same_size_runs_as_written(new_project, path: str, good: str,
                                                                                bad: str):
    """Python trusts a .pyc whose header holds the source's mtime in whole seconds and its size: an
    edit in the same second that keeps the size imported the old code, and the old code's pass was
    recorded green for the new content."""
    p = new_project({"pkg/__init__.py": "", "pkg/core.py": CORE, "tests/test_core.py": uses_core("test_core")})
    assert p.doit().green
    second = (int(os.stat(p.root / path).st_mtime) - 30) * 1_000_000_000
    os.utime(p.root / path, ns=(second, second + 100_000_000))
    # Bytecode as a plain `pytest` or `python` in this checkout writes it (whatever this environment
    # says about writing bytecode), a moment before the edit in the same second.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    written = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=p.root,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=120)
    assert written.returncode == 0, written.stdout
    stem = Path(path).stem
    pycs = [pyc for pyc in (p.root / path).parent.glob(f"__pycache__/{stem}.*.pyc")]
    assert pycs, f"no bytecode of {path} was written"
    for pyc in pycs:
        os.utime(pyc, ns=(second + 200_000_000,) * 2)
    p.edit(path, good, bad)
    os.utime(p.root / path, ns=(second + 500_000_000,) * 2)
    run = p.doit()
    assert not run.green, f"false green: {path} ran as its old bytecode:\n{run.output}"
    assert "tests/test_core.py::test_core" in run.ran


@pytest.mark.parametrize("config_file", ["pytest.toml", ".pytest.toml", ".pytest.ini"])
def test_an_edit_of_any_file_pytest_takes_its_settings_from(new_project, config_file: str):
    """pytest 9 reads pytest.toml and .pytest.toml first, then pytest.ini and .pytest.ini."""
    p = new_project({
        "tests/test_x.py": "import pytest\n\n\n@pytest.mark.xfail(reason='not yet')\ndef test_x():\n    pass\n",
        config_file: "[pytest]\nxfail_strict = false\n",
    })
    green_then_red(p, config_file, "xfail_strict = false", "xfail_strict = true", "tests/test_x.py::test_x")
