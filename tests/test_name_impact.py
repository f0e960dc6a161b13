"""Name-level test impact: a change reaches exactly the test files whose code can reach it by name.

The property test generates small programs with what makes names hard to follow (a package
`__init__` that star-imports every module, imports of every style and at function level, classes
with inheritance and `super()`, decorators, closures made at import time, module-level tables
computed by calls, a lazy-loading `__getattr__`, a registry that decorators and a base's
`__init_subclass__` fill, looked up by key), then edits constants at random, one at a time.
After each edit the real test suite runs (plain pytest, the oracle); every test whose outcome
changed must be in a file whose fingerprint changed. The fingerprints are the analyzers' own, from
the files alone (no observed inputs: what names show must be enough for these programs).
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import pytest
import xxhash
from helpers import write_files

from doit_scout.analyzers.graph import build_project_graph
from doit_scout.analyzers.imports import parse_imports
from doit_scout.analyzers.modules import locate_modules
from doit_scout.analyzers.symbol_graph import whole_node
from doit_scout.analyzers.unit_graph import UnitGraph, build_unit_graph


def unit_graph_of(files: dict[str, str]) -> UnitGraph:
    """The name-level graph of `files`, whose test units are the tests/test_*.py files."""
    py = {p: s for p, s in files.items() if p.endswith(".py")}
    tests = {p for p in py if p.startswith("tests/test_")}
    modules = locate_modules(py, [""], pytest_imported=tests)
    graph = build_project_graph(modules.values(), {p: parse_imports(s.encode()) for p, s in py.items()},
                                source_roots=[""], test_paths=tests, is_external=lambda name: True)
    digests = {p: xxhash.xxh3_128_hexdigest(s.encode()) for p, s in files.items()}
    return build_unit_graph(graph, digests, sorted(tests), {}, digest_of=lambda path: "absent")


def unit_fingerprints(files: dict[str, str]) -> dict[str, str]:
    """Each test file's fingerprint, computed over the name-level graph of `files`."""
    units = unit_graph_of(files)
    return {t: units.fingerprint_of(t, "", "") for t in sorted(units.unit_nodes)}


# A version-only `__getattr__`, as click, pluggy and marshmallow have: it answers `__version__` and
# hands out no module, so it must not tie every re-exported name to every importer; nor must reading
# sys.modules, as funcy's `__init__` does to build `__all__`.
REEXPORTING = {
    "pkg/__init__.py": "import sys\n\nfrom .a import *\nfrom .b import *\n\n"
                       "__all__ = [n for m in ('pkg.a', 'pkg.b') for n in vars(sys.modules[m]) if n[0] != '_']\n\n\n"
                       "def __getattr__(name):\n"
                       "    if name == '__version__':\n        return '1.0'\n    raise AttributeError(name)\n",
    "pkg/a.py": "def fa(x):\n    return x + 1\n",
    "pkg/b.py": "def fb(x):\n    return x + 2\n",
    "tests/test_a.py": "import pkg\n\n\ndef test_a():\n    assert pkg.fa(1) == 2\n",
    "tests/test_b.py": "from pkg import fb\n\n\ndef test_b():\n    assert fb(1) == 3\n",
    "tests/test_version.py": "import pkg\n\n\ndef test_version():\n    assert pkg.__version__\n",
}


def changed_units(before: dict[str, str], edits: dict[str, tuple[str, str]]) -> set[str]:
    after = dict(before)
    for path, (old, new) in edits.items():
        assert old in after[path]
        after[path] = after[path].replace(old, new)
    old_prints, new_prints = unit_fingerprints(before), unit_fingerprints(after)
    return {t for t in new_prints if new_prints[t] != old_prints.get(t)}


def test_a_body_change_behind_a_re_exporting_package_with_a_version_getattr_reaches_only_its_users():
    assert changed_units(REEXPORTING, {"pkg/a.py": ("x + 1", "x + 5")}) == {"tests/test_a.py"}
    # Importing a module can run its __getattr__ (`from m import x` asks m for `__path__`): an
    # edit of it reaches every importer.
    assert changed_units(REEXPORTING, {"pkg/__init__.py": ("'1.0'", "'2.0'")}) == set(unit_fingerprints(REEXPORTING))


