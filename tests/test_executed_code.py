"""Executed code: a test file's fingerprint covers the function bodies its runs were seen to run,
not every body its code can reach by name (doit_scout.executed, doit_scout.tracing). Real doit
runs in real projects; a test file's first run is not traced (nor a full run), so each test runs
the suite once, then again, traced, before the edit it checks."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from helpers import doit_tests, git_init, run_doit, write_files

OPS = {
    "pkg/__init__.py": "from .ops import dispatch, f, g\n",
    "pkg/ops.py": '''\
        def f():
            """Answers 1."""
            return 1


        def g():
            return 2


        def dispatch(name):
            return {"f": f, "g": g}[name]()
        ''',
    "tests/test_f.py": "import pkg\n\n\ndef test_f():\n    assert pkg.dispatch('f') == 1\n",
    "tests/test_g.py": "import pkg\n\n\ndef test_g():\n    assert pkg.dispatch('g') == 2\n",
}


def traced_project(root: Path, files: dict[str, str], table: str = "") -> Path:
    """A project whose tests ran twice, the second time after an edit of a conftest.py (its code
    is every test's input): what a first run recorded holds as a later one's does."""
    write_files(root, {
        "dodo.py": "from doit_scout.dodo import *\n",
        "pyproject.toml": f'[project]\nname = "p"\nversion = "0"\n\n[tool.pytest.ini_options]\n'
                          f'testpaths = ["tests"]\naddopts = "-p no:randomly"\n{table}',
        "tests/conftest.py": "",
        **files,
    })
    git_init(root)
    doit_tests(root)
    (root / "tests" / "conftest.py").write_text((root / "tests" / "conftest.py").read_text() + "TRACED = True\n")
    assert sorted(doit_tests(root)[1]["selected"]) == sorted(p for p in files if p.startswith("tests/test_"))
    return root


def edit(root: Path, path: str, old: str, new: str) -> None:
    text = (root / path).read_text()
    assert old in text
    (root / path).write_text(text.replace(old, new))


def selected(root: Path, ok: bool = True) -> list[str]:
    return sorted(doit_tests(root, ok=ok)[1]["selected"])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_body_change_runs_only_the_test_files_that_ran_it(tmp_path: Path, workers: int):
    root = traced_project(tmp_path, OPS, f"\n[tool.scout.test]\nworkers = {workers}\n")
    edit(root, "pkg/ops.py", "return 1", "return 0 + 1")
    explained = {t["path"]: t for t in json.loads(run_doit(root, "explain", "--json").stdout)["tests"]}
    assert explained["tests/test_g.py"]["decision"] == "skip"
    assert explained["tests/test_g.py"]["reasons"][1:] == [
        "tests/test_g.py <- tests.test_g:test_g <- pkg.ops:dispatch (as `pkg.dispatch`, re-exported by "
        "pkg/__init__.py) <- pkg/ops.py:f changed, but its tests did not run that code when they last ran"]
    # Both reach f through dispatch's table; test_f ran it. In one process test_g runs after
    # test_f, but nothing test_f ran wrote anything that outlives its call (analyzers.state_writes):
    # what f computed went back to test_f alone.
    assert selected(root) == ["tests/test_f.py"]
    edit(root, "pkg/ops.py", "return 2", "return 3")
    assert selected(root, ok=False) == ["tests/test_g.py"]
    edit(root, "pkg/ops.py", "return 3", "return 2")
    assert selected(root) == []  # g's body as it was when test_g passed


def test_a_docstring_reaches_the_tests_that_read_it_and_a_signature_every_test_that_can_name_it(tmp_path: Path):
    root = traced_project(tmp_path, {**OPS, "tests/test_doc.py": "import inspect\n\nimport pkg\n\n\n"
                                     "def test_doc():\n    assert inspect.getdoc(pkg.f) == 'Answers 1.'\n"})
    edit(root, "pkg/ops.py", "Answers 1.", "Answers one.")
    # test_doc reads the docstring without running f; test_f runs f, which never reads it
    assert selected(root, ok=False) == ["tests/test_doc.py"]
    edit(root, "pkg/ops.py", "def f():", "def f(unused=None):")
    assert selected(root, ok=False) == ["tests/test_doc.py", "tests/test_f.py", "tests/test_g.py"]


COPIED_DOCS = {  # docstrings property and functools.wraps copy as the module is imported
    "pkg/__init__.py": "from .docs import C, wrapped\n",
    "pkg/docs.py": "import functools\n\n\ndef plain():\n    return 0\n\n\nclass C:\n    @property\n"
                   "    def p(self):\n        \"\"\"P docs.\"\"\"\n        return 1\n\n\n"
                   "def inner():\n    \"\"\"Inner docs.\"\"\"\n\n\n@functools.wraps(inner)\ndef wrapped():\n    return 2\n",
    "tests/test_p.py": "import pkg\n\n\ndef test_p():\n    assert pkg.C.p.__doc__ == 'P docs.'\n",
    "tests/test_w.py": "import pkg\n\n\ndef test_w():\n    assert pkg.wrapped.__doc__ == 'Inner docs.'\n",
}


@pytest.mark.parametrize("old,new", [("P docs.", "P words."), ("Inner docs.", "Inner words.")])
def test_a_docstring_copied_as_a_module_is_imported_counts_for_every_test(tmp_path: Path, old: str, new: str):
    """A copy (`property`, `staticmethod`, `functools.wraps`) is read later with no function's
    `__doc__` to see: the read when the module is imported counts, as import-time code does."""
    root = traced_project(tmp_path, COPIED_DOCS)
    edit(root, "pkg/docs.py", old, new)
    assert selected(root, ok=False) == ["tests/test_p.py", "tests/test_w.py"]


def test_a_session_fixture_counts_for_every_test_that_uses_it_not_only_the_first(tmp_path: Path):
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "def make():\n    return 1\n\n\ndef other():\n    return 0\n",
        "tests/conftest.py": "import pytest\n\nimport pkg\n\n\n@pytest.fixture(scope='session')\n"
                             "def value():\n    return pkg.make()\n",
        "tests/test_a.py": "import pkg\n\n\ndef test_a(value):\n    assert value == 1\n\n\n"
                           "def test_other():\n    assert pkg.other() == 0\n",
        "tests/test_b.py": "def test_b(request):\n    assert request.getfixturevalue('value') == 1\n",
    })
    edit(root, "pkg/__init__.py", "return 1", "return 2")
    assert selected(root, ok=False) == ["tests/test_a.py", "tests/test_b.py"]


def test_what_runs_at_import_counts_for_every_test(tmp_path: Path):
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "from .settings import load\n\nLIMIT = load()\n",
        "pkg/settings.py": "def load():\n    return 3\n",
        "tests/test_a.py": "def test_a():\n    import pkg\n    assert pkg.LIMIT == 3\n",
        "tests/test_b.py": "import pkg\n\n\ndef test_b():\n    assert pkg.LIMIT == 3\n",
    })
    edit(root, "pkg/settings.py", "return 3", "return 4")
    assert selected(root, ok=False) == ["tests/test_a.py", "tests/test_b.py"]


def test_what_runs_importing_a_module_a_function_imports_counts_only_for_the_tests_that_call_it(tmp_path: Path):
    """click's `_termui_impl`: imported inside the few functions that need it, so an edit of its
    import-time code (or of what only a type checker imports) is not every importer's input."""
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "from .ui import page, size\n",
        "pkg/ui.py": "from __future__ import annotations\n\nimport typing as t\n\nif t.TYPE_CHECKING:\n"
                     "    from ._impl import Pager\n\n\ndef page(text: str) -> str:\n    from ._impl import Pager\n\n"
                     "    return Pager().show(text)\n\n\ndef size() -> int:\n    return 2\n\n\n"
                     "def pager_of(pager: Pager) -> Pager:\n    return pager\n",
        "pkg/_impl.py": "MODE = str(1)\n\n\nclass Pager:\n    def show(self, text):\n        return MODE + text\n",
        "tests/test_page.py": "import pkg\n\n\ndef test_page():\n    assert pkg.page('x') == '1x'\n",
        "tests/test_size.py": "import pkg\n\n\ndef test_size():\n    assert pkg.size() == 2\n",
    })
    edit(root, "pkg/_impl.py", "str(1)", "str(0 + 1)")
    assert selected(root) == ["tests/test_page.py"]
    edit(root, "pkg/ui.py", "if t.TYPE_CHECKING:\n    from ._impl import Pager\n", "if t.TYPE_CHECKING:\n    from ._impl import Pager, MODE\n")
    assert selected(root) == []  # only a type checker runs it

