#!/usr/bin/env python3
"""Replay real commit histories of open-source projects through `doit` itself, tests run and
executed code recorded, and check its selection against real test failures of injected faults.

How to run it (one project after another; never two test suites at once on the 2-core machine):

    python3 benchmarks/bench_runs.py                          # click, toolz, attrs, marshmallow: 30 commits, 5 mutations
    python3 benchmarks/bench_runs.py --projects toolz --commits 10 --mutations 2
    python3 benchmarks/bench_runs.py --json /tmp/runs.json    # also the per-commit and per-mutation figures

What it needs is what benchmarks/bench_history.py needs (its PROJECTS table, its --work and --venvs):
a clone of project NAME at WORK/NAME (default WORK=/work/trials/history; its HEAD is the newest
commit replayed and the commit mutated) and a venv at VENVS/NAME (default VENVS=/work/trials/venvs)
with doit-scout installed editable, pytest and the project's test requirements. It writes only under
WORK: the worktrees WORK/wt-runs/NAME (and NAME-static), the shared caches WORK/cache-runs/NAME (and
NAME-static), emptied first, and every doit run's output in WORK/logs-runs/NAME/.

What it measures. bench_history.py computes static fingerprints without running a test; since
doit-scout records which function bodies each test file executed ("executed code":
doit_scout.executed, doit_scout.tracing), a test file's fingerprint covers only the bodies it ran,
and that needs the tests to run. Two levels per commit:

- executed code: what `python -m doit` selected, read from `.scout/last-run.json` ("tests":
  `selected` of `total_files`, the test files pytest collects). Skipped % = (collected - selected)
  / collected. A test file that fails at a commit stays selected at the next one, as it would for
  a developer: failures are counted per commit (column `fail`);
- static names: bench_history's driver (name-level `fingerprint_units` over the static graph, in
  its own worktree and a fresh cache with no executed code) for the same commits: the test files
  whose fingerprint is new or differs from the parent's, of the files the scout calls tests. No
  test ran there, so it has no observed inputs either (files read, child processes started), which
  the doit runs have: where running code was seen to start a child process (toolz's versioneer
  `_version.py` runs git at import), doit counts every config file for it and static names do not.

Method. A worktree of the clone at the commit `--commits` first-parent steps before HEAD, with a
one-line `dodo.py` (`from doit_scout.dodo import *`, listed in git's exclude file) and a fresh
shared cache (DOIT_SCOUT_CACHE). There `python -m doit` runs every test untraced (a test file's
first run in a checkout is not traced, nor is a full run such as `doit forget`'s): the first
commits replayed are the warm-up, each traces the files it selects, as a developer's first days
would. Then each following first-parent commit up to HEAD is checked out (`.scout/`
stays: incremental, as a developer's checkout) and `python -m doit` runs; per commit: the files
the commit changed (`git diff --name-only P C`), selected and collected test files, failing test
files and the seconds of the run. Every doit run has CI=true, stdin /dev/null, PYTHONPATH the
worktree's package (bench_history's import_root) and a 600 s timeout.

Mutations: at HEAD, after the replay, `doit` runs again until it is green or runs nothing (at most
3 more runs); a plain full pytest run (bench_history's method: `-p no:cacheprovider -q -rfE
--continue-on-collection-errors`) is the baseline. Then bench_history's seeded function-body faults
(the same seed gives the same faults as bench_history at the same HEAD), one at a time: apply it,
`python -m doit` (its selected files), the full pytest run (the failing files), revert it and run
`python -m doit` again so that the next fault starts green. A MISS is a test file that fails with
the fault and not without it (a node that fails beyond the baseline run) and that doit did not
select; each is run alone with and without the fault (bench_history's confirmation). Misses are
printed in full and make the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: benchmarks/ is on sys.path, the repository is not
    sys.path.insert(0, str(REPO))

from benchmarks.bench_history import (  # noqa: E402
    PROJECTS,
    UNCONFIRMED,
    Mutation,
    TestRun,
    apply,
    changed_kinds,
    check_runner,
    choose_mutations,
    confirm,
    file_of,
    git,
    miss_lines,
    run_driver,
    run_pytest,
    scout_env,
    selected_between,
)

DEFAULT_PROJECTS = "click,toolz,attrs,marshmallow"
DODO = "from doit_scout.dodo import *\n"
DOIT_TIMEOUT = 600  # seconds for one doit run
GREEN_TRIES = 3  # doit runs at HEAD, after the replay, to get green before the faults


# ---------------------------------------------------------------------------------------------
# One doit run


@dataclass
class DoitRun:
    rc: int | None  # None: timed out
    seconds: float
    tests: dict | None  # last-run.json's "tests", None when this run wrote none
    log: Path

    @property
    def selected(self) -> list[str]:
        return list(self.tests.get("selected", [])) if self.tests else []

    @property
    def collected(self) -> int | None:
        return self.tests.get("total_files") if self.tests else None

    @property
    def failed_files(self) -> set[str]:
        return {file_of(n) for n in self.tests.get("failed", [])} if self.tests else set()

    @property
    def green(self) -> bool:
        return self.rc == 0 and self.tests is not None and not self.failed_files

    def describe(self) -> str:
        if self.tests is None:
            return f"rc {self.rc}, no test report ({self.seconds:.1f} s; see {self.log})"
        counts = ", ".join(f"{n} {w}" for w, n in (self.tests.get("counts") or {}).items() if n)
        return (f"{len(self.selected)} of {self.collected} files selected, {counts or 'no tests run'}, "
                f"{len(self.failed_files)} failing files, workers {self.tests.get('workers')}, rc {self.rc}, "
                f"{self.seconds:.1f} s")


class Checkout:
    """The benchmark's worktree of one project, where doit runs."""

    def __init__(self, name: str, args, log) -> None:
        self.name, self.project = name, PROJECTS[name]
        self.clone = Path(args.work) / name
        self.python = Path(args.venvs) / name / "bin" / "python"
        self.root = Path(args.work) / "wt-runs" / name
        self.cache = Path(args.work) / "cache-runs" / name
        self.logs = Path(args.work) / "logs-runs" / name
        self.log = log
        self.runs = 0
        self.code = scout_code()
        self.code_changes: list[tuple[int, str, list[str]]] = []  # (run, label, files) changed before the run
        env = {k: v for k, v in os.environ.items()
               if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTEST_ADDOPTS") and not k.startswith("DOIT_SCOUT_")}
        env["PYTHONPATH"] = str((self.root / self.project.import_root).resolve())
        env["DOIT_SCOUT_CACHE"] = str(self.cache)
        env["CI"] = "true"
        if args.pytest_addopts:
            env["PYTEST_ADDOPTS"] = args.pytest_addopts
        self.env = env

    def create(self, commit: str) -> None:
        fresh_worktree(self.clone, self.root, commit)
        shutil.rmtree(self.cache, ignore_errors=True)
        shutil.rmtree(self.logs, ignore_errors=True)
        self.logs.mkdir(parents=True)
        if git(self.root, "ls-files", "dodo.py").strip():
            raise SystemExit(f"{self.name}: the project tracks a dodo.py of its own")
        (self.root / "dodo.py").write_text(DODO)
        exclude = Path(git(self.root, "rev-parse", "--git-path", "info/exclude").strip())
        exclude = exclude if exclude.is_absolute() else self.root / exclude
        exclude.parent.mkdir(parents=True, exist_ok=True)
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        if "/dodo.py" not in lines:
            with exclude.open("a") as out:
                out.write(("\n" if lines and lines[-1] else "") + "/dodo.py\n")
        if git(self.root, "status", "--porcelain", "--", "dodo.py").strip():
            raise SystemExit(f"{self.name}: git does not ignore the benchmark's dodo.py (exclude file {exclude})")
        check = subprocess.run([str(self.python), "-c", f"import {self.project.package} as m; print(m.__file__)"],
                               cwd=self.root, capture_output=True, text=True, env=self.env)
        if not Path(check.stdout.strip() or "/").resolve().is_relative_to(self.root.resolve()):
            raise SystemExit(f"{self.name}: the venv imports the package from {check.stdout.strip()!r}, "
                             f"not the worktree {self.root}: {check.stderr[-500:]}")

    def doit(self, *command: str, label: str) -> DoitRun:
        self.runs += 1
        log = self.logs / f"{self.runs:03d}-{label}.log"
        code = scout_code()
        changed = code_changes(self.code, code)
        if changed:
            self.code, when = code, time.strftime("%H:%M:%S")
            self.code_changes.append((self.runs, label, changed))
            self.log(f"  NOTE {when}: doit-scout's code changed before doit run {self.runs} ({label}): {changed}")
        report = self.root / ".scout" / "last-run.json"
        before = _last_run(report).get("seconds")
        started = time.perf_counter()
        with log.open("w") as out:
            proc = subprocess.Popen([str(self.python), "-m", "doit", *command], cwd=self.root, env=self.env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                rc: int | None = proc.wait(timeout=DOIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
                rc = None
        seconds = time.perf_counter() - started
        after = _last_run(report)
        # The test task writes "tests" with "seconds" (its phases' timings): a run whose "seconds"
        # are the last run's wrote no test report (the scout writes its own section every run).
        tests = after.get("tests") if after.get("seconds") is not None and after.get("seconds") != before else None
        return DoitRun(rc, seconds, tests if command != ("forget",) else None, log)

    def checkout(self, commit: str) -> None:
        git(self.root, "checkout", "-q", "--detach", commit)

    def executed_records(self) -> str:
        """What the shared cache holds of executed code: frames traced, and untraced with why."""
        db = self.cache / "cache.sqlite"
        if not db.exists():
            return "no cache database"
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as con:
                values = [v for (v,) in con.execute("SELECT value FROM entries WHERE kind = 'executed'")]
        except sqlite3.Error as err:
            return f"cache unreadable: {err}"
        traced, untraced = 0, {}
        for value in values:
            try:
                entry = json.loads(value)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("untraced"):
                reason = str(entry["untraced"])[:60]
                untraced[reason] = untraced.get(reason, 0) + 1
            else:
                traced += 1
        return f"executed-code records: {traced} traced, {sum(untraced.values())} untraced" + (
            f" ({'; '.join(f'{n}: {r}' for r, n in untraced.items())})" if untraced else "")


def _last_run(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def fresh_worktree(clone: Path, path: Path, commit: str) -> None:
    if path.exists():
        subprocess.run(["git", "-C", str(clone), "worktree", "remove", "--force", str(path)], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    git(clone, "worktree", "prune")
    git(clone, "worktree", "add", "-q", "--detach", str(path), commit)


def scout_code() -> dict[str, str]:
    """The doit-scout code the venvs import (editable): file -> digest, to tell if it changes
    during a run (someone editing the working tree)."""
    import hashlib
    return {f"{folder}/{file.name}": hashlib.sha256(file.read_bytes()).hexdigest()[:12]
            for folder in ("runner", "analyzers") for file in sorted((REPO / folder).glob("*.py"))}


def code_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(f for f in before.keys() | after.keys() if before.get(f) != after.get(f))


# ---------------------------------------------------------------------------------------------
# History


@dataclass
class Row:
    commit: str
    subject: str
    changed: list[str]
    kinds: set[str]
    run: DoitRun
    units: int | None  # static: test files the scout categorises
    static_selected: int | None

    @property
    def executed_skipped(self) -> float | None:
        collected = self.run.collected
        if not collected or self.run.tests is None:
            return None
        return 100.0 * (collected - len(self.run.selected)) / collected

    @property
    def static_skipped(self) -> float | None:
        if self.static_selected is None or not self.units:
            return None
        return 100.0 * (self.units - self.static_selected) / self.units


def static_levels(name: str, args, commits: list[str], log) -> dict[str, dict]:
    """bench_history's driver over `commits` (oldest first): commit -> its entry (levels, categories)."""
    clone = Path(args.work) / name
    python = Path(args.venvs) / name / "bin" / "python"
    root = Path(args.work) / "wt-runs" / f"{name}-static"
    fresh_worktree(clone, root, commits[0])
    env = scout_env(args, "head")
    # A cache of its own, fresh: no executed code in it, so the name level is the static one.
    env["DOIT_SCOUT_CACHE"] = str(Path(args.work) / "cache-runs" / f"{name}-static")
    shutil.rmtree(env["DOIT_SCOUT_CACHE"], ignore_errors=True)
    started = time.perf_counter()
    out = run_driver(python, root, commits, env)
    check_runner(out["runner"], "head", args)
    errors = {c: e["error"] for c, e in out["commits"].items() if "error" in e}
    log(f"  {name}: static fingerprints at {len(commits)} commits in {time.perf_counter() - started:.1f} s "
        f"({len(errors)} errors)" + "".join(f"\n    error at {c[:10]}: {e}" for c, e in list(errors.items())[:5]))
    return out["commits"]


def replay(checkout: Checkout, args, log) -> dict:
    name = checkout.name
    clone = checkout.clone
    head = git(clone, "rev-parse", "HEAD").strip()
    walk = git(clone, "rev-list", "--first-parent", "-n", str(args.commits + 1), head).split()
    order = walk[::-1]
    static = static_levels(name, args, order, log)

    checkout.create(order[0])
    setup = {}
    setup["untraced"] = checkout.doit(label=f"first-{order[0][:8]}")
    log(f"  {name} @ {order[0][:10]}: first run (untraced): {setup['untraced'].describe()}")

    rows = []
    for parent, commit in zip(order[:-1], order[1:]):
        changed = [c for c in git(clone, "diff", "--name-only", "--no-renames", parent, commit).split("\n") if c]
        subject = git(clone, "log", "-1", "--format=%s", commit).strip()
        checkout.checkout(commit)
        run = checkout.doit(label=commit[:8])
        after, before = static.get(commit, {}), static.get(parent, {})
        kinds = changed_kinds(changed, after.get("categories", {}), before.get("categories", {}))
        units = len(after["levels"]["name"]) if "levels" in after else None
        row = Row(commit, subject, changed, kinds, run, units, selected_between(before, after, "name"))
        rows.append(row)
        log(f"  {name} {commit[:10]} ({len(changed)} files changed): {run.describe()}; static: "
            f"{row.static_selected} of {units}")
    return {"head": head, "base": order[0], "setup": setup, "rows": rows,
            "records": checkout.executed_records()}


def fmt(value: float | None, width: int = 6) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}.1f}"


def history_table(name: str, data: dict) -> str:
    rows: list[Row] = data["rows"]
    setup = data["setup"]
    lines = [f"{name}: {len(rows)} commits replayed from {data['base'][:10]} to {data['head'][:10]} (first parent); "
             f"first run (untraced) {setup['untraced'].seconds:.1f} s: {setup['untraced'].describe()}",
             f"  at the end, {data['records']}"]
    lines.append(f"  {'commit':<10} {'chg':>4} {'py':>3} | {'coll':>5} {'sel':>5} {'fail':>5} {'exec%':>6} | "
                 f"{'tests':>5} {'sel':>5} {'stat%':>6} | {'s':>6}  subject")
    for r in rows:
        run = r.run
        failed = None if run.tests is None else len(run.failed_files)
        lines.append(
            f"  {r.commit[:10]:<10} {len(r.changed):>4} {'py' if 'py' in r.kinds else '':>3} | "
            f"{_n(run.collected):>5} {_n(None if run.tests is None else len(run.selected)):>5} {_n(failed):>5} "
            f"{fmt(r.executed_skipped)} | {_n(r.units):>5} {_n(r.static_selected):>5} {fmt(r.static_skipped)} | "
            f"{run.seconds:6.1f}  {r.subject[:50]}"
            + ("" if run.rc in (0, 1) and run.tests is not None else f"  [doit rc {run.rc}"
               + (", no test report]" if run.tests is None else "]")))
    lines.append("  (chg: files changed; coll/sel/fail: test files pytest collects, doit selected, failing; "
                 "tests/sel: the scout's test files and those static names select; exec%/stat%: skipped)")
    lines.append(f"  {'commits':<14} {'n':>4} | {'level':<14} {'median':>6} {'mean':>6}")
    for label, keep in (("all commits", lambda r: True), ("touch .py", lambda r: "py" in r.kinds)):
        subset = [r for r in rows if keep(r)]
        for index, (level, values) in enumerate((
                ("executed code", [r.executed_skipped for r in subset]),
                ("static names", [r.static_skipped for r in subset]))):
            values = [v for v in values if v is not None]
            first, count = (label, str(len(subset))) if index == 0 else ("", "")
            med = statistics.median(values) if values else None
            mean = statistics.mean(values) if values else None
            lines.append(f"  {first:<14} {count:>4} | {level:<14} {fmt(med)} {fmt(mean)}"
                         + (f"   ({len(subset) - len(values)} commits without figures)" if len(values) < len(subset) else ""))
    failing = [r for r in rows if r.run.failed_files]
    if failing:
        lines.append(f"  commits with failing test files: {len(failing)}: "
                     + "; ".join(f"{r.commit[:10]}: {sorted(r.run.failed_files)[:3]}" for r in failing))
    broken = [r for r in rows if r.run.tests is None or r.run.rc not in (0, 1)]
    if broken:
        lines.append("  doit runs that failed: " + "; ".join(f"{r.commit[:10]}: rc {r.run.rc} ({r.run.log})" for r in broken))
    return "\n".join(lines)


def _n(value) -> str:
    return "-" if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# Mutations


@dataclass
class Fault:
    mutation: Mutation
    doit: DoitRun
    run: TestRun
    failing: set[str]  # node ids
    revert: DoitRun
    misses: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def new_files(self, baseline: TestRun) -> set[str]:
        return {file_of(node) for node in self.failing - baseline.failing}


def mutate(checkout: Checkout, args, log, last: DoitRun) -> dict:
    name, project, root, python = checkout.name, checkout.project, checkout.root, checkout.python
    head = git(root, "rev-parse", "HEAD").strip()
    tries = 0
    while not last.green and last.selected and tries < GREEN_TRIES:
        previous = last
        tries += 1
        last = checkout.doit(label=f"green-{tries}")
        log(f"  {name} @ HEAD, run {tries} to get green: {last.describe()}")
        if last.failed_files and last.failed_files == previous.failed_files:
            break  # they fail every time: not going to be green
    baseline = run_pytest(python, root, project, [], project.timeout)
    log(f"  {name}: baseline full run {baseline.seconds:.1f} s, rc {baseline.rc}, {baseline.summary}; "
        f"failing before any fault: {sorted(baseline.failing) or 'none'}")
    if baseline.rc is None:
        raise SystemExit(f"{name}: the unmutated suite timed out")
    units = sorted({*last.selected, *((last.tests or {}).get("skipped") or [])})
    rng = random.Random(f"{args.seed}:{name}")
    faults: list[Fault] = []
    for index, mutation in enumerate(choose_mutations(root, project, args.mutations, rng), 1):
        original = apply(root, mutation)
        try:
            selected_run = checkout.doit(label=f"fault-{index}")
            run = run_pytest(python, root, project, [], project.timeout)
            failing = set(run.failing)
            notes = []
            if run.rc is None:
                notes.append(f"full run timed out after {project.timeout} s: each test file run alone")
                for unit in units:
                    alone = run_pytest(python, root, project, [unit], 120)
                    failing |= alone.failing if alone.rc is not None else {unit}
            elif run.rc not in (0, 1, 5):
                failing |= set(units)
                notes.append(f"pytest rc {run.rc}: every test file counts as failing; output ends {run.tail[-300:]!r}")
            if selected_run.tests is None:
                notes.append(f"doit wrote no test report (rc {selected_run.rc}; {selected_run.log})")
            fault = Fault(mutation, selected_run, run, failing, selected_run, notes=notes)
            missed = sorted(fault.new_files(baseline) - set(selected_run.selected))
            fault.misses = [
                f"{unit}: failing nodes {sorted(n for n in failing - baseline.failing if file_of(n) == unit)[:3]} ... "
                + confirm(python, root, project, mutation, original, unit, baseline) for unit in missed]
        finally:
            root.joinpath(mutation.path).write_bytes(original)
        fault.revert = checkout.doit(label=f"revert-{index}")
        if not fault.revert.green and fault.revert.failed_files - last.failed_files:
            fault.notes.append(f"after the revert doit still fails: {sorted(fault.revert.failed_files)}")
        faults.append(fault)
        log(f"  {name} #{index}: {mutation.describe()} | doit selected {len(selected_run.selected)} "
            f"({selected_run.seconds:.1f} s), failing files {len(fault.new_files(baseline))} ({run.seconds:.1f} s); "
            f"revert: {fault.revert.describe()}" + (f" MISS {fault.misses}" if fault.misses else ""))
    return {"head": head, "baseline": baseline, "faults": faults, "units": len(units), "last": last}


def mutation_table(name: str, data: dict) -> str:
    faults: list[Fault] = data["faults"]
    baseline: TestRun = data["baseline"]
    lines = [f"{name} @ {data['head'][:10]}: {len(faults)} mutations, {data['units']} test files; before them doit: "
             f"{data['last'].describe()}; baseline: {baseline.summary} ({baseline.seconds:.1f} s)"
             + (f", failing before any fault: {sorted(baseline.failing)}" if baseline.failing else "")]
    lines.append(f"  {'#':>2} {'mutation (file:line function: fault)':<72} {'sel':>4} {'fail':>5} {'miss':>5} "
                 f"{'doit s':>6} {'pytest s':>8}")
    for index, f in enumerate(faults, 1):
        where = f"{f.mutation.path}:{f.mutation.line} {f.mutation.function}: {f.mutation.kind}"
        lines.append(f"  {index:>2} {where[:72]:<72} {len(f.doit.selected):>4} {len(f.new_files(baseline)):>5} "
                     f"{len(f.misses):>5} {f.doit.seconds:6.1f} {f.run.seconds:8.1f}")
        for note in f.notes:
            lines.append(f"       note: {note}")
    lines.append("     (sel: test files doit selected with the fault; fail: test files with a new failure in the full "
                 "run; miss: failing but not selected)")
    killed = sum(1 for f in faults if f.new_files(baseline))
    missed = [f for f in faults if f.misses]
    unconfirmed = sum(m.endswith(UNCONFIRMED) for f in faults for m in f.misses)
    lines.append(f"  killed (a test fails): {killed}/{len(faults)}; failing files {sum(len(f.new_files(baseline)) for f in faults)}; "
                 f"MISSES: {sum(len(f.misses) for f in faults)} test files in {len(missed)} mutations"
                 + ("" if missed else " - none")
                 + (f" ({unconfirmed} NOT CONFIRMED: they pass alone with the fault)" if unconfirmed else ""))
    for f in missed:
        lines += miss_lines(f.mutation, f.doit.selected, f.new_files(baseline), f.misses)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", default=DEFAULT_PROJECTS, help=f"comma-separated, of: {', '.join(PROJECTS)}")
    parser.add_argument("--commits", type=int, default=30, help="commits to replay per project (first parent to HEAD)")
    parser.add_argument("--mutations", type=int, default=5, help="faults to inject per project at HEAD")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--work", default="/work/trials/history", help="clones (WORK/NAME); worktrees, caches, logs")
    parser.add_argument("--venvs", default="/work/trials/venvs")
    parser.add_argument("--json", help="write the per-commit and per-mutation figures here")
    parser.add_argument("--pytest-addopts", default="",
                        help="PYTEST_ADDOPTS of every run, doit's and the full ones: e.g. '-W ignore::pytest."
                             "PytestRemovedIn10Warning' for old commits that today's pytest refuses to collect")
    args = parser.parse_args(argv)
    args.name_scout, args.file_scout = str(REPO), ""  # what bench_history's check_runner reads
    if args.pytest_addopts:  # bench_history's full runs take the environment as it is
        os.environ["PYTEST_ADDOPTS"] = args.pytest_addopts
    names = [n.strip() for n in args.projects.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROJECTS]
    if unknown:
        parser.error(f"unknown projects {unknown}; known: {', '.join(PROJECTS)}")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    tables: list[str] = []
    dump: dict = {}
    failed = False
    for name in names:
        log(f"== {name}")
        project_started = time.perf_counter()
        checkout = Checkout(name, args, log)
        history = replay(checkout, args, log)
        last = history["rows"][-1].run if history["rows"] else history["setup"]["untraced"]
        data = mutate(checkout, args, log, last)
        seconds = time.perf_counter() - project_started
        changed = checkout.code_changes
        tables.append(history_table(name, history) + "\n" + mutation_table(name, data)
                      + f"\n  wall time {name}: {seconds:.0f} s ({checkout.runs} doit runs)"
                      + "".join(f"\n  NOTE: doit-scout's code changed before doit run {run} ({label}): {', '.join(files)}"
                                for run, label, files in changed))
        failed |= any(f.misses for f in data["faults"])
        dump[name] = {
            "seconds": seconds, "scout_code_changed": [list(c) for c in changed],
            "setup": {k: {"seconds": r.seconds, "rc": r.rc, "tests": r.tests} for k, r in history["setup"].items()},
            "history": [{"commit": r.commit, "subject": r.subject, "changed": r.changed, "kinds": sorted(r.kinds),
                         "collected": r.run.collected, "selected": r.run.selected, "failed": sorted(r.run.failed_files),
                         "rc": r.run.rc, "seconds": r.run.seconds, "units": r.units,
                         "static_selected": r.static_selected} for r in history["rows"]],
            "mutations": [{"mutation": f.mutation.describe(), "selected": f.doit.selected,
                           "failing_files": sorted(f.new_files(data["baseline"])), "misses": f.misses,
                           "notes": f.notes} for f in data["faults"]],
        }
        print(tables[-1] + "\n", flush=True)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(dump, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
