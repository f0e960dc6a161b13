"""Which edits of a config file can change a test outcome (analyzers.config_inputs)."""

import pytest

from doit_scout.analyzers.config_inputs import config_seen_by_tests as relevant
from doit_scout.analyzers.config_inputs import linted_in_tests

PYPROJECT = """\
[project]
name = "pkg"
version = "1.0"
description = "A package"
dependencies = ["attrs"]

[tool.pytest.ini_options]
addopts = "-q"

[tool.ruff]
line-length = 100

[tool.coverage.run]
branch = true
"""


@pytest.mark.parametrize("old, new", [
    ('version = "1.0"', 'version = "1.1"'),
    ('description = "A package"', 'description = "Another"'),
    ("line-length = 100", "line-length = 120"),
    ("[tool.ruff]", "[tool.black]\nline-length = 88\n\n[tool.ruff]"),
    ('line-length = 100\n', 'line-length = 100\n# a comment\n'),
    ('dependencies = ["attrs"]', 'dependencies = ["attrs", "cattrs"]'),  # the environment key sees installs
    ('dependencies = ["attrs"]', 'dependencies = ["attrs"]\nrequires-python = ">=3.10"'),
    ("[tool.ruff]", "[build-system]\nrequires = ['hatchling']\n\n[tool.uv]\nexclude-newer = '2026-01-01'\n\n[tool.ruff]"),
    ("[tool.coverage.run]", "[tool.coverage.paths]\nsource = ['src']\n\n[tool.coverage.run]"),
])
def test_edits_no_test_can_see_leave_the_pyproject_text_as_it_was(old: str, new: str):
    assert old in PYPROJECT
    assert relevant("pyproject.toml", PYPROJECT.replace(old, new)) == relevant("pyproject.toml", PYPROJECT)


@pytest.mark.parametrize("old, new", [
    ('addopts = "-q"', 'addopts = "-x"'),
    ("[tool.coverage.run]", "[tool.coverage.report]\nfail_under = 90\n\n[tool.coverage.run]"),
    ("branch = true", "branch = false"),  # pytest-cov reads it
    ('name = "pkg"', 'name = "pkg2"'),
])
def test_edits_a_test_run_can_see_change_the_pyproject_text(old: str, new: str):
    assert relevant("pyproject.toml", PYPROJECT.replace(old, new)) != relevant("pyproject.toml", PYPROJECT)


def test_ini_files_count_only_pytest_s_section_and_unparsable_files_count_whole():
    tox = "[tox]\nenvlist = py311\n\n[pytest]\naddopts = -q\n"
    assert relevant("tox.ini", tox.replace("py311", "py312")) == relevant("tox.ini", tox)
    assert relevant("tox.ini", tox.replace("-q", "-x")) != relevant("tox.ini", tox)
    assert relevant("setup.cfg", "[metadata]\nname = a\n") == ""
    assert relevant("setup.cfg", "[tool:pytest]\ntestpaths = t\n") != ""
    broken = "[tool.ruff\nline-length = 1\n"
    assert relevant("pyproject.toml", broken) == broken
    assert relevant("uv.lock", "version = 1\n") == relevant("requirements-dev.txt", "pytest\n") == ""
    assert relevant("pytest.ini", "[pytest]\n") == "[pytest]\n"


@pytest.mark.parametrize("name, pytest_section", [("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")])
def test_ini_files_count_coverage_s_measuring_and_reporting_sections(name: str, pytest_section: str):
    text = f"[{pytest_section}]\naddopts = --cov\n\n[coverage:report]\nfail_under = 90\n\n[coverage:html]\ndirectory = h\n"
    assert relevant(name, text.replace("90", "95")) != relevant(name, text)  # pytest-cov's exit status
    assert relevant(name, text.replace("= h", "= html")) == relevant(name, text)
    assert relevant(name, "[coverage:run]\nbranch = true\n") != ""
    for whole in ("pytest.toml", ".pytest.toml", ".pytest.ini", ".coveragerc"):
        assert relevant(whole, "[run]\nbranch = true\n") == "[run]\nbranch = true\n"


def test_a_linter_s_table_counts_when_a_pytest_plugin_runs_that_linter():
    """pytest-mypy and pytest-ruff make the tools' settings part of the test run."""
    edited = PYPROJECT.replace("line-length = 100", "line-length = 120")
    linted = linted_in_tests(["pytest_ruff-0.4.1.dist-info", "pytest_mypy-1.0.dist-info", "rich-13.0.dist-info"])
    assert {"ruff", "mypy"} <= linted and "rich" not in linted
    assert relevant("pyproject.toml", edited, linted) != relevant("pyproject.toml", PYPROJECT, linted)
    assert relevant("pyproject.toml", edited, linted_in_tests(["rich-13.0.dist-info"])) == relevant(
        "pyproject.toml", PYPROJECT)


def test_setup_py_runs_only_to_install():
    assert relevant("setup.py", "from setuptools import setup\nsetup(version='1.1')\n") == ""