@pytest.mark.parametrize("edited", ["* 1", "n + n"])
def test_a_memoized_function_and_what_it_calls_count_for_every_test_that_can_name_it(tmp_path: Path, edited: str):
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "import functools\n\n\ndef _helper(n):\n    return n + n\n\n\n"
                           "@functools.lru_cache\ndef rate(n):\n    return _helper(n) * 1\n",
        "tests/test_a.py": "import pkg\n\n\ndef test_a():\n    assert pkg.rate(1) == 2\n",
        "tests/test_b.py": "import pkg\n\n\ndef test_b():\n    assert pkg.rate(1) == 2  # test_a's result\n",
    }, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/__init__.py", edited, "* 3" if edited == "* 1" else "n * 3")  # rate's body, or _helper's
    assert selected(root, ok=False) == ["tests/test_a.py", "tests/test_b.py"]


def test_what_a_memoized_function_calls_counts_whole_only_for_the_tests_that_can_name_the_function(tmp_path: Path):
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "import functools\n\n\ndef _helper(n):\n    return n + n\n\n\n"
                           "@functools.lru_cache\ndef rate(n):\n    return _helper(n)\n\n\n"
                           "def other(flag):\n    return _helper(1) if flag else 0\n",
        "tests/test_a.py": "import pkg\n\n\ndef test_a():\n    assert pkg.rate(1) == 2\n",
        # Runs first, so no body test_a ran came before it in the process.
        "tests/test_0.py": "import pkg\n\n\ndef test_0():\n    assert pkg.other(False) == 0\n",
    }, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/__init__.py", "n + n", "n * 3")  # test_0 can call _helper, and its runs never did
    assert selected(root, ok=False) == ["tests/test_a.py"]


