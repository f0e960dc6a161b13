"""Shared-cache benchmark on a generated git project of 2,000 modules, all in one run:
`doit` in a fresh second clone against the first clone's first run, and a branch switch back to a
known commit with the shared cache against the same switch with it switched off.

    python -m benchmarks.bench_cache [--suite-seconds 30]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_tests import rounds_per_second
from benchmarks.generate_project import generate


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args], cwd=cwd,
                   check=True, capture_output=True)


def _doit(cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "doit"], cwd=cwd, env=env, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise SystemExit(f"doit failed in {cwd}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return time.perf_counter() - started


def _switch_back(origin: Path, clone: Path, env: dict[str, str]) -> float:
    """First run on main, then on the feature branch, then the timed run back on main."""
    _git(clone.parent, "clone", "-q", str(origin), str(clone))
    _doit(clone, env)
    _git(clone, "checkout", "-q", "feature")
    _doit(clone, env)
    _git(clone, "checkout", "-q", "main")
    return _doit(clone, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-seconds", type=float, default=30.0)
    args = parser.parse_args()
    tests = 400
    rounds = int(rounds_per_second() * args.suite_seconds * (os.cpu_count() or 1) / (2 * tests))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        origin = tmp_path / "origin"
        modules = generate(origin, 2000, tests, test_rounds=rounds)
        (origin / "dodo.py").write_text("from doit_scout.dodo import *\n")
        _git(origin, "init", "-q", "-b", "main")
        _git(origin, "add", "-A")
        _git(origin, "commit", "-qm", "main")
        _git(origin, "checkout", "-q", "-b", "feature")
        for path in random.Random(3).sample(modules[len(modules) // 2:], 5):
            with open(origin / path, "a") as f:
                f.write("\nFEATURE = True\n")
        _git(origin, "commit", "-qam", "feature")
        _git(origin, "checkout", "-q", "main")

        shared = {**os.environ, "DOIT_SCOUT_CACHE": str(tmp_path / "cache")}
        off = {**os.environ, "DOIT_SCOUT_CACHE": "off"}
        first, second = tmp_path / "first", tmp_path / "second"
        _git(tmp_path, "clone", "-q", str(origin), str(first))
        _git(tmp_path, "clone", "-q", str(origin), str(second))
        first_run = _doit(first, shared)
        second_clone = _doit(second, shared)
        back_shared = _switch_back(origin, tmp_path / "third", shared)
        back_off = _switch_back(origin, tmp_path / "fourth", off)

    print(f"2,000 modules, {tests} test files; {os.cpu_count()} cores. Targets: second clone at least 95% "
          "less than the first clone's first run.")
    print("| measurement | with the shared cache | compared with | saving |")
    print("|---|---:|---:|---:|")
    print(f"| `doit` in a fresh second clone | {second_clone:.2f} s | first clone's first run {first_run:.1f} s "
          f"| {100 * (1 - second_clone / first_run):.1f}% |")
    print(f"| `doit` after switching back to main | {back_shared:.2f} s | cache switched off {back_off:.1f} s "
          f"| {100 * (1 - back_shared / back_off):.1f}% |")


if __name__ == "__main__":
    main()
