"""The part of a config file that test outcomes can depend on.

A commit that bumps a version, edits a linter's settings or refreshes a lock file changes a config
file, and every test's fingerprint with it. What a pytest run can see of config files is less:

- pytest's own settings: `pytest.ini`, `[tool.pytest.ini_options]` in pyproject.toml, `[pytest]` in
  tox.ini, `[tool:pytest]` in setup.cfg;
- the rest of pyproject.toml other than the settings of linters and formatters and the package's
  descriptive metadata (a tool a test runs in-process that reads pyproject.toml is seen opening it,
  and one run in a child process makes that test depend on every config file whole);
- `setup.py` and `dodo.py` as they are.

Requirements, constraints and lock files, `.python-version` and linter config files matter only
once installed or run: the environment key covers what is installed, and build steps use every
config file as before. A file that cannot be parsed counts whole.
"""

from __future__ import annotations

import configparser
import json
import posixpath
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# [tool.X] tables of tools that lint, format, type-check, release or document: no pytest run reads them.
_NOT_READ_BY_TESTS = frozenset({
    "ruff", "black", "isort", "mypy", "pyright", "pylint", "flake8", "codespell", "towncrier", "bumpversion",
    "bumpver", "commitizen", "pydocstyle", "docformatter", "interrogate", "check-manifest", "sphinx",
    "autopep8", "yapf", "pycln", "vulture", "bandit", "djlint", "typos", "cibuildwheel", "check-wheel-contents",
})
# [project] keys that describe the package to an index; installing it is what tests see, and the
# environment key covers what is installed.
_METADATA_KEYS = frozenset({
    "version", "description", "readme", "classifiers", "urls", "authors", "maintainers", "keywords",
    "license", "license-files",
})
_INI_SECTIONS = {"tox.ini": "pytest", "setup.cfg": "tool:pytest"}
_WHOLE = frozenset({"pytest.ini", "setup.py", "dodo.py"})


def config_seen_by_tests(path: str, text: str) -> str:
    """What of the config file at `path` (with content `text`) a pytest run can depend on, in a
    canonical form ("" for nothing)."""
    name = posixpath.basename(path)
    if name == "pyproject.toml":
        return _pyproject(text)
    if name in _INI_SECTIONS:
        return _ini_section(text, _INI_SECTIONS[name])
    if name in _WHOLE:
        return text
    return ""


def _pyproject(text: str) -> str:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text
    tool = document.get("tool")
    if isinstance(tool, dict):
        document["tool"] = {k: v for k, v in tool.items() if k not in _NOT_READ_BY_TESTS}
    project = document.get("project")
    if isinstance(project, dict):
        document["project"] = {k: v for k, v in project.items() if k not in _METADATA_KEYS}
    document.pop("dependency-groups", None)  # what `uv sync --group dev` installs
    return json.dumps(document, sort_keys=True, default=str)


def _ini_section(text: str, section: str) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return text
    if not parser.has_section(section):
        return ""
    return json.dumps(sorted(parser.items(section, raw=True)))
