"""Running pytest once for the whole selection, and reading back what happened to each node."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from analyzers.selection import TestDecision

# Measured on the 2-core CI machine: a trivial suite takes 1.1 s in one process and 2.5 s with
# `-n 2`, so two workers cost about 1.4 s to start, which halving the work pays back from about
# 3 s of serial work. A selection expected to take less runs in one process.
XDIST_MIN_SECONDS = 3.0
# Each worker should have at least this much work, or starting it does not pay.
SECONDS_PER_WORKER = 1.5
# Assumed duration of a test file that has never run.
UNKNOWN_FILE_SECONDS = 0.5
# pytest exit statuses after which every node that ran has reported: all passed, some failed,
# none collected. Others are an interruption (2), an internal error (3) or a usage error (4).
COMPLETED_STATUSES = (0, 1, 5)


class PytestMissing(Exception):
    pass


@dataclass
class PytestRun:
    """`outcomes` holds nodes whose setup, call and teardown all reported, by node id relative
    to the project root; `finished` is False when the session did not reach its end."""

    exit_code: int
    workers: int
    outcomes: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)  # per test file
    collection_errors: dict[str, str] = field(default_factory=dict)
    finished: bool = False

    @property
    def completed(self) -> bool:
        """The session ran to its end: every selected node that exists has a verdict."""
        return self.finished and self.exit_code in COMPLETED_STATUSES


def xdist_available() -> bool:
    return importlib.util.find_spec("xdist") is not None


def choose_workers(estimated_seconds: float, files: int, cpus: int) -> int:
    """0 runs in one process; otherwise the number of xdist workers."""
    if files < 2 or cpus < 2 or estimated_seconds < XDIST_MIN_SECONDS:
        return 0
    return max(2, min(cpus, files, math.floor(estimated_seconds / SECONDS_PER_WORKER)))


def estimate_seconds(paths: Sequence[str], durations: Mapping[str, float]) -> float:
    return sum(durations.get(p, UNKNOWN_FILE_SECONDS) for p in paths)


def selection_of(root: Path, decisions: Sequence[TestDecision]) -> dict:
    """What the plugin lets pytest collect: absolute file paths, and node names for re-runs."""
    files, nodes = [], {}
    for decision in decisions:
        path = str(root / decision.path)
        if decision.action == "run":
            files.append(path)
        elif decision.action == "rerun":
            nodes[path] = [node.partition("::")[2] for node in decision.nodes]
    return {"files": files, "nodes": nodes}


def folders_to_collect(decisions: Sequence[TestDecision]) -> list[str]:
    """The fewest folders that hold every selected file (pytest's positional arguments)."""
    folders = sorted({os.path.dirname(d.path) or "." for d in decisions if d.runs})
    kept: list[str] = []
    for folder in folders:
        if not any(folder == k or folder.startswith(k + "/") or k == "." for k in kept):
            kept.append(folder)
    return kept


def run_pytest(
    root: Path, decisions: Sequence[TestDecision], *, workers: int, extra_args: Sequence[str] = ()
) -> PytestRun:
    """Run pytest with this interpreter in `root`; its output goes straight to the terminal."""
    if importlib.util.find_spec("pytest") is None:
        raise PytestMissing(f"pytest is not installed for {sys.executable}; install it with "
                            f"'{sys.executable} -m pip install pytest'")
    scratch = Path(tempfile.mkdtemp(prefix="pytest-", dir=root / ".scout"))
    report, selection = scratch / "report.jsonl", scratch / "selection.json"
    selection.write_text(json.dumps(selection_of(root, decisions)), encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-p", "runner.pytest_plugin",
               f"--scout-report={report}", f"--scout-select={selection}"]
    if workers:
        command += ["-n", str(workers)]
    command += [*extra_args, *folders_to_collect(decisions)]
    try:
        exit_code = subprocess.run(command, cwd=root, stdin=subprocess.DEVNULL).returncode
        return read_report(report, root, exit_code, workers)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def read_report(report: Path, root: Path, exit_code: int, workers: int) -> PytestRun:
    run = PytestRun(exit_code=exit_code, workers=workers)
    phases: dict[str, dict[str, dict]] = {}
    rootdir = root
    try:
        lines = report.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []  # pytest died before our plugin started: nothing ran that we can vouch for
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        kind = event.get("event")
        if kind == "start":
            rootdir = Path(event["rootdir"])
        elif kind == "test":
            node = _relative_node(event["nodeid"], rootdir, root)
            phases.setdefault(node, {})[event["when"]] = event
            path = node.split("::")[0]
            run.durations[path] = run.durations.get(path, 0.0) + float(event["duration"])
        elif kind == "collect_error":
            run.collection_errors[_relative_node(event["nodeid"], rootdir, root)] = event["message"]
        elif kind == "finish":
            run.finished = True
    for node, reports in phases.items():
        if "teardown" in reports:  # a node without its teardown report did not finish
            run.outcomes[node] = node_outcome(reports)
    return run


def node_outcome(reports: Mapping[str, dict]) -> str:
    """One verdict from a node's setup, call and teardown reports."""
    if any(r["outcome"] == "failed" for r in reports.values()):
        return "failed"
    call = reports.get("call")
    if call is None:
        return "skipped" if reports.get("setup", {}).get("outcome") == "skipped" else "failed"
    if call["outcome"] == "skipped":
        return "xfailed" if call["xfail"] else "skipped"
    return "passed"


def _relative_node(nodeid: str, rootdir: Path, root: Path) -> str:
    if rootdir == root or not nodeid:
        return nodeid
    path, sep, rest = nodeid.partition("::")
    return os.path.relpath(rootdir / path, root).replace(os.sep, "/") + sep + rest
