import shutil
from pathlib import Path

import pytest
from helpers import EXAMPLES, git_init, write_files

# Third-party pytest plugins installed beside doit-scout's test tools, which every pytest that the
# tests start would load: hypothesis's alone adds about a second and a half to each start on a
# 2-core machine, and no project under test uses them.
UNUSED_PLUGINS = "-p no:hypothesispytest -p no:anyio -p no:benchmark"


@pytest.fixture(autouse=True)
def shared_cache_folder(tmp_path: Path, monkeypatch) -> Path:
    """Each test gets its own shared cache (doit subprocesses inherit the variable) and its own
    user config folder (where the cache's key is made), and the pytest processes it starts leave
    out plugins no test project uses."""
    folder = tmp_path / "shared-cache"
    monkeypatch.setenv("DOIT_SCOUT_CACHE", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for variable in ("DOIT_SCOUT_CACHE_TRUST", "DOIT_SCOUT_CACHE_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PYTEST_ADDOPTS", UNUSED_PLUGINS)
    return folder


@pytest.fixture
def todo_app(tmp_path: Path) -> Path:
    root = tmp_path / "todo_app"
    shutil.copytree(EXAMPLES / "todo_app", root, ignore=shutil.ignore_patterns(".scout", "__pycache__", "build", ".mypy_cache", ".ruff_cache", ".benchmarks"))
    git_init(root)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small flat-layout project with a package, tests and a conftest."""
    root = tmp_path / "proj"
    write_files(root, {
        "pyproject.toml": "[project]\nname = 'proj'\n",
        "README.md": "# proj\n",
        "pkg/__init__.py": "",
        "pkg/core.py": "from pkg import util\n\ndef answer():\n    return util.base() + 1\n",
        "pkg/util.py": "def base():\n    return 41\n",
        "pkg/extra.py": "import json\n",
        "pkg/data/table.csv": "a,b\n",
        "tests/conftest.py": "import pytest\n",
        "tests/test_core.py": "from pkg.core import answer\n\ndef test_answer():\n    assert answer() == 42\n",
        "tests/test_extra.py": "import pkg.extra\n\ndef test_extra():\n    pass\n",
    })
    return root
