#!/usr/bin/env python3
"""Real `doit`, `pytest --testmon` and plain pytest side by side over real commit histories:
test items skipped, false greens against plain pytest, wall time relative to plain pytest, and
function-body faults at HEAD missed by each tool.

How to run it (one project after another, one test suite at a time):

    python3 benchmarks/bench_vs_testmon.py                                  # 5 projects, 25 commits, 10 faults
    python3 benchmarks/bench_vs_testmon.py --projects toolz --commits 5 --mutations 2
    python3 benchmarks/bench_vs_testmon.py --json /tmp/vs.json              # also per commit and per fault

What it needs is what benchmarks/bench_runs.py needs (bench_history's PROJECTS, clones at WORK/NAME,
venvs at VENVS/NAME with doit-scout installed editable), and pytest-testmon in each venv
(`pip install pytest-testmon`). It writes only under WORK: three worktrees per project,
WORK/wt-vs/NAME-doit, NAME-testmon and NAME-plain, doit's shared cache WORK/cache-vs/NAME (emptied
first) and every run's output in WORK/logs-vs/NAME/{doit,testmon,plain}/.

Method. The N+1 newest first-parent commits up to the clone's HEAD (--commits N). Each tool has its
own worktree of the same commit and keeps its state there from one commit to the next, as a
developer's checkout would: doit its `.scout/` and shared cache (bench_runs' Checkout: a one-line
dodo.py that git ignores), testmon its `.testmondata`, plain pytest only its bytecode. Per commit,
one after another: `python -m doit`, `python -m pytest --testmon -q -rfE
--continue-on-collection-errors` and `python -m pytest -p no:cacheprovider -q -rfE
--continue-on-collection-errors` (plus the project's pytest_args). Every run has CI=true, stdin
/dev/null, PYTHONPATH its own worktree's package (checked: the package imports from there) and
neither PYTHONDONTWRITEBYTECODE nor DOIT_SCOUT_* from the caller.

- Items: the test items plain pytest reported at that commit (passed, failed, errors, skipped,
  xfailed, xpassed of its final line) are the commit's total. doit ran `tests_run` of
  `.scout/last-run.json` (every test that reported; a run whose test task was up to date and wrote
  no report ran none); testmon ran the items of its own final line (it leaves whole files
  uncollected, so its "deselected" count is not the rest). Skipped % = (total - ran) / total.
- False greens: a test (node id; a file for a collection error) that fails in plain pytest at that
  commit and that the tool did not report failing (doit: last-run.json's `failed`; testmon: its
  FAILED/ERROR lines), or all of them when the tool exited 0.
- Time: each run's wall seconds; per tool the total over the commits relative to plain pytest's
  total in the same run.

The first commit is the warm-up (each tool's first, full run) and is reported on its own line, not
in the medians, means, false greens or totals.

Faults: at HEAD, after the replay (and up to 3 more doit runs to get doit green), bench_history's
seeded function-body faults (same seed, same faults as bench_history and bench_runs), one at a
time, applied to all three worktrees: doit, testmon, plain pytest; then reverted and doit and
testmon run again so that the next fault starts from the clean code. A test that fails with the
fault and not in plain pytest at HEAD without it is a new failure; a MISS is a new failure the
tool did not report failing (all of them when it exited 0). Each missed test file is run alone
with and without the fault (bench_history's confirmation). False greens and misses make the exit
status 1. The doit-scout the venvs import changes under a long run when it is edited: the output
names its commit at the start and notes every change of that commit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
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
    RESULT_LINE,
    UNCONFIRMED,
    Mutation,
    apply,
    choose_mutations,
    confirm,
    file_of,
    git,
)
from benchmarks.bench_runs import GREEN_TRIES, Checkout, DoitRun, _n, fmt, fresh_worktree  # noqa: E402

DEFAULT_PROJECTS = "toolz,attrs,marshmallow,click,more-itertools"
ITEM_WORDS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")
STRIPPED = ("VIRTUAL_ENV", "PYTHONPATH", "PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")


# ---------------------------------------------------------------------------------------------
# The three worktrees


@dataclass
class Outcome:
    """One tool's run at one commit, as this benchmark compares them."""
    rc: int | None  # None: timed out
    seconds: float
    ran: int | None  # test items that reported; None: unknown (the run broke)
    failing: set[str]  # node ids, or a file's path for a collection error
    log: Path

    def reports(self, node: str) -> bool:
        """The tool said this test (or its file, for a collection error) fails; a suite that plain
        pytest could not run at all (WHOLE_SUITE) is reported by any red exit."""
        if node.startswith(WHOLE_SUITE):
            return self.rc != 0
        return node in self.failing or file_of(node) in self.failing or (
            "::" not in node and any(file_of(f) == node for f in self.failing))

    def false_greens(self, oracle: set[str]) -> list[str]:
        return sorted(oracle) if self.rc == 0 else sorted(n for n in oracle if not self.reports(n))