def test_a_getattr_that_keeps_what_it_answers_in_globals_ties_no_name_to_every_importer():
    """toolz's `__getattr__` stores `__version__` with `globals()[name] = rv`: that binds only
    names it answers, whose readers reach it anyway."""
    files = {**REEXPORTING, "pkg/__init__.py": REEXPORTING["pkg/__init__.py"].replace(
        "        return '1.0'\n", "        globals()[name] = '1.0'\n        return '1.0'\n")}
    assert changed_units(files, {"pkg/a.py": ("x + 1", "x + 5")}) == {"tests/test_a.py"}
    assert changed_units(files, {"pkg/__init__.py": ("return '1.0'", "return '2.0'")}) == set(unit_fingerprints(files))
    # Any other use of globals() in it can read every name of the package.
    reading = {**files, "pkg/__init__.py": files["pkg/__init__.py"].replace(
        "globals()[name] = '1.0'", "assert globals()")}
    assert changed_units(reading, {"pkg/a.py": ("x + 1", "x + 5")}) == set(unit_fingerprints(files))


def test_a_reference_through_a_package_names_the_package_that_re_exports_it():
    files = {**REEXPORTING, "pkg/sub/__init__.py": "", "pkg/sub/c.py": "def fc():\n    return 3\n"}
    symbols = unit_graph_of(files).symbols
    assert symbols.reexporter("tests.test_a", "pkg.fa", "pkg.a:fa") == "pkg"
    assert symbols.reexporter("tests.test_b", "fb", "pkg.b:fb") == "pkg"
    assert symbols.reexporter("pkg", "fa", "pkg.a:fa") is None  # pkg's own star import: no re-export
    assert symbols.reexporter("tests.test_a", "pkg.sub.c.fc", "pkg.sub.c:fc") is None  # a submodule's own


# funcy's shape: submodules with a literal `__all__`, a package that star-imports them and computes
# its own `__all__` from theirs through sys.modules, tests that star-import one submodule each.
EXPORTING = {
    "pkg/__init__.py": "import sys\n\nfrom .colls import *\nfrom .seqs import *\n\n"
                       "__all__ = [n for m in ('colls', 'seqs') for n in sys.modules['pkg.' + m].__all__]\n",
    "pkg/colls.py": "__all__ = ['merge']\n\n\ndef merge(a, b):\n    return {**a, **b}\n",
    "pkg/seqs.py": "__all__ = ['first', 'second']\n\n\ndef first(xs):\n    return xs[0]\n\n\n"
                   "def second(xs):\n    return xs[1]\n",
    "tests/test_colls.py": "from pkg.colls import *\n\n\ndef test():\n    assert merge({}, {}) == {}\n",
    "tests/test_seqs.py": "from pkg.seqs import *\n\n\ndef test():\n    assert first([1]) == 1\n",
    "tests/test_interface.py": "import pkg\n\n\ndef test():\n    assert len(pkg.__all__) == 3\n",
}


def test_a_function_added_to_a_module_and_its_all_reaches_only_tests_that_read_all_or_bind_it():
    added = {"pkg/colls.py": ("['merge']\n", "['merge', 'split']\n\n\ndef split(a):\n    return a, a\n")}
    # pytest looks at every name a test module binds, star-imported ones too: test_colls is reached.
    assert changed_units(EXPORTING, added) == {"tests/test_colls.py", "tests/test_interface.py"}
    # A name taken out of `__all__` is gone from every `from m import *` that used it.
    assert changed_units(EXPORTING, {"pkg/seqs.py": ("'first', ", "")}) == {"tests/test_seqs.py",
                                                                            "tests/test_interface.py"}
    # A test function that a star import brings in is collected by pytest: part of the skeleton.
    added_test = {"pkg/seqs.py": ("'second']", "'second', 'test_x']\n\n\ndef test_x():\n    pass\n")}
    assert changed_units(EXPORTING, added_test) == set(unit_fingerprints(EXPORTING))


