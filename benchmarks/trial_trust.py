#!/usr/bin/env python3
"""A new user's session on real projects: do green results stick, and does doit tell the truth?

For each project, in a fresh worktree of its clone (bench_history's layout: WORK/NAME, a venv at
VENVS/NAME with doit-scout and the project's test requirements) and an empty shared cache, the
session below runs `python -m doit` as a user would, and plain `python -m pytest` as the oracle
after every step that could have changed an outcome. Per step it prints the test files doit ran
of those pytest collects, its wall time, and its exit status against the oracle's:

    first       the first `doit` (everything runs)
    no-op       `doit` again: nothing may run
    explain     `doit explain --json`: the files it plans must be what the no-op ran (none)
    edit        a statement added to the body of one function of the package
    undo        the edit reverted: content that passed, so nothing may run
    -k --all    `doit test --all -- -k WORD`, then `doit`: the narrowed run must not make others stale
    shards      `doit forget test`, then `--shard 1/2` and `--shard 2/2`: together, every file
    after       `doit` after the shards: nothing may run
    xdist       `doit test --all -- -n 2`, then `doit` twice: nothing may run
    branch      an older commit checked out, `doit`, back to the newest, `doit`: nothing may run

A FALSE GREEN is doit exiting 0 where plain pytest over the whole suite fails. `pytest` is timed
once, at the start, as the baseline of the time ratios.

    python3 benchmarks/trial_trust.py --projects toolz,attrs,marshmallow,click,more-itertools
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.bench_history import PROJECTS  # noqa: E402

ORACLE = ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", "--no-header"]


@dataclass
class Step:
    name: str
    ran: int | None  # test files doit ran
    collected: int | None
    seconds: float
    exit_code: int
    oracle: int | None = None  # plain pytest's exit status after this step, when asked
    expect_none: bool = False

    @property
    def false_green(self) -> bool:
        return self.exit_code == 0 and self.oracle not in (None, 0, 5)

    @property
    def verdict(self) -> str:
        if self.false_green:
            return "FALSE GREEN"
        if self.expect_none and self.ran:
            return "RE-RAN"
        return "ok"


class Session:
    def __init__(self, name: str, work: Path, venvs: Path, log: Path, scout_path: str | None = None) -> None:
        project = PROJECTS[name]
        self.name = name
        self.clone = work / name
        self.root = work / "wt-trust" / name
        self.python = str(venvs / name / "bin" / "python")
        self.log = log
        self.env = {**os.environ, "CI": "true", "COLUMNS": "200",
                    "DOIT_SCOUT_CACHE": str(work / "cache-trust" / name),
                    "PYTHONPATH": os.pathsep.join(p for p in (scout_path, str(self.root / project.import_root)) if p)}
        self.env.pop("PYTEST_ADDOPTS", None)
        self.package = project.source
        self.steps: list[Step] = []

    def run(self, *argv: str) -> tuple[subprocess.CompletedProcess[str], float]:
        start = time.perf_counter()
        done = subprocess.run([self.python, *argv], cwd=self.root, env=self.env, text=True,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=1200)
        seconds = time.perf_counter() - start
        with self.log.open("a") as out:
            out.write(f"\n$ {' '.join(argv)}  (exit {done.returncode}, {seconds:.1f} s)\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        return done, seconds

    def git(self, *argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=self.root, check=True, capture_output=True, text=True).stdout

    def doit(self, name: str, *argv: str, expect_none: bool = False, oracle: bool = False) -> Step:
        done, seconds = self.run("-m", "doit", *argv)
        tests = json.loads((self.root / ".scout" / "last-run.json").read_text() or "{}").get("tests", {})
        step = Step(name, len(tests.get("selected", [])), tests.get("total_files"), seconds, done.returncode,
                    expect_none=expect_none)
        if oracle:
            step.oracle = self.run(*ORACLE)[0].returncode
        self.steps.append(step)
        return step

    def prepare(self) -> float:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.env["DOIT_SCOUT_CACHE"], ignore_errors=True)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(self.clone), "worktree", "prune"], check=True)
        subprocess.run(["git", "-C", str(self.clone), "worktree", "add", "-q", "--detach", str(self.root), "HEAD"],
                       check=True)
        (self.root / "dodo.py").write_text("from doit_scout.dodo import *\n")
        exclude = Path(self.git("rev-parse", "--git-path", "info/exclude").strip())
        exclude = exclude if exclude.is_absolute() else self.root / exclude
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text(exclude.read_text() + "\ndodo.py\n" if exclude.exists() else "dodo.py\n")
        return self.run(*ORACLE)[1]

    def edit_target(self) -> tuple[Path, str]:
        """The first top-level function of the package's largest module, with a statement added."""
        modules = sorted((self.root / self.package).rglob("*.py"), key=lambda p: -p.stat().st_size)
        for path in modules:
            source = path.read_text()
            for node in ast.parse(source).body:
                if isinstance(node, ast.FunctionDef) and node.body and node.end_lineno:
                    lines = source.splitlines(keepends=True)
                    first = node.body[0]
                    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(node.body) > 1:
                        first = node.body[1]
                    indent = lines[first.lineno - 1][: first.col_offset]
                    lines.insert(first.lineno - 1, f"{indent}_trial_edit = 1\n")
                    return path, "".join(lines)
        raise SystemExit(f"{self.name}: no top-level function to edit under {self.package}")

    def k_word(self) -> str:
        tests = json.loads((self.root / ".scout" / "last-run.json").read_text())["tests"]
        names = sorted(tests.get("selected", []) + tests.get("skipped", []))
        return Path(names[0]).stem if names else "test"

    def session(self) -> float:
        baseline = self.prepare()
        self.doit("first", oracle=True)
        self.doit("no-op", expect_none=True)
        done, seconds = self.run("-m", "doit", "explain", "--json")
        planned = sum(1 for row in json.loads(done.stdout)["tests"] if row["decision"] == "run")
        self.steps.append(Step("explain", planned, None, seconds, done.returncode, expect_none=True))
        path, edited = self.edit_target()
        original = path.read_text()
        path.write_text(edited)
        self.doit("edit", oracle=True)
        path.write_text(original)
        self.doit("undo", expect_none=True, oracle=True)
        self.doit("-k --all", "test", "--all", "--", "-k", self.k_word())
        self.doit("after -k", expect_none=True)
        self.run("-m", "doit", "forget", "test")
        self.doit("shard 1/2", "test", "--shard", "1/2")
        self.doit("shard 2/2", "test", "--shard", "2/2")
        self.doit("after shards", expect_none=True, oracle=True)
        self.doit("xdist --all", "test", "--all", "--", "-n", "2")
        self.doit("after xdist", expect_none=True)
        self.doit("after xdist 2", expect_none=True)
        head = self.git("rev-parse", "HEAD").strip()
        self.git("checkout", "-q", "HEAD~3")
        self.doit("branch HEAD~3", oracle=True)
        self.git("checkout", "-q", head)
        self.doit("branch back", expect_none=True, oracle=True)
        return baseline

    def table(self, baseline: float) -> str:
        rows = [f"### {self.name}: plain pytest {baseline:.1f} s",
                "| step | files run / collected | seconds | x pytest | doit exit | pytest exit | verdict |",
                "|---|---:|---:|---:|---:|---:|---|"]
        for s in self.steps:
            rows.append(f"| {s.name} | {s.ran} / {s.collected if s.collected is not None else '-'} | {s.seconds:.1f} "
                        f"| {s.seconds / baseline:.2f} | {s.exit_code} | {'-' if s.oracle is None else s.oracle} "
                        f"| {s.verdict} |")
        return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", default="toolz,attrs,marshmallow,click,more-itertools")
    parser.add_argument("--work", default="/work/trials/history")
    parser.add_argument("--venvs", default="/work/trials/venvs")
    parser.add_argument("--scout-path", help="a folder holding a doit_scout package to import first (a snapshot "
                        "of a commit: the venvs' editable install follows the working tree)")
    args = parser.parse_args(argv)
    work, bad = Path(args.work), 0
    for name in args.projects.split(","):
        log = work / "logs-trust" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        session = Session(name, work, Path(args.venvs), log, args.scout_path)
        print(session.table(session.session()), flush=True)
        bad += sum(1 for s in session.steps if s.verdict != "ok")
    print(f"\n{bad} steps not ok (false greens and re-runs of green content); logs under {work / 'logs-trust'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
