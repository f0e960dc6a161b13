"""Differential check: doit-scout against plain pytest as the oracle.

A seeded generator writes a small git project full of what a static import graph cannot see: a
package whose `__getattr__` imports submodules lazily, a data table picked by a computed module name,
an implicit namespace subpackage, a script the tests run in a subprocess, golden files a conftest.py
hook collects as test items, doctests (`--doctest-modules` and `-x` in the project's addopts), and a
data file read through a helper. Random operations then edit it: break a function, fix it back, edit
harmlessly, add and delete tests and modules, commit, go back to the last commit. After each one
`python -m doit` runs (doit-scout's default tasks) and then the oracle, plain
`python -m pytest -p no:cacheprovider -q` with the same configuration (with `--lf` in the addopts,
a fresh, empty cache instead, so that it runs the whole suite too). Operations that run doit
otherwise (`--lf`, forget then shards, `--all -- -k`, undo after a red run) and the path-probe test
are in benchmarks/differential_runs.py. Nothing here predicts an outcome: the oracle's exit code is
the truth, and doit exiting 0 while it is not is a FALSE GREEN.

    from benchmarks.differential import run_session
    session = run_session(seed=1, ops=25)
    print(session.table_row(), *(f.describe() for f in session.false_greens), sep="\\n")

`benchmarks/bench_differential.py` is the command line; `tests/test_differential.py` the short check.
An operation sequence depends only on the seed, never on outcomes: `--seed S --ops N` replays the
first N operations of seed S exactly (`--keep DIR` leaves the project on disk to investigate).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

from benchmarks.differential_exec import (
    ORACLE,
    ORACLE_TIMEOUT,
    Run,
    crashed,
    run_command,
    run_doit,
    run_oracle,
    summary,
    tail,
)
from benchmarks.differential_runs import (
    PLAIN_RUN,
    RUNS,
    Phase,
    break_probe_flag,
    break_probe_size,
    probe_items,
    render_probe,
    toggle_lf,
)

DODO = "from doit_scout.dodo import *\n"
GIT_TIMEOUT = 60.0

PLAIN, LAZY, NS, LOOKUP = "plain", "lazy", "ns", "lookup"

# ---------------------------------------------------------------------------------------------
# The model of the generated project. Files are rendered from it, so an undo restores bytes exactly.
# ---------------------------------------------------------------------------------------------


@dataclass
class Func:
    name: str
    a: int
    b: int
    callees: list[str]             # function keys "m0.f0_1", "alpha.alpha_0", "ns.geometry.geo_0"
    table: int | None = None       # lookup functions add the sum of pkg.tables.t<table>.ROWS
    doctest_x: int | None = None   # the argument of its doctest example, if it has one
    broken: bool = False           # returns a wrong value
    doctest_broken: bool = False   # its doctest shows a wrong value
    noise: int = 0                 # harmless edits (comments, no-op statements)


@dataclass
class Module:
    key: str                       # "m0", "alpha", "ns.geometry", "lookup", "n3"
    kind: str
    funcs: list[Func]
    deleted: bool = False
    syntax_broken: bool = False
    noise: int = 0

    @property
    def path(self) -> str:
        return "pkg/" + self.key.replace(".", "/") + ".py"


@dataclass
class Table:
    index: int
    rows: list[int]
    broken: bool = False
    noise: int = 0


@dataclass
class Check:
    func: str      # function key
    x: int
    expect: int


@dataclass
class TestFile:
    name: str                      # "test_plain_0" (tests/<name>.py)
    kind: str                      # "calls", "tool" (subprocess) or "data" (reads testdata/)
    checks: list[Check]
    noise: int = 0
    wrong: bool = False            # its first check expects a wrong value (a failing test)


@dataclass
class Case:
    name: str                      # tests/cases/<name>.txt
    check: Check
    broken: bool = False
    noise: int = 0


@dataclass
class Model:
    modules: list[Module]          # in call order: a function calls only earlier functions
    tables: list[Table]
    tests: list[TestFile]
    cases: list[Case]
    tool_check: Check              # what tests/scripts/tool.py prints, for tool_check.x
    data_checks: list[Check]       # tests/testdata/expected.json
    workers: str = "0"             # [tool.scout.test] workers: "0" one process, "auto" xdist when it pays
    tool_broken: bool = False
    data_broken: bool = False
    probe_size_broken: bool = False   # tests/testdata/blob.dat, which tests/test_probe.py only stats
    probe_flag_broken: bool = False   # tests/testdata/stop.flag exists
    lf: bool = False                  # --lf in the project's addopts
    noise: dict[str, int] = field(default_factory=dict)   # harmless edits of other files, by path
    counter: int = 0               # for fresh names

    # -- lookups --------------------------------------------------------------------------------
    def module(self, key: str) -> Module:
        return next(m for m in self.modules if m.key == key)

    def func(self, key: str) -> tuple[Module, Func]:
        mod_key, _, name = key.rpartition(".")
        module = self.module(mod_key)
        return module, next(f for f in module.funcs if f.name == name)

    def all_funcs(self) -> list[tuple[Module, Func]]:
        return [(m, f) for m in self.modules for f in m.funcs]

    def value(self, key: str, x: int) -> int:
        """What the function returns when nothing is broken."""
        _, f = self.func(key)
        total = f.a * x + f.b + sum(self.value(c, x) for c in f.callees)
        if f.table is not None:
            total += sum(self.tables[f.table].rows)
        return total

    def check(self, key: str, x: int, wrong: bool = False) -> Check:
        return Check(key, x, self.value(key, x) + (1 if wrong else 0))


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


def _new_funcs(rng: random.Random, model_funcs: list[str], prefix: tuple[str, str], count: int, *,
               tables: int = 0) -> list[Func]:
    funcs: list[Func] = []
    for i in range(count):
        pool = model_funcs + [f"{prefix[0]}.{f.name}" for f in funcs]
        callees = sorted(set(rng.sample(pool, min(len(pool), rng.choices([0, 1, 2], [3, 5, 2])[0]))))
        funcs.append(Func(
            name=f"{prefix[1]}_{i}", a=rng.randint(1, 4), b=rng.randint(0, 9), callees=callees,
            table=rng.randrange(tables) if tables else None,
            doctest_x=rng.randint(1, 5) if rng.random() < 0.4 else None,
        ))
    return funcs


def generate(seed: int, workers: str = "0") -> Model:
    """A fresh project model for `seed`: 9 to 10 test files, 3 to 4 golden cases, every function
    reached by at least one test. `workers` goes to `[tool.scout.test] workers`: "0" (the default)
    runs doit-scout's pytest in one process; "auto" leaves the choice to doit-scout, which on a
    suite this small also runs one process (xdist is chosen only when measured durations say it
    pays). To exercise xdist, give the project `-n 2` in its own addopts."""
    rng = random.Random(seed)
    plain = [f"m{i}" for i in range(rng.randint(4, 6))]
    order = ["ns.geometry", *plain, LOOKUP, "alpha", "beta"]
    rest = order[1:]
    rng.shuffle(rest)
    order = order[:1] + rest
    lookups = rng.randint(2, 3)
    tables = [Table(i, [rng.randint(1, 20) for _ in range(rng.randint(3, 5))]) for i in range(lookups)]
    modules: list[Module] = []
    for key in order:
        kind = NS if key.startswith("ns.") else LAZY if key in ("alpha", "beta") else \
            LOOKUP if key == LOOKUP else PLAIN
        short = {"ns.geometry": "geo", LOOKUP: "look"}.get(key, key if kind == LAZY else "f" + key[1:])
        earlier = [f"{m.key}.{f.name}" for m in modules for f in m.funcs]
        funcs = _new_funcs(rng, earlier, (key, short), lookups if kind == LOOKUP else rng.randint(2, 3),
                           tables=len(tables) if kind == LOOKUP else 0)
        if kind == LOOKUP:
            for i, f in enumerate(funcs):
                f.table = i  # every table is read by a tested function
        modules.append(Module(key, kind, funcs))
    with_doctest = [f for m in modules for f in m.funcs if f.doctest_x is not None]
    for f in rng.sample([f for m in modules for f in m.funcs], max(0, 2 - len(with_doctest))):
        f.doctest_x = rng.randint(1, 5)
    model = Model(modules, tables, [], [], tool_check=Check("", 0, 0), data_checks=[], workers=workers)
    keys = [f"{m.key}.{f.name}" for m, f in model.all_funcs()]

    def checks(funcs: list[str]) -> list[Check]:
        return [model.check(k, rng.randint(0, 6)) for k in funcs]

    by_kind = {kind: [f"{m.key}.{f.name}" for m, f in model.all_funcs() if m.kind == kind]
               for kind in (PLAIN, LAZY, NS, LOOKUP)}
    plain_funcs = by_kind[PLAIN]
    groups = rng.randint(3, 4)
    for g in range(groups):
        model.tests.append(TestFile(f"test_plain_{g}", "calls", checks(plain_funcs[g::groups])))
    model.tests.append(TestFile("test_lazy", "calls", checks(by_kind[LAZY])))
    model.tests.append(TestFile("test_geometry", "calls", checks(by_kind[NS])))
    model.tests.append(TestFile("test_tables", "calls", checks(by_kind[LOOKUP])))
    model.tests.append(TestFile("test_mixed", "calls", checks(rng.sample(keys, 3))))
    model.tool_check = model.check(rng.choice(plain_funcs + by_kind[LOOKUP]), rng.randint(1, 6))
    model.tests.append(TestFile("test_tool", "tool", [model.tool_check]))
    model.data_checks = checks(rng.sample(keys, 3))
    model.tests.append(TestFile("test_data", "data", []))
    for i in range(rng.randint(3, 4)):
        model.cases.append(Case(f"case_{i}", checks([rng.choice(keys)])[0]))
    return model


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _ref(model: Model, caller: str | None, key: str) -> tuple[str, str | None]:
    """The expression that calls function `key` from module `caller` (None: outside pkg), and the
    import line it needs."""
    mod_key, _, name = key.rpartition(".")
    if mod_key == caller:
        return name, None
    kind = model.module(mod_key).kind
    if kind == LAZY:
        return f"pkg.{mod_key}.{name}", "import pkg"
    if kind == NS:
        parent, _, leaf = mod_key.rpartition(".")
        return f"{leaf}.{name}", f"from pkg.{parent} import {leaf}"
    return f"{mod_key}.{name}", f"from pkg import {mod_key}"


def _noise(count: int, indent: str = "") -> str:
    # Alternately a comment and a no-op statement; each edit adds a line, so sizes always change.
    lines = [f"# harmless edit {i}" if i % 2 else f"_unused = {i}  # harmless edit {i}"
             for i in range(1, count + 1)]
    return "".join(f"{indent}{line}\n" for line in lines)


def _render_module(model: Model, module: Module) -> str:
    imports: set[str] = set()
    body = []
    for f in module.funcs:
        terms = [f"{f.a} * x", str(f.b)]
        for callee in f.callees:
            expr, imp = _ref(model, module.key, callee)
            terms.append(f"{expr}(x)")
            if imp:
                imports.add(imp)
        if f.table is not None:
            terms.append(f"_rows({f.table})")
        expr = " + ".join(terms)
        if f.broken:
            expr = f"({expr}) + 1"
        doc = f'    """{f.name} of x.'
        if f.doctest_x is not None:
            shown = model.value(f"{module.key}.{f.name}", f.doctest_x) + (1 if f.doctest_broken else 0)
            doc += f"\n\n    >>> {f.name}({f.doctest_x})\n    {shown}\n    "
        doc += '"""\n'
        body.append(f"\n\ndef {f.name}(x):\n{doc}{_noise(f.noise, '    ')}    return {expr}\n")
    head = f'"""Generated module pkg.{module.key} ({module.kind})."""\n'
    if module.kind == LOOKUP:
        imports.add("import importlib")
        body.insert(0, '\n\ndef _rows(n):\n    """The sum of a data table, picked by a computed module name."""\n'
                       '    return sum(importlib.import_module(f"pkg.tables.t{n}").ROWS)\n')
    text = head + "".join(f"{line}\n" for line in sorted(imports)) + _noise(module.noise) + "".join(body)
    if module.syntax_broken:
        text += "\n\ndef unfinished(:\n    pass\n"
    return text


