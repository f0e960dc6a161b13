"""The part of a config file that test outcomes can depend on.

A commit that bumps a version, edits a linter's settings or refreshes a lock file changes a config
file, and every test's fingerprint with it. What a pytest run can see of config files is less:

- pytest's own settings: `pytest.toml`, `.pytest.toml`, `pytest.ini`, `.pytest.ini`,
  `[tool.pytest.ini_options]` (and `[tool.pytest]`) in pyproject.toml, `[pytest]` in tox.ini,
  `[tool:pytest]` in setup.cfg; coverage's settings (`.coveragerc`, `[coverage:run]` and
  `[coverage:report]` in tox.ini and setup.cfg), which pytest-cov applies in the test run;
- the rest of pyproject.toml other than the settings of linters, formatters, type checkers,
  packaging and release tools, and what the package declares to installers (its metadata, its
  dependencies, `requires-python`, `[build-system]`). A linter's table counts when a pytest plugin
  runs that linter inside the test run (`pytest-mypy` reads `[tool.mypy]`). A tool a test runs
  in-process that reads pyproject.toml is seen opening it, and one run in a child process makes
  that test depend on every config file whole;
- `dodo.py` as it is.

Requirements, constraints and lock files, `setup.py` (run only to install), `.python-version` and
linter config files matter only once installed or run: the environment key covers what is
installed, and build steps use every config file as before. A file that cannot be parsed counts
whole.
"""

from __future__ import annotations

import configparser
import json
import posixpath
import sys
from typing import Collection, Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# [tool.X] tables of tools that lint, format, type-check, package, release or document: no pytest
# run reads them (unless a pytest plugin runs the tool: `linted_in_tests`).
_NOT_READ_BY_TESTS = frozenset({
    "ruff", "black", "isort", "mypy", "pyright", "pylint", "flake8", "codespell", "towncrier", "bumpversion",
    "bumpver", "commitizen", "pydocstyle", "docformatter", "interrogate", "check-manifest", "sphinx",
    "autopep8", "yapf", "pycln", "vulture", "bandit", "djlint", "typos", "cibuildwheel", "check-wheel-contents",
    "pyrefly", "ty", "uv", "hatch", "flit", "pdm", "poetry", "rye", "pixi", "tox", "sponcon", "semantic_release",
    "git-cliff", "repo-review", "check-sdist", "deptry", "pyproject-fmt", "setuptools_scm", "cruft", "dependabot",
})
# [tool.coverage] tables that only say how to report or combine: pytest-cov reads `run` and `report`
# (fail_under changes the exit status), not these.
_COVERAGE_REPORTING = frozenset({"paths", "html", "xml", "json", "lcov"})
# [project] keys that tell an index or an installer about the package; installing it is what tests
# see, and the environment key covers what is installed.
_INSTALLER_KEYS = frozenset({
    "version", "description", "readme", "classifiers", "urls", "authors", "maintainers", "keywords",
    "license", "license-files", "dependencies", "optional-dependencies", "requires-python",
})
# pytest's section, and coverage's measuring and reporting ones (pytest-cov measures in the test
# run, and `fail_under` changes its exit status).
_INI_SECTIONS = {"tox.ini": ("pytest", "coverage:run", "coverage:report"),
                 "setup.cfg": ("tool:pytest", "coverage:run", "coverage:report")}
_WHOLE = frozenset({"pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", ".coveragerc", "dodo.py"})


def config_seen_by_tests(path: str, text: str, linted_in_tests: Collection[str] = ()) -> str:
    """What of the config file at `path` (with content `text`) a pytest run can depend on, in a
    canonical form ("" for nothing). `linted_in_tests`: tools a pytest plugin runs inside the test
    run (`mypy` for pytest-mypy), whose tables count."""
    name = posixpath.basename(path)
    if name == "pyproject.toml":
        return _pyproject(text, frozenset(linted_in_tests))
    if name in _INI_SECTIONS:
        return _ini_sections(text, _INI_SECTIONS[name])
    if name in _WHOLE:
        return text
    return ""


def _pyproject(text: str, linted_in_tests: frozenset[str]) -> str:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text
    tool = document.get("tool")
    if isinstance(tool, dict):
        document["tool"] = {k: v for k, v in tool.items() if k not in _NOT_READ_BY_TESTS or k in linted_in_tests}
        coverage = document["tool"].get("coverage")
        if isinstance(coverage, dict):
            document["tool"]["coverage"] = {k: v for k, v in coverage.items() if k not in _COVERAGE_REPORTING}
    project = document.get("project")
    if isinstance(project, dict):
        document["project"] = {k: v for k, v in project.items() if k not in _INSTALLER_KEYS}
    document.pop("dependency-groups", None)  # what `uv sync --group dev` installs
    document.pop("build-system", None)  # what builds the package for installing
    return json.dumps(document, sort_keys=True, default=str)


def linted_in_tests(distributions: Iterable[str]) -> frozenset[str]:
    """The tools pytest plugins among these installed distributions (metadata folder names, as
    `pytest_mypy-0.10.3.dist-info`) run inside a test run: `mypy`, `ruff`, `black`, ..."""
    found = set()
    for folder in distributions:
        name = folder.partition("-")[0].lower().replace("_", "-")
        if name.startswith("pytest-"):
            found |= {name.removeprefix("pytest-"), name.removeprefix("pytest-").replace("-", "_")}
    return frozenset(found)


def _ini_sections(text: str, sections: tuple[str, ...]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return text
    present = {section: sorted(parser.items(section, raw=True)) for section in sections if parser.has_section(section)}
    return json.dumps(present, sort_keys=True) if present else ""