def test_a_method_behind_a_marking_decorator_counts_only_for_the_tests_that_ran_it(tmp_path: Path):
    """A decorator that marks a function (marshmallow's post_load, a plugin hook) is no memo: the
    body runs in its own frame when called, and an edit of it is an input of the tests that ran
    it, not of every test that can name its class (a module-level instance made at import)."""
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "def hook(fn):\n    fn.is_hook = True\n    return fn\n\n\nclass Base:\n"
                           "    def load(self, x):\n        return self.post(x)\n\n    @hook\n"
                           "    def post(self, x):\n        return x + 1\n\n    def size(self):\n        return 2\n\n\n"
                           "SHARED = Base()\n",
        "tests/test_a.py": "import pkg\n\n\ndef test_a():\n    assert pkg.SHARED.load(1) == 2\n",
        # Runs first, so no body test_a ran came before it in the process.
        "tests/test_0.py": "import pkg\n\n\ndef test_0():\n    assert pkg.Base().size() == 2\n",
    }, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/__init__.py", "x + 1", "x + 2")
    assert selected(root, ok=False) == ["tests/test_a.py"]
    edit(root, "pkg/__init__.py", "    @hook\n", "    @functools.lru_cache\n")  # a memo: Base's frame changed
    edit(root, "pkg/__init__.py", "def hook", "import functools\n\n\ndef hook")
    edit(root, "pkg/__init__.py", "x + 2", "x + 1")
    assert selected(root) == ["tests/test_0.py", "tests/test_a.py"]
    edit(root, "pkg/__init__.py", "x + 1", "x + 3")  # the memo's body: in its frame, as any memo's
    assert selected(root, ok=False) == ["tests/test_0.py", "tests/test_a.py"]


def test_a_body_edit_in_a_module_seen_starting_a_child_process_runs_only_the_tests_that_reach_the_body(tmp_path: Path):
    """What a body was seen to read (a child may read any config file) stays its input after the
    edit, and is an input of the tests that reach that body only."""
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/run.py": "import subprocess\nimport sys\n\n\ndef launch():\n"
                      "    return subprocess.run([sys.executable, '-c', 'print(1)'], capture_output=True).stdout\n\n\n"
                      "def size():\n    return 2\n",
        "tests/test_a.py": "from pkg import run\n\n\ndef test_a():\n    assert run.launch().strip() == b'1'\n",
        "tests/test_b.py": "from pkg import run\n\n\ndef test_b():\n    assert run.size() == 2\n",
    }, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/run.py", "print(1)", "print(0 + 1)")
    assert selected(root) == ["tests/test_a.py"]
    edit(root, "pyproject.toml", 'version = "0"', 'version = "1"')  # no test can see it; the child can
    assert selected(root) == ["tests/test_a.py"]  # test_b imports pkg.run but cannot call launch


