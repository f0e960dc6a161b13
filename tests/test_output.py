"""What doit-scout prints: real doit runs in temp projects, and the scout summary's two modes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from helpers import TODO_TESTS, git_init, run_doit, scout, write_files
from rich.console import Console

from doit_scout.report import print_scout_summary, scout_warnings
from doit_scout.shared_cache import RunCounts


def run_piped(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """doit with its stdout a pipe and no COLUMNS, as in `doit cache stats | cat`."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "doit", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, timeout=120)


def new_project(root: Path, files: dict[str, str]) -> Path:
    write_files(root, {"pyproject.toml": "[project]\nname = 'proj'\n", "dodo.py": "from doit_scout.dodo import *\n",
                       **files})
    git_init(root)
    return root


def summary_lines(stdout: str, label: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(f"{label:<11}")]


def failures(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("✗ ")]


IDS = ["/usr/bin", "bold", "a", "b"]
PARAMETRIZED = f"""
    import pytest

    @pytest.mark.parametrize("p", {IDS!r})
    def test_x(p):
        assert p == "nope"
"""


def test_failing_node_ids_are_printed_verbatim_by_the_run_and_by_explain(tmp_path: Path):
    root = new_project(tmp_path / "proj", {"tests/test_x.py": PARAMETRIZED})
    result = run_doit(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert failures(result.stdout) == [f"✗ tests/test_x.py::test_x[{i}]" for i in sorted(IDS)]
    explained = run_piped(root, "explain")
    assert explained.returncode == 0, explained.stderr  # a closing tag `[/usr/bin]` crashed rich here
    nodes = ", ".join(f"tests/test_x.py::test_x[{i}]" for i in sorted(IDS))
    assert f"previously failed: {nodes}" in explained.stdout  # `[a]` and `[b]` were swallowed as tags


def test_the_failure_list_is_capped(tmp_path: Path):
    test = "import pytest\n\n@pytest.mark.parametrize('n', range(250))\ndef test_n(n):\n    assert n < 0\n"
    root = new_project(tmp_path / "proj", {"tests/test_many.py": test})
    result = run_doit(root)
    assert result.returncode == 1
    shown = failures(result.stdout)
    assert len(shown) == 21 and shown[-1] == "✗ and 230 more (.scout/last-run.json lists them all)", shown
    assert len(json.loads((root / ".scout" / "last-run.json").read_text())["tests"]["failed"]) == 250


OUTCOMES = """
    import time
    import warnings

    import pytest

    @pytest.fixture
    def broken():
        raise RuntimeError("setup fails")

    def test_passes():
        warnings.warn("a warning pytest counts", UserWarning)

    def test_fails():
        assert False

    def test_errors(broken):
        pass

    def test_skips():
        pytest.skip("not here")

    @pytest.mark.xfail(reason="known")
    def test_xfails():
        assert False

    @pytest.mark.xfail(reason="fixed since")
    def test_xpasses():
        pass
"""
SLOW = "import time\n\ndef test_slow():\n    time.sleep(0.3)\n"


def test_the_summary_counts_tests_in_pytest_words_and_files_served_from_records(tmp_path: Path):
    root = new_project(tmp_path / "proj", {"tests/test_outcomes.py": OUTCOMES, "tests/test_slow.py": SLOW})
    first = run_doit(root)
    assert first.returncode == 1, first.stdout + first.stderr
    assert summary_lines(first.stdout, "tests") == [
        "tests      2 of 2 files selected · 2 passed, 1 failed, 1 error, 1 skipped, 1 xfailed, "
        "1 xpassed, 1 warning · 0 files served from records · one process"], first.stdout
    counts = json.loads((root / ".scout" / "last-run.json").read_text())["tests"]["counts"]
    assert counts == {"passed": 2, "failed": 1, "errors": 1, "skipped": 1, "xfailed": 1, "xpassed": 1,
                      "deselected": 0, "warnings": 1}
    second = run_doit(root)  # the failed and errored nodes run again, alone; test_slow.py is served
    line = summary_lines(second.stdout, "tests")[0]
    # pytest's own line counts the passing nodes of the file that doit-scout's re-run deselected
    assert re.fullmatch(r"tests      2 of 7 tests in 1 of 2 files selected · 1 failed, 1 error, 4 deselected · "
                        r"1 file served from records \(about 0\.[3-9] s saved\) · one process", line), line


def test_xdist_counts_every_worker_s_warnings_once(tmp_path: Path):
    tests = {f"tests/test_w{i}.py": "import warnings\n\ndef test_w():\n    warnings.warn('w', UserWarning)\n"
             for i in range(4)}
    root = new_project(tmp_path / "proj", {**tests, "pyproject.toml": "[project]\nname = 'proj'\n\n"
                                           "[tool.scout.test]\nworkers = 2\n"})
    result = run_doit(root)
    assert result.returncode == 0, result.stdout + result.stderr
    line = summary_lines(result.stdout, "tests")[0]
    assert line == "tests      4 of 4 files selected · 4 passed, 4 warnings · 0 files served from records · " \
                   "xdist 2 workers", line


def scout_output(root: Path, **kwargs) -> list[str]:
    console = Console(record=True, width=200, highlight=False)
    print_scout_summary(scout(root), RunCounts(), console, **kwargs)
    return console.export_text().splitlines()


def test_the_scout_says_one_line_unless_asked_for_details(todo_app: Path):
    default = scout_output(todo_app)
    assert len(default) == 1 and re.fullmatch(
        r"scout      23 files · 18 modules · first scout: everything is new · \d+\.\d\d s", default[0]), default
    details = scout_output(todo_app, details=True)
    assert details[0].startswith("scout      23 files · 18 modules · nothing since the last scout · ")
    assert [line.split()[0] for line in details] == ["scout", "layout", "categories", "graph", "parsing", "cache"]
    assert "layout     23 files from git · packages todo · test folders tests" in details
    assert "categories source 12 · test 5 · conftest 1 · config 2 · docs 1 · data 1 · other 1" in details
    assert "parsing    0 parsed · 0 from the parse cache · 0 files read" in details


def test_doit_prints_one_scout_line_by_default(todo_app: Path):
    result = run_doit(todo_app)
    assert result.returncode == 0, result.stdout + result.stderr
    scout_part = result.stdout.split(".  scout\n")[1].split(".  build:")[0]
    assert len(scout_part.splitlines()) == 1 and scout_part.startswith("scout      23 files · 18 modules · "), scout_part


RECURRING = {
    "pkg/__init__.py": "",
    "pkg/compat.py": "try:\n    import not_installed_here\nexcept ImportError:\n    not_installed_here = None\n",
    "tests/data/broken_on_purpose.py": "def parse(:\n",
    "tests/test_compat.py": "import pkg.compat\n\ndef test_compat():\n    assert pkg.compat\n",
}


def test_recurring_warnings_are_printed_when_what_they_say_changes(tmp_path: Path):
    root = new_project(tmp_path / "proj", RECURRING)
    first = run_doit(root)
    assert first.returncode == 0, first.stdout + first.stderr
    warned = [line for line in first.stdout.splitlines() if line.startswith("! ")]
    assert any("tests/data/broken_on_purpose.py: syntax error" in w for w in warned), first.stdout
    assert any("resolve to no file" in w and "not_installed_here" in w for w in warned), first.stdout
    second = run_doit(root)
    assert not [line for line in second.stdout.splitlines() if line.startswith("! ")], second.stdout
    assert "· 2 warnings as before (`doit scout` lists them)" in summary_lines(second.stdout, "scout")[0]
    write_files(root, {"pkg/compat.py": RECURRING["pkg/compat.py"] + "try:\n    import also_missing\n"
                                                                      "except ImportError:\n    pass\n"})
    third = run_doit(root)
    warned = [line for line in third.stdout.splitlines() if line.startswith("! ")]
    assert len(warned) == 1 and "also_missing, not_installed_here" in warned[0], third.stdout
    assert "· 1 warning as before" in summary_lines(third.stdout, "scout")[0]


def test_details_print_every_warning(tmp_path: Path):
    root = new_project(tmp_path / "proj", RECURRING)
    run = scout(root)
    warnings = scout_warnings(run)
    assert len(warnings) == 2
    everything = scout_output(root, details=True, shown_before=warnings)
    assert sum(line.startswith("! ") for line in everything) == 2
    quiet = scout_output(root, shown_before=warnings)
    assert len(quiet) == 1 and quiet[0].endswith("· 2 warnings as before (`doit scout` lists them)")


def test_cache_stats_piped_prints_whole_cells(todo_app: Path, shared_cache_folder: Path):
    assert run_doit(todo_app, "test").returncode == 0
    result = run_piped(todo_app, "cache", "stats")
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout and "..." not in result.stdout, result.stdout
    assert f"doit-scout cache at {shared_cache_folder}" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "kind" in line)
    assert all(word in header for word in ("entries", "hit rate", "dropped", "oldest use", "newest use")), header
    parse_row = next(line for line in result.stdout.splitlines() if "│ parse " in line)
    assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", parse_row)) == 2, parse_row


