"""Helpers that build real projects on disk, with real git where git matters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from doit_scout.config import ScoutConfig
from doit_scout.context import RunContext
from doit_scout.scout import ScoutRun, run_scout

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"
OLD_NS = 1_000_000_000_000_000_000  # 2001: safely older than any racy window


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))


def age_files(root: Path) -> None:
    """Give every project file an old mtime, so the stat cache may trust it (no racy window)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".scout")]
        for name in filenames:
            os.utime(os.path.join(dirpath, name), ns=(OLD_NS, OLD_NS), follow_symlinks=False)


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout


def git_init(root: Path, commit: bool = True) -> None:
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    if commit:
        git(root, "commit", "-qm", "initial")


def scout(root: Path, config: ScoutConfig | None = None) -> ScoutRun:
    """One scout, as a doit run of its own."""
    return run_scout(RunContext(root, config or ScoutConfig(parse_workers=0)))


# The test files of examples/todo_app.
TODO_TESTS = ["tests/test_cli.py", "tests/test_filters.py", "tests/test_reports.py",
              "tests/test_serialization.py", "tests/test_store.py"]


def doit_tests(root: Path, *args: str, ok: bool = True) -> tuple[str, dict]:
    """Run doit; return its output and the "tests" part of .scout/last-run.json."""
    result = run_doit(root, *args)
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    return result.stdout, json.loads((root / ".scout" / "last-run.json").read_text())["tests"]


def run_doit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doit", *args], cwd=cwd, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"}, timeout=120,
    )


def interrupt_doit(root: Path, started: Path) -> subprocess.CompletedProcess[str]:
    """Start `doit` in its own process group, and once a test of it has created `started`, send
    the group a SIGINT, as Ctrl-C in a terminal does; return the finished run."""
    run = subprocess.Popen([sys.executable, "-m", "doit"], cwd=root, stdout=subprocess.PIPE, text=True,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
    while not started.exists():
        assert run.poll() is None, run.communicate()
    os.killpg(run.pid, signal.SIGINT)
    stdout, stderr = run.communicate(timeout=60)
    return subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)


def close_shared_caches() -> None:
    """Let go of this process's shared cache connections, as the end of a doit run does."""
    from doit_scout.context import close_caches

    close_caches()