def test_a_plain_function_added_or_its_signature_changed_reaches_only_code_that_refers_to_it():
    assert changed_units(REEXPORTING, {"pkg/a.py": ("def fa(x):", "def fz():\n    pass\n\n\ndef fa(x):")}) == set()
    assert changed_units(REEXPORTING, {"pkg/b.py": ("def fb(x):", "def fb(x, y=1):")}) == {"tests/test_b.py"}
    # A default that is evaluated at import (it may name nothing) is part of the skeleton.
    assert changed_units(REEXPORTING, {"pkg/b.py": ("def fb(x):", "def fb(x, y=Y):")}) == set(unit_fingerprints(REEXPORTING))
    # `from .b import fb` in pkg.a fails once fb is gone: every importer of pkg.a is reached.
    files = {**REEXPORTING, "pkg/a.py": "from .b import fb\n\n\n" + REEXPORTING["pkg/a.py"]}
    assert changed_units(files, {"pkg/b.py": ("def fb(x):", "def fc(x):")}) == set(unit_fingerprints(files))
    assert changed_units(REEXPORTING, {"pkg/b.py": ("def fb(x):", "def fc(x):")}) == {"tests/test_b.py"}


def test_a_constant_a_version_or_a_class_docstring_reaches_only_the_code_that_reads_it():
    files = {
        "pkg/__init__.py": "from .a import *\n\n__version__ = '1.0'\n",
        "pkg/a.py": "TIMEOUT = 60 * 5\nLIMIT = 3\nDOUBLE_LIMIT = LIMIT * 2\n\n\nclass Box:\n    \"\"\"A box.\"\"\"\n\n"
                    "    def size(self):\n        return TIMEOUT\n\n\ndef fa(x):\n    return x + 1\n",
        "pkg/tools.py": "import pkg.a as a\n\nCOPIES = 2\n\ndel a\n",
        "tests/test_a.py": "import pkg\n\n\ndef test_a():\n    assert pkg.fa(1) == 2\n",
        "tests/test_box.py": "from pkg import Box\n\n\ndef test_box():\n    assert Box().size() == 300\n",
        "tests/test_version.py": "import pkg\n\n\ndef test_version():\n    assert pkg.__version__ == '1.0'\n",
        "tests/test_tools.py": "from pkg.tools import COPIES\n\n\ndef test_tools():\n    assert COPIES == 2\n",
    }
    everything = set(unit_fingerprints(files))
    assert changed_units(files, {"pkg/__init__.py": ("'1.0'", "'1.1'")}) == {"tests/test_version.py"}
    assert changed_units(files, {"pkg/a.py": ("60 * 5", "60 * 6")}) == {"tests/test_box.py"}
    assert changed_units(files, {"pkg/a.py": ('"""A box."""', '"""A bigger box."""')}) == {"tests/test_box.py"}
    # `del a` uses nothing of the module: test_tools is not reached by what pkg.a defines.
    assert changed_units(files, {"pkg/a.py": ("x + 1", "x + 2")}) == {"tests/test_a.py"}
    # Module-level code that reads a constant makes it part of what importing runs (pkg.tools
    # imports pkg.a too).
    assert changed_units(files, {"pkg/a.py": ("LIMIT = 3", "LIMIT = 4")}) == everything
    # A name bound twice, or computed by a call, is part of what importing runs.
    assert changed_units(files, {"pkg/a.py": ("TIMEOUT = 60 * 5", "TIMEOUT = 1\nTIMEOUT = 60 * 5")}) == everything
    assert changed_units(files, {"pkg/a.py": ("TIMEOUT = 60 * 5", "TIMEOUT = int(60 * 5)")}) == everything


def test_code_that_reads_its_module_globals_reaches_every_name_in_the_module():
    files = {
        "pkg/__init__.py": "",
        "pkg/ops.py": "def double(x):\n    return 2 * x\n\n\ndef triple(x):\n    return 3 * x\n\n\n"
                      "def by_name(name, x):\n    return globals()[name](x)\n",
        "tests/test_by_name.py": "from pkg.ops import by_name\n\n\ndef test():\n    assert by_name('triple', 1) == 3\n",
        "tests/test_double.py": "from pkg.ops import double\n\n\ndef test():\n    assert double(1) == 2\n",
    }
    assert changed_units(files, {"pkg/ops.py": ("3 * x", "4 * x")}) == {"tests/test_by_name.py"}


