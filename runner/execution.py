"""Running pytest once for the whole selection, and reading back what happened to each node."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from doit_scout.analyzers.selection import TestDecision
from doit_scout.item_records import ItemTrace
from doit_scout.probes import tracer_choice
from doit_scout.tracing import TRACE_VARIABLE

# pytest exit statuses after which every node that ran has reported: all passed, some failed,
# none collected. Others are an interruption (2), an internal error (3) or a usage error (4).
COMPLETED_STATUSES = (0, 1, 5)
# pytest's own words for what its summary line counts, in the order doit-scout prints them.
COUNT_WORDS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "deselected", "warnings")


class PytestMissing(Exception):
    pass


@dataclass
class Timeline:
    """Wall-clock times (time.time()) of one pytest run: `started` and `exited` are taken around
    its process, the others reported by the plugin in the controller (None: never reached)."""

    started: float | None = None
    configured: float | None = None
    workers_ready: float | None = None  # the last worker that became ready
    first_test: float | None = None
    finished: float | None = None
    exited: float | None = None

    @property
    def wall(self) -> float:
        if self.started is None or self.exited is None:
            return 0.0
        return self.exited - self.started

    def phases(self) -> dict[str, float]:
        """Seconds from each point reached to the next one reached, for .scout/last-run.json."""
        points = [(name, getattr(self, name)) for name in
                  ("started", "configured", "workers_ready", "first_test", "finished", "exited")]
        reached = [(name, at) for name, at in points if at is not None]
        return {f"{a}-{b}": round(t2 - t1, 3) for (a, t1), (b, t2) in zip(reached, reached[1:])}


@dataclass
class PytestRun:
    """What one pytest run said, with paths and node ids relative to the project root.

    `outcomes` holds nodes whose setup, call and teardown all reported; `items` maps every node
    pytest collected to its file (the unit); `collected` are the files pytest made a collector
    for (with or without items); `deselected` nodes some plugin (-k, -m, --lf) or doit-scout's
    re-run took out; `widened` re-run files where a failed node no longer exists, so the whole
    file ran; `observed` maps a source file to what running code read ("" for no project file);
    `finished` is False when the session did not reach its end; `interrupted` says why a session
    stopped early (Ctrl-C, or pytest.exit() in a test or a plugin, whatever status it gave).
    `counts` are the counts of pytest's final line (COUNT_WORDS, and `deselected`), as its terminal
    reporter said them; without it, a report each as it counts, so a test that fails and then
    errors in its teardown counts once in `failed` and once in `errors`; `tests` is the number of
    tests that reported at all.

    `executed` maps a unit to the functions its tests were seen to run (`path::qualname`, with
    what ran outside any test in the same process), for a run traced with `trace`; `ran_before`
    to what ran in the same process before its last test ended, by any test; `untraced` those
    units whose record is incomplete, and why (doit_scout.tracing).

    `workers` are the xdist workers that really ran (0: one process), whoever asked for them;
    `addopts` the project's ini-file addopts as pytest read them (None: not reported)."""

    exit_code: int
    workers: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)  # per test file
    node_durations: dict[str, float] = field(default_factory=dict)
    collection_errors: dict[str, str] = field(default_factory=dict)
    items: dict[str, str | None] = field(default_factory=dict)
    collected: set[str] = field(default_factory=set)
    error_files: set[str] = field(default_factory=set)
    deselected: set[str] = field(default_factory=set)
    widened: set[str] = field(default_factory=set)
    observed: dict[str, set[str]] = field(default_factory=dict)
    executed: dict[str, set[str]] = field(default_factory=dict)
    ran_before: dict[str, set[str]] = field(default_factory=dict)
    untraced: dict[str, str] = field(default_factory=dict)
    tracer: str | None = None  # the probe that traced the run (doit_scout.probes): "c" or "python"
    item_traces: dict[str, ItemTrace] = field(default_factory=dict)  # node -> what it ran (traced runs)
    finished: bool = False
    narrowed: bool = False  # pytest left files uncollected on purpose (--lf, paths given to it)
    # Files pytest was given some nodes of (`tests/test_x.py::test_a`, a re-run of failed nodes):
    # never complete, whatever ran of them.
    partial_files: set[str] = field(default_factory=set)
    # Files pytest's collection did not examine whole, deselecting nothing (--lf's skipped files, and
    # the tests it drops from a file with a failure): doit_scout.collection_kept.
    left_out: set[str] = field(default_factory=set)
    kept_failed_only: bool = False  # --lf or --sw was on: pytest's cache decided what runs
    # The only deselections are the project's own configuration's (addopts `-m 'not slow'`), which
    # every fingerprint covers: a file whose other items all ran is complete, as plain pytest
    # would have run it.
    deselected_by_config: bool = False
    interrupted: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    tests: int = 0
    addopts: tuple[str, ...] | None = None
    inifile: str | None = None
    timeline: Timeline = field(default_factory=Timeline)
    output: str = ""  # what pytest printed, when run quietly

    @property
    def completed(self) -> bool:
        """The session ran to its end: every node it kept has a verdict."""
        return self.finished and self.interrupted is None and self.exit_code in COMPLETED_STATUSES

    @property
    def collected_everything(self) -> bool:
        """The session collected every file it was not told to hide: what it did not collect is no
        test. -x and --maxfail stop collection at the first error too, so a run with any does not;
        nor does a session that was interrupted (Ctrl-C while collecting) or refused its arguments."""
        return self.completed and not self.narrowed and not self.collection_errors

    def items_by_file(self) -> dict[str, list[str]]:
        by_file: dict[str, list[str]] = {}
        for node, path in self.items.items():
            if path is not None:
                by_file.setdefault(path, []).append(node)
        return by_file

    def complete_files(self) -> set[str]:
        """Files every item of which ran to a verdict in a session that completed: those and
        only those can be recorded as a whole."""
        if not self.completed:
            return set()
        incomplete = self.error_files | self.partial_files | self.left_out
        by_config = self.deselected_by_config and not self.narrowed  # --lf in addopts is no marker filter
        for node, path in self.items.items():
            deselected = node in self.deselected
            if (deselected and not by_config) or (not deselected and node not in self.outcomes):
                incomplete.add(path or "")
        return self.collected - incomplete

    def left_out_by_config(self) -> set[str]:
        """Files some tests of which the project's own --lf or --sw (its addopts) kept from running,
        with nothing on the command line deselecting: the run says nothing of those tests."""
        if not (self.kept_failed_only and self.deselected_by_config):
            return set()
        return self.left_out | {path for node in self.deselected if (path := self.items.get(node))}

    def tests_and_longest(self) -> tuple[dict[str, int], dict[str, float]]:
        """Per test file: how many of its tests reported, and the longest one's seconds."""
        counts: dict[str, int] = {}
        longest: dict[str, float] = {}
        for node, seconds in self.node_durations.items():
            path = self.items.get(node) or node.split("::")[0]
            counts[path] = counts.get(path, 0) + 1
            longest[path] = max(longest.get(path, 0.0), seconds)
        return counts, longest

    def unmapped_items(self) -> list[str]:
        """Nodes whose file lies outside the project: they cannot be recorded and run each time."""
        return sorted(n for n, path in self.items.items() if path is None)