def _render_test(model: Model, test: TestFile) -> str:
    if test.kind == "tool":
        (check,) = test.checks
        return textwrap.dedent(f'''\
            """Runs tests/scripts/tool.py in a subprocess."""
            import subprocess
            import sys
            from pathlib import Path

            TOOL = Path(__file__).parent / "scripts" / "tool.py"


            def test_tool_prints_the_value():
                result = subprocess.run([sys.executable, str(TOOL), "{check.x}"], capture_output=True,
                                        text=True, timeout=60)
                assert result.returncode == 0, result.stderr
                assert result.stdout.strip() == "{check.expect}"
            ''') + _noise(test.noise)
    imports: set[str] = set()
    if test.kind == "data":
        imports.add("from support import load_json")
        table = []
        for c in model.data_checks:
            expr, imp = _ref(model, None, c.func)
            imports.add(imp or "")
            table.append(f'    "{c.func}": lambda x: {expr}(x),\n')
        return ('"""Checks the values in tests/testdata/expected.json."""\n'
                + "".join(f"{i}\n" for i in sorted(imports)) + "\nCALLS = {\n" + "".join(table) + "}\n"
                + "\n\ndef test_values_match_the_data_file():\n"
                + '    for entry in load_json("expected.json")["entries"]:\n'
                + '        assert CALLS[entry["call"]](entry["x"]) == entry["expect"], entry\n'
                + _noise(test.noise))
    funcs = []
    for i, c in enumerate(test.checks):
        expr, imp = _ref(model, None, c.func)
        if imp:
            imports.add(imp)
        expect = c.expect + (1 if test.wrong and i == 0 else 0)
        funcs.append(f"\n\ndef test_{c.func.rpartition('.')[2]}_{i}():\n    assert {expr}({c.x}) == {expect}\n")
    return (f'"""Generated tests {test.name}."""\n' + "".join(f"{i}\n" for i in sorted(imports))
            + "".join(funcs) + _noise(test.noise))