# click's shape: a module that imports a heavy one only inside the functions that need it.
LAZY_IMPORT = {
    "pkg/__init__.py": "from .ui import page, size, setup\n",
    "pkg/ui.py": "def page(text):\n    from ._impl import Pager\n    return Pager().show(text)\n\n\n"
                 "def size():\n    return 2\n\n\ndef setup():\n    import pkg.plugin\n    return 1\n",
    "pkg/_impl.py": "MODE = str(1)\n\n\nclass Pager:\n    def show(self, text):\n        return MODE + text\n",
    "pkg/plugin.py": "import os\n\nos.environ['PKG_PLUGIN'] = str(1)\n",
    "tests/test_page.py": "import pkg\n\n\ndef test():\n    assert pkg.page('x') == '1x'\n",
    "tests/test_size.py": "import pkg\n\n\ndef test():\n    assert pkg.size() == 2\n",
    "tests/test_setup.py": "import os\n\nimport pkg\n\n\ndef test():\n    pkg.setup()\n"
                           "    assert os.environ['PKG_PLUGIN'] == '1'\n",
}


def test_what_a_function_imports_in_its_body_is_an_input_of_the_code_that_can_call_it_not_of_every_importer():
    assert changed_units(LAZY_IMPORT, {"pkg/_impl.py": ("str(1)", "str(2)")}) == {"tests/test_page.py"}
    # An import run for what importing does (its name unused) counts too.
    assert changed_units(LAZY_IMPORT, {"pkg/plugin.py": ("str(1)", "str(3)")}) == {"tests/test_setup.py"}
    # Imported at module level as well, even below the function that imports it: every importer.
    files = {**LAZY_IMPORT, "pkg/ui.py": LAZY_IMPORT["pkg/ui.py"] + "\n\nfrom . import _impl\n"}
    assert changed_units(files, {"pkg/_impl.py": ("str(1)", "str(2)")}) == set(unit_fingerprints(files))


# A class that names another in annotations only, and what only a type checker reads.
TYPED = {
    "pkg/__init__.py": "from .core import *\n",
    "pkg/core.py": "from __future__ import annotations\n\nimport typing as t\n\nif t.TYPE_CHECKING:\n"
                   "    from .heavy import Heavy\n\n\nclass Command:\n    def run(self):\n        return 1\n\n\n"
                   "class Group:\n    kind: Command | None = None\n\n"
                   "    def add(self, cmd: Command, extra: Heavy | None = None) -> Command:\n        return cmd\n\n\n"
                   "def double(x):\n    return 2 * x\n",
    "pkg/heavy.py": "class Heavy:\n    pass\n",
    "tests/test_command.py": "from pkg import Command\n\n\ndef test():\n    assert Command().run() == 1\n",
    "tests/test_double.py": "from pkg import double\n\n\ndef test():\n    assert double(1) == 2\n",
}


def test_names_module_level_code_only_annotates_reach_only_the_code_that_uses_them():
    everything = set(unit_fingerprints(TYPED))
    assert changed_units(TYPED, {"pkg/core.py": ("return 1", "return 3")}) == {"tests/test_command.py"}
    # Annotations Python evaluates at import are module-level code that names Command.
    eager = {**TYPED, "pkg/core.py": TYPED["pkg/core.py"].replace("from __future__ import annotations\n", "")
             .replace("Heavy | None", "'Heavy | None'")}
    assert changed_units(eager, {"pkg/core.py": ("return 1", "return 3")}) == everything
    # What only a type checker reads is not run.
    assert changed_units(TYPED, {"pkg/core.py": ("from .heavy import Heavy\n", "from .heavy import Heavy\n    X = 1\n")}) \
        == set()
    assert changed_units(TYPED, {"pkg/heavy.py": ("pass", "size = 1")}) == set()


