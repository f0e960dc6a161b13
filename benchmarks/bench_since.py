"""CI-mode benchmark on a generated git project of 2,000 modules, in one run: the time of
`doit explain --since HEAD~5 --json` after five commits, and the balance of `--shard` for N = 4.

    python -m benchmarks.bench_since
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generate_project import generate
from doit_scout.analyzers.sharding import shard_files


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args], cwd=cwd,
                   check=True, capture_output=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        modules = generate(root, 2000, 400)
        (root / "dodo.py").write_text("from doit_scout.dodo import *\n")
        _git(root, "init", "-q", "-b", "main")
        _git(root, "add", "-A")
        _git(root, "commit", "-qm", "base")
        env = {**os.environ, "DOIT_SCOUT_CACHE": str(Path(tmp) / "cache")}
        subprocess.run([sys.executable, "-m", "doit", "scout"], cwd=root, env=env, check=True, capture_output=True)
        for i, path in enumerate(random.Random(7).sample(modules, 5)):
            with open(root / path, "a") as f:
                f.write(f"\nCOMMIT_{i} = True\n")
            _git(root, "commit", "-qam", f"commit {i}")
        subprocess.run([sys.executable, "-m", "doit", "scout"], cwd=root, env=env, check=True, capture_output=True)
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "doit", "explain", "--json", "--since", "HEAD~5"],
                                 cwd=root, env=env, check=True, capture_output=True, text=True).stdout
            runs.append(time.perf_counter() - started)
        selected = [t["path"] for t in json.loads(out)["tests"] if t["decision"] == "run"]

    rng = random.Random(11)
    durations = {f"tests/test_{i}.py": rng.lognormvariate(0, 1) for i in range(400)}
    shards = shard_files(list(durations), durations, 4)
    loads = [sum(durations[p] for p in s) for s in shards]
    print("| measurement | result | target |")
    print("|---|---:|---:|")
    print(f"| `doit explain --since HEAD~5 --json`, 2,000 modules, 5 commits ({len(selected)} of 400 "
          f"test files selected), median of 3 | {statistics.median(runs):.2f} s | under 1 s |")
    print(f"| `--shard K/4` balance, 400 files with log-normal durations: max shard / mean shard "
          f"| {max(loads) / statistics.mean(loads):.3f} | close to 1 |")


if __name__ == "__main__":
    main()
