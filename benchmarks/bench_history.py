#!/usr/bin/env python3
"""Replay real commit histories of open-source projects through doit-scout's test fingerprints,
and check name-level selection against real test failures of injected faults.

How to run it (one project after another; never two test suites at once on the 2-core machine):

    python3 benchmarks/bench_history.py                       # every project below, 100 commits, 15 mutations
    python3 benchmarks/bench_history.py --projects click,pluggy --commits 50 --mutations 5
    python3 benchmarks/bench_history.py --phases history      # no test runs (--phases mutations: only those)

What it needs, per project NAME in PROJECTS below (see also --work and --venvs):

- a git clone of the project at WORK/NAME (default WORK=/work/trials/history; the clone's HEAD
  is the newest commit replayed and the commit mutated), e.g. `git clone <bare git dir> WORK/NAME`;
- a venv at VENVS/NAME (default VENVS=/work/trials/venvs) with doit-scout installed editable
  (`pip install -e /work/main`), pytest, and the project with its test requirements (`pip install
  -e WORK/NAME pytest` plus e.g. marshmallow's `[tests]` extra). The tests run against the
  benchmark's own worktree of the project (PYTHONPATH), whatever the venv installed;
- for the third level below, a checkout of doit-scout at 5cb319d (the last commit before name-level
  fingerprints): `git -C /work/main worktree add /tmp/scout-5cb319d 5cb319d` (--file-scout). It is
  put first on PYTHONPATH of the same driver; otherwise the driver uses the doit-scout the venv
  imports (/work/main, checked by --name-scout).

Three levels of test fingerprints are compared:

- name: doit-scout now (`fingerprint_units`: the import graph refined to names);
- file: module fingerprints of the same scout state's graph (`compute_fingerprints`, a Merkle fingerprint
  over each test module's transitive import closure, with the config digest): a test file is
  affected when any byte of a file in its import closure changed. Same import graph as `name`, so
  the difference is what names buy;
- file@5cb319d: `fingerprint_tests` of doit-scout 5cb319d, the file level as it shipped before
  names (an older import graph: e.g. no attribute chains `attr.validators.f` to submodules).

Method. A small driver script runs inside the project's venv, in a worktree of the project that
the benchmark creates under WORK/wt/ (its `.scout/` state persists between commits, as a
developer's checkout would: the scout is incremental from one commit to the next). For each
commit it checks the commit out, runs `run_scout` and computes the fingerprints of the units =
the files the scout categorises as test files at that commit (tracked `test_*.py` / `*_test.py`
inside the test folders: the files pytest collects for these projects; no pytest collection is run
per commit). The shared cache is DOIT_SCOUT_CACHE=WORK/cache-head or WORK/cache-5cb319d (the two
schemas differ). No tests run through doit-scout and no observed inputs exist in those caches, so
the fingerprints are the static ones.

For a commit C with first parent P (first-parent walk from HEAD, merges included and counted),
the test files whose fingerprint differs between P and C (or that are new at C) are what `doit`
would run after pulling C when everything was green at P; the rest is skipped. Tables give the
share of test files skipped per commit for every commit and for subsets by what the commit touched
(its `git diff --name-only P C` and the scout's categories of those files).

Mutations: at HEAD, in a random function of the package (seeded), one fault at a time inside the
function's body: negate a comparison, change a returned constant, swap + and -, `return x` ->
`return None`. For each: the fingerprints of each level before and after (selected = changed), and a
full `python -m pytest -p no:cacheprovider -q -rfE --continue-on-collection-errors` run whose
FAILED/ERROR lines give the failing test files (pytest exit status 2-4, e.g. a conftest.py that no
longer imports: every test file fails; a run over 600 s: each test file alone). A MISS is a test file that fails with the fault, passes without it (the baseline run,
and a confirmation run of that file alone with and without the fault), and whose fingerprint did
not change. Misses are printed in full; name-level misses make the exit status 1.

The fetched projects' code is never copied into doit-scout; the benchmark writes only under WORK.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Project:
    source: str        # the folder faults go in, relative to the project root
    package: str       # a package of it, to check that the worktree's copy is the one imported
    import_root: str   # what goes on PYTHONPATH so that the worktree's package is imported
    pytest_args: tuple[str, ...] = ()
    timeout: int = 600  # seconds for one full test run


PROJECTS: dict[str, Project] = {
    # __init__: from .more import * / from .recipes import *
    "more-itertools": Project("more_itertools", "more_itertools", "."),
    # __init__: from ._make import ..., from . import converters, ...; `__getattr__ = _make_getattr(...)`
    "attrs": Project("src", "attr", "src"),
    # __init__: from marshmallow.schema import Schema, ..., from . import fields; def __getattr__ (__version__)
    "marshmallow": Project("src/marshmallow", "marshmallow", "src"),
    # __init__: from .core import Command as Command, ...; def __getattr__ (deprecated names)
    "click": Project("src/click", "click", "src"),
    # __init__: from ._hooks import HookCaller, ...; def __getattr__ (__version__)
    "pluggy": Project("src/pluggy", "pluggy", "src"),
    # __init__: from .itertoolz import * (and three more); def __getattr__ (__version__)
    "toolz": Project("toolz", "toolz", "."),
    # __init__: from .calc import * (and twelve more); __all__ built from sys.modules
    "funcy": Project("funcy", "funcy", "."),
    # __init__: from .environment import Environment as Environment, ... (bccache, exceptions, loaders, runtime,
    # utils); def __getattr__ (__version__). The deselected test renders the extensionless template
    # tests/res/templates2/foo, which coverage reports and pytest-testmon 2.3.0 fails on (INTERNALERROR IndexError)
    "jinja": Project("src/jinja2", "jinja2", "src",
                     ("--deselect", "tests/test_loader.py::TestLoaders::test_filesystem_loader_overlapping_names")),
}
DEFAULT_PROJECTS = "more-itertools,attrs,marshmallow,click,pluggy,toolz,funcy"

# ---------------------------------------------------------------------------------------------
# The driver: runs in the project's venv, prints nothing but writes JSON.

DRIVER = r'''
import json, os, subprocess, sys, time
from pathlib import Path

args = json.loads(sys.argv[1])
root = Path(args["root"]).resolve()
try:
    if os.environ.get("BENCH_HISTORY_OLD_SCOUT"):
        # An editable install of doit-scout answers `import doit_scout` whatever PYTHONPATH says.
        raise ImportError("5cb319d's top-level packages are asked for")
    from doit_scout.analyzers.categories import Category
    from doit_scout.config import load_config_for_doit
    from doit_scout.context import RunContext
    from doit_scout.scout import run_scout
    import doit_scout.testing as testing
    from doit_scout.analyzers.fingerprints import compute_fingerprints
    from doit_scout.analyzers.graph import node_contents
except ImportError:  # 5cb319d installs them as the top-level packages runner and analyzers
    from analyzers.categories import Category
    from runner.config import load_config_for_doit
    from runner.scout import run_scout
    import runner.testing as testing
    RunContext = None

def compute(from_scratch=False):
    config = load_config_for_doit(root)
    if RunContext is not None:
        context = RunContext(root, config)
        run = run_scout(context, from_scratch=from_scratch)
    else:  # 5cb319d: the functions take the root and the config
        run = run_scout(root, config, from_scratch=from_scratch)
    state = run.state
    units = sorted(p for p, e in state.files.items() if e.category is Category.TEST)
    if hasattr(testing, "fingerprint_units"):
        inputs = testing.fingerprint_units(context, state, units)
        module_of = state.module_of()
        config_digest = state.config_digest()
        modules = compute_fingerprints(node_contents(state.graph, state.digests()), state.graph.successors())
        file_level = {u: f"{modules[module_of[u]]}:{config_digest}" if u in module_of else None
                      for u in units}
        levels = {"name": {u: inputs.fingerprints.get(u) for u in units}, "file": file_level}
    else:  # 5cb319d: file level, one fingerprint per test module over its import closure
        inputs = testing.fingerprint_tests(root, state, config)
        levels = {"file@5cb319d": {u: inputs.fingerprints.get(u) for u in units}}
    return state, levels, run

out = {"runner": testing.__file__, "commits": {}}
for commit in args["commits"]:
    entry = {}
    started = time.perf_counter()
    try:
        if commit != "-":
            subprocess.run(["git", "-C", str(root), "checkout", "-q", "--force", "--detach", commit], check=True)
        state, levels, run = compute()
        entry["levels"] = levels
        entry["categories"] = {p: e.category.value for p, e in state.files.items()}
        entry["parsed"] = run.parsed
        if args.get("verify"):
            memo = root / ".scout" / "unit-fingerprints.json"
            if memo.exists():
                memo.unlink()
            _, scratch, _ = compute(from_scratch=True)
            entry["verify_diff"] = sorted(f"{level}:{u}" for level in levels for u in set(levels[level]) | set(scratch[level])
                                          if levels[level].get(u) != scratch[level].get(u))
    except Exception as err:  # an old commit the scout cannot read: reported, not fatal
        import traceback
        entry["error"] = f"{type(err).__name__}: {err}"
        entry["traceback"] = traceback.format_exc()
    entry["seconds"] = time.perf_counter() - started
    out["commits"][commit] = entry
Path(args["out"]).write_text(json.dumps(out))
'''


def run_driver(python: Path, root: Path, commits: list[str], env: dict[str, str], verify: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        script = Path(tmp) / "driver.py"
        script.write_text(DRIVER)
        out = Path(tmp) / "out.json"
        args = json.dumps({"root": str(root), "commits": commits, "out": str(out), "verify": verify})
        proc = subprocess.run([str(python), str(script), args], env=env, cwd=tmp, capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise SystemExit(f"driver failed (rc {proc.returncode}) in {root}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
        return json.loads(out.read_text())


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def worktree(clone: Path, path: Path, commit: str) -> Path:
    """A worktree of `clone` at `commit`, created once and reused (its .scout/ is kept)."""
    if not (path / ".git").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            shutil.rmtree(path)
        git(clone, "worktree", "prune")
        git(clone, "worktree", "add", "-q", "--detach", str(path), commit)
    git(path, "checkout", "-q", "--force", "--detach", commit)
    git(path, "clean", "-fdq", "-e", ".scout")
    return path


# ---------------------------------------------------------------------------------------------
# History

LEVELS = ("name", "file", "file@5cb319d")
SCOUTS = {"head": ("name", "file"), "5cb319d": ("file@5cb319d",)}  # driver run -> the levels it gives


@dataclass
class CommitRow:
    commit: str
    subject: str
    changed: list[str]
    kinds: set[str]
    units: int
    selected: dict[str, int | None]  # level -> test files whose fingerprint changed


def changed_kinds(changed: list[str], categories_c: dict, categories_p: dict) -> set[str]:
    """What a commit touched: py (any .py file), test (a test file or conftest.py), source (a
    non-test .py), config (a file the scout treats as config: every fingerprint covers it),
    other (anything else: docs, data, CI files...)."""
    kinds = set()
    for path in changed:
        category = categories_c.get(path) or categories_p.get(path) or "untracked"
        if path.endswith(".py"):
            kinds.add("py")
        if category in ("test", "conftest"):
            kinds.add("test")
        elif path.endswith(".py") and category != "config":
            kinds.add("source")
        elif category == "config":
            kinds.add("config")
        else:
            kinds.add("other")
    return kinds


def selected_between(before: dict, after: dict, level: str) -> int | None:
    """Test files at `after` whose fingerprint is new or changed (None fingerprints always run)."""
    if level not in before.get("levels", {}) or level not in after.get("levels", {}):
        return None
    old, new = before["levels"][level], after["levels"][level]
    return sum(1 for unit, fp in new.items() if fp is None or old.get(unit) != fp)


def fingerprints_per_commit(name: str, args, commits: list[str], log) -> dict[str, dict]:
    """commit -> {"levels": {level: {unit: fingerprint}}, "categories": ...}, the driver's runs merged."""
    clone = Path(args.work) / name
    python = Path(args.venvs) / name / "bin" / "python"
    merged: dict[str, dict] = {c: {"levels": {}} for c in commits}
    for scout in SCOUTS:
        wt = worktree(clone, Path(args.work) / "wt" / f"{name}-{scout}", commits[0])
        started = time.perf_counter()
        out = run_driver(python, wt, commits, scout_env(args, scout), verify=args.verify and scout == "head")
        check_runner(out["runner"], scout, args)
        errors = {c: e["error"] for c, e in out["commits"].items() if "error" in e}
        log(f"  {name}: fingerprints at {len(commits)} commits with doit-scout {scout} in "
            f"{time.perf_counter() - started:.1f} s ({len(errors)} errors)")
        for commit, error in list(errors.items())[:5]:
            log(f"    error at {commit[:10]}: {error}")
        for commit, entry in out["commits"].items():
            merged[commit]["levels"].update(entry.get("levels", {}))
            if scout == "head":
                merged[commit]["categories"] = entry.get("categories", {})
                merged[commit]["verify_diff"] = entry.get("verify_diff")
                merged[commit]["seconds"] = entry["seconds"]
        worktree(clone, wt, git(clone, "rev-parse", "HEAD").strip())  # left at HEAD
    return merged