def test_a_base_class_is_module_level_code_that_runs_what_its_metaclass_takes_from_it():
    # Enum's metaclass calls the base's `_generate_next_value_` when the subclass is created: an
    # inert-looking base still runs project code at import.
    files = {
        "pkg/__init__.py": "from .kinds import Kind, Color\n",
        "pkg/kinds.py": "import enum\n\n\nclass Kind(enum.Enum):\n"
                        "    def _generate_next_value_(name, start, count, last_values):\n        return name.lower()\n\n\n"
                        "class Color(Kind):\n    RED = enum.auto()\n",
        "tests/test_color.py": "from pkg import Color\n\n\ndef test():\n    assert Color.RED.value == 'red'\n",
        "tests/test_other.py": "import pkg\n\n\ndef test():\n    assert pkg\n",
    }
    assert changed_units(files, {"pkg/kinds.py": ("name.lower()", "name.upper()")}) == set(unit_fingerprints(files))
    # A subclass of a class with a hook: importing runs the hook's code.
    hooked = {**TYPED, "pkg/core.py": TYPED["pkg/core.py"].replace("class Group:", "class Group(Command):").replace(
        "class Command:\n", "class Command:\n    def __init_subclass__(cls):\n        cls.made = 1\n\n")}
    assert changed_units(hooked, {"pkg/core.py": ("cls.made = 1", "cls.made = 2")}) == set(unit_fingerprints(hooked))


@pytest.mark.parametrize("flag", [
    "TYPE_CHECKING = bool(1)\n\nif TYPE_CHECKING:",
    "from typing import TYPE_CHECKING\n\nTYPE_CHECKING = bool(1)\n\nif TYPE_CHECKING:",
    "from typing import TYPE_CHECKING\n\n\ndef enable():\n    global TYPE_CHECKING\n    TYPE_CHECKING = True\n\n\n"
    "if TYPE_CHECKING:",
])
def test_a_type_checking_flag_that_may_be_true_when_the_code_runs_is_module_level_code(flag: str):
    own = {**TYPED, "pkg/core.py": TYPED["pkg/core.py"].replace("if t.TYPE_CHECKING:", flag)}
    everything = set(unit_fingerprints(own))
    assert changed_units(own, {"pkg/core.py": ("from .heavy import Heavy\n", "from .heavy import Heavy\n    X = 1\n")}) \
        == everything
    # What the block imports is imported with the module.
    assert changed_units(own, {"pkg/heavy.py": ("pass", "size = 1")}) == everything


# ---------------------------------------------------------------------------------------------
# The generated programs. Every constant an edit may change is written «key» in the templates.

MODULES = 4


@dataclass
class Program:
    templates: dict[str, str] = field(default_factory=dict)
    constants: dict[str, int] = field(default_factory=dict)
    choices: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def const(self, key: str, rng: random.Random) -> str:
        self.constants[key] = rng.randint(1, 9)
        return f"«{key}»"

    def choice(self, key: str, rng: random.Random, options: list[str]) -> str:
        """Code that an edit of `key` switches between `options` (a structural edit); the first
        option, a program that imports, to begin with."""
        self.constants.setdefault(key, len(options) * rng.randint(1, 3))
        slot = f"{key}#{len(self.choices)}"
        self.choices[slot] = (key, options)
        return f"«{slot}»"

    def files(self) -> dict[str, str]:
        def value(match: re.Match) -> str:
            if match.group(1) in self.choices:
                key, options = self.choices[match.group(1)]
                return options[self.constants[key] % len(options)]
            return str(self.constants[match.group(1)])

        return {path: re.sub("«([^»]+)»", value, text) for path, text in self.templates.items()}


def _callee(rng: random.Random, i: int) -> tuple[str, str]:
    """An import line (may be empty) and a call expression on `x` of a function defined earlier."""
    j = rng.randrange(i) if i else 0
    func = f"f{j}_{0 if j == i else rng.randrange(2)}"
    style = rng.choice(["direct", "module", "package", "local", "method"] if j < i else ["same"])
    if style == "direct":
        return f"from pkg.m{j} import {func}\n", f"{func}(x)"
    if style == "module":
        return f"from pkg import m{j}\n", f"m{j}.{func}(x)"
    if style == "package":
        return "import pkg\n", f"pkg.{func}(x)"
    if style == "local":
        return "", f"_local_{func}(x)"  # imported inside the calling function
    if style == "method":
        return f"from pkg.m{j} import C{j}\n", f"C{j}().n(x)"
    return "", f"{func}(x)"


