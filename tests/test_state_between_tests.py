"""State that crosses test files in one pytest process: what one file's tests (or its import)
leave behind, another file's tests read. Real doit runs in real projects, each step compared with
plain pytest on the same tree: doit is never green where plain pytest is red. What ran before a
test counts for it only from the tests whose runs included a body that may leave state behind
(analyzers/state_writes.py), and a test module whose import changes other modules' state counts
for every test file (analyzers/import_effects.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import doit_tests, git_init, run_doit, write_files


def project(root: Path, files: dict[str, str], table: str = "") -> Path:
    root = root / "p"  # the shared cache is in tmp_path
    write_files(root, {
        "dodo.py": "from doit_scout.dodo import *\n",
        "pyproject.toml": f'[project]\nname = "p"\nversion = "0"\n\n[tool.pytest.ini_options]\n'
                          f'testpaths = ["tests"]\naddopts = "-p no:randomly"\n{table}',
        "tests/conftest.py": "",
        "pkg/__init__.py": "",
        **files,
    })
    git_init(root)
    return root


def step(root: Path) -> tuple[bool, bool]:
    """One doit run and one plain pytest run of the same tree: (doit green, pytest green)."""
    doit = run_doit(root)
    plain = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert plain.returncode == 0 or doit.returncode != 0, f"false green:\n{doit.stdout}{doit.stderr}\n{plain.stdout}"
    return doit.returncode == 0, plain.returncode == 0


def traced(root: Path) -> None:
    """Every file runs again (a conftest.py edit is every test's input)."""
    conftest = root / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text() + "AGAIN = True\n")  # code: a comment is none


def edit(root: Path, path: str, old: str, new: str) -> None:
    text = (root / path).read_text()
    assert old in text
    (root / path).write_text(text.replace(old, new))


def test_a_module_level_dict_one_file_fills_and_another_reads(tmp_path: Path):
    root = project(tmp_path, {
        "pkg/m.py": "registry = {}\n\n\ndef fill():\n    registry['x'] = 1\n",
        "tests/test_a.py": "from pkg import m\n\n\ndef test_a():\n    m.fill()\n    assert m.registry\n",
        "tests/test_b.py": "from pkg import m\n\n\ndef test_b():\n    assert m.registry.get('x') == 1\n",
    })
    assert step(root) == (True, True)  # test_b passes because test_a ran first, as in plain pytest
    traced(root)
    assert step(root) == (True, True)
    edit(root, "pkg/m.py", "registry['x'] = 1", "registry['x'] = 2")
    assert step(root) == (False, False)


def test_a_generator_made_in_one_file_and_consumed_in_a_later_one(tmp_path: Path):
    root = project(tmp_path, {
        "pkg/m.py": "STREAMS = {}\n\n\ndef numbers():\n    yield 1\n    yield 2\n",
        "tests/test_a.py": "from pkg import m\n\n\ndef test_a():\n    m.STREAMS['s'] = m.numbers()\n"
                           "    assert next(m.STREAMS['s']) == 1\n",
        "tests/test_b.py": "from pkg import m\n\n\ndef test_b():\n    assert next(m.STREAMS['s']) == 2\n",
    })
    assert step(root) == (True, True)
    traced(root)
    assert step(root) == (True, True)
    edit(root, "pkg/m.py", "yield 2", "yield 3")
    assert step(root) == (False, False)


def test_a_function_object_handed_over_in_a_dict(tmp_path: Path):
    root = project(tmp_path, {
        "pkg/m.py": "HANDLERS = {'h': lambda x: x}\n\n\ndef make():\n    return lambda x: 2 * x\n",
        "tests/test_a.py": "from pkg import m\n\n\ndef test_a():\n    m.HANDLERS['h'] = m.make()\n",
        "tests/test_b.py": "from pkg import m\n\n\ndef test_b():\n    assert m.HANDLERS['h'](2) == 4\n",
    })
    assert step(root) == (True, True)
    traced(root)
    assert step(root) == (True, True)
    edit(root, "pkg/m.py", "2 * x", "3 * x")
    assert step(root) == (False, False)