def replay_history(name: str, args, log) -> dict:
    clone = Path(args.work) / name
    head = git(clone, "rev-parse", "HEAD").strip()
    walk = git(clone, "rev-list", "--first-parent", "-n", str(args.commits + 1), head).split()
    results = fingerprints_per_commit(name, args, walk[::-1], log)
    rows = []
    for commit, parent in zip(walk[:-1], walk[1:]):
        changed = [c for c in git(clone, "diff", "--name-only", "--no-renames", parent, commit).split("\n") if c]
        subject = git(clone, "log", "-1", "--format=%s", commit).strip()
        after, before = results[commit], results[parent]
        kinds = changed_kinds(changed, after.get("categories", {}), before.get("categories", {}))
        rows.append(CommitRow(commit, subject, changed, kinds, len(after["levels"].get("name", {})),
                              {level: selected_between(before, after, level) for level in LEVELS}))
    verify = {c: e["verify_diff"] for c, e in results.items() if e.get("verify_diff")}
    seconds = [e["seconds"] for e in results.values() if "seconds" in e]
    return {"rows": rows, "head": head, "verify": verify, "scout_seconds": seconds}


def scout_env(args, scout: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["DOIT_SCOUT_CACHE"] = str(Path(args.work) / f"cache-{scout}")
    if scout == "5cb319d":
        env["PYTHONPATH"] = str(Path(args.file_scout))
        env["BENCH_HISTORY_OLD_SCOUT"] = "1"
    return env


def check_runner(runner_file: str, scout: str, args) -> None:
    expected = Path(args.file_scout if scout == "5cb319d" else args.name_scout).resolve()
    if not Path(runner_file).resolve().is_relative_to(expected):
        raise SystemExit(f"the driver for doit-scout {scout} imported it from {runner_file}, not {expected}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


SUBSETS = [
    ("all commits", lambda k: True),
    ("touch .py", lambda k: "py" in k),
    ("only non-test .py", lambda k: k == {"py", "source"}),
    ("non-test .py (+ docs/other), no test, no config", lambda k: "source" in k and not k & {"test", "config"}),
    ("touch a test file or conftest", lambda k: "test" in k),
    ("touch a config file", lambda k: "config" in k),
    ("no .py, no config", lambda k: not k & {"py", "config"}),
]


def history_table(name: str, history: dict) -> str:
    rows: list[CommitRow] = history["rows"]
    seconds = history["scout_seconds"]
    lines = [f"{name} @ {history['head'][:10]}: {len(rows)} commits replayed (first parent, merges included), "
             f"{sum('py' in r.kinds for r in rows)} touch .py, "
             f"{sum('config' in r.kinds for r in rows)} touch a config file; "
             f"test files per commit {min(r.units for r in rows)}-{max(r.units for r in rows)}; "
             f"scout + fingerprints per commit {statistics.median(seconds):.2f} s median"]
    lines.append(f"  {'commits':<48} {'n':>4} | {'level':<12} {'median':>6} {'p25':>6} {'p75':>6} {'mean':>6} "
                 f"{'100%':>6} {'0%':>6}")
    for label, keep in SUBSETS:
        subset = [r for r in rows if keep(r.kinds)]
        for level in LEVELS:
            skipped = [100.0 * (r.units - r.selected[level]) / r.units
                       for r in subset if r.selected[level] is not None and r.units]
            first, count = (label, str(len(subset))) if level == LEVELS[0] else ("", "")
            if not skipped:
                lines.append(f"  {first:<48} {count:>4} | {level:<12} {'-':>6}")
                continue
            lines.append(
                f"  {first:<48} {count:>4} | {level:<12} {statistics.median(skipped):6.1f} "
                f"{percentile(skipped, .25):6.1f} {percentile(skipped, .75):6.1f} {statistics.mean(skipped):6.1f} "
                f"{100.0 * sum(s == 100 for s in skipped) / len(skipped):5.0f}% "
                f"{100.0 * sum(s == 0 for s in skipped) / len(skipped):5.0f}%")
    lines.append("  (median/p25/p75/mean: % of the test files skipped per commit; 100%/0%: share of the commits "
                 "where every / no test file is skipped)")
    for other in LEVELS[1:]:
        pairs = [(r.selected["name"], r.selected[other]) for r in rows
                 if r.selected["name"] is not None and r.selected[other] is not None]
        lines.append(f"  name vs {other}: fewer test files on {sum(a < b for a, b in pairs)} commits, "
                     f"the same on {sum(a == b for a, b in pairs)}, more on {sum(a > b for a, b in pairs)}")
    for r in rows:
        if r.selected["name"] is not None and r.selected["file"] is not None and r.selected["name"] > r.selected["file"]:
            lines.append(f"    MORE at name than file level: {r.commit[:10]} {r.subject[:60]!r}: {r.selected}")
    if history["verify"]:
        lines.append(f"  INCREMENTAL != FROM SCRATCH at {len(history['verify'])} commits: "
                     + "; ".join(f"{c[:10]}: {v[:4]}" for c, v in history["verify"].items()))
    return "\n".join(lines)

# ---------------------------------------------------------------------------------------------
# Mutations

COMPARE_NEGATION = {ast.Eq: "!=", ast.NotEq: "==", ast.Lt: ">=", ast.GtE: "<", ast.Gt: "<=", ast.LtE: ">",
                    ast.In: "not in", ast.NotIn: "in", ast.Is: "is not", ast.IsNot: "is"}


@dataclass
class Mutation:
    path: str
    function: str
    line: int
    kind: str
    before: str
    after: str
    start: int  # byte offsets in the file
    end: int

    def describe(self) -> str:
        return f"{self.path}:{self.line} in {self.function}(): {self.kind}: {self.before!r} -> {self.after!r}"


def _offsets(data: bytes) -> list[int]:
    starts = [0]
    for i, byte in enumerate(data):
        if byte == 10:
            starts.append(i + 1)
    return starts


def mutation_sites(path: str, data: bytes) -> list[Mutation]:
    """Every fault this benchmark can inject in the bodies of the file's functions."""
    tree = ast.parse(data)
    starts = _offsets(data)
    sites: list[Mutation] = []

    def span(node) -> tuple[int, int]:
        return starts[node.lineno - 1] + node.col_offset, starts[node.end_lineno - 1] + node.end_col_offset

    def text(node) -> str:
        a, b = span(node)
        return data[a:b].decode()

    def visit(node, qualname: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{qualname}.{child.name}" if qualname else child.name
                body = child.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:]  # the docstring
                for statement in body:  # nested functions count as the outer one's body
                    for inner in ast.walk(statement):
                        add(inner, name)
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{qualname}.{child.name}" if qualname else child.name)

    def add(node, function: str) -> None:
        def site(kind: str, target, after: str) -> None:
            a, b = span(target)
            sites.append(Mutation(path, function, target.lineno, kind, text(target), after, a, b))
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE_NEGATION:
            op = COMPARE_NEGATION[type(node.ops[0])]
            site("negate comparison", node, f"({text(node.left)}) {op} ({text(node.comparators[0])})")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            op = "-" if isinstance(node.op, ast.Add) else "+"
            site("swap + and -", node, f"({text(node.left)}) {op} ({text(node.right)})")
        elif isinstance(node, ast.Return) and node.value is not None:
            value = node.value
            if isinstance(value, ast.Constant):
                c = value.value
                if isinstance(c, bool):
                    site("change returned constant", value, repr(not c))
                elif isinstance(c, (int, float)):
                    site("change returned constant", value, repr(c + 1))
                elif isinstance(c, str):
                    site("change returned constant", value, repr(c + "_mutated"))
                elif c is None:
                    pass
            else:
                site("return None", value, "None")

    visit(tree, "")
    return sites


def choose_mutations(root: Path, project: Project, count: int, rng: random.Random) -> list[Mutation]:
    """`count` faults: a random function of the package (files weighted equally per function),
    then a random site in its body."""
    by_function: dict[tuple[str, str], list[Mutation]] = {}
    for file in sorted((root / project.source).rglob("*.py")):
        rel = file.relative_to(root).as_posix()
        for site in mutation_sites(rel, file.read_bytes()):
            by_function.setdefault((rel, site.function), []).append(site)
    functions = sorted(by_function)
    rng.shuffle(functions)
    chosen = []
    for key in functions[:count]:
        chosen.append(rng.choice(by_function[key]))
    return chosen


def apply(root: Path, mutation: Mutation) -> bytes:
    file = root / mutation.path
    original = file.read_bytes()
    mutated = original[:mutation.start] + mutation.after.encode() + original[mutation.end:]
    compile(mutated, mutation.path, "exec")
    file.write_bytes(mutated)
    return original


# "FAILED tests/test_x.py::TestC::test_f[a b] - AssertionError": the node id ends at " - " (ids may
# hold spaces in parameters); "ERROR tests/test_x.py" for a collection error.
RESULT_LINE = re.compile(r"^(FAILED|ERROR|SUBFAIL|SUBFAILED) ((\S+?\.py)(?:::.*?)?)(?: - .*)?$")


@dataclass
class TestRun:
    rc: int | None  # None: timed out
    failing: set[str]  # node ids (a file's path for a collection error)
    seconds: float
    tail: str
    summary: str = ""


def run_pytest(python: Path, root: Path, project: Project, targets: list[str], timeout: int) -> TestRun:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env["PYTHONPATH"] = str((root / project.import_root).resolve())
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Without --continue-on-collection-errors, one test file that fails to import stops the run
    # before any test of the others runs, and their failures would go unseen.
    cmd = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "--continue-on-collection-errors",
           *project.pytest_args, *targets]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        rc = None
    failing = set()
    for line in output.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            failing.add(match.group(2))
    summary = next((line for line in reversed(output.splitlines()) if re.search(r"\d+ (passed|failed|error)", line)), "")
    return TestRun(rc, failing, time.perf_counter() - started, output[-2000:], summary.strip("= "))


@dataclass
class MutationResult:
    mutation: Mutation
    selected: dict[str, set[str]]  # level -> test files whose fingerprint changed
    failing: set[str]
    run: TestRun
    misses: dict[str, list[str]] = field(default_factory=dict)  # level -> missed test files, described
    notes: list[str] = field(default_factory=list)

    def new_files(self, baseline: TestRun) -> set[str]:
        """Test files with a failure the unmutated suite does not have."""
        return {file_of(node) for node in self.failing - baseline.failing}


def mutate(name: str, args, log) -> dict:
    project = PROJECTS[name]
    clone = Path(args.work) / name
    python = Path(args.venvs) / name / "bin" / "python"
    head = git(clone, "rev-parse", "HEAD").strip()
    root = worktree(clone, Path(args.work) / "wt" / f"{name}-mut", head)
    check = subprocess.run([str(python), "-c", f"import {project.package} as m; print(m.__file__)"],
                           cwd=root, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str((root / project.import_root).resolve())})
    if not Path(check.stdout.strip()).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"{name}: the venv imports the package from {check.stdout.strip()!r}, not the worktree {root}")

    def fingerprints() -> dict[str, dict[str, str | None]]:
        levels: dict[str, dict[str, str | None]] = {}
        for scout in SCOUTS:
            entry = run_driver(python, root, ["-"], scout_env(args, scout))["commits"]["-"]
            if "error" in entry:
                raise SystemExit(f"{name}: fingerprints with doit-scout {scout} failed: {entry['traceback']}")
            levels.update(entry["levels"])
        return levels

    base = fingerprints()
    baseline = run_pytest(python, root, project, [], project.timeout)
    log(f"  {name}: baseline run {baseline.seconds:.1f} s, rc {baseline.rc}, {baseline.summary}; "
        f"failing before any fault: {sorted(baseline.failing) or 'none'}")
    if baseline.rc is None:
        raise SystemExit(f"{name}: the unmutated suite timed out")
    rng = random.Random(f"{args.seed}:{name}")
    results = []
    for index, mutation in enumerate(choose_mutations(root, project, args.mutations, rng), 1):
        original = apply(root, mutation)
        try:
            after = fingerprints()
            selected = {level: {u for u, fp in after[level].items() if fp is None or base[level].get(u) != fp}
                        for level in LEVELS}
            run = run_pytest(python, root, project, [], project.timeout)
            result = MutationResult(mutation, selected, set(), run)
            if run.rc is None:
                # The whole suite hung (a loop the fault made endless): each test file alone.
                result.notes.append(f"full run timed out after {project.timeout} s: each test file run alone")
                for unit in sorted(after["name"]):
                    alone = run_pytest(python, root, project, [unit], 120)
                    result.failing |= alone.failing if alone.rc is not None else {unit}
            else:
                result.failing = set(run.failing)
                if run.rc not in (0, 1, 5):
                    # Interrupted, internal or usage error (a conftest.py that fails to import): no
                    # test file ran to completion, so each counts as failing.
                    result.failing |= set(after["name"])
                    result.notes.append(f"pytest rc {run.rc}: every test file counts as failing; "
                                        f"output ends {run.tail[-300:]!r}")
            new_files = result.new_files(baseline)
            confirmations: dict[str, str] = {}
            for level in LEVELS:
                missed = sorted(new_files - selected[level])
                for unit in missed:
                    if unit not in confirmations:
                        confirmations[unit] = confirm(python, root, project, mutation, original, unit, baseline)
                result.misses[level] = [
                    f"{unit}: failing nodes {sorted(n for n in result.failing - baseline.failing if file_of(n) == unit)[:3]}"
                    f" ... {confirmations[unit]}" for unit in missed]
            results.append(result)
            log(f"  {name} #{index}: {mutation.describe()} | selected "
                + ", ".join(f"{level} {len(selected[level])}" for level in LEVELS)
                + f" of {len(after['name'])}; failing files {len(new_files)} ({run.seconds:.1f} s)"
                + (f" MISS {result.misses['name']}" if result.misses["name"] else ""))
        finally:
            root.joinpath(mutation.path).write_bytes(original)
    return {"baseline": baseline, "results": results, "units": len(base["name"]), "head": head}