CONFTEST = '''\
"""Golden files: each tests/cases/*.txt is a test item (call, arg, expect)."""
import importlib

import pytest


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".txt" and file_path.parent.name == "cases":
        return CaseFile.from_parent(parent, path=file_path)


class CaseFile(pytest.File):
    def collect(self):
        spec = {}
        for line in self.path.read_text().splitlines():
            if ":" in line and not line.startswith("#"):
                key, _, value = line.partition(":")
                spec[key.strip()] = value.strip()
        yield CaseItem.from_parent(self, name=self.path.stem, spec=spec)


class CaseItem(pytest.Item):
    def __init__(self, *, spec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self):
        module_key, _, name = self.spec["call"].rpartition(".")
        module = importlib.import_module("pkg." + module_key)
        got = getattr(module, name)(int(self.spec["arg"]))
        assert got == int(self.spec["expect"]), f"{self.spec['call']}({self.spec['arg']}) = {got}"

    def reportinfo(self):
        return self.path, 0, f"golden case {self.name}"
'''

INIT = '''\
"""Generated package: the submodules in _LAZY load on first attribute access (pkg.alpha)."""
import importlib

_LAZY = {lazy!r}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module("." + name, __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
'''

SUPPORT = '''\
"""Test helpers: the data files under tests/testdata."""
import json
from pathlib import Path

DATA = Path(__file__).parent / "testdata"


def load_json(name):
    return json.loads((DATA / name).read_text())
'''

PYPROJECT = '''\
[project]
name = "diffproj"
version = "0"

[tool.pytest.ini_options]
addopts = "-x --doctest-modules{lf}"
testpaths = ["tests", "pkg"]
pythonpath = ["."]
'''


