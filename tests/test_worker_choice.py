"""Worker choice end to end: real doit, pytest and pytest-xdist in copies of todo_app. What ran is
what the plugin reported (`workers` in .scout/last-run.json, "xdist N workers" in the summary);
the costs the automatic choice decides from are given, never timed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import close_shared_caches, doit_tests, write_files

from doit_scout.project_state import read_state_json, write_state_json
from doit_scout.records import load_machine_costs, save_machine_costs
from doit_scout.shared_cache import SharedCache
from doit_scout.workers import MachineCosts, Observation

two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="xdist needs two cores to pay off")


def summary_tests_line(output: str) -> str:
    """The summary's tests line: it ends in what really ran, `one process` or `xdist N workers`."""
    return next(line for line in output.splitlines() if line.startswith("tests "))


def add_to(root: Path, path: str, text: str) -> None:
    with open(root / path, "a") as f:
        f.write(text)


def set_addopts(root: Path, addopts: str) -> None:
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('pythonpath = ["."]', f'pythonpath = ["."]\naddopts = "{addopts}"'))


def test_a_first_run_without_durations_runs_in_one_process(todo_app: Path):
    # Enough never-run files that guessing their durations used to start two workers.
    write_files(todo_app, {f"tests/test_more_{i}.py": "def test_it():\n    pass\n" for i in range(8)})
    output, last = doit_tests(todo_app)
    assert last["workers"] == 0 and "no recorded durations" in last["workers_reason"]
    assert summary_tests_line(output).endswith("one process")


@pytest.mark.parametrize("where", ["pyproject", "pytest.ini", "PYTEST_ADDOPTS"])
def test_the_projects_own_workers_are_honoured_and_reported(todo_app: Path, where: str, monkeypatch):
    if where == "pyproject":
        set_addopts(todo_app, "-ra -n 2")
    elif where == "pytest.ini":
        write_files(todo_app, {"pytest.ini": "[pytest]\ntestpaths = tests\npythonpath = .\naddopts = -n 2\n"})
    else:
        monkeypatch.setenv("PYTEST_ADDOPTS", os.environ.get("PYTEST_ADDOPTS", "") + " -n 2")
    output, last = doit_tests(todo_app)
    assert last["workers"] == 2 and last["passed"] == 10, output
    assert summary_tests_line(output).endswith("xdist 2 workers")
    assert "the project's pytest configuration" in last["workers_reason"]
    # Once pytest has said what the project asks, doit-scout still adds nothing of its own.
    _, again = doit_tests(todo_app, "test", "--all")
    assert again["workers"] == 2 and "the project's pytest configuration" in again["workers_reason"]


def test_configured_workers_win_over_the_projects(todo_app: Path):
    set_addopts(todo_app, "-n 2")
    add_to(todo_app, "pyproject.toml", "\n[tool.scout.test]\nworkers = 1\n")
    output, last = doit_tests(todo_app)
    assert last["workers"] == 0 and summary_tests_line(output).endswith("one process")


def test_minus_n_0_in_pytest_args_wins_over_workers(todo_app: Path):
    add_to(todo_app, "pyproject.toml", '\n[tool.scout.test]\nworkers = 2\npytest_args = ["-n", "0"]\n')
    output, last = doit_tests(todo_app)
    assert last["workers"] == 0 and summary_tests_line(output).endswith("one process")
    assert "pytest_args" in last["workers_reason"]


def test_minus_n_on_the_command_line_wins(todo_app: Path):
    set_addopts(todo_app, "-n 2")
    add_to(todo_app, "pyproject.toml", "\n[tool.scout.test]\nworkers = 2\n")
    output, last = doit_tests(todo_app, "test", "--", "-n", "0")
    assert last["workers"] == 0 and summary_tests_line(output).endswith("one process")
    assert last["workers_reason"] == "one process (-n 0 or -p no:xdist) from the command line"
    output, last = doit_tests(todo_app, "test", "--all", "--", "-n2")
    assert last["workers"] == 2 and summary_tests_line(output).endswith("xdist 2 workers")


def seed(cache_folder: Path, root: Path, *, extra: float, slowdown: float) -> None:
    """Recorded timings that make the selection 60 s of CPU work, and this machine's costs."""
    durations = root / ".scout" / "durations.json"
    timings = read_state_json(durations)
    write_state_json(durations, {path: [12.0, 2, 6.0] for path in timings})
    cache = SharedCache(cache_folder)
    save_machine_costs(cache, MachineCosts([Observation("seeded", 2, 10, extra, slowdown)]))
    close_shared_caches()


@pytest.mark.after_first_run
@two_cores
def test_auto_uses_xdist_when_timings_and_measured_costs_say_it_pays(todo_app: Path, shared_cache_folder: Path):
    seed(shared_cache_folder, todo_app, extra=2.0, slowdown=1.1)
    output, last = doit_tests(todo_app, "test", "--all")
    assert last["workers"] == 2 and summary_tests_line(output).endswith("xdist 2 workers"), output
    assert last["workers_reason"].startswith("xdist 2 workers: expected 60.0 s of tests in one process")
    # The run measured what xdist cost on this machine, and recorded timings as in one process.
    costs = load_machine_costs(SharedCache(shared_cache_folder))
    close_shared_caches()
    assert [o.workers for o in costs.observations][-1] == 2


@pytest.mark.after_first_run
@two_cores
@pytest.mark.parametrize("extra, slowdown", [(60.0, 1.0), (2.0, 2.0)])
def test_auto_keeps_one_process_when_measured_costs_say_xdist_would_not_pay(
        todo_app: Path, shared_cache_folder: Path, extra: float, slowdown: float):
    seed(shared_cache_folder, todo_app, extra=extra, slowdown=slowdown)
    output, last = doit_tests(todo_app, "test", "--all")
    assert last["workers"] == 0 and summary_tests_line(output).endswith("one process")
    assert last["workers_reason"].startswith("one process: expected 60.0 s of tests in one process")


@pytest.mark.after_first_run
def test_runs_record_what_they_cost_and_what_the_project_asked(todo_app: Path, shared_cache_folder: Path):
    costs = load_machine_costs(SharedCache(shared_cache_folder))
    close_shared_caches()
    [one] = costs.observations
    assert one.workers == 0 and one.items == 10 and one.outside > 0
    assert read_state_json(todo_app / ".scout" / "pytest-config.json")["addopts"] == []
    timings = read_state_json(todo_app / ".scout" / "durations.json")
    assert timings["tests/test_serialization.py"][1] == 3  # seconds, tests, longest
    # A run of part of a file says nothing of what the whole file costs.
    doit_tests(todo_app, "test", "--all", "--", "-k", "test_ids_count_up")
    assert read_state_json(todo_app / ".scout" / "durations.json") == timings
