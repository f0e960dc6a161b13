"""Test-task benchmark: plain `pytest -n auto` against `doit` on generated projects of 50 and 2,000
modules whose tests do CPU work (no sleeping), all measured in one run.

    python -m benchmarks.bench_tests [--suite-seconds 60]
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

from benchmarks.generate_project import generate
from doit_scout.scout_state import load_state

DODO = "from doit_scout.dodo import *\n"


def rounds_per_second() -> float:
    """The CPU work per second of this machine now, in the generated tests' own loop."""
    started, rounds = time.perf_counter(), 2_000_000
    total = 0
    for i in range(rounds):
        total += i * i % 7
    return rounds / (time.perf_counter() - started)


def _timed(command: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if result.returncode not in ok:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return seconds


def _leaf_modules(root: Path) -> list[str]:
    state = load_state(root / ".scout")
    imported = {e.imported for e in state.graph.edges if not e.importer.startswith("tests.")}
    return sorted(path for node, path in state.graph.modules.items()
                  if path.startswith("app/") and node not in imported)


def measure(modules: int, tests: int, suite_seconds: float, change_modules: bool) -> dict[str, float]:
    cpus = os.cpu_count() or 1
    # Two tests per file; the suite's CPU time spread over all cores lasts about `suite_seconds`.
    rounds = int(rounds_per_second() * suite_seconds * cpus / (2 * tests))
    doit = [sys.executable, "-m", "doit"]
    with tempfile.TemporaryDirectory() as tmp:
        # An empty shared cache of its own (doit inherits it): records from an earlier run of the
        # same generated project would make the first run a no-op.
        os.environ["DOIT_SCOUT_CACHE"] = str(Path(tmp) / "cache")
        root = Path(tmp) / "project"
        module_paths = generate(root, modules, tests, test_rounds=rounds)
        (root / "dodo.py").write_text(DODO)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        full = _timed([sys.executable, "-m", "pytest", "-n", "auto", "-q", "-p", "no:cacheprovider"], root)
        figures = {"full": full, "first": _timed(doit, root), "noop": _timed(doit, root)}
        if change_modules:
            # Five leaf modules (no other module imports them), then five from the upper half of
            # the import layers: everyday feature work rather than the foundations.
            for name, paths in (("five_leaves", _leaf_modules(root)), ("five_upper", module_paths[len(module_paths) // 2:])):
                for path in random.Random(5).sample(paths, 5):
                    with open(root / path, "a") as f:
                        f.write("\nCHANGED = True\n")
                figures[name] = _timed(doit, root)
        (root / "README.md").write_text("# synthetic\n\nMore words.\n")
        (root / "docs" / "index.rst").write_text("synthetic\n=========\n\nMore words.\n")
        figures["docs_only"] = _timed(doit, root)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-seconds", type=float, default=70.0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores. Targets: first doit <= 5% over full; no-op < 5% of full; "
          "5 modules changed >= 80% less; docs only >= 95% less.")
    print("| project | full `pytest -n auto` | first `doit` | no-op `doit` | 5 leaf modules changed "
          "| 5 upper-layer modules changed | docs only |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for modules, tests, change in ((50, 50, True), (2000, 400, False)):
        r = measure(modules, tests, args.suite_seconds, change)
        full = r["full"]
        five = " | ".join(
            f"{r[k]:.1f} s ({100 * (1 - r[k] / full):.0f}% less)" if k in r else "n/a"
            for k in ("five_leaves", "five_upper")
        )
        print(f"| {modules} modules, {tests} test files | {full:.1f} s "
              f"| {r['first']:.1f} s ({100 * (r['first'] / full - 1):+.1f}%) "
              f"| {r['noop']:.2f} s ({100 * r['noop'] / full:.1f}% of full) | {five} "
              f"| {r['docs_only']:.2f} s ({100 * (1 - r['docs_only'] / full):.1f}% less) |")


if __name__ == "__main__":
    main()