def render(model: Model) -> dict[str, str]:
    """Every file of the project, by path."""
    files = {
        "dodo.py": DODO,
        "pyproject.toml": PYPROJECT.format(lf=" --lf" if model.lf else "") + ("" if model.workers == "auto" else
                                       f"\n[tool.scout.test]\nworkers = {int(model.workers)}\n"),
        "README.md": "# diffproj\n\nA generated project for doit-scout's differential check.\n",
        ".gitignore": "__pycache__/\n.pytest_cache/\n.scout/\n",
        "pkg/__init__.py": INIT.format(lazy=tuple(m.key for m in model.modules if m.kind == LAZY)),
        "pkg/tables/__init__.py": '"""Data tables, imported by computed name."""\n',
        "tests/conftest.py": CONFTEST,
        "tests/support.py": SUPPORT,
    }
    for module in model.modules:
        if not module.deleted:
            files[module.path] = _render_module(model, module)
    for table in model.tables:
        rows = [table.rows[0] + (1 if table.broken else 0), *table.rows[1:]]
        files[f"pkg/tables/t{table.index}.py"] = f'"""Data table {table.index}."""\n{_noise(table.noise)}ROWS = {rows!r}\n'
    for test in model.tests:
        files[f"tests/{test.name}.py"] = _render_test(model, test)
    for case in model.cases:
        c = case.check
        files[f"tests/cases/{case.name}.txt"] = (
            f"# golden case: {c.func}({c.x})\n{_noise(case.noise)}call: {c.func}\narg: {c.x}\n"
            f"expect: {c.expect + (1 if case.broken else 0)}\n")
    tool_expr, tool_import = _ref(model, None, model.tool_check.func)
    files["tests/scripts/tool.py"] = (
        '"""Prints a value of the package for the number given as argument."""\nimport sys\n'
        "from pathlib import Path\n\nsys.path.insert(0, str(Path(__file__).resolve().parents[2]))\n\n"
        f"{tool_import}  # noqa: E402\n\n\ndef main(argv):\n    x = int(argv[1])\n"
        f"    print({tool_expr}(x){' + 1' if model.tool_broken else ''})\n\n\n"
        'if __name__ == "__main__":\n    main(sys.argv)\n')
    entries = [{"call": c.func, "x": c.x, "expect": c.expect + (1 if model.data_broken and i == 0 else 0)}
               for i, c in enumerate(model.data_checks)]
    files["tests/testdata/expected.json"] = json.dumps({"entries": entries}, indent=2) + "\n"
    files.update(render_probe(model))
    for path, count in model.noise.items():
        if path in files:
            comment = "<!-- {} -->" if path.endswith(".md") else "# {}"
            files[path] += "".join(comment.format(f"harmless edit {i}") + "\n" for i in range(1, count + 1))
    return files


# ---------------------------------------------------------------------------------------------
# Operations: each mutates the model and returns a description (None: not applicable now).
# ---------------------------------------------------------------------------------------------


Op = Callable[[Model, random.Random], "str | None"]


def _pick_func(model: Model, rng: random.Random, kinds: tuple[str, ...]) -> tuple[Module, Func] | None:
    pool = [(m, f) for m, f in model.all_funcs() if m.kind in kinds and not f.broken and not m.deleted]
    return rng.choice(pool) if pool else None


def _break_func(kinds: tuple[str, ...], label: str) -> Op:
    def op(model: Model, rng: random.Random) -> str | None:
        picked = _pick_func(model, rng, kinds)
        if not picked:
            return None
        m, f = picked
        f.broken = True
        return f"break {label} pkg.{m.key}.{f.name} (returns its value + 1)"
    return op


def break_table(model: Model, rng: random.Random) -> str | None:
    pool = [t for t in model.tables if not t.broken]
    if not pool:
        return None
    table = rng.choice(pool)
    table.broken = True
    return f"break table pkg/tables/t{table.index}.py (first row + 1)"


def break_script(model: Model, rng: random.Random) -> str | None:
    if model.tool_broken:
        return None
    model.tool_broken = True
    return "break the subprocess script tests/scripts/tool.py (prints value + 1)"


def break_case(model: Model, rng: random.Random) -> str | None:
    pool = [c for c in model.cases if not c.broken]
    if not pool:
        return None
    case = rng.choice(pool)
    case.broken = True
    return f"break golden case tests/cases/{case.name}.txt (expect + 1)"


def break_doctest(model: Model, rng: random.Random) -> str | None:
    pool = [(m, f) for m, f in model.all_funcs()
            if f.doctest_x is not None and not f.doctest_broken and not m.deleted]
    if not pool:
        return None
    m, f = rng.choice(pool)
    f.doctest_broken = True
    return f"break the doctest of pkg.{m.key}.{f.name} (shows value + 1)"


def break_data(model: Model, rng: random.Random) -> str | None:
    if model.data_broken:
        return None
    model.data_broken = True
    return "break the data file tests/testdata/expected.json (first expect + 1)"


def break_syntax(model: Model, rng: random.Random) -> str | None:
    pool = [m for m in model.modules if not m.syntax_broken and not m.deleted]
    if not pool:
        return None
    module = rng.choice(pool)
    module.syntax_broken = True
    return f"syntax error in {module.path}"


def delete_module(model: Model, rng: random.Random) -> str | None:
    pool = [m for m in model.modules if not m.deleted]
    module = rng.choice(pool)
    module.deleted = True
    return f"delete module {module.path}"


def broken_items(model: Model) -> list[tuple[str, Callable[[], None]]]:
    """Everything broken now, each with the action that fixes it."""
    items: list[tuple[str, Callable[[], None]]] = []
    for m in model.modules:
        if m.deleted:
            items.append((f"restore deleted module {m.path}", partial(setattr, m, "deleted", False)))
        if m.syntax_broken:
            items.append((f"fix the syntax error in {m.path}", partial(setattr, m, "syntax_broken", False)))
        for f in m.funcs:
            if f.broken:
                items.append((f"fix pkg.{m.key}.{f.name} ({m.kind})", partial(setattr, f, "broken", False)))
            if f.doctest_broken:
                items.append((f"fix the doctest of pkg.{m.key}.{f.name}",
                              partial(setattr, f, "doctest_broken", False)))
    for test in model.tests:
        if test.wrong:
            items.append((f"fix the failing test file tests/{test.name}.py (right expectation)",
                          partial(setattr, test, "wrong", False)))
    for t in model.tables:
        if t.broken:
            items.append((f"fix table pkg/tables/t{t.index}.py", partial(setattr, t, "broken", False)))
    for c in model.cases:
        if c.broken:
            items.append((f"fix golden case tests/cases/{c.name}.txt", partial(setattr, c, "broken", False)))
    if model.tool_broken:
        items.append(("fix the subprocess script tests/scripts/tool.py",
                      partial(setattr, model, "tool_broken", False)))
    if model.data_broken:
        items.append(("fix the data file tests/testdata/expected.json",
                      partial(setattr, model, "data_broken", False)))
    return items + probe_items(model)


