"""Remote-cache benchmark on a generated git project of 2,000 modules, all in one run: a first `doit`
(a trusted writer, as CI on main) fills a real nginx WebDAV cache on localhost; then a fresh clone
with an empty local cache, reading from that remote, runs `doit`: the time to that no-test run,
against the first run's. For scale, a third clone runs with a copy of the writer's local cache and no
remote (what a shared local cache gives): the difference is what the remote's round trips cost.

    python -m benchmarks.bench_remote [--suite-seconds 30] [--tests 400]

Needs nginx (apt-get install nginx-light).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_tests import rounds_per_second
from benchmarks.generate_project import generate
from benchmarks.nginx_cache import WRITER, NginxCache, nginx_path


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args], cwd=cwd,
                   check=True, capture_output=True)


def _doit(cwd: Path, env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "doit"], cwd=cwd, env=env, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"doit failed in {cwd}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return seconds, json.loads((cwd / ".scout" / "last-run.json").read_text())


def _machine(tmp: Path, name: str, url: str, writer: bool) -> dict[str, str]:
    env = {**os.environ, "DOIT_SCOUT_CACHE": str(tmp / f"cache-{name}"), "DOIT_SCOUT_REMOTE_CACHE": url}
    for variable in ("DOIT_SCOUT_REMOTE_CACHE_USER", "DOIT_SCOUT_REMOTE_CACHE_PASSWORD",
                     "DOIT_SCOUT_REMOTE_CACHE_TOKEN", "DOIT_SCOUT_REMOTE_CACHE_TRUST"):
        env.pop(variable, None)
    env["DOIT_SCOUT_REMOTE_CACHE_SECRET"] = "bench-team-secret"  # readers believe only signed entries
    env["DOIT_SCOUT_REMOTE_CACHE_WRITE"] = "1" if writer else "0"
    if writer:
        env["DOIT_SCOUT_REMOTE_CACHE_USER"], env["DOIT_SCOUT_REMOTE_CACHE_PASSWORD"] = WRITER
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-seconds", type=float, default=30.0)
    parser.add_argument("--tests", type=int, default=400)
    args = parser.parse_args()
    executable = nginx_path()
    if executable is None:
        raise SystemExit("nginx is not installed (apt-get install nginx-light)")
    tests = args.tests
    rounds = int(rounds_per_second() * args.suite_seconds * (os.cpu_count() or 1) / (2 * tests))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = NginxCache(tmp_path / "nginx", executable)
        server.start()
        try:
            url = server.url("team")
            origin = tmp_path / "origin"
            generate(origin, 2000, tests, test_rounds=rounds)
            (origin / "dodo.py").write_text("from doit_scout.dodo import *\n")
            _git(origin, "init", "-q", "-b", "main")
            _git(origin, "add", "-A")
            _git(origin, "commit", "-qm", "main")
            ci, fresh, local = tmp_path / "ci", tmp_path / "fresh", tmp_path / "local"
            for clone in (ci, fresh, local):
                _git(tmp_path, "clone", "-q", str(origin), str(clone))
            first, first_run = _doit(ci, _machine(tmp_path, "ci", url, writer=True))
            second, second_run = _doit(fresh, _machine(tmp_path, "dev", url, writer=False))
            held = server.files(url)
            shutil.copytree(tmp_path / "cache-ci", tmp_path / "cache-local")
            baseline, _ = _doit(local, {**_machine(tmp_path, "local", url, writer=False),
                                        "DOIT_SCOUT_REMOTE_CACHE": "off"})
        finally:
            server.stop()
    selected = len(second_run["tests"]["selected"])
    if selected:
        raise SystemExit(f"the fresh clone ran {selected} test files: the remote did not serve them")
    remote = second_run["cache"]["remote"]
    uploads = first_run["cache"]["remote"]["uploads"]
    latency = 1000 * remote["seconds"] / remote["requests"] if remote["requests"] else 0.0
    print(f"2,000 modules, {tests} test files; {os.cpu_count()} cores; nginx {server.port} on localhost. "
          f"The first run uploaded {sum(uploads.values())} entries ({len(held)} files on the server).")
    print(f"The fresh clone: {sum(remote['hits'].values())} remote hits, {sum(remote['misses'].values())} misses, "
          f"{remote['requests']} requests, {remote['bytes_down'] / 1024:.0f} KB, {latency:.1f} ms per request; "
          f"0 test files ran.")
    print("| measurement | time | compared with | saving |")
    print("|---|---:|---:|---:|")
    print(f"| `doit` in a fresh clone, empty local cache, remote cache | {second:.2f} s | first run (writer) "
          f"{first:.1f} s | {100 * (1 - second / first):.1f}% |")
    print(f"| `doit` in a fresh clone sharing the writer's local cache (no remote) | {baseline:.2f} s | first run "
          f"(writer) {first:.1f} s | {100 * (1 - baseline / first):.1f}% |")


if __name__ == "__main__":
    main()