def _module(program: Program, rng: random.Random, i: int) -> str:
    imports: list[str] = []
    parts: list[str] = [f'"""Module {i}."""\n']
    locals_needed: list[str] = []

    def call() -> str:
        line, expr = _callee(rng, i)
        if line:
            imports.append(line)
        if expr.startswith("_local_"):
            locals_needed.append(expr.removeprefix("_local_").removesuffix("(x)"))
        return expr

    body = [f"K{i} = {program.const(f'm{i}.K', rng)}\n"]
    if i == 0:
        body.append(f"\n\ndef deco(fn):\n    def wrapper(x):\n        return fn(x) + {program.const('deco', rng)}\n"
                    "    return wrapper\n")
        # A registry that keeps what a decorator or a base's __init_subclass__ hands it: lookups
        # reach those definitions by a key, never by their names.
        body.append("\n\nREGISTRY = {}\n\n\ndef register(fn):\n    REGISTRY[fn.__name__] = fn\n    return fn\n\n\n"
                    "class Plugin:\n    def __init_subclass__(cls, **kwargs):\n        super().__init_subclass__(**kwargs)\n"
                    "        REGISTRY[cls.__name__] = cls\n\n\n"
                    "def lookup(name, x):\n    found = REGISTRY[name]\n"
                    "    return found().value(x) if isinstance(found, type) else found(x)\n")
        # A module only a function body imports (and a type checker), outside the package (whose
        # `__getattr__` may import any of its modules): its import-time code runs for the code
        # that calls the function.
        imports.append("import typing\n\nif typing.TYPE_CHECKING:\n    import lazymod\n")
        # Imported for what importing it does (it fills the registry), or for a name.
        body.append("\n\ndef uses_lazy(x):\n    " + program.choice("lazy.how", random.Random(-1), [
            "import lazymod\n\n    return x + REGISTRY['lazy']\n", "import lazymod as _\n\n    return x + REGISTRY['lazy']\n",
            "from lazymod import VALUE\n\n    return x + VALUE\n"]))
    body.append(f"\n\ndef f{i}_0(x):\n    # note {program.const(f'm{i}.note', rng)}\n"
                f"    return x + {program.const(f'm{i}.f0', rng)}\n")
    expr = call()
    if locals_needed:
        func = locals_needed.pop()
        j = func[1:].partition("_")[0]
        body.append(f"\n\ndef f{i}_1(x):\n    from pkg.m{j} import {func} as _local_{func}\n\n"
                    f"    return {expr} + {program.const(f'm{i}.f1', rng)}\n")
    else:
        body.append(f"\n\ndef f{i}_1(x):\n    return {expr} + {program.const(f'm{i}.f1', rng)}\n")
    base = f"C{i - 1}" if i and rng.random() < 0.6 else "object"
    if base != "object":
        imports.append(f"from pkg.m{i - 1} import C{i - 1}\n")
    method = (f"super().m(x) + {program.const(f'm{i}.cm', rng)}" if base != "object"
              else f"x * {program.const(f'm{i}.cm', rng)}")
    body.append(f"\n\nclass C{i}({base}):\n    KIND = {program.const(f'm{i}.kind', rng)}\n\n"
                f"    def m(self, x):\n        return {method}\n")
    if base == "object" or rng.random() < 0.5:  # otherwise `n` is inherited
        body.append(f"\n    def n(self, x):\n        return self.m(x) + self.KIND + {program.const(f'm{i}.cn', rng)}\n")
    if i:
        imports.append("from pkg.m0 import deco\n")
    body.append(f"\n\n@deco\ndef g{i}(x):\n    return f{i}_0(x) + {program.const(f'm{i}.g', rng)}\n")
    if i:
        imports.append("from pkg.m0 import Plugin, register\n")
    own = random.Random(i)  # the registry's constants leave the rest of the program as the seed made it
    body.append(f"\n\n@register\ndef reg{i}(x):\n    return x + {program.const(f'm{i}.reg', own)}\n\n\n"
                f"class Plug{i}(Plugin):\n    def value(self, x):\n        return x * {program.const(f'm{i}.plug', own)}\n")
    body.append(f"\n\ndef make{i}(k):\n    def inner(x):\n        return f{i}_1(x) + k\n\n    return inner\n\n\n"
                f"h{i} = make{i}({program.const(f'm{i}.closure', rng)})\n")
    body.append(f"\nTABLE{i} = [f{i}_0(k) for k in range(3)]\n\n\n"
                f"def uses_table{i}(x):\n    return x + TABLE{i}[1]\n")
    # Structural edits: a plain function renamed (its importers fail to import) or given a default
    # that names nothing; one defined after module-level code calls it; a name rebound by a def.
    name = program.choice(f"m{i}.pname", rng, [f"p{i}", f"p{i}_old"])
    default = program.choice(f"m{i}.pdefault", rng, ["0", "1", f"K{i}", "UNDEFINED"])
    body.append(f"\n\ndef {name}(x, y={default}):\n    return x + y\n")
    if i:
        imports.append(f"from pkg.m{i - 1} import p{i - 1}\n")
    body.append(f"\n\ndef via_p{i}(x):\n    return p{max(i - 1, 0)}(x) * 3\n")
    body.append("\n\n" + program.choice(f"m{i}.order", rng, [
        f"def r{i}(x):\n    return x + 1\n\n\nR{i} = r{i}(1)\n",
        f"R{i} = r{i}(1)\n\n\ndef r{i}(x):\n    return x + 1\n"]))
    body.append(program.choice(f"m{i}.extra", rng, [
        "", f"\n\ndef extra{i}(x):\n    return x\n", f"\n\ndef K{i}(x):\n    return x\n"]))
    return parts[0] + "".join(dict.fromkeys(imports)) + "".join(body)


