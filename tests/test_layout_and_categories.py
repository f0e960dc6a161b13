import pytest

from doit_scout.analyzers.categories import Categorizer, Category
from doit_scout.analyzers.globs import GlobSet, glob_matches
from doit_scout.analyzers.layout import detect_layout


@pytest.mark.parametrize("path, pattern, expected", [
    ("examples/a/b.py", "examples/**", True),
    ("tests/x.json", "tests/**/*.json", True),
    ("tests/a/b/x.json", "tests/**/*.json", True),
    ("tests/a/x.json", "tests/*.json", False),
    ("a/b/README.md", "*.md", True),
    ("docs/x/y.py", "docs/", True),
    ("src/docs.py", "docs/", False),
    ("requirements-dev.txt", "requirements*.txt", True),
    ("pkg/a.py", "pkg/[!b].py", True),
    ("pkg/b.py", "pkg/[!b].py", False),
])
def test_glob_semantics(path, pattern, expected):
    assert glob_matches(path, pattern) is expected


def test_globset_matches_any_pattern():
    globs = GlobSet.of(["*.md", "build/"])
    assert globs.matches("x/y.md") and globs.matches("build/a/b") and not globs.matches("src/a.py")
    assert not GlobSet().matches("anything")


def test_src_layout_with_several_packages():
    layout = detect_layout([
        "src/alpha/__init__.py", "src/alpha/core.py", "src/beta/__init__.py", "src/ns/mod.py",
        "tests/test_alpha.py", "pyproject.toml",
    ])
    assert layout.source_roots == ("src", "")
    assert layout.packages == ("src/alpha", "src/beta", "src/ns")
    assert layout.test_dirs == ("tests",)


def test_flat_layout_and_tests_inside_packages():
    layout = detect_layout([
        "app/__init__.py", "app/tests/__init__.py", "app/tests/test_a.py", "lib/__init__.py",
        "testing/test_b.py", "scripts/run.py", "tests/__init__.py",
    ])
    assert layout.source_roots == ("",)
    assert layout.packages == ("app", "lib")
    assert layout.test_dirs == ("tests", "testing", "app/tests")


def test_explicit_layout_wins():
    layout = detect_layout(["app/__init__.py"], packages=["other"], test_dirs=["checks"], source_roots=["lib"])
    assert (layout.packages, layout.test_dirs, layout.source_roots) == (("other",), ("checks",), ("lib",))


@pytest.mark.parametrize("path, category", [
    ("pkg/core.py", Category.SOURCE),
    ("pkg/data/table.csv", Category.DATA),
    ("pkg/test_inline.py", Category.TEST),
    ("tests/test_core.py", Category.TEST),
    ("tests/core_test.py", Category.TEST),
    ("tests/helpers.py", Category.SOURCE),
    ("tests/fixtures/input.json", Category.DATA),
    ("tests/fixtures/notes.md", Category.DATA),
    ("tests/conftest.py", Category.CONFTEST),
    ("conftest.py", Category.CONFTEST),
    ("pyproject.toml", Category.CONFIG),
    ("setup.cfg", Category.CONFIG),
    ("setup.py", Category.CONFIG),
    ("tox.ini", Category.CONFIG),
    ("pytest.ini", Category.CONFIG),
    ("requirements-dev.txt", Category.CONFIG),
    ("poetry.lock", Category.CONFIG),
    ("README.md", Category.DOCS),
    ("docs/conf.py", Category.DOCS),
    ("docs/index.rst", Category.DOCS),
    ("scripts/tool.py", Category.SOURCE),
    ("dodo.py", Category.CONFIG),
    ("pkg/dodo.py", Category.SOURCE),
    ("tools/setup.py", Category.SOURCE),
    ("Makefile", Category.OTHER),
    (".github/workflows/ci.yml", Category.OTHER),
])
def test_detected_categories(path, category):
    layout = detect_layout(["pkg/__init__.py", "tests/test_core.py"])
    assert Categorizer(layout).categorize(path) is category


def test_user_globs_come_first():
    layout = detect_layout(["pkg/__init__.py", "tests/test_core.py"])
    categorizer = Categorizer.from_config(layout, {"data": ["examples/**"], "docs": ["pkg/*.txt"]})
    assert categorizer.categorize("examples/app/pkg/core.py") is Category.DATA
    assert categorizer.categorize("pkg/notes.txt") is Category.DOCS
    assert categorizer.categorize("pkg/core.py") is Category.SOURCE
