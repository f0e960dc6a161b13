"""Scout phase benchmark: cold scout (median of 3), no-op scout and an incremental scout after 5
edits (medians of 5), on generated git projects of 2,000 and 10,000 files, all measured in one
run, in this process; then the whole no-op `doit` command in that project (after one first run of
its tests), beside what starting Python and importing doit and doit-scout alone costs (medians of 5).
The two commands run with bytecode files allowed, as on a developer's machine, whatever
PYTHONDONTWRITEBYTECODE says here (without them every process compiles doit-scout from source).

    python -m benchmarks.bench_scout [--sizes 2000 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generate_project import generate
from doit_scout.config import ScoutConfig
from doit_scout.context import RunContext, close_caches
from doit_scout.scout import run_scout

OLD_NS = 1_000_000_000_000_000_000


def _age(paths: list[Path]) -> None:
    """Old mtimes, as on files not written in the last seconds (outside the racy window)."""
    for path in paths:
        os.utime(path, ns=(OLD_NS, OLD_NS))


def _timed(root: Path, config: ScoutConfig) -> float:
    started = time.perf_counter()
    run_scout(RunContext(root, config))
    return time.perf_counter() - started


def measure(files: int, repeats: int = 5) -> dict[str, float]:
    config = ScoutConfig()
    with tempfile.TemporaryDirectory() as tmp:
        # An empty shared cache of its own: a cache that has seen these generated files would make
        # the cold scout warm.
        os.environ["DOIT_SCOUT_CACHE"] = str(Path(tmp) / "cache")
        root = Path(tmp) / "project"
        modules = generate(root, modules=files * 4 // 5 - 5, tests=files // 5)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        _age([p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts])
        # The median of three cold scouts, each with no state and an empty shared cache: one cold
        # scout varies by a third from run to run on this machine.
        colds = []
        for _ in range(3):
            shutil.rmtree(root / ".scout", ignore_errors=True)
            shutil.rmtree(Path(tmp) / "cache", ignore_errors=True)
            close_caches()
            colds.append(_timed(root, config))
        cold = statistics.median(colds)
        count = len(run_scout(RunContext(root, config)).state.files)
        no_op = statistics.median(_timed(root, config) for _ in range(repeats))
        incremental = []
        rng = random.Random(1)
        for round_ in range(repeats):
            edited = [root / p for p in rng.sample(modules, 5)]
            for path in edited:
                with open(path, "a") as f:
                    f.write(f"\nEDITED_{round_} = True\n")
            _age(edited)
            incremental.append(_timed(root, config))
        close_caches()
        doit, imports = _no_op_doit(root, repeats)
        return {"files": count, "cold_s": cold, "files_per_s": count / cold, "noop_ms": no_op * 1000,
                "incremental_ms": statistics.median(incremental) * 1000,
                "ratio": cold / statistics.median(incremental), "doit_s": doit, "imports_s": imports}


def _no_op_doit(root: Path, repeats: int) -> tuple[float, float]:
    """The median wall time of `doit` with nothing changed since a first green run, and of a
    process that only imports what it imports at start."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    (root / "dodo.py").write_text("from doit_scout.dodo import *\n")
    first = subprocess.run([sys.executable, "-m", "doit"], cwd=root, env=env, capture_output=True, text=True)
    if first.returncode != 0:
        raise SystemExit(f"the first doit run failed:\n{first.stdout[-2000:]}{first.stderr[-2000:]}")

    def timed(command: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(command, cwd=root, env=env, capture_output=True, check=True)
        return time.perf_counter() - started

    doit = statistics.median(timed([sys.executable, "-m", "doit"]) for _ in range(repeats))
    imports = statistics.median(timed([sys.executable, "-c", "import doit.doit_cmd, doit_scout.dodo"])
                                for _ in range(repeats))
    return doit, imports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; targets: cold >= 1000 files/s, no-op scout (2,000) < 150 ms, "
          "cold / incremental >= 20x, no-op doit < 0.5 s (2,000) and < 1 s (10,000)")
    print("| files | cold scout | cold files/s | no-op scout | 5 files changed | cold / incremental "
          "| no-op doit | of it, start and imports |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        r = measure(size)
        print(f"| {r['files']:,} | {r['cold_s']:.2f} s | {r['files_per_s']:,.0f} | {r['noop_ms']:.0f} ms "
              f"| {r['incremental_ms']:.0f} ms | {r['ratio']:.0f}x | {r['doit_s']:.2f} s | {r['imports_s']:.2f} s |")


if __name__ == "__main__":
    main()
