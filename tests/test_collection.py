"""What pytest collects decides what a test is: the counts, when pytest is asked which files are
tests, and why. Real doit runs in a small real project whose test paths leave out two files named
like tests (one outside `testpaths`, one under `norecursedirs`), as toolz's bench/ and marshmallow's
tests/mypy_test_cases/ do. Both fail if pytest ever runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import git, git_init, run_doit, write_files

COLLECTED = ["tests/test_core.py", "tests/test_util.py"]
NOT_COLLECTED = ["bench/test_x.py", "tests/cases/test_case.py"]
BASE = "VALUE = 1\n\n\ndef unused():\n    return 1\n"  # conftest.py imports it, and reaches VALUE alone


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write_files(root, {
        "pyproject.toml": '[project]\nname = "proj"\nversion = "0"\n\n[tool.pytest.ini_options]\n'
                          'testpaths = ["tests"]\nnorecursedirs = ["tests/cases"]\n',
        "dodo.py": "from doit_scout.dodo import *\n",
        "pkg/__init__.py": "",
        "pkg/core.py": "def value():\n    return 1\n",
        "tests/__init__.py": "",
        "tests/conftest.py": "import pytest\n\nfrom tests.base import VALUE\n\n\n@pytest.fixture\n"
                             "def base_value():\n    return VALUE\n",
        "tests/base.py": BASE,
        "tests/util.py": "def double(x):\n    return 2 * x\n",  # a helper one collected test imports
        "tests/test_core.py": "from pkg.core import value\n\n\ndef test_value(base_value):\n"
                              "    assert value() == base_value\n",
        "tests/test_util.py": "from tests.util import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
        "bench/test_x.py": "from pkg.core import value\n\n\ndef test_bench():\n    assert value() == 0\n",
        "tests/cases/test_case.py": "def test_case():\n    assert False\n",
    })
    git_init(root)
    return root


def doit(root: Path, *args: str, ok: bool = True) -> tuple[str, dict]:
    result = run_doit(root, *args)
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    return result.stdout, json.loads((root / ".scout" / "last-run.json").read_text())["tests"]


def edit(root: Path, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    assert old in text, (path, old)
    file.write_text(text.replace(old, new))


def no_pytest(root: Path) -> str:
    """Run doit, and check that it started no pytest: the test task was up to date."""
    result = run_doit(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-- test" in result.stdout and "tests      " not in result.stdout, result.stdout
    return result.stdout


def test_a_first_run_and_explain_count_only_the_files_pytest_collects(proj: Path):
    out, tests = doit(proj)
    assert "2 of 2 files selected · 2 passed" in out, out
    assert tests["total_files"] == 2 and tests["selected"] == COLLECTED and tests["skipped"] == []
    assert tests["incomplete"] == [] and tests["collection_changes"] == "it has not said yet in this checkout"
    # More files named like tests where pytest does not look: explain asks pytest (collection
    # only), lists what it collects, and says why it asked.
    write_files(proj, {"bench/test_y.py": "def test_y():\n    assert False\n",
                       "tests/cases/test_more.py": "def test_more():\n    assert False\n"})
    result = run_doit(proj, "explain", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    explained = json.loads(result.stdout)
    assert [(t["path"], t["decision"]) for t in explained["tests"]] == [(p, "skip") for p in COLLECTED]
    assert explained["collection"]["asked"] is True
    assert explained["collection"]["changes"] == "files were added: bench/test_y.py, tests/cases/test_more.py"
    text = run_doit(proj, "explain").stdout
    assert "0 of 2 tests in 0 of 2 files would run" in text and "bench/test_x.py" not in text, text
    no_pytest(proj)  # pytest said already what those files are: none of them is a test


def test_an_edit_no_collected_test_can_see_starts_no_pytest(proj: Path):
    doit(proj)
    for path in NOT_COLLECTED:
        with open(proj / path, "a") as f:
            f.write("\n# edited\n")
        no_pytest(proj)
    # conftest.py imports tests/base.py, but its code reaches only VALUE; nor can pytest see a
    # version bump.
    edit(proj, "tests/base.py", "return 1", "return 2")
    no_pytest(proj)
    edit(proj, "pyproject.toml", 'version = "0"', 'version = "1"')
    no_pytest(proj)
    # Safe before fast: the helper a collected test imports selects it (and it fails)...
    edit(proj, "tests/util.py", "2 * x", "3 * x")
    out, tests = doit(proj, ok=False)
    assert "1 of 2 files selected · 1 failed" in out and tests["selected"] == ["tests/test_util.py"], out
    edit(proj, "tests/util.py", "3 * x", "2 * x")
    doit(proj)
    # ...and what conftest.py reaches in tests/base.py selects every test under it.
    edit(proj, "tests/base.py", "VALUE = 1", "VALUE = 2")
    out, tests = doit(proj, ok=False)
    assert tests["selected"] == COLLECTED and tests["failed"] == ["tests/test_core.py::test_value"], out


def test_why_pytest_is_asked_names_what_changed(proj: Path):
    doit(proj)

    def asked(ok: bool = True) -> str:
        out, tests = doit(proj, ok=ok)
        reason = tests["collection_changes"]
        assert reason is not None and f"pytest is asked which files are tests: {reason}" in out, out
        return reason

    edit(proj, "tests/base.py", "VALUE = 1", "VALUE = 1 + 0")  # what conftest.py reaches
    assert asked() == "a module tests/conftest.py imports changed: tests/base.py"
    write_files(proj, {"tests/test_new.py": "def test_new():\n    pass\n"})
    assert asked() == "files were added: tests/test_new.py"
    (proj / "tests/test_new.py").unlink()
    (proj / "bench/test_x.py").unlink()  # not back where pytest said before: that would need no asking
    assert asked() == "files were removed: bench/test_x.py, tests/test_new.py"
    edit(proj, "tests/conftest.py", "return VALUE", "return VALUE + 0")
    assert asked() == "conftest.py changed: tests/conftest.py"
    edit(proj, "pyproject.toml", 'testpaths = ["tests"]', 'testpaths = ["tests", "bench"]')
    write_files(proj, {"bench/test_x.py": "def test_bench():\n    assert False\n"})
    assert asked(ok=False) == ("files were added: bench/test_x.py; config changed: pyproject.toml")  # a failing test now
    git(proj, "checkout", "-q", "pyproject.toml")
    (proj / "bench/test_x.py").unlink()
    no_pytest(proj)  # back where pytest said before: the shared cache knows what it collects there


def test_a_new_config_file_no_test_can_see_anything_of_runs_no_test(proj: Path):
    """A new requirements or lock file is a config file whose content no pytest run reads: pytest
    is asked what the new file list holds, and every test is served from its record."""
    doit(proj)
    write_files(proj, {"requirements-dev.txt": "pytest\n"})
    out, tests = doit(proj)
    assert tests["selected"] == [] and "0 of 2 files selected" in out, out
