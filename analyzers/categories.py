"""The category of each project file: what kind of input it is."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping, Sequence

from doit_scout.analyzers.globs import GlobSet
from doit_scout.analyzers.layout import ProjectLayout, is_below


class Category(str, Enum):
    SOURCE = "source"
    TEST = "test"
    CONFTEST = "conftest"
    CONFIG = "config"
    DOCS = "docs"
    DATA = "data"
    OTHER = "other"


# Files whose change can alter how any code is built or tested, including the configuration files
# of the linters and type checkers that build steps run. Python files count only at the project
# root ("/"-anchored): a runner/dodo.py deeper down is ordinary source.
CONFIG_GLOBS = GlobSet.of([
    "pyproject.toml", "setup.cfg", "tox.ini", "pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini",
    "/setup.py", "/noxfile.py", "/dodo.py",
    "requirements*.txt", "constraints*.txt", "*.lock", "Pipfile", ".python-version",
    "ruff.toml", ".ruff.toml", "mypy.ini", ".mypy.ini", ".flake8", ".pylintrc", "pylintrc",
    "pyrightconfig.json", ".coveragerc",
])
DOCS_GLOBS = GlobSet.of([
    "docs/", "doc/", "*.md", "*.rst", "*.txt", "LICENSE*", "COPYING*", "AUTHORS*", "CHANGELOG*",
])
# pytest's default `python_files`.
TEST_FILE_GLOBS = GlobSet.of(["test_*.py", "*_test.py"])
PYTHON_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class Categorizer:
    """Categorises paths: user globs first (in Category order), then the detected layout."""

    layout: ProjectLayout
    user_globs: Mapping[Category, GlobSet] = field(default_factory=dict)

    @classmethod
    def from_config(cls, layout: ProjectLayout, globs: Mapping[str, Sequence[str]]) -> "Categorizer":
        return cls(layout, {Category(name): GlobSet.of(patterns) for name, patterns in globs.items()})

    def categorize(self, path: str) -> Category:
        for category in Category:
            user = self.user_globs.get(category)
            if user is not None and user.matches(path):
                return category
        name = posixpath.basename(path)
        is_python = name.endswith(PYTHON_SUFFIXES)
        if name == "conftest.py":
            return Category.CONFTEST
        if CONFIG_GLOBS.matches(path):
            return Category.CONFIG
        if any(is_below(path, d) for d in (*self.layout.test_dirs, *self.layout.packages)):
            if TEST_FILE_GLOBS.matches(path):
                return Category.TEST
            # Helpers are modules like any other; anything else there is data the code reads.
            return Category.SOURCE if is_python else Category.DATA
        if DOCS_GLOBS.matches(path):
            return Category.DOCS
        if is_python:
            return Category.TEST if TEST_FILE_GLOBS.matches(path) else Category.SOURCE
        return Category.OTHER