def test_explain_piped_prints_whole_reasons(todo_app: Path):
    assert run_doit(todo_app).returncode == 0
    path = todo_app / "todo" / "reports.py"
    path.write_text(path.read_text().replace("open, ", "open,  "))
    result = run_piped(todo_app, "explain")
    assert result.returncode == 0, result.stderr
    assert "tests/test_cli.py <- todo.cli:main <- todo/reports.py:summary changed" in result.stdout, result.stdout
    assert f"3 of 10 tests in 2 of {len(TODO_TESTS)} files would run" in result.stdout


def explain_json(root: Path) -> dict:
    result = run_doit(root, "explain", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def edit(root: Path, path: str, old: str, new: str) -> None:
    text = (root / path).read_text()
    assert old in text, (path, old)
    (root / path).write_text(text.replace(old, new))


OPTIONAL = {
    "pkg/__init__.py": "",
    "pkg/core.py": "try:\n    import optional_dep\nexcept ImportError:\n    optional_dep = None\n"
                   "from pkg import util\n\n\ndef answer():\n    return util.base() + 1\n",
    "pkg/util.py": "def base():\n    return 41\n",
    "pkg/gone.py": "VALUE = 1\n",
    "tests/test_core.py": "from pkg.core import answer\n\n\ndef test_answer():\n    assert answer() == 42\n",
    "tests/test_gone.py": "import pkg.gone\n\n\ndef test_gone():\n    assert pkg.gone.VALUE\n",
}


def test_an_import_that_was_missing_all_along_is_no_reason_and_a_module_deleted_since_is(tmp_path: Path):
    root = new_project(tmp_path / "proj", OPTIONAL)
    assert run_doit(root).returncode == 0
    edit(root, "pkg/util.py", "return 41", "return 40 + 1")
    (root / "pkg" / "gone.py").unlink()
    tests = {t["path"]: t for t in explain_json(root)["tests"]}
    assert tests["tests/test_core.py"]["reasons"] == [
        "tests/test_core.py <- pkg.core:answer <- pkg/util.py:base changed (as `util.base`)"]  # optional_dep came first
    assert any("imports a module that does not exist: pkg.gone" in r for r in tests["tests/test_gone.py"]["reasons"])


REVERTED = {
    "pyproject.toml": "[project]\nname = 'proj'\n\n[tool.scout.steps.check]\n"
                      "command = ['python', '-c', 'pass', '{files}']\nscope = 'dependents'\n",
    "pkg/__init__.py": "",
    "pkg/a.py": "def fa():\n    return 1\n",
    "pkg/b.py": "def fb():\n    return 2\n",
    "pkg/ab.py": "from pkg.a import fa\nfrom pkg.b import fb\n\n\ndef total():\n    return fa() + fb()\n",
    "tests/test_ab.py": "from pkg.ab import total\n\n\ndef test_total():\n    assert total() == 3\n",
}


def test_a_file_edited_and_reverted_is_no_reason_once_a_run_matched_its_records(tmp_path: Path):
    root = new_project(tmp_path / "proj", REVERTED)
    assert run_doit(root).returncode == 0
    edit(root, "pkg/a.py", "return 1", "return 0 + 1")
    assert run_doit(root).returncode == 0  # the test and pkg/a.py's check ran: their snapshots hold the edit
    edit(root, "pkg/a.py", "return 0 + 1", "return 1")
    reverted = run_doit(root)  # green records match the reverted content: nothing runs
    assert reverted.returncode == 0 and "-- test" in reverted.stdout and "-- build:check" in reverted.stdout
    edit(root, "pkg/b.py", "return 2", "return 1 + 1\n\n\ndef fb2():\n    return 3\n")
    explained = explain_json(root)
    test = next(t for t in explained["tests"] if t["path"] == "tests/test_ab.py")
    assert test["decision"] == "run" and test["reasons"] == [
        "tests/test_ab.py <- pkg.ab:total <- pkg/b.py:fb changed"], test
    unit = next(s for s in explained["steps"] if s["unit"] == "pkg/ab.py")
    assert unit["decision"] == "run" and unit["reasons"] == ["imports changed module pkg.b (pkg.ab -> pkg.b)"], unit


# What pytest skips while collecting, which no test report shows: a module that skips itself, an
# importorskip, a doctest module (with --doctest-modules every .py file is one) that does.
SKIPS = {
    "pyproject.toml": "[project]\nname = 'proj'\n\n[tool.pytest.ini_options]\naddopts = '--doctest-modules'\n",
    "pkg/__init__.py": 'def f():\n    """\n    >>> f()  # doctest: +SKIP\n    1\n    """\n',
    "tests/test_module_skip.py": "import pytest\n\npytest.skip('not here', allow_module_level=True)\n\n"
                                 "def test_a():\n    pass\n",
    "tests/test_importorskip.py": "import pytest\n\npytest.importorskip('not_installed_here')\n\n"
                                  "def test_a():\n    pass\n",
    "tests/test_marked.py": "import pytest\n\npytestmark = pytest.mark.skipif(True, reason='never')\n\n"
                            "def test_a():\n    pass\n\ndef test_b():\n    pass\n",
    "tests/test_ok.py": "def test_ok():\n    pass\n",
}
PYTEST_FINAL_LINE = re.compile(r"^=+ (.+) in [\d.]+s(?: \([^)]*\))? =+$", re.M)


def test_the_summary_counts_what_pytest_s_final_line_counts(tmp_path: Path):
    root = new_project(tmp_path / "proj", SKIPS)
    for args in ((), ("--all", "--", "-n", "2")):  # one process, then xdist's controller
        result = run_doit(root, "test", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        said = PYTEST_FINAL_LINE.findall(result.stdout)
        assert len(said) == 1 and "skipped" in said[0], result.stdout
        line = summary_lines(result.stdout, "tests")[0]
        # the counts of pytest's own final line, whatever their order
        ours = line.split(" · ")[1]
        assert sorted(ours.split(", ")) == sorted(said[0].split(", ")), (line, said)


def test_the_cache_counters_are_printed_with_v2_only(tmp_path: Path):
    root = new_project(tmp_path / "proj", {"tests/test_ok.py": "def test_ok():\n    pass\n"})
    plain = run_doit(root)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert summary_lines(plain.stdout, "tests") and not summary_lines(plain.stdout, "cache"), plain.stdout
    assert "hits /" not in plain.stdout
    detailed = run_doit(root, "-v", "2", "test", "--all")
    assert detailed.returncode == 0, detailed.stdout + detailed.stderr
    cache = summary_lines(detailed.stdout, "cache")
    assert cache and cache[-1].endswith("(this run)") and "hits /" in cache[-1], detailed.stdout


def test_ctrl_c_while_collecting_names_only_the_files_pytest_collected(tmp_path: Path):
    # test_c.py, while pytest collects it, sends doit the SIGINT a CI runner would (pytest is its
    # child) and waits for doit-scout's own to stop the session: test_d.py and test_e.py are never
    # collected, test_a.py and test_b.py are collected and never run.
    files = {f"tests/test_{n}.py": f"def test_{n}():\n    pass\n" for n in "abde"}
    files["tests/test_c.py"] = ("import os, signal, time\n\nos.kill(os.getppid(), signal.SIGINT)\ntime.sleep(120)\n\n"
                                "def test_c():\n    pass\n")
    root = new_project(tmp_path / "proj", {**files, "pyproject.toml": "[project]\nname = 'proj'\n\n"
                                           "[tool.scout.test]\nworkers = 0\n"})
    result = run_doit(root, "test")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "collected 2 items" in result.stdout and "KeyboardInterrupt" in result.stdout, result.stdout
    warned = [line for line in result.stdout.splitlines() if line.startswith("! ")]
    assert any(line.endswith("they stay stale: tests/test_a.py, tests/test_b.py") for line in warned), warned
    assert not any(name in line for line in warned for name in ("test_c.py", "test_d.py", "test_e.py")), warned
    assert "! 3 more selected test files pytest did not collect before it stopped: they stay stale" in warned
    tests = json.loads((root / ".scout" / "last-run.json").read_text())["tests"]
    assert tests["interrupted"] == "Ctrl-C" and len(tests["incomplete"]) == 5  # all of them stay stale


DYNAMIC = {
    "pkg/__init__.py": "",
    "pkg/plugins.py": "import importlib\n\n\ndef load(name):\n    return importlib.import_module('pkg.' + name)\n",
    **{f"tests/test_p{i}.py": f"from pkg.plugins import load\n\n\ndef test_p{i}():\n    assert load\n"
       for i in range(4)},
    "tests/test_plain.py": "def test_plain():\n    pass\n",
}


def test_explain_names_each_unfollowed_dynamic_import_once_with_the_files_it_concerns(tmp_path: Path):
    root = new_project(tmp_path / "proj", DYNAMIC)
    result = run_piped(root, "explain")
    assert result.returncode == 0, result.stderr
    mentions = [line for line in result.stdout.splitlines() if "pkg/plugins.py:5" in line]
    assert mentions == ["cannot follow the dynamic import at pkg/plugins.py:5 (a computed name: what it loads is "
                        "not in the import graph), which the imports of 4 test files (tests/test_p0.py, "
                        "tests/test_p1.py, tests/test_p2.py and 1 more) reach"], result.stdout
    tests = {t["path"]: t for t in explain_json(root)["tests"]}  # machines still get it per file
    assert tests["tests/test_p3.py"]["unfollowed_imports"] == ["pkg/plugins.py:5"]
    assert tests["tests/test_plain.py"]["unfollowed_imports"] == []


def test_pytest_arguments_that_select_only_green_tests_say_so_and_how_to_run_them(tmp_path: Path):
    root = new_project(tmp_path / "proj", {"tests/test_a.py": "def test_one():\n    pass\n\ndef test_two():\n    pass\n",
                                           "tests/test_b.py": "def test_three():\n    pass\n"})
    assert run_doit(root).returncode == 0
    result = run_doit(root, "test", "--", "-k", "one or three")
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary_lines(result.stdout, "tests") == [
        "tests      nothing ran: 2 test files green in their records (unchanged since they passed), so what "
        "`-k 'one or three'` selects of them passed already. To run it anyway: doit test --all -- -k 'one or three'"
    ], result.stdout
    anyway = run_doit(root, "test", "--all", "--", "-k", "one or three")  # the hint works
    assert anyway.returncode == 0 and "2 passed, 1 deselected" in summary_lines(anyway.stdout, "tests")[0], anyway.stdout


def test_a_pytest_internal_error_is_pytest_s_status_and_says_so(tmp_path: Path):
    root = new_project(tmp_path / "proj", {
        "tests/test_a.py": "def test_a():\n    pass\n",
        "tests/conftest.py": "def pytest_collection_modifyitems(items):\n    raise RuntimeError('broken hook')\n",
    })
    result = run_doit(root)
    assert result.returncode == 3, result.stdout + result.stderr  # pytest's INTERNAL_ERROR, passed on
    assert "INTERNALERROR> RuntimeError: broken hook" in result.stdout
    assert failures(result.stdout) == [
        "✗ pytest stopped with an internal error (exit status 3, pytest's own: its INTERNALERROR lines are above; "
        "a plugin or a conftest.py hook raised): nothing it ran was recorded green"], result.stdout
    assert not [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR: ")]  # as doit's
    assert json.loads((root / ".scout" / "last-run.json").read_text())["tests"]["exit_code"] == 3


# pkg/mod.py counts as a whole (its module-level code uses globals()): all its definitions are
# inputs of every importer, but its node's content is its code less the function bodies, so a
# body edit counts only for the tests that ran the body, and a comment for none.
WHOLE = {
    "pkg/__init__.py": "",
    "pkg/mod.py": "__all__ = [n for n in globals() if not n.startswith('_')]\n\n\ndef f():\n    return 1\n\n\n"
                  "class C:\n    def m(self):\n        return 3\n",
    "tests/test_m.py": "from pkg.mod import f, C\n\n\ndef test_f():\n    assert f() == 1\n\n\n"
                       "def test_c():\n    assert C().m() == 3\n",
}


def test_a_body_edit_in_a_module_that_counts_as_a_whole_runs_only_the_tests_that_ran_it(tmp_path: Path):
    root = new_project(tmp_path / "proj", WHOLE)
    assert run_doit(root).returncode == 0
    edit(root, "pkg/mod.py", "return 3", "return 1 + 2  # the same")
    reasons = {t["path"]: t for t in explain_json(root)["tests"]}["tests/test_m.py"]["reasons"]
    assert reasons == ["1 of its 2 tests ran code that changed or have no record: test_c: pkg/mod.py::C.m changed",
                       "tests/test_m.py <- pkg/mod.py:C changed"], reasons
    result = run_doit(root)
    assert result.returncode == 0 and json.loads((root / ".scout" / "last-run.json").read_text())["tests"][
        "tests_ran"] == ["tests/test_m.py::test_c"], result.stdout
    edit(root, "pkg/mod.py", "def f():", "def f():  # a comment")
    assert "-- test" in run_doit(root).stdout  # up to date: a comment is no code
    edit(root, "pkg/mod.py", "class C:", "X = 1\n\n\nclass C:")  # module-level code: import time indeed
    reasons = {t["path"]: t for t in explain_json(root)["tests"]}["tests/test_m.py"]["reasons"]
    assert reasons == ["tests/test_m.py <- pkg/mod.py changed at import time (module-level code, a class body or "
                       "a signature)"], reasons