def xdist_available() -> bool:
    return importlib.util.find_spec("xdist") is not None


def selection_of(decisions: Sequence[TestDecision], hidden: Iterable[str], quiet: Iterable[str] = ()) -> dict:
    """What the plugin hides from collection (green files), which nodes re-runs keep, and the
    bodies that leave no state behind (what ran before a test counts only from windows that ran
    some other code: doit_scout.trace_events)."""
    nodes = {d.path: [node.partition("::")[2] for node in d.nodes] for d in decisions if d.action == "rerun"}
    return {"hide": sorted(hidden), "nodes": nodes, "quiet": sorted(quiet)}


def run_pytest(
    root: Path, decisions: Sequence[TestDecision], *, hidden: Iterable[str] = (), worker_args: Sequence[str] = (),
    extra_args: Sequence[str] = (), collect_only: bool = False, interactive: bool = False,
    timeout: float | None = None, quiet: bool = False, trace: bool = False, quiet_bodies: Iterable[str] = (),
) -> PytestRun:
    """Run pytest with this interpreter in `root` as the project's own `pytest` would run (its
    configuration picks the files), hiding only `hidden`; output goes straight to the terminal.
    `worker_args` (`-n N`) come before `extra_args`, whose own `-n` then wins, as on pytest's
    command line. `interactive` leaves the terminal's input to pytest (--pdb). Ctrl-C, or
    `timeout` seconds passing, stops the session as Ctrl-C stops pytest: what completed
    reports, nothing else. `quiet` keeps pytest's output in `PytestRun.output` instead. `trace`
    records which functions each test runs (doit_scout.tracing); `quiet_bodies` are those that
    leave no state behind (doit_scout.executed.quiet_bodies)."""
    if importlib.util.find_spec("pytest") is None:
        raise PytestMissing(f"pytest is not installed for {sys.executable}; install it with "
                            f"'{sys.executable} -m pip install pytest'")
    scratch = Path(tempfile.mkdtemp(prefix="pytest-", dir=root / ".scout"))
    selection = scratch / "selection.json"
    selection.write_text(json.dumps(selection_of(decisions, hidden, quiet_bodies if trace else ())), encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-p", "doit_scout.pytest_plugin", f"--scout-dir={scratch}",
               f"--scout-select={selection}", f"--scout-root={root}"]
    command += list(worker_args)
    if collect_only:
        command += ["--collect-only", "-q"]
    command += list(extra_args)
    if trace:
        tracer_choice()  # a DOIT_SCOUT_TRACER that names no tracer (ValueError), before pytest starts
    try:
        started = time.time()
        output = subprocess.PIPE if quiet else None
        group = _OWN_GROUP and not interactive
        env = {**os.environ, TRACE_VARIABLE: "1" if trace else "0"}
        process = subprocess.Popen(command, cwd=root, env=env, stdin=None if interactive else subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT if quiet else None,
                                   **(_NEW_GROUP if group else {}))
        pytest = _Pytest(process, group)
        stopped = None
        captured = ""
        try:
            with pytest.forwarding_signals():
                if quiet:
                    captured = process.communicate(timeout=timeout)[0].decode(errors="replace")
                    exit_code = process.returncode
                else:
                    exit_code = process.wait(timeout=timeout)
        except KeyboardInterrupt:
            # In its own group pytest has had no signal but ours; in ours, a terminal's Ctrl-C
            # reached it already (a second SIGINT would cut its report short with a traceback).
            stopped, exit_code = "Ctrl-C", pytest.stop(signalled=not group and _terminal_signals_us())
        except subprocess.TimeoutExpired:
            stopped, exit_code = f"timed out after {timeout:g} s (timeout)", pytest.stop(signalled=False)
        exited = time.time()
        run = read_reports(scratch, root, exit_code)
        run.timeline.started, run.timeline.exited = started, exited
        run.output = captured
        if stopped is not None:
            run.interrupted, run.exit_code = stopped, INTERRUPTED
        return run
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


