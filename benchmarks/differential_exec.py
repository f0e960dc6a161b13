"""Running doit and the oracle for the differential check (benchmarks/differential.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOIT_TIMEOUT = 240.0
ORACLE_TIMEOUT = 180.0
ORACLE = ["-m", "pytest", "-p", "no:cacheprovider", "-q"]
TAIL = 4000  # characters of output kept per finding


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float
    timed_out: bool = False


def run_command(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Run:
    """Run a command in a session of its own: on timeout its whole process group (doit's pytest,
    xdist workers) is killed, not only the command itself."""
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        output, _ = process.communicate()
        return Run(-1, (output or "") + f"\n[timed out after {timeout:.0f} s]", time.perf_counter() - started, True)
    return Run(process.returncode, output, time.perf_counter() - started)


def run_doit(root: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> Run:
    return run_command([sys.executable, "-m", "doit", *args], root, env, DOIT_TIMEOUT)


def run_oracle(root: Path, env: dict[str, str], lf: bool = False) -> Run:
    """Plain pytest over the whole suite. With --lf in the project's addopts, pytest needs its cache
    plugin: a fresh, empty cache outside the project makes --lf select everything."""
    if not lf:
        return run_command([sys.executable, *ORACLE], root, env, ORACLE_TIMEOUT)
    with tempfile.TemporaryDirectory(prefix="doit-scout-oracle-cache-") as cache:
        args = [a for a in ORACLE if a not in ("-p", "no:cacheprovider")] + ["-o", f"cache_dir={cache}"]
        return run_command([sys.executable, *args], root, env, ORACLE_TIMEOUT)


# A traceback through doit-scout's or doit's own code, or pytest's INTERNALERROR (our plugin).
CRASH = re.compile(r'File "[^"]*[/\\](?:runner|analyzers|doit_scout|doit)[/\\][^"]*", line|INTERNALERROR')


def crashed(run: Run, narrowed: bool = False) -> bool:
    allowed = (0, 1, 5) if narrowed else (0, 1)  # 5: a -k or --lf run that selected nothing
    return run.timed_out or run.returncode not in allowed or bool(CRASH.search(run.output))


def tail(text: str, limit: int = TAIL) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


def summary(output: str, limit: int = 1500) -> str:
    """pytest's short summary and final line, or the output's tail when it has none."""
    at = output.rfind("short test summary info")
    if at < 0:
        return tail(output, limit)
    return tail(output[output.rfind("\n", 0, at) + 1:], limit)
