"""Watch latency on a generated 2,000-file project: from saving one leaf module to pytest starting
the first selected test (the tests' own time excluded), median of several saves, in one run.

    python -m benchmarks.bench_watch
"""

from __future__ import annotations

import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.generate_project import generate


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        modules = generate(root, 1600, 400)
        (root / "dodo.py").write_text("from doit_scout.dodo import *\n")
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        env = {**os.environ, "DOIT_SCOUT_CACHE": str(Path(tmp) / "cache"), "PYTHONUNBUFFERED": "1"}
        watcher = subprocess.Popen([sys.executable, "-m", "doit", "watch"], cwd=root, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=lambda: [lines.put((time.perf_counter(), line)) for line in watcher.stdout],
                         daemon=True).start()

        def wait_for(text: str) -> float:
            while True:
                at, line = lines.get(timeout=600)
                if text in line:
                    return at

        wait_for("last run")
        # Test file t tests module t: the last five tested modules, imported by few others.
        latencies = []
        for path in modules[395:400]:
            started = time.perf_counter()
            with open(root / path, "a") as f:
                f.write("\nSAVED = True\n")
            latencies.append(wait_for("test session starts") - started)  # not waiting on the tests
            wait_for("last run")
        os.killpg(watcher.pid, signal.SIGINT)
        watcher.wait(timeout=60)
    print("| measurement | median | slowest | target |")
    print("|---|---:|---:|---:|")
    print(f"| save of a leaf module -> pytest's session starts (2,000 files, `doit watch`) "
          f"| {statistics.median(latencies):.2f} s | {max(latencies):.2f} s | under 1 s |")


if __name__ == "__main__":
    main()