INTERRUPTED = 2  # pytest's own status for a session stopped by Ctrl-C
INTERNAL_ERROR = 3  # pytest's INTERNALERROR: a plugin or a conftest.py hook raised
USAGE_ERROR = 4  # pytest's exit status for options or paths it does not accept
_STOP_GRACE_SECONDS = 15.0


# pytest runs in a process group of its own (but for --pdb, which needs the terminal): then only
# doit-scout signals it, and signals the controller and its xdist workers alike, once, as a terminal's
# Ctrl-C does. In doit's group, a SIGINT sent to doit alone (`kill -INT`, a CI runner) reached the
# controller only, and one sent to the whole group (a CI runner cancelling a job) reached pytest twice
# (its own, and the one doit passed on), which cut its report short with a hundred lines of traceback.
_OWN_GROUP = hasattr(os, "killpg")
_NEW_GROUP: dict[str, Any] = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
# Signals that would end or stop doit while pytest, in its own group, would not hear of them.
_FORWARDED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGTSTP") if hasattr(signal, name))


class _Pytest:
    def __init__(self, process: subprocess.Popen, group: bool) -> None:
        self.process, self.group = process, group

    def signal(self, signum: int) -> None:
        try:
            if self.group:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)
        except ProcessLookupError:
            pass  # it ended already

    def stop(self, *, signalled: bool) -> int:
        """End pytest as Ctrl-C does, so that it stops its xdist workers and reports what completed;
        kill it (and its workers) when it does not end in time, or at a second Ctrl-C. `signalled`:
        pytest has had its SIGINT already."""
        try:
            if not signalled:
                self.signal(signal.SIGINT)
            return self.process.wait(timeout=_STOP_GRACE_SECONDS)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            self.signal(signal.SIGKILL)
            return self.process.wait()

    @contextmanager
    def forwarding_signals(self) -> Iterator[None]:
        """While pytest runs in its own group: SIGTERM and SIGHUP end it too, and Ctrl-Z (SIGTSTP)
        stops it with doit, until doit is continued."""
        if not self.group or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.signal(signum, self._forward) for signum in _FORWARDED}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _forward(self, signum: int, frame: Any) -> None:
        self.signal(signum)
        handler = signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # doit ends, or stops here until it is continued
        if signum == getattr(signal, "SIGTSTP", None):
            self.signal(signal.SIGCONT)
        signal.signal(signum, handler)