# click's `_expand_args` shape: a function that lists folders, in a module every test imports.
LISTER = {
    "pkg/__init__.py": "from .utils import expand, size\n",
    "pkg/utils.py": "import glob\n\n\ndef expand(pattern):\n    return sorted(glob.glob(pattern, recursive=True))\n\n\n"
                    "def size():\n    return 2\n",
    "docs/a.md": "a\n",
    "tests/test_expand.py": "import pkg\n\n\ndef test_expand():\n    assert len(pkg.expand('docs/**/*.md')) == 1\n",
    "tests/test_size.py": "import pkg\n\n\ndef test_size():\n    assert pkg.size() == 2\n",
}


@pytest.mark.parametrize("level", ["executed", "static"])
def test_what_a_function_body_lists_is_an_input_of_the_tests_that_reach_it_not_of_every_importer(
        tmp_path: Path, level: str):
    table = "\n[tool.scout.test]\nworkers = 1\n" + ("executed_code = false\n" if level == "static" else "")
    root = traced_project(tmp_path, LISTER, table)
    write_files(root, {"docs/b.md": "b\n"})  # test_expand now fails: no false green
    explained = run_doit(root, "explain", "--json", "tests/test_expand.py")
    assert "a file was added to or removed from docs/, which its code lists" in \
        json.loads(explained.stdout)["tests"][0]["reasons"], explained.stdout
    result = doit_tests(root, ok=False)[1]
    assert sorted(result["selected"]) == ["tests/test_expand.py"]
    assert result["failed"] == ["tests/test_expand.py::test_expand"]
    # With the folder as it was, test_expand's green record serves again; an edit elsewhere in
    # the module keeps what the body read: the listing still counts.
    edit(root, "pkg/utils.py", "return 2", "return 1 + 1")
    (root / "docs" / "b.md").unlink()
    assert selected(root) == ["tests/test_size.py"]
    write_files(root, {"docs/c.md": "c\n"})
    assert selected(root, ok=False) == ["tests/test_expand.py"]


def test_what_module_level_code_lists_is_an_input_of_every_importer(tmp_path: Path):
    files = {**LISTER, "pkg/utils.py": LISTER["pkg/utils.py"] + "\n\nDOCS = len(expand('docs/*.md'))\n"}
    root = traced_project(tmp_path, files, "\n[tool.scout.test]\nworkers = 1\n")
    write_files(root, {"docs/b.md": "b\n"})
    assert selected(root, ok=False) == ["tests/test_expand.py", "tests/test_size.py"]


def test_a_module_a_body_imports_counts_with_the_bodies_of_it_that_ran_not_with_all_its_code_can_reach(
        tmp_path: Path):
    """click's wrap_text imports _textwrap, whose import of the package reaches, by name,
    _expand_args and what it lists: a test that wraps text and never expands runs no listing."""
    # The listing test runs last (click's test_utils): what ran earlier counts for later tests.
    files = {
        **{("tests/test_z.py" if p == "tests/test_expand.py" else p): text for p, text in LISTER.items()},
        "pkg/__init__.py": "from .utils import expand, size\nfrom .fmt import wrap\n",
        "pkg/utils.py": LISTER["pkg/utils.py"] + "\n\nclass Base:\n    def run(self, p):\n        return expand(p)\n"
                                                 "\n\nclass Sub(Base):\n    pass\n",
        "pkg/fmt.py": "def wrap(text):\n    from ._tw import fill\n    return fill(text)\n",
        "pkg/_tw.py": "from .utils import size\n\n\ndef fill(text):\n    return text.upper() * size()\n",
        "tests/test_wrap.py": "import pkg\n\n\ndef test_wrap():\n    assert pkg.wrap('a') == 'AA'\n",
    }
    root = traced_project(tmp_path, files, "\n[tool.scout.test]\nworkers = 1\n")
    write_files(root, {"docs/b.md": "b\n"})
    assert selected(root, ok=False) == ["tests/test_z.py"]
    (root / "docs" / "b.md").unlink()
    edit(root, "pkg/_tw.py", "text.upper()", "text.lower()")  # what the body imported still counts
    assert selected(root, ok=False) == ["tests/test_wrap.py"]


