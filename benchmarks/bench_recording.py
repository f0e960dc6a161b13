"""Recording overhead: plain `pytest` against the same pytest run with doit-scout's plugin
recording collection, outcomes and observed inputs (the audit hook), on the same selection.

    python -m benchmarks.bench_recording [--rounds 5] [--project PATH ...]

Without --project it measures generated projects (400 and 2,000 modules); with it, any real
project whose suite passes with plain pytest in this Python (say, a clone of a project you use).
Runs alternate plain and recorded, one process each (no xdist), and the medians are compared.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generate_project import generate

PLAIN = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def _timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited with {result.returncode} in {cwd}")
    return elapsed


def measure(project: Path, rounds: int) -> tuple[float, float]:
    """Median seconds of plain pytest and of pytest with the recording plugin."""
    plain, recorded = [], []
    with tempfile.TemporaryDirectory() as scratch:
        recording = [*PLAIN, "-p", "doit_scout.pytest_plugin", f"--scout-dir={scratch}", f"--scout-root={project}"]
        _timed(PLAIN, project)  # warm the file cache and the bytecode
        for _ in range(rounds):
            plain.append(_timed(PLAIN, project))
            recorded.append(_timed(recording, project))
    return statistics.median(plain), statistics.median(recorded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--project", type=Path, action="append", default=[])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        projects = [(p.name, p.resolve()) for p in args.project]
        if not projects:
            for modules, tests in ((400, 100), (2000, 400)):
                root = Path(tmp) / f"generated-{modules}"
                generate(root, modules, tests, test_rounds=20_000)
                projects.append((f"generated, {modules} modules, {tests} test files", root))
        for name, root in projects:
            plain, recorded = measure(root, args.rounds)
            rows.append((name, plain, recorded))
    print("| project | plain pytest | with recording | overhead |\n|---|---:|---:|---:|")
    for name, plain, recorded in rows:
        print(f"| {name} | {plain:.2f} s | {recorded:.2f} s | {100 * (recorded / plain - 1):+.1f}% |")


if __name__ == "__main__":
    main()
