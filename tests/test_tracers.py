"""The two probes of doit_scout.probes (the C profile function and the Python trace function):
the C one runs where it is built, DOIT_SCOUT_TRACER chooses, and both record the same function
bodies. Real doit runs and real pytest processes with doit-scout's plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import doit_tests, git_init, run_doit, write_files

PROJECT = {
    "dodo.py": "from doit_scout.dodo import *\n",
    "pyproject.toml": '[project]\nname = "p"\nversion = "0"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
                      'addopts = "-p no:randomly"\n',
    "pkg/__init__.py": "import os\n\nfrom .ops import Acc, compute, count, threaded\n\nMODE = os.environ.get('PKG_MODE', 'a')\n",
    "pkg/ops.py": """\
import _thread
import os
import threading


def _double(n):
    return n * 2


class Acc:
    def __init__(self):
        self.total = 0

    def push(self, v):
        self.total += _double(v)
        return self


def count(n):
    for i in range(n):
        yield _step(i)


def _step(i):
    return i


def compute(n):
    return sum(count(n)) + _late()


def _late():
    return 0


def _in_thread(out):
    out.append(_double(1))


def _in_raw_thread(out, done):
    out.append(_double(2))
    done.release()


def threaded():
    out = []
    thread = threading.Thread(target=_in_thread, args=(out,))
    thread.start()
    thread.join()
    done = _thread.allocate_lock()
    done.acquire()
    _thread.start_new_thread(_in_raw_thread, (out, done))
    done.acquire()
    return sorted(out) + [os.environ.get("PKG_LIMIT", "")]
""",
    "tests/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef acc():\n    from pkg import Acc\n    return Acc().push(1)\n",
    "tests/test_a.py": "import pkg\n\n\ndef test_a(acc):\n    assert acc.push(2).total == 6\n\n\n"
                       "def test_gen():\n    gen = pkg.count(3)\n    next(gen)\n    assert list(gen) == [1, 2]\n",
    "tests/test_b.py": "import pkg\n\n\ndef test_b():\n    assert pkg.compute(3) == 3\n    assert pkg.threaded()[:2] == [2, 4]\n",
    # generators resumed with an exception (close, throw), one of them the environment's own
    "tests/test_c.py": """\
import os

import pkg
import pytest

LATER = pkg.count(3)
next(LATER)


def test_closed():
    names = iter(os.environ)
    next(names)
    names.close()
    LATER.close()


def test_thrown():
    gen = pkg.count(3)
    next(gen)
    with pytest.raises(KeyError):
        gen.throw(KeyError("k"))
""",
}


def built() -> bool:
    try:
        import doit_scout._ctracer  # noqa: F401
    except ImportError:
        return False
    return True


def traced_run(root: Path, monkeypatch: pytest.MonkeyPatch, tracer: str | None) -> dict:
    """A doit run that records every test (tests/conftest.py, every test's input, changed since
    the first run, which is not recorded), with DOIT_SCOUT_TRACER as given; its last-run.json."""
    if tracer is None:
        monkeypatch.delenv("DOIT_SCOUT_TRACER", raising=False)
    else:
        monkeypatch.setenv("DOIT_SCOUT_TRACER", tracer)
    conftest = root / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text() + "EDITED = True\n")  # code: a comment is none
    return doit_tests(root)[1]


def test_the_c_tracer_records_where_it_is_built_and_the_python_one_when_asked(tmp_path: Path, monkeypatch):
    write_files(tmp_path, PROJECT)
    git_init(tmp_path)
    # With the frame evaluator every run records, a first one too; with other probes it does not.
    first = "c" if built() and sys.version_info[:2] == (3, 11) and os.environ.get("DOIT_SCOUT_TRACER", "c") == "c" else None
    assert doit_tests(tmp_path)[1]["tracer"] == first
    assert traced_run(tmp_path, monkeypatch, None)["tracer"] == ("c" if built() else "python")
    assert traced_run(tmp_path, monkeypatch, "python")["tracer"] == "python"
    if built():
        assert traced_run(tmp_path, monkeypatch, "c")["tracer"] == "c"
        assert traced_run(tmp_path, monkeypatch, "c-profile")["tracer"] == "c-profile"


def test_a_run_with_no_record_runs_untraced_and_its_outcomes_stick(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DOIT_SCOUT_TRACER", raising=False)  # the tracer doit chooses (CI's second pass sets one)
    write_files(tmp_path, PROJECT)
    git_init(tmp_path)
    first = doit_tests(tmp_path, "test", "--no-record")[1]
    assert first["tracer"] is None and first["tests_run"] == 5
    assert run_doit(tmp_path, "explain", "--json").stdout.count('"decision": "skip"') == 3  # its greens hold
    conftest = tmp_path / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text() + "EDITED = True\n")  # code: a comment is none
    assert doit_tests(tmp_path)[1]["tracer"] == ("c" if built() else "python")  # the next run records


def test_a_tracer_that_is_not_one_is_named(tmp_path: Path, monkeypatch):
    write_files(tmp_path, PROJECT)
    git_init(tmp_path)
    doit_tests(tmp_path)
    monkeypatch.setenv("DOIT_SCOUT_TRACER", "fast")
    conftest = tmp_path / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text() + "EDITED = True\n")  # code: a comment is none
    output, _ = doit_tests(tmp_path, ok=False)
    assert "DOIT_SCOUT_TRACER='fast' is not a tracer: use c or python" in output


def recorded(root: Path, tracer: str) -> dict[str, list[str]]:
    """What a pytest process with doit-scout's plugin recorded, per test file and for the session."""
    folder = root / f"report-{tracer}"
    folder.mkdir()
    env = {**os.environ, "DOIT_SCOUT_TRACE": "1", "DOIT_SCOUT_TRACER": tracer, "PKG_LIMIT": "7"}
    # a callback into Python with the exception of a throw() still set would be an unraisable error
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-W", "error::pytest.PytestUnraisableExceptionWarning",
                    "-p", "doit_scout.pytest_plugin", f"--scout-dir={folder}",
                    f"--scout-root={root}"], cwd=root, env=env, check=True, capture_output=True, timeout=120)
    found: dict[str, list[str]] = {}
    for line in (folder / "main.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["event"] in ("executed", "executed_session"):
            assert event["broken"] is None
            found[event.get("path") or "<session>"] = event["code"]
    return found


@pytest.mark.skipif(not built(), reason="doit_scout._ctracer is not built here")
@pytest.mark.parametrize("c_tracer", ["c", "c-profile"])  # the frame evaluator (3.11), the profile function
def test_both_tracers_record_the_same_function_bodies(tmp_path: Path, c_tracer: str):
    write_files(tmp_path, PROJECT)
    c, python = recorded(tmp_path, c_tracer), recorded(tmp_path, "python")
    assert c == python
    assert {"pkg/ops.py::_step", "pkg/ops.py::_late", "pkg/ops.py::_in_thread", "pkg/ops.py::_in_raw_thread",
            "<environ>::PKG_LIMIT", "tests/conftest.py::acc", "pkg/ops.py::Acc.push"} <= set(c["tests/test_b.py"]) \
        | set(c["tests/test_a.py"])
    assert "pkg/ops.py::_in_thread" in c["tests/test_b.py"] and "pkg/ops.py::_step" in c["tests/test_a.py"]
    assert "<environ>::PKG_MODE" in c["<session>"]  # read at import