UNCONFIRMED = " NOT CONFIRMED when run alone"


def confirm(python: Path, root: Path, project: Project, mutation: Mutation, original: bytes, unit: str,
            baseline: TestRun) -> str:
    """Run the missed file alone with the fault and without it: a miss is real when it fails
    (beyond the baseline) only with the fault."""
    alone = run_pytest(python, root, project, [unit], 300)
    root.joinpath(mutation.path).write_bytes(original)
    try:
        clean = run_pytest(python, root, project, [unit], 300)
    finally:
        apply(root, mutation)
    confirmed = (alone.rc is None or bool(alone.failing - baseline.failing)) and \
        clean.rc is not None and not clean.failing - baseline.failing
    return (f"(the file alone with the fault: {alone.summary!r}; without: {clean.summary!r})"
            + ("" if confirmed else UNCONFIRMED))


def file_of(node_id: str) -> str:
    return node_id.split("::", 1)[0]


def mutation_table(name: str, data: dict) -> str:
    results: list[MutationResult] = data["results"]
    baseline: TestRun = data["baseline"]
    lines = [f"{name} @ {data['head'][:10]}: {len(results)} mutations, {data['units']} test files, "
             f"baseline: {baseline.summary} ({baseline.seconds:.1f} s)"
             + (f", failing before any fault: {sorted(baseline.failing)}" if baseline.failing else "")]
    lines.append(f"  {'#':>2} {'mutation (file:line function: fault)':<80} {'name':>5} {'file':>5} {'5cb31':>5} "
                 f"{'fail':>5} {'miss':>5}")
    for index, r in enumerate(results, 1):
        where = f"{r.mutation.path}:{r.mutation.line} {r.mutation.function}: {r.mutation.kind}"
        lines.append(f"  {index:>2} {where[:80]:<80} " + " ".join(f"{len(r.selected[level]):>5}" for level in LEVELS)
                     + f" {len(r.new_files(baseline)):>5} {len(r.misses['name']):>5}")
        for note in r.notes:
            lines.append(f"       note: {note}")
    lines.append("     (name / file / 5cb31: test files selected at name level, file level, file level of 5cb319d; "
                 "fail: test files with a new failure in the full run; miss: failing but not selected at name level)")
    killed = [r for r in results if r.new_files(baseline)]
    units = data["units"] or 1
    mean = lambda xs: statistics.mean(xs) if xs else float("nan")  # noqa: E731
    lines.append(f"  killed (a test fails): {len(killed)}/{len(results)}; mean test files per mutation (of {units}): "
                 + ", ".join(f"{level} {mean([len(r.selected[level]) for r in results]):.1f}" for level in LEVELS)
                 + f", failing {mean([len(r.new_files(baseline)) for r in results]):.1f}; skipped: "
                 + ", ".join(f"{level} {100 * (1 - mean([len(r.selected[level]) for r in results]) / units):.0f}%"
                             for level in LEVELS))
    for level in LEVELS:
        missed = [r for r in results if r.misses[level]]
        unconfirmed = sum(m.endswith(UNCONFIRMED) for r in results for m in r.misses[level])
        lines.append(f"  MISSES at {level} level: {sum(len(r.misses[level]) for r in results)} test files in "
                     f"{len(missed)} mutations" + ("" if missed else " - none")
                     + (f" ({unconfirmed} NOT CONFIRMED: they pass alone with the fault)" if unconfirmed else ""))
        for r in missed:
            lines += miss_lines(r.mutation, r.selected[level], r.new_files(baseline), r.misses[level])
    return "\n".join(lines)


