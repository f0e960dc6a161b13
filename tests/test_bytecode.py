"""Which .pyc files are discarded before project code runs: only those Python could load in
place of a source's current content (the end-to-end false green is in test_false_greens.py)."""

from __future__ import annotations

import importlib.util
import os
import py_compile
from pathlib import Path

from doit_scout.bytecode import discard_stale_bytecode

SECOND = 1_700_000_000 * 1_000_000_000


def compiled(root: Path, rel: str, text: str, *, source_ns: int, pyc_ns: int,
             mode: py_compile.PycInvalidationMode = py_compile.PycInvalidationMode.TIMESTAMP) -> Path:
    source = root / rel
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(text)
    os.utime(source, ns=(source_ns, source_ns))
    pyc = Path(importlib.util.cache_from_source(str(source)))
    py_compile.compile(str(source), cfile=str(pyc), doraise=True, invalidation_mode=mode)
    os.utime(pyc, ns=(pyc_ns, pyc_ns))
    return pyc


def test_bytecode_of_an_edit_in_the_same_second_at_the_same_size_goes(tmp_path: Path):
    pyc = compiled(tmp_path, "pkg/mod.py", "X = 1\n", source_ns=SECOND, pyc_ns=SECOND + 10**8)
    (tmp_path / "pkg/mod.py").write_text("X = 2\n")
    os.utime(tmp_path / "pkg/mod.py", ns=(SECOND + 5 * 10**8,) * 2)
    assert discard_stale_bytecode(tmp_path, ["pkg/mod.py"]) == ["pkg/mod.py"]
    assert not pyc.exists()


def test_bytecode_written_well_after_its_source_stays(tmp_path: Path):
    pyc = compiled(tmp_path, "mod.py", "X = 1\n", source_ns=SECOND, pyc_ns=SECOND + 60 * 10**9)
    assert discard_stale_bytecode(tmp_path, ["mod.py"]) == []
    assert pyc.exists()


def test_bytecode_python_would_reject_stays(tmp_path: Path):
    """Another size, or a hash-based .pyc: Python checks those itself."""
    resized = compiled(tmp_path, "a.py", "X = 1\n", source_ns=SECOND, pyc_ns=SECOND)
    (tmp_path / "a.py").write_text("X = 10\n")
    os.utime(tmp_path / "a.py", ns=(SECOND,) * 2)
    hashed = compiled(tmp_path, "b.py", "X = 1\n", source_ns=SECOND, pyc_ns=SECOND,
                      mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    assert discard_stale_bytecode(tmp_path, ["a.py", "b.py", "data.txt"]) == []
    assert resized.exists() and hashed.exists()
