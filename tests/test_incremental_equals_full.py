"""The Scout state after any sequence of edits equals the state built from scratch."""

import shutil
import tempfile
from pathlib import Path

from helpers import age_files, scout, write_files
from hypothesis import given, settings
from hypothesis import strategies as st

MODULES = ["pkg/a.py", "pkg/b.py", "pkg/sub/c.py", "pkg/sub/d.py", "tests/test_a.py", "tests/test_b.py",
           "tests/helpers.py", "tests/conftest.py"]
IMPORTABLE = ["pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c", "pkg.sub.d", "helpers", "pkg.gone"]
INITS = ["pkg/sub/__init__.py", "pkg/__init__.py"]
DATA = ["pkg/table.csv", "pkg/sub/notes.txt", "tests/data/case.json"]

write_op = st.tuples(
    st.just("write"), st.sampled_from(MODULES), st.lists(st.sampled_from(IMPORTABLE), max_size=3),
    st.sampled_from(["", "from . import a\n", "from .. import b\n", "if TYPE_CHECKING:\n    import pkg.b\n"]),
)
operations = st.one_of(
    write_op,
    st.tuples(st.just("delete"), st.sampled_from(MODULES + INITS + DATA)),
    st.tuples(st.just("data"), st.sampled_from(DATA), st.text(max_size=3)),
    st.tuples(st.just("rename"), st.sampled_from(MODULES), st.sampled_from(MODULES)),
    st.tuples(st.just("break"), st.sampled_from(MODULES)),
    st.tuples(st.just("init"), st.sampled_from(INITS)),
    st.tuples(st.just("docs"), st.text(max_size=5)),
)


def apply(root: Path, op: tuple) -> None:
    kind, *args = op
    if kind == "write":
        path, imports, extra = args
        write_files(root, {path: "".join(f"import {m}\n" for m in imports) + extra})
    elif kind == "delete":
        (root / args[0]).unlink(missing_ok=True)
    elif kind == "rename":
        source, target = (root / args[0]), (root / args[1])
        if source.exists() and source != target:
            target.parent.mkdir(parents=True, exist_ok=True)
            source.rename(target)
    elif kind == "break":
        write_files(root, {args[0]: "def broken(:\n"})
    elif kind == "init":
        write_files(root, {args[0]: ""})
    elif kind == "data":
        write_files(root, {args[0]: args[1]})
    elif kind == "docs":
        write_files(root, {"README.md": args[0]})


def full_scout_facts(root: Path, scratch: Path) -> dict:
    fresh = scratch / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(root, fresh, ignore=shutil.ignore_patterns(".scout"))
    return scout(fresh).state.facts()


@settings(max_examples=40, deadline=None)
@given(st.lists(operations, min_size=1, max_size=8))
def test_incremental_scout_equals_scout_from_scratch(ops):
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        root = scratch / "project"
        write_files(root, {
            "pyproject.toml": "", "pkg/__init__.py": "", "pkg/sub/__init__.py": "",
            "pkg/a.py": "import pkg.b\n", "pkg/b.py": "", "pkg/sub/c.py": "from pkg.sub import d\n",
            "pkg/sub/d.py": "from .. import a\n", "tests/test_a.py": "import pkg.a\nimport helpers\n",
            "tests/helpers.py": "", "tests/conftest.py": "",
        })
        age_files(root)
        scout(root)
        for op in ops:
            apply(root, op)
            age_files(root)  # old mtimes: the stat cache is trusted wherever the stat is unchanged
            incremental = scout(root).state.facts()
            assert incremental == full_scout_facts(root, scratch), op