def test_a_daemon_thread_that_finishes_after_its_own_test(tmp_path: Path):
    root = project(tmp_path, {
        "pkg/m.py": "import threading\n\nSTATE = {}\nGO = threading.Event()\nDONE = threading.Event()\n"
                    "STARTED = []\n\n\ndef value():\n    return 1\n\n\n"
                    "def later():\n    GO.wait()\n    STATE['v'] = value()\n    DONE.set()\n",
        "tests/test_a.py": "import threading\n\nfrom pkg import m\n\n\ndef test_a():\n    m.STARTED.append(1)\n"
                           "    threading.Thread(target=m.later, daemon=True).start()\n",
        "tests/test_b.py": "from pkg import m\n\n\ndef test_b():\n    assert m.STARTED, 'test_a started the thread'\n"
                           "    m.GO.set()\n    assert m.DONE.wait(60)\n    assert m.STATE['v'] == 1\n",
    })
    assert step(root) == (True, True)
    traced(root)
    assert step(root) == (True, True)
    edit(root, "pkg/m.py", "return 1", "return 2")
    assert step(root) == (False, False)


def test_an_lru_cache_warmed_by_another_file_s_test(tmp_path: Path):
    root = project(tmp_path, {
        "pkg/m.py": "import functools\n\nFACTOR = 2\n\n\n@functools.lru_cache\ndef rate(x):\n    return FACTOR * x\n",
        "tests/test_a.py": "from pkg import m\n\n\ndef test_a():\n    assert m.rate(1) == 2\n",
        "tests/test_b.py": "from pkg import m\n\n\ndef test_b(monkeypatch):\n    monkeypatch.setattr(m, 'FACTOR', 3)\n"
                           "    assert m.rate(1) == 2  # test_a's answer, from the memo\n",
    })
    assert step(root) == (True, True)
    traced(root)
    assert step(root) == (True, True)
    edit(root, "pkg/m.py", "FACTOR * x", "FACTOR * x + 1")
    assert step(root) == (False, False)


@pytest.mark.parametrize("change", ["edited", "renamed"])
def test_import_time_side_effects_of_a_test_module_that_is_no_longer_collected(tmp_path: Path, change: str):
    root = project(tmp_path, {
        "pkg/m.py": "registry = {}\n",
        "tests/test_a.py": "from pkg import m\n\nm.registry['x'] = 1\n\n\ndef test_a():\n    pass\n",
        "tests/test_b.py": "from pkg import m\n\n\ndef test_b():\n    assert m.registry.get('x') == 1\n",
    })
    assert step(root) == (True, True)  # collecting test_a filled the registry before any test ran
    traced(root)
    assert step(root) == (True, True)
    if change == "edited":
        edit(root, "tests/test_a.py", "m.registry['x'] = 1", "pass")
    else:
        (root / "tests" / "test_a.py").rename(root / "tests" / "helper_a.py")
    assert step(root) == (False, False)


OPS = {
    "pkg/ops.py": "def f():\n    return 1\n\n\ndef g():\n    return 2\n\n\n"
                  "def dispatch(name):\n    return {'f': f, 'g': g}[name]()\n",
    "tests/test_f.py": "from pkg import ops\n\n\ndef test_f():\n    assert ops.dispatch('f') == 1\n",
    "tests/test_g.py": "from pkg import ops\n\n\ndef test_g():\n    assert ops.dispatch('g') == 2\n",
}


def test_an_edit_of_a_body_an_earlier_file_ran_and_kept_nowhere_runs_only_the_file_that_ran_it(tmp_path: Path):
    root = project(tmp_path, OPS, "\n[tool.scout.test]\nworkers = 1\n")
    assert step(root) == (True, True)
    edit(root, "pkg/ops.py", "return 1", "return 0 + 1")
    assert sorted(doit_tests(root)[1]["selected"]) == ["tests/test_f.py"]  # test_g runs after it, and can name f
