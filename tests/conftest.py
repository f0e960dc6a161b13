import compileall
import json
import os
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import EXAMPLES, git_init, write_files
from hypothesis import HealthCheck, settings

# Hypothesis's health checks on generation speed are timing assertions: on a loaded 2-core machine
# they failed pure tests (test_sharding's) whose properties held; so did deadlines. Examples stay.
settings.register_profile("scout", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("scout")

# Third-party pytest plugins installed beside doit-scout's test tools, which every pytest that the
# tests start would load: hypothesis's alone adds about a second and a half to each start on a
# 2-core machine, and no project under test uses them.
UNUSED_PLUGINS = "-p no:hypothesispytest -p no:anyio -p no:benchmark"


@pytest.fixture(autouse=True)
def shared_cache_folder(tmp_path: Path, monkeypatch) -> Path:
    """Each test gets its own shared cache (doit subprocesses inherit the variable), its own user
    config folder (where the cache's key is made) and no remote cache unless it starts its own,
    and the pytest processes it starts leave out plugins no test project uses. Bytecode is left as
    the environment says: where pytest subprocesses wrote it, a test project's file rewritten
    within the same second at the same size ran as its stale bytecode (Python checks mtime in
    seconds and size), and an outcome then flipped one edit late."""
    folder = tmp_path / "shared-cache"
    monkeypatch.setenv("DOIT_SCOUT_CACHE", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for variable in ("DOIT_SCOUT_CACHE_TRUST", "DOIT_SCOUT_CACHE_KEY"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("", "_WRITE", "_TOKEN", "_USER", "_PASSWORD", "_SECRET", "_TRUST"):  # no team server in tests
        monkeypatch.delenv(f"DOIT_SCOUT_REMOTE_CACHE{variable}", raising=False)
    monkeypatch.setenv("PYTEST_ADDOPTS", UNUSED_PLUGINS)
    return folder


_EXAMPLE_LEFTOVERS = shutil.ignore_patterns(".scout", "__pycache__", "build", ".mypy_cache", ".ruff_cache", ".benchmarks")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "after_first_run: todo_app as a first, green `doit` run left it")
    if not hasattr(config, "workerinput"):
        _compile_doit_scout()


def _compile_doit_scout() -> None:
    """Bytecode of doit-scout's own code, checked against its source's hash on every import: each
    doit, pytest and xdist process the tests start imports doit-scout, and where the environment
    forbids writing bytecode (PYTHONDONTWRITEBYTECODE, as in CI here) each compiled it from source,
    about 0.1 s of CPU a process. Test projects' files get no bytecode from this (see above)."""
    repository = Path(__file__).resolve().parent.parent
    for package in ("runner", "analyzers"):
        compileall.compile_dir(repository / package, quiet=1,
                               invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)


@pytest.fixture(scope="session")
def _todo_app_after_first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One real first `doit` run of todo_app (scout, lint, typecheck, docs, every test) per test
    process, with its own shared cache and user config: the checkout, the cache it left and the
    folder of the key that signed it."""
    base = tmp_path_factory.mktemp("first-run")
    root, cache, config = base / "todo_app", base / "shared-cache", base / "config"
    shutil.copytree(EXAMPLES / "todo_app", root, ignore=_EXAMPLE_LEFTOVERS)
    git_init(root)
    env = {**os.environ, "DOIT_SCOUT_CACHE": str(cache), "XDG_CONFIG_HOME": str(config),
           "PYTEST_ADDOPTS": UNUSED_PLUGINS, "COLUMNS": "200"}
    for variable in ("DOIT_SCOUT_CACHE_TRUST", "DOIT_SCOUT_CACHE_KEY", "DOIT_SCOUT_REMOTE_CACHE"):
        env.pop(variable, None)
    result = subprocess.run([sys.executable, "-m", "doit"], cwd=root, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = json.loads((root / ".scout" / "last-run.json").read_text())["tests"]
    assert tests["passed"] == 10 and tests["failed"] == [], tests
    return root, cache, config


@pytest.fixture
def todo_app(request: pytest.FixtureRequest, tmp_path: Path, shared_cache_folder: Path) -> Path:
    """A git checkout of examples/todo_app. Marked `after_first_run`: a copy of one that a first,
    green `doit` run left, with that run's shared cache, as if the test had begun with that run
    (the first run costs most, build steps included, and most tests start from it; a copy is a
    second clone, which doit-scout reuses results in by construction: state and records are keyed
    by content and paths relative to the root)."""
    root = tmp_path / "todo_app"
    if request.node.get_closest_marker("after_first_run") is None:
        shutil.copytree(EXAMPLES / "todo_app", root, ignore=_EXAMPLE_LEFTOVERS)
        git_init(root)
        return root
    template, cache, config = request.getfixturevalue("_todo_app_after_first_run")
    shutil.copytree(template, root, symlinks=True)
    shutil.copytree(cache, shared_cache_folder)
    shutil.copytree(config, tmp_path / "config")  # the key that signed the cache's entries
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