ENTRIES = ["pkg.f{i}_0(3)", "pkg.f{i}_1(3)", "pkg.m{i}.C{i}().n(3)", "pkg.m{i}.C{i}().m(2)", "pkg.g{i}(1)",
           "pkg.h{i}(1)", "pkg.uses_table{i}(0)", "pkg.K{i}", "pkg.via_p{i}(1)", "pkg.R{i}"]


def generate(seed: int) -> Program:
    rng = random.Random(seed)
    program = Program()
    for i in range(MODULES):
        program.templates[f"pkg/m{i}.py"] = _module(program, rng, i)
    stars = "".join(f"from .m{i} import *\n" for i in range(MODULES))
    program.templates["pkg/__init__.py"] = (
        f"import importlib\n\n{stars}\n\ndef __getattr__(name):\n"
        f"    if name == '__version__':\n        return '1.{program.const('version', rng)}'\n"
        "    if name in ('extra',):\n        return importlib.import_module('.' + name, __name__)\n"
        "    raise AttributeError(name)\n")
    program.templates["pkg/extra.py"] = f"def e(x):\n    return x + {program.const('extra', rng)}\n"
    program.templates["lazymod.py"] = ("from pkg.m0 import REGISTRY\n\n"
                                      f"REGISTRY['lazy'] = {program.const('lazy', random.Random(-1))}\n"
                                      "VALUE = REGISTRY['lazy']\n")
    program.templates["tests/test_lazy.py"] = "import pkg\n\n\ndef test_lazy():\n    assert pkg.uses_lazy(1) % 2 == 0\n"
    entries = [e.format(i=i) for i in range(MODULES) for e in ENTRIES] + ["pkg.extra.e(1)", "len(pkg.__version__)"]
    for t in range(6):
        chosen = rng.sample(entries, 3)
        tests = "".join(f"\n\ndef test_{n}():\n    assert ({entry}) % 2 == 0\n" for n, entry in enumerate(chosen))
        program.templates[f"tests/test_t{t}.py"] = "import pkg\n" + tests
    lookups = "".join(f"\n\ndef test_{kind}{i}():\n    assert pkg.lookup('{name}{i}', 1) % 2 == 0\n"
                      for i in range(MODULES) for kind, name in (("reg", "reg"), ("plug", "Plug")))
    program.templates["tests/test_registry.py"] = "import pkg\n" + lookups
    return program