@pytest.mark.parametrize("where", ["imported_by_a_body", "a_test_class"])
def test_what_a_class_body_reads_is_read_by_module_level_code(tmp_path: Path, where: str):
    """No trace records a class body: its reads are its module's, whoever imports the module."""
    reader = "class C:\n    V = int(open(os.path.join(ROOT, 'data', 'n.txt')).read())\n"
    files = {
        "pkg/__init__.py": "",
        "pkg/api.py": "import importlib\n\n\ndef use(name):\n    return importlib.import_module('pkg.' + name)\n",
        "pkg/m.py": f"import os\n\nROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n\n\n{reader}",
        "data/n.txt": "1\n",
        "tests/test_a.py": "from pkg import api\n\n\ndef test_a():\n    assert api.use('m').C.V == 1\n",
        "tests/test_b.py": "def test_b():\n    pass\n",
    }
    if where == "a_test_class":
        files["tests/test_a.py"] = f"import os\n\nROOT = os.getcwd()\n\n\n{reader}\n\nclass TestA:\n    def test_a(self):\n" \
                                   f"        assert C.V == 1\n"
    root = traced_project(tmp_path, files, "\n[tool.scout.test]\nworkers = 1\n")
    write_files(root, {"data/n.txt": "2\n"})
    assert selected(root, ok=False) == ["tests/test_a.py"]


def test_a_module_a_text_tool_reads_counts_whole_for_the_tests_that_ran_it(tmp_path: Path):
    """`cat pkg/m.py` in a child process the trace sees nothing of: the body's edit is in what it read."""
    files = {
        "pkg/__init__.py": "",
        "pkg/m.py": "def f():\n    return 1\n",
        "tests/test_a.py": "import subprocess\n\n\ndef test_a():\n"
                           "    assert 'return 1' in subprocess.run(['cat', 'pkg/m.py'], capture_output=True, text=True).stdout\n",
        "tests/test_b.py": "def test_b():\n    pass\n",
    }
    root = traced_project(tmp_path, files, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/m.py", "return 1", "return 2")
    assert selected(root, ok=False) == ["tests/test_a.py"]


PAGER = {
    "pkg/__init__.py": "",
    "pkg/page.py": "import os\nimport subprocess\n\n\ndef page(text):\n"
                   "    return subprocess.run(['cat'], input=text, capture_output=True, text=True, env=os.environ).stdout\n"
                   "\n\ndef size():\n    return 2\n",
    "tests/test_a.py": "from pkg.page import page\n\n\ndef test_a():\n    assert page('x') == 'x'\n",
    "tests/test_b.py": "from pkg.page import size\n\n\ndef test_b():\n    assert size() == 2\n",
}


def test_a_pager_the_tests_start_reads_no_config_file_and_leaves_the_trace_whole(tmp_path: Path):
    root = traced_project(tmp_path, PAGER, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pyproject.toml", 'version = "0"', 'version = "1"')  # no test, and no cat, can see it
    assert selected(root) == []
    edit(root, "pkg/page.py", "input=text", "input=text + ''")
    assert selected(root) == ["tests/test_a.py"]  # traced: test_b never ran page


@pytest.mark.parametrize("how", ["not_the_system_s", "names_a_project_file"])
def test_a_text_tool_that_is_not_the_system_s_or_reads_a_project_file_may_read_any_config_file(
        tmp_path: Path, monkeypatch, how: str):
    files = dict(PAGER)
    if how == "not_the_system_s":
        fake = tmp_path / "fakebin"
        write_files(fake, {"cat": "#!/bin/sh\nexec /bin/cat \"$@\"\n"})
        (fake / "cat").chmod(0o755)
        monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    else:  # the whole file is the input, not only the part of it tests can see in-process
        files["pkg/page.py"] = files["pkg/page.py"].replace("['cat']", "['cat', '-', 'pyproject.toml']")
        files["tests/test_a.py"] = files["tests/test_a.py"].replace("== 'x'", ".startswith('x')")
    root = traced_project(tmp_path / "p", files, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pyproject.toml", 'version = "0"', 'version = "1"')
    assert selected(root) == ["tests/test_a.py"]  # only test_a reaches page, which started it


def test_a_fixture_that_a_cached_fixture_asked_for_counts_for_the_tests_that_use_the_cached_one(tmp_path: Path):
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "def make():\n    return 1\n",
        "tests/conftest.py": "import pytest\n\nimport pkg\n\n\n@pytest.fixture(scope='session')\ndef inner():\n"
                             "    return pkg.make()\n\n\n@pytest.fixture(scope='session')\ndef outer(request):\n"
                             "    return {'v': request.getfixturevalue('inner')}\n",
        "tests/test_0.py": "def test_0(inner):\n    assert inner\n",
        "tests/test_a.py": "def test_a(outer):\n    assert outer\n",
        "tests/test_b.py": "def test_b(outer):\n    assert outer['v'] == 1  # outer and inner set up before\n",
    }, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/__init__.py", "return 1", "return 2")
    assert selected(root, ok=False) == ["tests/test_0.py", "tests/test_a.py", "tests/test_b.py"]


def test_a_fixture_teardown_counts_for_the_tests_that_use_the_fixture(tmp_path: Path):
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "class Pool:\n    def __init__(self):\n        self.open = True\n\n"
                           "    def close(self):\n        self.open = False\n",
        "tests/conftest.py": "import pytest\n\nimport pkg\n\n\n@pytest.fixture(scope='session')\ndef pool():\n"
                             "    p = pkg.Pool()\n    yield p\n    p.close()\n",
        "tests/test_a.py": "def test_a(pool):\n    assert pool.open\n",
        "tests/test_z.py": "def test_z():\n    pass  # runs last: the session's teardown is in its window\n",
    }, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/__init__.py", "self.open = False", "raise RuntimeError('leak')")
    assert selected(root, ok=False) == ["tests/test_a.py", "tests/test_z.py"]


def test_an_environment_variable_the_code_read_is_an_input_of_its_tests(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PKG_BACKEND", "fast")
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "import os\n\n\ndef _fast(n):\n    return n + n\n\n\ndef _portable(n):\n"
                           "    return n * 2\n\n\ndef double(n):\n"
                           "    return _fast(n) if os.environ.get('PKG_BACKEND') == 'fast' else _portable(n)\n",
        "tests/test_a.py": "import pkg\n\n\ndef test_a():\n    assert pkg.double(4) == 8\n",
        "tests/test_other.py": "def test_other():\n    pass\n",
    })
    monkeypatch.delenv("PKG_BACKEND")
    assert selected(root) == ["tests/test_a.py"]  # the other path, which its traced run never took
    edit(root, "pkg/__init__.py", "n * 2", "n * 3")
    assert selected(root, ok=False) == ["tests/test_a.py"]