def fix_one(model: Model, rng: random.Random) -> str | None:
    items = broken_items(model)
    if not items:
        return None
    label, action = rng.choice(items)
    action()
    return label


def edit_func(model: Model, rng: random.Random) -> str | None:
    m, f = rng.choice([(m, f) for m, f in model.all_funcs() if not m.deleted])
    f.noise += 1
    return f"harmless edit of pkg.{m.key}.{f.name} ({'comment' if f.noise % 2 else 'no-op statement'})"


def edit_module(model: Model, rng: random.Random) -> str | None:
    m = rng.choice([m for m in model.modules if not m.deleted])
    m.noise += 1
    return f"harmless module-level edit of {m.path}"


def edit_other(model: Model, rng: random.Random) -> str | None:
    choice = rng.choice(["table", "test", "case", "file", "file"])
    if choice == "table":
        t = rng.choice(model.tables)
        t.noise += 1
        return f"harmless edit of pkg/tables/t{t.index}.py"
    if choice == "test" and model.tests:
        test = rng.choice(model.tests)
        test.noise += 1
        return f"harmless edit of tests/{test.name}.py"
    if choice == "case" and model.cases:
        c = rng.choice(model.cases)
        c.noise += 1
        return f"harmless edit of tests/cases/{c.name}.txt"
    path = rng.choice(["tests/scripts/tool.py", "tests/conftest.py", "tests/support.py",
                       "pkg/__init__.py", "pkg/tables/__init__.py"])
    model.noise[path] = model.noise.get(path, 0) + 1
    return f"harmless edit of {path}"


def edit_docs(model: Model, rng: random.Random) -> str | None:
    model.noise["README.md"] = model.noise.get("README.md", 0) + 1
    return "edit README.md (documentation only)"


def edit_config(model: Model, rng: random.Random) -> str | None:
    model.noise["pyproject.toml"] = model.noise.get("pyproject.toml", 0) + 1
    return "harmless edit of pyproject.toml (a comment)"


def _live_func_keys(model: Model) -> list[str]:
    return [f"{m.key}.{f.name}" for m, f in model.all_funcs() if not m.deleted]


def _add_test(failing: bool) -> Op:
    def op(model: Model, rng: random.Random) -> str | None:
        model.counter += 1
        keys = rng.sample(_live_func_keys(model), rng.randint(1, 3))
        checks = [model.check(k, rng.randint(0, 6)) for k in keys]
        name = f"test_new_{model.counter}"
        model.tests.append(TestFile(name, "calls", checks, wrong=failing))
        return f"add {'FAILING' if failing else 'passing'} test file tests/{name}.py ({', '.join(keys)})"
    return op


def delete_test(model: Model, rng: random.Random) -> str | None:
    if len(model.tests) <= 2:
        return None
    test = rng.choice(model.tests)
    model.tests.remove(test)
    return f"delete test file tests/{test.name}.py"


def add_case(model: Model, rng: random.Random) -> str | None:
    model.counter += 1
    case = Case(f"case_new_{model.counter}", model.check(rng.choice(_live_func_keys(model)), rng.randint(0, 6)))
    model.cases.append(case)
    return f"add golden case tests/cases/{case.name}.txt ({case.check.func})"


def add_module(model: Model, rng: random.Random) -> str | None:
    model.counter += 1
    kind = rng.choice([PLAIN, PLAIN, LAZY])
    key = f"n{model.counter}" if kind == PLAIN else f"lazy{model.counter}"
    funcs = _new_funcs(rng, _live_func_keys(model), (key, key), rng.randint(1, 2))
    model.modules.append(Module(key, kind, funcs))
    extra = " (and list it in pkg/__init__.py's _LAZY)" if kind == LAZY else ""
    return f"add {kind} module pkg/{key}.py{extra}"


# Special operations the driver carries out itself.
COMMIT, CHECKOUT, TOUCH, NOOP = "commit", "checkout", "touch", "noop"

BREAKS: dict[str, Op] = {
    "break_func": _break_func((PLAIN,), "function"),
    "break_lazy": _break_func((LAZY,), "lazily loaded"),
    "break_ns": _break_func((NS,), "namespace-package"),
    "break_lookup": _break_func((LOOKUP,), "table lookup"),
    "break_table": break_table,
    "break_script": break_script,
    "break_case": break_case,
    "break_doctest": break_doctest,
    "break_data": break_data,
    "break_syntax": break_syntax,
    "delete_module": delete_module,
    "break_probe_size": break_probe_size,
    "break_probe_flag": break_probe_flag,
}

OTHERS: dict[str, tuple[float, Op | str]] = {
    "edit_func": (5, edit_func),
    "edit_module": (2, edit_module),
    "edit_other": (4, edit_other),
    "edit_docs": (1, edit_docs),
    "edit_config": (0.5, edit_config),
    "add_test": (3, _add_test(False)),
    "add_failing_test": (1, _add_test(True)),
    "delete_test": (1.5, delete_test),
    "add_case": (1, add_case),
    "add_module": (2, add_module),
    COMMIT: (3, COMMIT),
    CHECKOUT: (1.5, CHECKOUT),
    TOUCH: (1, TOUCH),
    NOOP: (2, NOOP),
    "toggle_lf": (1, toggle_lf),
    **{name: (weight, name) for name, (weight, _) in RUNS.items()},  # the driver runs doit otherwise
}
BREAK_WEIGHTS = {"break_func": 5, "break_syntax": 1, "delete_module": 1}  # others: 2.5


