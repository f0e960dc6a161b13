"""Shared-cache benchmark on a generated git project of 2,000 modules, all in one run:
`doit` in a fresh second clone against the first clone's first run, and a branch switch back to a
known commit with the shared cache against the same switch with it switched off; then the cache's
hot read path alone (opening it, and `get_many` of 2,000 parse entries and 400 test records).

    python -m benchmarks.bench_cache [--suite-seconds 30] [--read-path-only]
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


def read_path(folder: Path, parses: int = 2000, tests: int = 400, rounds: int = 7) -> dict[str, float]:
    """Best of `rounds`, in ms: opening the cache after a clean close, and reading every entry
    back (entries of about the size real parse results and test records have)."""
    from doit_scout.shared_cache import SharedCache

    parse = {"imports": [["pkg.mod%d" % i, 0, i, 0] for i in range(40)], "defs": {"f%d" % i: "x" * 16 for i in range(20)}}
    record = {"path": "tests/test_x.py", "complete": True, "outcomes": {f"tests/test_x.py::t{i}": "passed" for i in range(5)}}
    cache = SharedCache(folder)
    cache.put_many("parse", {f"p{i:05d}": parse for i in range(parses)})
    cache.put_many("test", {f"t{i:05d}": {**record, "fingerprint": f"t{i:05d}"} for i in range(tests)})
    cache.close()
    best = {"open": float("inf"), "parse": float("inf"), "test": float("inf")}
    for _ in range(rounds):
        started = time.perf_counter()
        cache = SharedCache(folder)
        opened = time.perf_counter()
        assert len(cache.get_many("parse", [f"p{i:05d}" for i in range(parses)])) == parses
        read_parses = time.perf_counter()
        assert len(cache.get_many("test", [f"t{i:05d}" for i in range(tests)])) == tests
        read_tests = time.perf_counter()
        cache.close()
        best = {"open": min(best["open"], opened - started), "parse": min(best["parse"], read_parses - opened),
                "test": min(best["test"], read_tests - read_parses)}
    return {k: 1000 * v for k, v in best.items()}


def _print_read_path(times: dict[str, float]) -> None:
    print("| read path (best of 7) | ms |")
    print("|---|---:|")
    print(f"| open after a clean close | {times['open']:.2f} |")
    print(f"| get_many: 2,000 parse entries | {times['parse']:.2f} |")
    print(f"| get_many: 400 test records | {times['test']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-seconds", type=float, default=30.0)
    parser.add_argument("--read-path-only", action="store_true", help="only time the cache's read path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # The cache's key is made in the user's config folder: one of the benchmark's own.
        before = os.environ.get("XDG_CONFIG_HOME")
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        try:
            times = read_path(Path(tmp) / "cache")
        finally:
            os.environ.pop("XDG_CONFIG_HOME") if before is None else os.environ.update(XDG_CONFIG_HOME=before)
    if args.read_path_only:
        _print_read_path(times)
        return
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

        shared = {**os.environ, "DOIT_SCOUT_CACHE": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
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
    _print_read_path(times)


if __name__ == "__main__":
    main()