@pytest.mark.parametrize("blind_spot", [
    pytest.param("import sys\n    sys.settrace(None)\n    assert pkg.g() == 2", id="another-trace-function"),
    pytest.param("import sys\n    paused = sys.gettrace()\n    sys.settrace(None)\n    assert pkg.g() == 2\n"
                 "    sys.settrace(paused)", id="a-paused-trace"),
    pytest.param("import multiprocessing\n    with multiprocessing.get_context('fork').Pool(1) as pool:\n"
                 "        assert pool.apply(pkg.g) == 2", id="a-child-process"),
    pytest.param("import multiprocessing\n    with multiprocessing.get_context('spawn').Pool(1) as pool:\n"
                 "        assert pool.apply(pkg.g) == 2", id="a-spawned-process"),
])
def test_code_the_trace_cannot_see_leaves_the_static_fingerprint_deciding(tmp_path: Path, blind_spot: str):
    root = traced_project(tmp_path, {**OPS, "tests/test_blind.py":
                                     f"import pkg\n\n\ndef test_blind():\n    {blind_spot}\n"})
    edit(root, "pkg/ops.py", "return 2", "return 3")
    assert "tests/test_blind.py" in selected(root, ok=False)  # g ran where the trace could not see it


SOURCE_READER = "import inspect\n\nimport pkg\n\n\ndef test_source():\n    assert '# g' in inspect.getsource(pkg.ops)\n"