def _terminal_signals_us() -> bool:
    """Whether Ctrl-C came from a terminal whose foreground is this process group, pytest's too:
    the terminal signalled all of it. Otherwise (`kill -INT`, a CI runner) only doit was."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except (OSError, AttributeError, ValueError):
            continue
    return False


def read_reports(folder: Path, root: Path, exit_code: int) -> PytestRun:
    """Read the JSON-lines file of every pytest process (the controller's is `main.jsonl`)."""
    run = PytestRun(exit_code=exit_code)
    phases: dict[str, dict[str, dict]] = {}
    ready: dict[str, float] = {}
    alive: set[str] = set()
    said: dict[str, int] | None = None  # pytest's counts (doit_scout.summary_counts)
    for report in sorted(folder.glob("*.jsonl")):
        rootdir = root
        controller = report.name == "main.jsonl"
        executed = _ExecutedInProcess()
        for event in _events(report):
            executed.read(event)
            kind = event.get("event")
            if kind == "start":
                rootdir = Path(event["rootdir"])
                if controller:
                    run.timeline.configured = event.get("time")
            elif kind == "config":
                run.addopts, run.inifile = tuple(event["addopts"]), event["inifile"]
            elif kind == "worker_ready":
                ready[event["id"]] = float(event["time"])
                alive.add(event["id"])
                run.workers = max(run.workers, len(alive))  # a crashed worker's replacement is no more
            elif kind == "worker_down":
                alive.discard(event["id"])
            elif kind == "first_test":
                run.timeline.first_test = float(event["time"])
            elif kind == "test":
                node = _relative_node(event["nodeid"], rootdir, root)
                phases.setdefault(node, {})[event["when"]] = event
            elif kind == "item":
                run.items[_relative_node(event["nodeid"], rootdir, root)] = event["path"]
            elif kind == "file" and event["path"] is not None:
                run.collected.add(event["path"])
            elif kind == "deselected":
                run.deselected.update(_relative_node(n, rootdir, root) for n in event["nodeids"])
            elif kind == "interrupted":
                run.interrupted = run.interrupted or event["why"]
            elif kind == "narrowed":
                run.narrowed = run.kept_failed_only = True
            elif kind == "left_out":
                run.left_out.add(event["path"])
            elif kind == "widened":
                run.widened.add(event["path"])
            elif kind == "input":
                run.observed.setdefault(event["source"], set()).add(event["target"])
            elif kind == "collect_error":
                run.collection_errors[_relative_node(event["nodeid"], rootdir, root)] = event["message"]
                if event["path"] is not None:
                    run.error_files.add(event["path"])
            elif kind == "warning":
                run.counts["warnings"] += 1
            elif kind == "finish" and controller:
                run.finished = True
                run.timeline.finished = event.get("time")
                said = event.get("counts")
        executed.add_to(run, lambda node: _relative_node(node, rootdir, root))
    run.timeline.workers_ready = max(ready.values(), default=None)
    for node, reports in phases.items():
        if "teardown" in reports:  # a node without its teardown report did not finish
            run.outcomes[node] = node_outcome(reports)
        path = run.items.get(node) or node.split("::")[0]
        seconds = sum(float(r["duration"]) for r in reports.values())
        run.node_durations[node] = seconds
        run.durations[path] = run.durations.get(path, 0.0) + seconds
        run.counts.update(word for r in reports.values() if (word := count_word(r)) is not None)
    run.tests = len(phases)
    run.counts["errors"] += len(run.collection_errors)  # pytest counts a file that does not collect as an error
    if said is not None:  # pytest's own final line, which counts what skips while collecting too
        run.counts = Counter({word: int(n) for word, n in said.items()})
    return run


class _ExecutedInProcess:
    """The executed code one pytest process reported: its tests' own, and what ran outside any
    test, which counts for each of them; a process that did not finish reported none of the latter."""

    def __init__(self) -> None:
        self.units: dict[str, set[str]] = {}
        self.before: dict[str, int] = {}
        self.broken: dict[str, str] = {}
        self.log: list[str] = []
        self.session: set[str] | None = None
        self.session_broken: str | None = None
        self.tracer: str | None = None
        self.nodes: dict[str, tuple[set[str], int, str | None]] = {}

    def read(self, event: dict) -> None:
        if event.get("event") == "executed" and event.get("path") is not None:
            self.units.setdefault(event["path"], set()).update(event["code"])
            self.before[event["path"]] = int(event.get("before") or 0)
            if event["broken"]:
                self.broken.setdefault(event["path"], str(event["broken"]))
        elif event.get("event") == "executed_item":
            self.nodes[event["nodeid"]] = (set(event["code"]), int(event.get("before") or 0), event["broken"])
        elif event.get("event") == "executed_log":
            self.log = [str(name) for name in event["code"]]
        elif event.get("event") == "executed_session":
            self.session, self.session_broken = set(event["code"]), event["broken"]
            self.tracer = event.get("tracer")

    def add_to(self, run: PytestRun, relative: Callable[[str], str]) -> None:
        run.tracer = run.tracer or self.tracer
        log = tuple(self.log)
        for node, (code, before, broken) in self.nodes.items():
            why = broken or self.session_broken or (None if self.session is not None else "its pytest process did not finish")
            run.item_traces[relative(node)] = ItemTrace(code | (self.session or set()), log, before, why)
        for path, code in self.units.items():
            why = self.broken.get(path) or self.session_broken or (
                None if self.session is not None else "its pytest process did not finish")
            if why:
                run.untraced.setdefault(path, why)
            run.executed.setdefault(path, set()).update(code | (self.session or set()))
            run.ran_before.setdefault(path, set()).update(self.log[:self.before.get(path, 0)])


def _events(report: Path) -> Iterator[dict]:
    try:
        lines = report.read_text(encoding="utf-8").splitlines()
    except OSError:
        return  # pytest died before our plugin started: nothing ran that we can vouch for
    for line in lines:
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash


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


def count_word(report: Mapping[str, Any]) -> str | None:
    """The word pytest's summary counts one report under (its pytest_report_teststatus hooks):
    xfail first, then setup and teardown count only when they failed (an error) or skipped."""
    outcome = report["outcome"]
    if report.get("xfail") and outcome in ("skipped", "passed"):
        return "xfailed" if outcome == "skipped" else "xpassed"
    if report["when"] != "call":
        return {"failed": "errors", "skipped": "skipped"}.get(outcome)
    return outcome


def _relative_node(nodeid: str, rootdir: Path, root: Path) -> str:
    if rootdir == root or not nodeid:
        return nodeid
    path, sep, rest = nodeid.partition("::")
    return os.path.relpath(rootdir / path, root).replace(os.sep, "/") + sep + rest