WHOLE_SUITE = "<the whole suite"


def of_doit(run: DoitRun) -> Outcome:
    if run.tests is None:  # no report: an up-to-date test task ran nothing, a broken run is unknown
        return Outcome(run.rc, run.seconds, 0 if run.rc == 0 else None, set(), run.log)
    return Outcome(run.rc, run.seconds, int(run.tests.get("tests_run") or 0), set(run.tests.get("failed") or []),
                   run.log)


class DoitTree(Checkout):
    """bench_runs' Checkout, in this benchmark's own worktree, cache and logs."""

    def __init__(self, name: str, args, log) -> None:
        super().__init__(name, args, log)
        work = Path(args.work)
        self.root = work / "wt-vs" / f"{name}-doit"
        self.cache = work / "cache-vs" / name
        self.logs = work / "logs-vs" / name / "doit"
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPATH"] = str((self.root / self.project.import_root).resolve())
        self.env["DOIT_SCOUT_CACHE"] = str(self.cache)
        self.last: DoitRun | None = None

    def outcome(self, label: str) -> tuple[DoitRun, Outcome]:
        run = self.last = self.doit(label=label)
        return run, of_doit(run)


class PytestTree:
    """A worktree where one pytest command runs at every commit (testmon's or the plain one)."""

    def __init__(self, name: str, kind: str, options: list[str], args) -> None:
        self.name, self.project, self.kind = name, PROJECTS[name], kind
        work = Path(args.work)
        self.clone = work / name
        self.python = Path(args.venvs) / name / "bin" / "python"
        self.root = work / "wt-vs" / f"{name}-{kind}"
        self.logs = work / "logs-vs" / name / kind
        self.command = [str(self.python), "-m", "pytest", *options, "-q", "-rfE", "--continue-on-collection-errors",
                        *self.project.pytest_args]
        self.env = {k: v for k, v in os.environ.items() if k not in STRIPPED and not k.startswith("DOIT_SCOUT_")}
        self.env.update(CI="true", PYTHONPATH=str((self.root / self.project.import_root).resolve()))
        if args.pytest_addopts:
            self.env["PYTEST_ADDOPTS"] = args.pytest_addopts
        self.runs = 0

    def create(self, commit: str) -> None:
        fresh_worktree(self.clone, self.root, commit)  # a fresh one: no .testmondata
        shutil.rmtree(self.logs, ignore_errors=True)
        self.logs.mkdir(parents=True)
        check_imports(self.python, self.root, self.project.package, self.env)

    def checkout(self, commit: str) -> None:
        git(self.root, "checkout", "-q", "--detach", commit)

    def run(self, label: str) -> Outcome:
        self.runs += 1
        log = self.logs / f"{self.runs:03d}-{label}.log"
        started = time.perf_counter()
        with log.open("w+") as out:
            proc = subprocess.Popen(self.command, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                rc: int | None = proc.wait(timeout=self.project.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
                rc = None
            seconds = time.perf_counter() - started
            out.seek(0)
            lines = out.read().splitlines()
        failing = {m.group(2) for m in map(RESULT_LINE.match, lines) if m}
        counts = final_counts(lines)
        ran = sum(counts.get(w, 0) for w in ITEM_WORDS) if rc in (0, 1, 5) else None
        return Outcome(rc, seconds, ran, failing, log)


def final_counts(lines: list[str]) -> dict[str, int]:
    """pytest's final line ("3 failed, 120 passed, 7 deselected in 2.1s") by word."""
    for line in reversed(lines):
        found = COUNT.findall(line)
        if found and (" in " in line or "no tests ran" in line):
            return {("errors" if word.startswith("error") else word): int(n) for n, word in found}
    return {}


def check_imports(python: Path, root: Path, package: str, env: dict[str, str]) -> None:
    check = subprocess.run([str(python), "-c", f"import {package} as m; print(m.__file__)"],
                           cwd=root, capture_output=True, text=True, env=env)
    if not Path(check.stdout.strip() or "/").resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"the venv imports {package} from {check.stdout.strip()!r}, not the worktree {root}: "
                         f"{check.stderr[-500:]}")


def main_commit() -> str:
    """The commit of the doit-scout the venvs import (editable), marked when its tree is edited."""
    head = git(SCOUT, "rev-parse", "--short=10", "HEAD").strip()
    dirty = subprocess.run(["git", "-C", str(SCOUT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return head + (" (with uncommitted changes)" if dirty else "")


SCOUT = Path("/work/main")


# ---------------------------------------------------------------------------------------------
# History


@dataclass
class VsRow:
    commit: str
    subject: str
    changed: int
    main: str  # the doit-scout commit at this row's doit run
    doit: Outcome
    testmon: Outcome
    plain: Outcome

    @property
    def total(self) -> int | None:
        return self.plain.ran

    def skipped(self, tool: Outcome) -> float | None:
        if not self.total or tool.ran is None:
            return None
        return 100.0 * max(0, self.total - tool.ran) / self.total

    def false_greens(self, tool: Outcome) -> list[str]:
        return tool.false_greens(self.plain.failing)


class Trees:
    def __init__(self, name: str, args, log) -> None:
        self.doit = DoitTree(name, args, log)
        self.testmon = PytestTree(name, "testmon", ["--testmon"], args)
        self.plain = PytestTree(name, "plain", ["-p", "no:cacheprovider"], args)
        self.all = (self.doit, self.testmon, self.plain)

    def at(self, commit: str, first: bool) -> None:
        for tree in self.all:
            tree.create(commit) if first else tree.checkout(commit)

    def row(self, commit: str, subject: str, changed: int, label: str) -> VsRow:
        main = main_commit()
        _, doit = self.doit.outcome(label)
        return VsRow(commit, subject, changed, main, doit, self.testmon.run(label), self.plain.run(label))


def replay(name: str, trees: Trees, args, log) -> list[VsRow]:
    clone = Path(args.work) / name
    head = git(clone, "rev-parse", "HEAD").strip()
    order = git(clone, "rev-list", "--first-parent", "-n", str(args.commits + 1), head).split()[::-1]
    rows: list[VsRow] = []
    for index, commit in enumerate(order):
        parent = order[index - 1] if index else None
        changed = len(git(clone, "diff", "--name-only", "--no-renames", parent, commit).split()) if parent else 0
        trees.at(commit, first=not index)
        row = trees.row(commit, git(clone, "log", "-1", "--format=%s", commit).strip(), changed, commit[:8])
        rows.append(row)
        log(f"  {name} {'warm-up ' if not index else ''}{commit[:10]}: {row_text(row)}")
    return rows


def row_text(row: VsRow) -> str:
    def tool(label: str, o: Outcome) -> str:
        return (f"{label} ran {_n(o.ran)} ({fmt(row.skipped(o), 0).strip()}% skipped) rc {o.rc} {o.seconds:.1f} s"
                f" fg {len(row.false_greens(o))}")
    return (f"{_n(row.total)} tests, {len(row.plain.failing)} failing in {row.plain.seconds:.1f} s (rc "
            f"{row.plain.rc}); {tool('doit', row.doit)}; {tool('testmon', row.testmon)}")


def history_table(name: str, rows: list[VsRow]) -> str:
    warm, measured = rows[0], rows[1:]
    lines = [f"{name}: {len(measured)} commits after the warm-up commit {warm.commit[:10]}, up to {rows[-1].commit[:10]} "
             f"(first parent); doit-scout {warm.main}",
             f"  warm-up {warm.commit[:10]}: {row_text(warm)}",
             f"  {'commit':<10} {'chg':>4} {'tests':>6} {'fail':>4} | {'doit':>5} {'skip%':>6} {'s':>6} {'fg':>3} | "
             f"{'tmon':>5} {'skip%':>6} {'s':>6} {'fg':>3} | {'plain s':>7}  subject"]
    for r in measured:
        lines.append(f"  {r.commit[:10]:<10} {r.changed:>4} {_n(r.total):>6} {len(r.plain.failing):>4} | "
                     + " | ".join(f"{_n(o.ran):>5} {fmt(r.skipped(o))} {o.seconds:6.1f} {len(r.false_greens(o)):>3}"
                                  for o in (r.doit, r.testmon))
                     + f" | {r.plain.seconds:7.1f}  {r.subject[:40]}"
                     + "".join(f"  [{label} rc {o.rc}]" for label, o in (("doit", r.doit), ("testmon", r.testmon),
                                                                        ("plain", r.plain)) if o.rc not in (0, 1)))
    lines.append("  (chg: files the commit changed; tests/fail: items plain pytest ran / failing; per tool: items "
                 "it ran, % of the items skipped, seconds, false greens)")
    plain_total = sum(r.plain.seconds for r in measured)
    lines.append(f"  {'':<8} {'median skip%':>12} {'mean skip%':>10} {'false greens':>12} {'total s':>8} {'x plain':>7}")
    for label, pick in (("doit", lambda r: r.doit), ("testmon", lambda r: r.testmon), ("plain", lambda r: r.plain)):
        skipped = [v for v in (r.skipped(pick(r)) for r in measured) if v is not None]
        greens = sum(len(r.false_greens(pick(r))) for r in measured) if label != "plain" else None
        total = sum(pick(r).seconds for r in measured)
        lines.append(f"  {label:<8} {fmt(statistics.median(skipped) if skipped else None, 12)} "
                     f"{fmt(statistics.mean(skipped) if skipped else None, 10)} {_n(greens):>12} {total:8.1f} "
                     f"{(total / plain_total if plain_total else float('nan')):7.2f}"
                     + (f"  ({len(measured) - len(skipped)} commits without figures)" if len(skipped) < len(measured)
                        else ""))
    for label, pick in (("doit", lambda r: r.doit), ("testmon", lambda r: r.testmon)):
        for r in measured:
            if r.false_greens(pick(r)):
                lines.append(f"  FALSE GREEN {label} at {r.commit[:10]} (rc {pick(r).rc}, {pick(r).log}): "
                             f"{r.false_greens(pick(r))[:5]}")
    changes = sorted({r.main for r in rows})
    if len(changes) > 1:
        lines.append(f"  NOTE: doit-scout changed during the replay: {', '.join(changes)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Faults


@dataclass
class FaultRow:
    mutation: Mutation
    doit: Outcome
    testmon: Outcome
    plain: Outcome
    new: set[str]  # node ids failing with the fault and not without it
    misses: dict[str, list[str]] = field(default_factory=dict)  # tool -> missed nodes
    confirmed: dict[str, str] = field(default_factory=dict)  # missed file -> confirmation
    notes: list[str] = field(default_factory=list)


def mutate(name: str, trees: Trees, args, log, last: DoitRun, baseline: Outcome) -> list[FaultRow]:
    tries = 0
    while not last.green and last.selected and tries < GREEN_TRIES:
        previous, tries = last, tries + 1
        last = trees.doit.doit(label=f"green-{tries}")
        log(f"  {name} @ HEAD, doit run {tries} to get green: {last.describe()}")
        if last.failed_files and last.failed_files == previous.failed_files:
            break
    plain = trees.plain
    rng = random.Random(f"{args.seed}:{name}")
    faults: list[FaultRow] = []
    for index, mutation in enumerate(choose_mutations(plain.root, plain.project, args.mutations, rng), 1):
        originals = [apply(tree.root, mutation) for tree in trees.all]
        try:
            _, doit = trees.doit.outcome(f"fault-{index}")
            testmon, run = trees.testmon.run(f"fault-{index}"), plain.run(f"fault-{index}")
            fault = FaultRow(mutation, doit, testmon, run, run.failing - baseline.failing)
            if run.rc not in (0, 1, 5):
                fault.new.add(f"{WHOLE_SUITE}: plain pytest rc {run.rc}>")
                fault.notes.append(f"plain pytest rc {run.rc} ({run.log}): the suite counts as failing")
            for label, tool in (("doit", doit), ("testmon", testmon)):
                fault.misses[label] = tool.false_greens(fault.new)
            for unit in sorted({file_of(n) for missed in fault.misses.values() for n in missed if n[0] != "<"}):
                fault.confirmed[unit] = confirm(plain.python, plain.root, plain.project, mutation, originals[2], unit,
                                                baseline)
        finally:
            for tree, original in zip(trees.all, originals):
                tree.root.joinpath(mutation.path).write_bytes(original)
        revert = trees.doit.doit(label=f"revert-{index}")
        if revert.failed_files - last.failed_files:
            fault.notes.append(f"after the revert doit still fails: {sorted(revert.failed_files)}")
        trees.testmon.run(f"revert-{index}")
        faults.append(fault)
        log(f"  {name} #{index}: {mutation.describe()} | new failures {len(fault.new)}; doit ran {_n(doit.ran)} "
            f"({doit.seconds:.1f} s), testmon ran {_n(testmon.ran)} ({testmon.seconds:.1f} s), plain "
            f"{run.seconds:.1f} s" + "".join(f"; {t} MISSES {m[:3]}" for t, m in fault.misses.items() if m))
    return faults


def fault_table(name: str, faults: list[FaultRow], baseline: Outcome) -> str:
    lines = [f"{name} @ HEAD: {len(faults)} faults; plain pytest at HEAD without a fault: {_n(baseline.ran)} tests, "
             f"{len(baseline.failing)} failing" + (f" {sorted(baseline.failing)[:5]}" if baseline.failing else ""),
             f"  {'#':>2} {'fault (file:line function: kind)':<62} {'new':>4} | {'doit':>5} {'miss':>4} {'s':>5} | "
             f"{'tmon':>5} {'miss':>4} {'s':>5} | {'plain s':>7}"]
    for index, f in enumerate(faults, 1):
        where = f"{f.mutation.path}:{f.mutation.line} {f.mutation.function}: {f.mutation.kind}"
        lines.append(f"  {index:>2} {where[:62]:<62} {len(f.new):>4} | "
                     + " | ".join(f"{_n(o.ran):>5} {len(f.misses[t]):>4} {o.seconds:5.1f}"
                                  for t, o in (("doit", f.doit), ("testmon", f.testmon)))
                     + f" | {f.plain.seconds:7.1f}")
        lines += [f"       note: {note}" for note in f.notes]
    lines.append("     (new: tests failing with the fault and not without; per tool: tests it ran, new failures it "
                 "did not report failing, seconds)")
    killed = sum(1 for f in faults if f.new)
    lines.append(f"  killed (a test fails): {killed}/{len(faults)}; MISSES: "
                 + ", ".join(f"{t} {sum(len(f.misses[t]) for f in faults)} tests in "
                             f"{sum(1 for f in faults if f.misses[t])} faults" for t in ("doit", "testmon"))
                 + "".join(f" ({n} missed test files NOT CONFIRMED: they pass alone with the fault)" for n in [
                     sum(text.endswith(UNCONFIRMED) for f in faults for text in f.confirmed.values())] if n))
    for f in faults:
        for tool, missed in f.misses.items():
            if missed:
                lines.append(f"  MISSED by {tool}: {f.mutation.describe()}: {missed[:5]}"
                             + (f" (+{len(missed) - 5})" if len(missed) > 5 else ""))
                lines += [f"      {unit}: {text}" for unit, text in f.confirmed.items()
                          if any(file_of(n) == unit for n in missed)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def dump(rows: list[VsRow], faults: list[FaultRow]) -> dict:
    def tool(o: Outcome) -> dict:
        return {"rc": o.rc, "seconds": round(o.seconds, 3), "ran": o.ran, "failing": sorted(o.failing)}
    return {"commits": [{"commit": r.commit, "subject": r.subject, "changed": r.changed, "doit_scout": r.main,
                         "total": r.total, **{k: {**tool(o), "skipped_pct": r.skipped(o),
                                                  "false_greens": r.false_greens(o)}
                                              for k, o in (("doit", r.doit), ("testmon", r.testmon), ("plain", r.plain))}}
                        for r in rows],
            "faults": [{"fault": f.mutation.describe(), "new": sorted(f.new), "misses": f.misses,
                        "confirmed": f.confirmed, "notes": f.notes,
                        **{k: tool(o) for k, o in (("doit", f.doit), ("testmon", f.testmon), ("plain", f.plain))}}
                       for f in faults]}


def main(argv: list[str] | None = None) -> int:
    global SCOUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", default=DEFAULT_PROJECTS, help=f"comma-separated, of: {', '.join(PROJECTS)}")
    parser.add_argument("--commits", type=int, default=25, help="commits replayed after the warm-up commit")
    parser.add_argument("--mutations", type=int, default=0, help="faults to inject per project at HEAD")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--work", default="/work/trials/history", help="clones (WORK/NAME); worktrees, caches, logs")
    parser.add_argument("--venvs", default="/work/trials/venvs")
    parser.add_argument("--scout", default=str(SCOUT), help="the doit-scout checkout the venvs import (editable)")
    parser.add_argument("--json", help="write the per-commit and per-fault figures here")
    parser.add_argument("--pytest-addopts", default="", help="PYTEST_ADDOPTS of every run, all three tools'")
    args = parser.parse_args(argv)
    SCOUT = Path(args.scout)
    names = [n.strip() for n in args.projects.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROJECTS]
    if unknown:
        parser.error(f"unknown projects {unknown}; known: {', '.join(PROJECTS)}")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    print(f"doit-scout under test: {SCOUT} at {main_commit()}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; "
          f"projects {', '.join(names)}; {args.commits} commits after the warm-up, {args.mutations} faults\n", flush=True)
    out: dict = {}
    bad = False
    for name in names:
        log(f"== {name}")
        project_started = time.perf_counter()
        trees = Trees(name, args, log)
        rows = replay(name, trees, args, log)
        measured = rows[1:]
        bad |= any(r.false_greens(r.doit) or r.false_greens(r.testmon) for r in measured)
        text = history_table(name, rows)
        faults: list[FaultRow] = []
        if args.mutations:
            print(text, flush=True)  # the history is worth having before the faults run
            faults = mutate(name, trees, args, log, trees.doit.last, rows[-1].plain)
            text = fault_table(name, faults, rows[-1].plain)
            bad |= any(m for f in faults for m in f.misses.values())
        print(text + f"\n  wall time {name}: {time.perf_counter() - project_started:.0f} s; doit-scout now "
              f"{main_commit()}\n", flush=True)
        out[name] = dump(rows, faults)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