def outcomes(root: Path) -> dict[str, str]:
    """Each test node's outcome in a real pytest run of the project."""
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "tests"],
                         cwd=root, capture_output=True, text=True, timeout=120)
    result = {node: outcome for outcome, node in re.findall(r"^(PASSED|FAILED|ERROR) (\S+)", run.stdout, re.M)}
    assert result, run.stdout + run.stderr
    return result


def check_edits(root: Path, program: Program, edits: Iterable[tuple[str, int]], label: str) -> None:
    """Applies each edit (a constant or choice `key`, and how much to add to it) to the program
    and runs its tests for real: every test whose outcome an edit changes must be in a file whose
    fingerprint changed; comment edits and adding or removing a function nothing uses select none."""
    write_files(root, program.files())
    before, prints = outcomes(root), unit_fingerprints(program.files())
    for step, (key, delta) in enumerate(edits):
        was = program.constants[key]
        program.constants[key] += delta
        files = program.files()
        write_files(root, files)
        after, new_prints = outcomes(root), unit_fingerprints(files)
        selected = {t for t in new_prints if new_prints[t] != prints[t]}
        flipped = {node for node in after if after[node] != before.get(node)}
        missed = {node for node in flipped if node.partition("::")[0] not in selected}
        assert not missed, f"{label} step {step}: {key} changed; {sorted(missed)} changed outcome, " \
                           f"selected only {sorted(selected)}\n" + "\n".join(f"--- {p}\n{files[p]}" for p in sorted(files))
        if key.endswith(".note"):
            assert not selected, f"a comment edit ({key}) selected {sorted(selected)}"
        if key.endswith(".extra") and {was % 3, program.constants[key] % 3} == {0, 1}:
            # Code that uses the module as a whole (a lazy package's `__getattr__` may hand it out)
            # uses every name in it.
            units, module = unit_graph_of(files), "pkg." + key.partition(".")[0]
            naming = {t for t in selected if whole_node(module) not in units.reached(t)}
            assert not naming, f"adding or removing a function nothing uses selected {sorted(naming)}"
        before, prints = after, new_prints


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_test_whose_outcome_an_edit_changes_is_in_a_file_whose_fingerprint_changed(tmp_path: Path, seed: int):
    program = generate(seed)
    rng = random.Random(seed * 1000)
    structural = sorted({key for key, _ in program.choices.values()})

    def edits() -> Iterator[tuple[str, int]]:
        for _ in range(12):
            yield rng.choice(structural if rng.random() < 0.5 else sorted(program.constants)), rng.choice([1, 2, 3])

    check_edits(tmp_path, program, edits(), f"seed {seed}")


def test_each_structural_edit_reaches_every_test_it_breaks(tmp_path: Path):
    """Each kind of structural edit, one after the other and undone: a plain function that other
    modules import renamed, given a default that names nothing, defined after module-level code
    that calls it; a function added that nothing uses; a variable rebound by a function; and the
    bodies of what a registry keeps (a decorated function, a class a base's __init_subclass__
    registers), which tests look up by key; what importing a module only a function body imports
    runs, with each way of importing it."""
    program = generate(1)
    edits = [("m1.pname", 1), ("m1.pname", 1), ("m0.pdefault", 3), ("m0.pdefault", 1), ("m2.order", 1),
             ("m2.order", 1), ("m3.extra", 1), ("m3.extra", 1), ("m3.extra", 1), ("m2.pdefault", 2),
             ("m2.pdefault", 2), ("m1.reg", 1), ("m2.plug", 1), ("m0.reg", 1), ("m3.plug", 1),
             ("lazy", 1), ("lazy.how", 1), ("lazy", 1), ("lazy.how", 1), ("lazy", 1)]
    check_edits(tmp_path, program, edits, "scripted")