@pytest.mark.parametrize("edit_of", [("return 2", "return 3"), ("# g", "# G")], ids=["code", "a-comment"])
def test_source_read_as_text_counts_as_the_whole_file_for_every_reader(tmp_path: Path, edit_of: tuple[str, str]):
    # The second reader in the process gets the lines from linecache: the file is not opened again.
    # The static fingerprint leaves comments out: its record cannot stand in for a reader's.
    root = traced_project(tmp_path, {**OPS, "pkg/ops.py": textwrap.dedent(OPS["pkg/ops.py"]) + "# g\n",
                                     "tests/test_source.py": SOURCE_READER, "tests/test_source2.py": SOURCE_READER},
                          "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/ops.py", *edit_of)
    assert set(selected(root, ok=False)) >= {"tests/test_source.py", "tests/test_source2.py"}


def test_code_imported_through_a_symlink_is_the_project_s(tmp_path: Path, monkeypatch):
    project, link = tmp_path / "project", tmp_path / "link"
    project.mkdir()
    link.symlink_to(project)
    monkeypatch.setenv("PYTHONPATH", str(link / "src"))
    root = traced_project(project, {
        "src/pkg/__init__.py": "def f():\n    return 1\n\n\ndef g():\n    return 2\n",
        "tests/test_f.py": "import pkg\n\n\ndef test_f():\n    assert pkg.f() == 1\n",
        "tests/test_g.py": "import pkg\n\n\ndef test_g():\n    assert pkg.g() == 2\n",
    })
    edit(root, "src/pkg/__init__.py", "return 1", "return 0")
    assert selected(root, ok=False) == ["tests/test_f.py"]


def test_executed_code_can_be_turned_off(tmp_path: Path):
    root = traced_project(tmp_path, OPS, "\n[tool.scout.test]\nexecuted_code = false\n")
    edit(root, "pkg/ops.py", "return 1", "return 0 + 1")
    assert selected(root) == ["tests/test_f.py", "tests/test_g.py"]  # the static fingerprints: both reach f


def test_a_full_run_is_not_traced_and_records_only_what_holds_without_a_trace(tmp_path: Path):
    root = traced_project(tmp_path, {**OPS, "pkg/ops.py": textwrap.dedent(OPS["pkg/ops.py"]).replace(
        "def g():\n    return 2", "def h():\n    return 2\n\n\ndef g():\n    return h() if False else 2")})
    edit(root, "pkg/ops.py", "if False", "if True")  # the same names: only which of them run changes
    assert sorted(doit_tests(root, "test", "--all")[1]["selected"]) == ["tests/test_f.py", "tests/test_g.py"]
    edit(root, "pkg/ops.py", "def h():\n    return 2", "def h():\n    return 3")
    # test_g now runs h, which its traced run never saw: the untraced --all run recorded nothing
    # under the fingerprint that trace gives
    assert selected(root, ok=False) == ["tests/test_g.py"]


def test_a_bad_executed_code_setting_is_named(tmp_path: Path):
    write_files(tmp_path, {"dodo.py": "from doit_scout.dodo import *\n",
                           "pyproject.toml": "[tool.scout.test]\nexecuted_code = 'yes'\n"})
    result = run_doit(tmp_path)
    assert result.returncode != 0
    assert "test.executed_code = 'yes' is not allowed; expected true or false" in result.stdout + result.stderr


STATE_LEFT_BEHIND = {
    "a-lazy-singleton": "class Settings:\n    def __init__(self):\n        self.value = compute(1)\n\n\n"
                        "_settings = None\n\n\ndef get(n):\n    global _settings\n    if _settings is None:\n"
                        "        _settings = Settings()\n    return _settings.value\n",
    "a-module-level-memo": "_cache = {}\n\n\ndef get(n):\n    if n not in _cache:\n        _cache[n] = compute(n)\n"
                           "    return _cache[n]\n",
    "a-worker-thread": "import queue\nimport threading\n\n_requests = None\n\n\ndef _serve(requests):\n"
                       "    while True:\n        n, reply = requests.get()\n        reply.put(compute(n))\n\n\n"
                       "def get(n):\n    global _requests\n    if _requests is None:\n        _requests = queue.Queue()\n"
                       "        threading.Thread(target=_serve, args=(_requests,), daemon=True).start()\n"
                       "    reply = queue.Queue()\n    _requests.put((n, reply))\n    return reply.get()\n",
}