def choose_op(model: Model, rng: random.Random) -> tuple[str, Op | str]:
    """The next operation's name and function (or special name). Depends on the model only."""
    broken = len(broken_items(model))
    names: list[str] = []
    weights: list[float] = []
    ops: list[Op | str] = []
    for name, op in BREAKS.items():
        names.append(name)
        # Fewer breaks when some are broken, and fixes likely: about half of all states are red.
        weights.append(0.6 * BREAK_WEIGHTS.get(name, 2.5) / (1 + broken))
        ops.append(op)
    if broken:
        names.append("fix")
        weights.append(25.0 * min(broken, 4))
        ops.append(fix_one)
    for name, (weight, other) in OTHERS.items():
        names.append(name)
        weights.append(weight)
        ops.append(other)
    i = rng.choices(range(len(names)), weights)[0]
    return names[i], ops[i]


# ---------------------------------------------------------------------------------------------
# The project on disk
# ---------------------------------------------------------------------------------------------


def clean_env(cache: Path | None = None, scout_path: Path | None = None) -> dict[str, str]:
    """The environment of every subprocess: nothing of an outer pytest, git or doit-scout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "GIT_", "DOIT_SCOUT_")) and k not in ("PYTHONPATH", "COV_CORE_SOURCE")}
    env.update(COLUMNS="200", NO_COLOR="1", PYTHONHASHSEED="0")
    if cache is not None:
        env["DOIT_SCOUT_CACHE"] = str(cache)
    if scout_path is not None:
        env["PYTHONPATH"] = str(scout_path)
    return env


class Project:
    """A generated project on disk, kept equal to its model."""

    def __init__(self, root: Path, model: Model, env: dict[str, str]) -> None:
        self.root, self.model, self.env = root, model, env
        self.files: dict[str, str] = {}
        self.committed = copy.deepcopy(model)
        self.last_green: Model | None = None   # the last content green by construction (nothing broken)
        self.commits = 0
        self.last_write = 0.0

    def _before_write(self) -> None:
        # Python trusts a .pyc whose source has the same size and mtime in whole seconds: two
        # same-size versions of a file written within one second could run stale bytecode under
        # the oracle too. Writes at least a second apart rule that out (a run in between always
        # takes longer, so this never waits in practice).
        wait = self.last_write + 1.05 - time.time()
        if wait > 0:
            time.sleep(wait)

    def sync(self) -> list[str]:
        """Write the files whose rendering changed, delete those gone; returns the paths touched."""
        new = render(self.model)
        changed = []
        if new != self.files:
            self._before_write()
        for path, text in new.items():
            if self.files.get(path) != text:
                target = self.root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
                changed.append(path)
        for path in self.files.keys() - new.keys():
            (self.root / path).unlink(missing_ok=True)
            changed.append(path)
        self.files = new
        if changed:
            self.last_write = time.time()
        return sorted(changed)

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
            cwd=self.root, check=True, capture_output=True, text=True, env=self.env, timeout=GIT_TIMEOUT,
            stdin=subprocess.DEVNULL,
        ).stdout

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sync()
        self.git("init", "-q", "-b", "main")
        self.commit("initial")

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        self.committed = copy.deepcopy(self.model)
        self.commits += 1

    def checkout_head(self) -> None:
        """Throw away every change since the last commit, as `git reset --hard; git clean -fd` do."""
        self._before_write()
        self.git("reset", "-q", "--hard", "HEAD")
        self.git("clean", "-fdq")
        self.last_write = time.time()
        self.model = copy.deepcopy(self.committed)
        self.files = render(self.model)
        differing = self.differences()
        if differing:
            raise RuntimeError(f"the work tree after a reset differs from the last commit's model: {differing}")

    def differences(self) -> list[str]:
        """Paths whose bytes on disk differ from the model's rendering (none: in sync)."""
        on_disk = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in (".git", ".scout", "__pycache__", ".pytest_cache")]
            for name in filenames:
                path = Path(dirpath, name)
                on_disk[path.relative_to(self.root).as_posix()] = path.read_text()
        return sorted(p for p in on_disk.keys() | self.files.keys() if on_disk.get(p) != self.files.get(p))

    def apply(self, name: str, op: Op | str, rng: random.Random) -> str | None:
        if op == COMMIT:
            self.commit(f"commit {self.commits}")
            return "git commit -a (everything, untracked files too)"
        if op == CHECKOUT:
            self.checkout_head()
            return "git reset --hard HEAD && git clean -fd (back to the last commit)"
        if op == TOUCH:
            path = rng.choice(sorted(self.files))
            self._before_write()
            now = time.time_ns()
            self.last_write = now / 1e9
            os.utime(self.root / path, ns=(now, now))
            return f"touch {path} (mtime only)"
        if op == NOOP:
            return "nothing (run again)"
        assert callable(op)
        description = op(self.model, rng)
        if description is not None:
            self.sync()
        return description

    def digest(self) -> str:
        """The content of the project as the oracle sees it."""
        h = hashlib.sha256()
        for path, text in sorted(self.files.items()):
            h.update(path.encode() + b"\0" + text.encode() + b"\0")
        return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Findings and sessions
# ---------------------------------------------------------------------------------------------


