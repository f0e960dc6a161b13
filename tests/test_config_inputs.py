"""Which edits of a config file can change a test outcome (analyzers.config_inputs)."""

import pytest

from doit_scout.analyzers.config_inputs import config_seen_by_tests as relevant

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
])
def test_edits_no_test_can_see_leave_the_pyproject_text_as_it_was(old: str, new: str):
    assert old in PYPROJECT
    assert relevant("pyproject.toml", PYPROJECT.replace(old, new)) == relevant("pyproject.toml", PYPROJECT)


@pytest.mark.parametrize("old, new", [
    ('addopts = "-q"', 'addopts = "-x"'),
    ('dependencies = ["attrs"]', 'dependencies = ["attrs", "cattrs"]'),
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
