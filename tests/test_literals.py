"""The constants of a module, for a reader that takes them and nothing else (analyzers.literals):
Hypothesis reads the source of every project module loaded and draws values from its constants.
Its read used to count as a read of the whole file, so a docstring or a comment anywhere re-ran
every test of a project that uses Hypothesis. Pure digests, then real doit and pytest runs with
Hypothesis's own plugin."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import doit_tests, git_init, run_doit, write_files

from doit_scout.analyzers.literals import literals_digest

MODULE = '''\
"""The module's docstring."""

LIMIT = 5


def scaled(x):
    """Scale x."""
    # a comment
    return x * 3


def label(n):
    return f"item {n}: {LIMIT}"
'''


def digest(source: str) -> str:
    return literals_digest(ast.parse(textwrap.dedent(source)))


def test_docstrings_comments_and_layout_are_no_literals():
    edited = MODULE.replace('"""Scale x."""', '"""Scale x by three."""').replace("# a comment", "# another") \
        .replace('"""The module\'s docstring."""', '"""Other words."""').replace("x * 3", "x  *  3")
    assert digest(edited) == digest(MODULE)


def test_every_other_constant_is_one():
    for old, new in (("LIMIT = 5", "LIMIT = 6"), ("x * 3", "x * 4"), ('f"item ', 'f"entry '),
                     ("return x * 3", "return x * 3, 'three'")):
        assert digest(MODULE.replace(old, new)) != digest(MODULE), new


def test_a_string_that_stands_alone_in_a_body_is_left_out_as_hypothesis_leaves_it_out():
    assert digest(MODULE.replace("    # a comment\n", "    'a note'\n")) == digest(MODULE)


PROJECT = {
    "dodo.py": "from doit_scout.dodo import *\n",
    "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "-p no:randomly"\n',
    "pkg/__init__.py": "",
    "pkg/mod.py": MODULE,
    "tests/test_mod.py": "from pkg.mod import scaled\n\n\ndef test_scaled():\n    assert scaled(2) == 6\n",
    # Runs no code of pkg, but Hypothesis draws its integers partly from pkg/mod.py's constants.
    "tests/test_gen.py": "from hypothesis import given, strategies as st\n\n\n"
                         "@given(st.integers())\ndef test_ints(n):\n    assert isinstance(n, int)\n",
}


def edit(root: Path, old: str, new: str) -> None:
    path = root / "pkg" / "mod.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def items_ran(root: Path) -> list[str]:
    output, tests = doit_tests(root)
    plain = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root,
                           capture_output=True, text=True)
    assert plain.returncode == 0, plain.stdout  # never a false green
    return sorted(tests["tests_ran"]) if "-- test" not in output else []


@pytest.mark.parametrize("plugin", [True, False], ids=["at-collection", "in-the-test"])
def test_hypothesis_reading_a_module_makes_its_constants_an_input_of_its_tests_and_nothing_else(
        tmp_path: Path, monkeypatch, plugin: bool):
    """Hypothesis's pytest plugin takes the constants of every module loaded while pytest collects
    (for every test, as collection's code counts), its engine those of modules loaded later; only
    the tests that draw generated values read them."""
    if plugin:
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:anyio -p no:benchmark")
    write_files(tmp_path, PROJECT)
    git_init(tmp_path)
    assert items_ran(tmp_path) == ["tests/test_gen.py::test_ints", "tests/test_mod.py::test_scaled"]
    edit(tmp_path, "# a comment", "# another comment")
    assert items_ran(tmp_path) == []  # read whole, its bytes re-ran test_gen
    edit(tmp_path, '"""Scale x."""', '"""Scale x: three times."""')  # no constant; and nothing reads it
    assert items_ran(tmp_path) == []
    edit(tmp_path, "LIMIT = 5", "LIMIT = 7")
    explained = {t["path"]: t for t in json.loads(run_doit(tmp_path, "explain", "--json").stdout)["tests"]}
    assert explained["tests/test_gen.py"]["decision"] == "run", explained
    assert any("constants changed in pkg/mod.py" in r for r in explained["tests/test_gen.py"]["reasons"]), explained
    assert items_ran(tmp_path) == ["tests/test_gen.py::test_ints"]