@dataclass
class Finding:
    kind: str                      # "false green", "false red", "crash"
    seed: int
    index: int                     # the operation after which it happened (0: the initial run)
    history: list[str]
    doit_returncode: int
    doit_output: str
    oracle_returncode: int
    oracle_output: str
    replay: str = ""               # the command that replays the operations up to this one

    def describe(self, last: int = 12) -> str:
        shown = self.history[-last:]
        skipped = len(self.history) - len(shown)
        lines = [f"{self.kind.upper()}: seed {self.seed}, after operation {self.index} "
                 f"(doit exit {self.doit_returncode}, pytest exit {self.oracle_returncode})",
                 f"replay: {self.replay}",
                 "history" + (f" (last {len(shown)} of {len(self.history)})" if skipped else "") + ":"]
        lines += [f"  {h}" for h in shown]
        lines += ["pytest output (summary):", textwrap.indent(summary(self.oracle_output).rstrip(), "  | "),
                  "doit output (tail):", textwrap.indent(tail(self.doit_output, 1500).rstrip(), "  | ")]
        return "\n".join(lines)

    def as_json(self) -> dict:
        return self.__dict__.copy()


@dataclass
class Step:
    index: int
    op: str
    doit_returncode: int
    doit_seconds: float
    oracle_returncode: int
    oracle_seconds: float | None   # None: the same content was judged before
    crashed: bool
    commands: tuple[str, ...] = ("doit",)   # what ran, in order (an operation may take several steps)


@dataclass
class Session:
    seed: int
    steps: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    history: list[str] = field(default_factory=list)

    @property
    def operations(self) -> int:
        return len({s.index for s in self.steps if s.index > 0})

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def false_greens(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "false green"]

    @property
    def crashes(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "crash"]

    def totals(self) -> dict[str, float]:
        return totals([self])

    def table_row(self) -> str:
        return format_row(f"seed {self.seed}", self.totals())


def totals(sessions: list[Session]) -> dict[str, float]:
    steps = [s for session in sessions for s in session.steps]
    oracle_times = [s.oracle_seconds for s in steps if s.oracle_seconds is not None]
    return {
        "operations": sum(session.operations for session in sessions),
        "doit runs": len(steps),
        "oracle runs": len(oracle_times),
        "oracle red": sum(1 for s in steps if s.oracle_returncode != 0),
        "doit red": sum(1 for s in steps if s.doit_returncode != 0),
        "false greens": sum(session.count("false green") for session in sessions),
        "false reds": sum(session.count("false red") for session in sessions),
        "crashes": sum(session.count("crash") for session in sessions),
        "mean doit s": sum(s.doit_seconds for s in steps) / max(1, len(steps)),
        "mean oracle s": sum(oracle_times) / max(1, len(oracle_times)),
    }


COLUMNS = ["operations", "doit runs", "oracle runs", "oracle red", "doit red", "false greens",
           "false reds", "crashes", "mean doit s", "mean oracle s"]


def format_header(first: str = "") -> str:
    return "| " + " | ".join([first, *COLUMNS]) + " |\n|---|" + "---:|" * len(COLUMNS)


def format_row(label: str, t: dict[str, float]) -> str:
    cells = [f"{t[c]:.2f}" if c.startswith("mean") else str(int(t[c])) for c in COLUMNS]
    return "| " + " | ".join([label, *cells]) + " |"


