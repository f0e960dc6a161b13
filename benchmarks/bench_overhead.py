"""Fixed overhead of `doit` on a tiny, fast suite: plain `pytest` against `doit test --all` (every test
runs, as in a full run) in the same generated project, interleaved round by round so that the load of a
shared machine falls on both alike; the ratio and the difference of the medians are what count.

    python -m benchmarks.bench_overhead [--rounds 7] [--tests 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DODO = "from doit_scout.dodo import *\n"


def make_project(root: Path, tests: int) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'tiny'\n\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    (root / "dodo.py").write_text(DODO)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "core.py").write_text("def add(a, b):\n    return a + b\n")
    for i in range(tests):
        (root / "tests" / f"test_{i}.py").write_text(f"from pkg.core import add\n\ndef test_{i}():\n    assert add({i}, 1) == {i + 1}\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@example.com",
                                                              "commit", "-qm", "tiny"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tests", type=int, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "tiny"
        make_project(root, options.tests)
        env = {**os.environ, "DOIT_SCOUT_CACHE": str(Path(folder) / "cache"), "COLUMNS": "120"}
        plain = [sys.executable, "-m", "pytest", "-q"]
        doit = [sys.executable, "-m", "doit", "test", "--all"]
        timed(doit, root, env)  # the first run: the scout from nothing, and pytest asked what the tests are
        times: dict[str, list[float]] = {"pytest": [], "doit": []}
        for _ in range(options.rounds):
            times["pytest"].append(timed(plain, root, env))
            times["doit"].append(timed(doit, root, env))
        noop = statistics.median(timed([sys.executable, "-m", "doit"], root, env) for _ in range(3))
    pytest_s, doit_s = statistics.median(times["pytest"]), statistics.median(times["doit"])
    print(f"{options.tests} tests, {options.rounds} rounds, medians: pytest {pytest_s:.3f} s · doit test --all "
          f"{doit_s:.3f} s · overhead {doit_s - pytest_s:+.3f} s · ratio {doit_s / pytest_s:.2f}x · "
          f"no-op doit {noop:.3f} s")


if __name__ == "__main__":
    main()
