"""Worker-choice benchmark: plain `pytest` (one process) and `pytest -n 2` against doit-scout's
first run and forced full runs (`doit test --all`), on a generated suite of about 500 fast tests
and one of slow CPU-bound tests (no sleeping), all measured in one run, as ratios against plain
`pytest`. Target: doit-scout never slower than the faster of the two by more than a few percent.
Plain pytest runs before and after the doit runs, and counts with the mean of the two.

    python -m benchmarks.bench_workers [--slow-seconds 40]

Each doit run starts with an empty shared cache of its own, so the first `--all` decides from
the priors (xdist has not run on this "machine" yet) and the second from what the runs before it
measured. The choice each doit run made, and why, is printed under the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.bench_tests import rounds_per_second
from benchmarks.generate_project import generate

DODO = "from doit_scout.dodo import *\n"
FAST_FILES = 250  # two tests each: 500 tests of a few microseconds
SLOW_FILES = 20  # two tests each, CPU work adding up to --slow-seconds in one process


@dataclass
class Suite:
    name: str
    seconds: dict[str, float] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)


def _timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "200"})
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return seconds


def _choice(root: Path) -> str:
    tests = json.loads((root / ".scout" / "last-run.json").read_text())["tests"]
    ran = f"xdist {tests['workers']} workers" if tests["workers"] else "one process"
    return f"{ran} ({tests['workers_reason']})"


def measure(name: str, files: int, rounds: int) -> Suite:
    suite = Suite(name)
    pytest = [sys.executable, "-m", "pytest", "-q"]
    doit = [sys.executable, "-m", "doit"]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DOIT_SCOUT_CACHE"] = str(Path(tmp) / "cache")  # doit inherits it
        root = Path(tmp) / "project"
        generate(root, 50, files, test_rounds=rounds)
        (root / "dodo.py").write_text(DODO)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        before = {"pytest": _timed(pytest, root), "pytest -n 2": _timed([*pytest, "-n", "2"], root)}
        for run, command in (("first doit", doit), ("doit test --all", [*doit, "test", "--all"]),
                             ("doit test --all again", [*doit, "test", "--all"])):
            suite.seconds[run] = _timed(command, root)
            suite.choices[run] = _choice(root)
        # Plain pytest again after the doit runs: the machine is shared, and its load drifts.
        after = {"pytest": _timed(pytest, root), "pytest -n 2": _timed([*pytest, "-n", "2"], root)}
        for name in before:
            suite.seconds[name] = (before[name] + after[name]) / 2
            suite.choices[name] = f"{before[name]:.1f} s before the doit runs, {after[name]:.1f} s after"
    return suite


COLUMNS = ("pytest", "pytest -n 2", "first doit", "doit test --all", "doit test --all again")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow-seconds", type=float, default=40.0,
                        help="CPU seconds the slow suite should take in one process (default 40; the "
                             "calibration runs on a shared machine, so the measured time differs)")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start (1, 5, 15 min).")
    per_second = rounds_per_second()
    slow_rounds = int(per_second * args.slow_seconds / (2 * SLOW_FILES))
    suites = [measure(f"{2 * FAST_FILES} fast tests", FAST_FILES, 100),
              measure(f"{2 * SLOW_FILES} CPU-bound tests", SLOW_FILES, slow_rounds)]
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end (other work on the machine).")
    print(f"{os.cpu_count()} cores. Ratios against plain `pytest` (one process); the last column has each doit "
          "run against the faster of `pytest` and `pytest -n 2` (target: at most a few percent over, 1.0x).")
    print("| suite | " + " | ".join(f"`{c}`" for c in COLUMNS) + " | doit runs / faster pytest |")
    print("|---|" + "---:|" * (len(COLUMNS) + 1))
    for suite in suites:
        base = suite.seconds["pytest"]
        faster = min(base, suite.seconds["pytest -n 2"])
        cells = " | ".join(f"{suite.seconds[c]:.1f} s ({suite.seconds[c] / base:.2f}x)" for c in COLUMNS)
        against = " / ".join(f"{suite.seconds[c] / faster:.2f}x" for c in COLUMNS if "doit" in c)
        print(f"| {suite.name} | {cells} | {against} |")
    for suite in suites:
        for run, choice in suite.choices.items():
            print(f"- {suite.name}, {run}: {choice}")


if __name__ == "__main__":
    main()