def run_session(seed: int, ops: int, *, workdir: Path | None = None, parallel: bool = False,
                scout_path: Path | None = None, workers: str = "0",
                progress: Callable[[str], None] | None = None,
                stop_after_false_greens: int | None = None, script: dict[int, str] | None = None) -> Session:
    """Generate the project of `seed`, run doit and the oracle on it, then `ops` random operations,
    each followed by doit and the oracle. `workdir` (created if missing) keeps the project and its
    cache; otherwise a temporary folder is used and removed. `parallel` runs the oracle while doit
    runs (they share nothing but bytecode files, which Python writes atomically; the oracle keeps
    no pytest cache); timings then compete for the cores. `scout_path` puts another doit-scout
    checkout (say a `git archive` of a commit) first on doit's PYTHONPATH. `workers`: see
    `generate`. `script` forces operations by number ({21: "k_all"}): a test's way to reach a kind;
    the operations before the first forced one are the seed's own.
    """
    temp = None
    if workdir is None:
        temp = tempfile.mkdtemp(prefix="doit-scout-diff-")
        base = Path(temp)
    else:
        base = Path(workdir)
        if base.exists():
            shutil.rmtree(base)
        base.mkdir(parents=True)
    try:
        return _session(seed, ops, base, parallel, scout_path, workers, progress, stop_after_false_greens,
                        script)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _session(seed: int, ops: int, base: Path, parallel: bool, scout_path: Path | None, workers: str,
             progress: Callable[[str], None] | None, stop_after: int | None,
             script: dict[int, str] | None = None) -> Session:
    env = clean_env(base / "cache", scout_path)
    oracle_env = clean_env()
    project = Project(base / "project", generate(seed, workers), env)
    project.init()
    op_rng = random.Random(seed * 1_000_003 + 17)
    session = Session(seed)
    judged: dict[str, Run] = {}

    def oracle_of(digest: str, index: int, runs: Callable[[], list[Run]]) -> tuple[list[Run], Run, bool]:
        """doit's runs and the oracle's run on the current content (in parallel if asked)."""
        known = judged.get(digest)
        oracle_box: list[Run] = []
        lf = project.model.lf
        thread = None
        if known is None and parallel:
            thread = threading.Thread(target=lambda: oracle_box.append(run_oracle(project.root, oracle_env, lf)))
            thread.start()
        doits = runs()
        if known is not None:
            return doits, known, True
        if thread is not None:
            thread.join()
            oracle = oracle_box[0]
        else:
            oracle = run_oracle(project.root, oracle_env, lf)
        if oracle.timed_out:
            raise RuntimeError(f"the oracle timed out after operation {index}:\n{tail(oracle.output)}")
        judged[digest] = oracle
        return doits, oracle, False

    def judge(index: int, op: str, phase: Phase) -> None:
        if phase.edit is not None:
            phase.edit()
        invocations = phase.invocations
        runs, oracle, known = oracle_of(project.digest(), index, lambda: [
            run_doit(project.root, env, inv.args) for inv in invocations])
        # The judged runs together are one verdict (the two shards): red if any of them is.
        returncode = next((r.returncode for r, inv in zip(runs, invocations) if inv.judged and r.returncode), 0)
        output = runs[0].output if len(runs) == 1 else "".join(
            f"$ {inv.command()}  (exit {r.returncode})\n{r.output}\n" for r, inv in zip(runs, invocations))
        doit = Run(returncode, output, sum(r.seconds for r in runs))
        crash = any(crashed(r, inv.narrowed) for r, inv in zip(runs, invocations))
        session.steps.append(Step(index, op, doit.returncode, doit.seconds, oracle.returncode,
                                  None if known else oracle.seconds, crash,
                                  tuple(inv.command() for inv in invocations)))
        kinds = []
        if crash:
            kinds.append("crash")
        if doit.returncode == 0 and oracle.returncode != 0:
            kinds.append("false green")
        elif doit.returncode != 0 and oracle.returncode == 0 and not crash:
            kinds.append("false red")
        replay = (f"python -m benchmarks.bench_differential --seed {seed} --ops {index}"
                  + (f" --workers {workers}" if workers != "0" else "")
                  + (f" --scout-path {scout_path}" if scout_path else "") + " --keep /tmp/diff-replay"
                  + "".join(f" (but operation {i} was forced: {n})" for i, n in sorted((script or {}).items())
                            if i <= index))
        for kind in kinds:
            session.findings.append(Finding(kind, seed, index, list(session.history), doit.returncode,
                                            tail(doit.output), oracle.returncode, tail(oracle.output), replay))
        if progress:
            verdict = ", ".join(kinds) or "agree"
            progress(f"seed {seed} op {index:3d}: doit {doit.returncode} ({doit.seconds:.1f} s) · pytest "
                     f"{oracle.returncode}{' (same content as before)' if known else f' ({oracle.seconds:.1f} s)'}"
                     f" · {verdict} · {op}")

    def step(index: int, description: str, phases: list[Phase]) -> None:
        for phase in phases:
            judge(index, description, phase)
        if not broken_items(project.model):
            project.last_green = copy.deepcopy(project.model)

    step(0, "initial project", PLAIN_RUN)
    index = 0
    while index < ops:
        name, op = choose_op(project.model, op_rng)
        if script and index + 1 in script:
            name = script[index + 1]  # forced by a test; the operation's own choices still draw
            op = BREAKS.get(name) or OTHERS[name][1]
        if name in RUNS:
            planned = RUNS[name][1](project, op_rng)
            description, phases = planned if planned else (None, PLAIN_RUN)
        else:
            description, phases = project.apply(name, op, op_rng), PLAIN_RUN
        if description is None:
            continue  # not applicable now (nothing of that kind left to break): draw again
        index += 1
        session.history.append(f"{index:03d} {description}")
        step(index, description, phases)
        if stop_after is not None and len(session.false_greens) >= stop_after:
            break
    return session


# ---------------------------------------------------------------------------------------------
# Soundness of the generated project under plain pytest
# ---------------------------------------------------------------------------------------------


def write_project(root: Path, model: Model) -> None:
    for path, text in render(model).items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def check_soundness(seed: int, workdir: Path, jobs: int = 2) -> list[str]:
    """Problems with the generated project itself (empty: sound). Under plain pytest the initial
    project is green and collects test files, golden cases, doctests and the subprocess test; each
    kind of break, applied alone to a copy, makes it red; and fixing everything broken gives back
    the initial bytes. Copies run `jobs` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    problems: list[str] = []
    env = clean_env()
    if workdir.exists():
        shutil.rmtree(workdir)
    initial = generate(seed)
    variants: dict[str, tuple[str, Path]] = {}
    everything = copy.deepcopy(initial)
    rng = random.Random(seed)
    write_project(workdir / "initial", initial)
    for name, op in BREAKS.items():
        model = copy.deepcopy(initial)
        description = op(model, rng)
        if description is None or op(everything, rng) is None:
            problems.append(f"{name}: not applicable to a fresh project")
            continue
        variants[name] = (description, workdir / name)
        write_project(workdir / name, model)
    while broken_items(everything):
        fix_one(everything, rng)
    if render(everything) != render(initial):
        problems.append("breaking everything and fixing it all does not give back the initial files")

    def oracle(root: Path, *extra: str) -> Run:
        return run_command([sys.executable, *ORACLE, *extra], root, env, ORACLE_TIMEOUT)

    with ThreadPoolExecutor(jobs) as pool:
        collected = pool.submit(oracle, workdir / "initial", "--collect-only")
        first = pool.submit(oracle, workdir / "initial")
        broken = {name: pool.submit(oracle, root) for name, (_, root) in variants.items()}
        for needle, what in (("tests/cases/case_", "golden cases"), (".py::pkg.", "doctests"),
                             ("test_tool.py::", "the subprocess test"), ("test_data.py::", "the data-file test"),
                             ("test_geometry.py::", "the namespace-package tests"),
                             ("test_probe.py::", "the path-probe tests")):
            if needle not in collected.result().output:
                problems.append(f"pytest does not collect {what} ({needle!r} not in --collect-only)")
        if first.result().returncode != 0:
            problems.append(f"the initial project is red under plain pytest:\n{tail(first.result().output)}")
        for name, future in broken.items():
            if future.result().returncode == 0:
                problems.append(f"{name}: {variants[name][0]} leaves plain pytest green")
    return problems