def miss_lines(mutation: Mutation, selected: Iterable[str], failing: Iterable[str], misses: Iterable[str]) -> list[str]:
    """A mutation whose failing test files were not all selected, in full."""
    return [f"    {mutation.describe()}", f"      selected: {sorted(selected)}", f"      failing:  {sorted(failing)}",
            *(f"      MISSED: {miss}" for miss in misses)]


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", default=DEFAULT_PROJECTS, help=f"comma-separated, of: {', '.join(PROJECTS)}")
    parser.add_argument("--commits", type=int, default=100, help="commits to replay per project (first parent from HEAD)")
    parser.add_argument("--mutations", type=int, default=15, help="faults to inject per project at HEAD")
    parser.add_argument("--phases", default="history,mutations")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--work", default="/work/trials/history", help="clones (WORK/NAME), worktrees and caches")
    parser.add_argument("--venvs", default="/work/trials/venvs")
    parser.add_argument("--file-scout", default="/tmp/scout-5cb319d", help="a checkout of doit-scout 5cb319d")
    parser.add_argument("--name-scout", default=str(REPO), help="the doit-scout the venvs import")
    parser.add_argument("--verify", action="store_true",
                        help="also compute every commit's fingerprints from scratch and compare with the incremental scout")
    parser.add_argument("--fresh-cache", action="store_true", help="empty the benchmark's shared caches first")
    parser.add_argument("--json", help="write the per-commit and per-mutation figures here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.projects.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROJECTS]
    if unknown:
        parser.error(f"unknown projects {unknown}; known: {', '.join(PROJECTS)}")
    phases = set(args.phases.split(","))
    if args.fresh_cache:
        for scout in SCOUTS:
            shutil.rmtree(Path(args.work) / f"cache-{scout}", ignore_errors=True)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    tables: list[str] = []
    dump: dict = {}
    failed = False
    for name in names:
        log(f"== {name}")
        if "history" in phases:
            history = replay_history(name, args, log)
            tables.append(history_table(name, history))
            dump.setdefault(name, {})["history"] = [
                {"commit": r.commit, "subject": r.subject, "kinds": sorted(r.kinds), "changed": r.changed,
                 "units": r.units, "selected": r.selected}
                for r in history["rows"]]
            failed |= bool(history["verify"])
        if "mutations" in phases:
            data = mutate(name, args, log)
            tables.append(mutation_table(name, data))
            dump.setdefault(name, {})["mutations"] = [
                {"mutation": r.mutation.describe(), "selected": {k: sorted(v) for k, v in r.selected.items()},
                 "failing": sorted(r.failing - data["baseline"].failing),
                 "failing_files": sorted(r.new_files(data["baseline"])),
                 "misses": r.misses, "notes": r.notes, "seconds": r.run.seconds}
                for r in data["results"]]
            failed |= any(r.misses["name"] for r in data["results"])
    print("\n\n".join(tables))
    print(f"\nwall time {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(dump, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