@pytest.mark.parametrize("state", STATE_LEFT_BEHIND.values(), ids=STATE_LEFT_BEHIND.keys())
def test_code_that_leaves_state_behind_counts_as_a_whole_for_every_test_that_can_reach_it(tmp_path: Path, state: str):
    # test_b reads what test_a's call left (the singleton, the memo, the thread): it never runs compute
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "def compute(n):\n    return n * 2\n\n\n" + state,
        "tests/test_a.py": "import pkg\n\n\ndef test_a():\n    assert pkg.get(1)\n",
        "tests/test_b.py": "import pkg\n\n\ndef test_b():\n    assert pkg.get(1) == 2\n",
    }, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/__init__.py", "n * 2", "n * 3")
    assert selected(root, ok=False) == ["tests/test_a.py", "tests/test_b.py"]


def test_what_an_earlier_test_computed_and_kept_nowhere_counts_only_for_the_tests_that_ran_it(tmp_path: Path):
    # test_b runs after test_a in the same process and reads CACHE, but test_a's window wrote
    # nothing that outlives its call (analyzers.state_writes): test_b cannot read what render made
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "CACHE = {}\n\n\nclass Fmt:\n    def __init__(self, n):\n        self.n = n\n\n\n"
                           "def render(n):\n    return str(Fmt(n).n * 2)\n",
        "tests/test_a.py": "import pkg\n\n\ndef test_a():\n    assert pkg.render(1) == '2'\n",
        "tests/test_b.py": "import pkg\n\n\ndef test_b():\n    assert pkg.CACHE.get(1, '2') == '2'\n",
    }, "\n[tool.scout.test]\nworkers = 1\n")
    edit(root, "pkg/__init__.py", "n * 2", "n * 3")
    assert selected(root, ok=False) == ["tests/test_a.py"]
    # render now fills CACHE, which test_b reads without naming render: test_b runs again, after
    # test_a, and learns that render ran before it
    edit(root, "pkg/__init__.py", "    return str(Fmt(n).n * 3)", "    CACHE[n] = str(Fmt(n).n * 2)\n    return CACHE[n]")
    assert selected(root) == ["tests/test_a.py", "tests/test_b.py"]
    edit(root, "pkg/__init__.py", "Fmt(n).n * 2", "Fmt(n).n * 3")  # what test_b reads changes
    assert selected(root, ok=False) == ["tests/test_a.py", "tests/test_b.py"]


def test_a_doctest_and_git_asked_for_a_version_at_import_leave_the_trace_whole(tmp_path: Path):
    # doctest puts back the trace function it found; versioneer's git runs no project code
    root = traced_project(tmp_path, {
        **OPS,
        "pkg/__init__.py": "import subprocess\n\nsubprocess.run(['git', '--version'], capture_output=True)\n"
                           + OPS["pkg/__init__.py"],
        "tests/test_g.py": OPS["tests/test_g.py"] + "\n\ndef test_example():\n    import doctest\n"
                           "    example = doctest.DocTestParser().get_doctest('>>> 1 + 1\\n2\\n', {}, 'e', None, 0)\n"
                           "    assert doctest.DocTestRunner().run(example).failed == 0\n",
        "pkg/ops.py": textwrap.dedent(OPS["pkg/ops.py"]).replace('{"f": f, "g": g}', '{"f": f, "g": g, "h": h}')
                      + "\n\ndef h():\n    return 3\n",
    })
    edit(root, "pkg/ops.py", "return 3", "return 4")
    assert selected(root) == []  # both reach h; no test ran it (untraced, the static fingerprints would decide)


def test_code_a_raw_thread_runs_is_traced(tmp_path: Path):
    # threading.settrace reaches threading.Thread's threads only
    root = traced_project(tmp_path, {
        "pkg/__init__.py": "import _thread\n\n\ndef _work(n, out, done):\n    out.append(n * 2)\n    done.release()\n\n\n"
                           "def compute(n):\n    out, done = [], _thread.allocate_lock()\n    done.acquire()\n"
                           "    _thread.start_new_thread(_work, (n, out, done))\n    done.acquire()\n    return out[0]\n",
        "tests/test_a.py": "import pkg\n\n\ndef test_a():\n    assert pkg.compute(5) == 10\n",
    })
    edit(root, "pkg/__init__.py", "n * 2", "n * 3")
    assert selected(root, ok=False) == ["tests/test_a.py"]
