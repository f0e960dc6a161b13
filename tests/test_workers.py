"""Worker choice (doit_scout.workers): who decides, the rule that decides from measurements, and
the measurements themselves. No timing: every cost here is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from doit_scout.config import TestConfig as Config  # not a test class
from doit_scout.execution import read_reports
from doit_scout.project_state import write_state_json
from doit_scout.records import load_durations, load_project_addopts, save_durations, save_project_addopts
from doit_scout.workers import (
    MARGIN,
    PRIOR_EXTRA_SECONDS,
    PRIOR_SLOWDOWN,
    FileTiming,
    MachineCosts,
    Observation,
    Work,
    WorkerContext,
    auto_workers,
    decide_workers,
    expected_work,
    observe_run,
    one_process_timings,
    workers_asked,
    xdist_loads,
)

# Measured costs of a machine where xdist is cheap: 1 s beyond one process, tests 10% slower.
CHEAP = MachineCosts([Observation("p", 0, 100, 1.0), Observation("p", 2, 100, 2.0, slowdown=1.1)])
LONG = Work(seconds=40.0, items=100, longest=1.0)


def context(work: Work = LONG, costs: MachineCosts = CHEAP, *, project_args: tuple[str, ...] | None = (),
            cpus: int = 2, xdist: bool = True) -> WorkerContext:
    return WorkerContext(work, costs, "p", cpus, xdist, project_args, {})


@pytest.mark.parametrize("args, asked", [
    ([], None),
    (["-x", "-k", "slow"], None),
    (["-n", "3"], "3"),
    (["-n3"], "3"),
    (["-nauto"], "auto"),
    (["--numprocesses", "logical"], "logical"),
    (["--numprocesses=4"], "4"),
    (["-n", "4", "-n", "0"], "0"),  # the last one wins, as in pytest
    (["--tx", "2*popen"], "tx"),
    (["-p", "no:xdist"], "0"),
    (["-pno:xdist", "-x"], "0"),
])
def test_workers_asked_reads_arguments_as_pytest_does(args, asked):
    assert workers_asked(args) == asked


def test_xdist_loads_unless_blocked_or_autoloading_is_off():
    assert xdist_loads([], True, {})
    assert not xdist_loads([], False, {})
    assert not xdist_loads(["-p", "no:xdist"], True, {})
    assert not xdist_loads([], True, {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert xdist_loads(["-p", "xdist"], True, {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})


# -- who decides ---------------------------------------------------------------------------------

def test_the_command_line_wins_over_everything():
    config = Config(workers=4, pytest_args=("-n", "3"))
    choice = decide_workers(("-n", "0"), config, context(project_args=("-n", "2")))
    assert (choice.workers, choice.args, choice.source) == (0, (), "command line")
    auto = decide_workers(("--numprocesses=auto",), config, context())
    assert (auto.workers, auto.args) == (None, ())  # pytest works out what "auto" means


def test_pytest_args_of_the_config_win_over_workers_and_the_project():
    choice = decide_workers((), Config(workers=4, pytest_args=("-n", "0")), context(project_args=("-n", "2")))
    assert (choice.workers, choice.args, choice.source) == (0, (), "pytest_args")


@pytest.mark.parametrize("workers, args, expected", [
    (0, ("-n", "0"), 0),
    (1, ("-n", "0"), 0),  # one process, not xdist with one worker
    (2, ("-n", "2"), 2),
    (3, ("-n", "3"), 3),
])
def test_configured_workers(workers, args, expected):
    # Even over a project's own -n: the setting is doit-scout's explicit one.
    choice = decide_workers((), Config(workers=workers), context(project_args=("-n", "auto")))
    assert (choice.workers, choice.args, choice.source) == (expected, args, "workers")


def test_configured_workers_without_xdist_run_one_process_with_a_warning():
    choice = decide_workers((), Config(workers=3), context(xdist=False))
    assert (choice.workers, choice.args) == (0, ()) and "pytest-xdist is not installed" in choice.warning
    # -n 0 would be an unknown option to pytest without xdist
    assert decide_workers((), Config(workers=1), context(xdist=False)).args == ()


def test_the_projects_own_workers_are_honoured_and_not_overridden():
    for project_args in (("-n", "2"), ("-ra", "-n", "auto"), ("-p", "no:xdist")):
        choice = decide_workers((), Config(), context(project_args=project_args))
        assert choice.args == () and choice.source == "project", project_args
    assert decide_workers((), Config(), context(project_args=("-n", "2"))).workers == 2


def test_with_the_projects_configuration_unknown_doit_scout_adds_no_workers():
    # auto would choose xdist, but the project's addopts may hold a -n that ours would override
    choice = decide_workers((), Config(), context(project_args=None))
    assert (choice.workers, choice.args) == (None, ())
    assert decide_workers((), Config(), context(project_args=())).args == ("-n", "2")


def test_a_debugger_runs_one_process_over_configured_and_project_workers():
    for config, project_args in ((Config(), ()), (Config(workers=3), ()), (Config(), ("-n", "2"))):
        choice = decide_workers(("--pdb",), config, context(project_args=project_args))
        assert (choice.workers, choice.args, choice.source) == (0, ("-n", "0"), "debugger")
    assert decide_workers((), Config(pytest_args=("--trace",)), context()).workers == 0
    assert decide_workers(("--pdb",), Config(), context(xdist=False)).args == ()  # no -n without xdist


def test_missing_xdist_keeps_auto_to_one_process():
    assert decide_workers((), Config(), context(xdist=False)).args == ()


def test_the_choice_settles_on_who_really_decided():
    unknown = decide_workers((), Config(), context(Work(), project_args=None))
    assert unknown.settled(("-n", "2")).source == "project" and unknown.settled(("-n", "2")).workers == 2
    assert unknown.settled(()).source == "auto"
    ours = decide_workers((), Config(), context())
    assert ours.settled(("-n", "3")) == ours  # ours was on the command line: it won


# -- the rule ------------------------------------------------------------------------------------

def test_unknown_durations_never_lead_to_xdist():
    first_run = expected_work([(f"tests/test_{i}.py", None) for i in range(500)], {})
    assert first_run.seconds == 0 and first_run.unknown_files == 500
    choice = auto_workers(first_run, CHEAP, "p", cpus=64)
    assert choice.workers == 0 and "no recorded durations" in choice.reason


def test_a_long_cpu_bound_selection_uses_xdist_where_it_is_cheap():
    choice = auto_workers(LONG, CHEAP, "p", cpus=2)
    assert (choice.workers, choice.args) == (2, ("-n", "2"))
    # up to one per core, and no more workers than tests
    assert auto_workers(LONG, CHEAP, "p", cpus=8).workers == 8
    assert auto_workers(Work(40.0, 3, 13.0), CHEAP, "p", cpus=8).workers == 3


def test_fast_tests_run_in_one_process():
    # 500 tests of 1 ms: starting workers costs more than all of them
    choice = auto_workers(Work(0.5, 500, 0.001), CHEAP, "p", cpus=8)
    assert choice.workers == 0 and "one process" in choice.reason


def test_xdist_that_would_save_less_than_the_margin_is_not_used():
    # 1 s extra + 1.1 * W / 2 must be at most (1 - MARGIN) * W
    w = 1 / (1 - MARGIN - 1.1 / 2)  # where the saving is exactly the margin (2.9 s)
    assert auto_workers(Work(w * 1.05, 100, 0.01), CHEAP, "p", cpus=2).workers == 2
    assert auto_workers(Work(w * 0.95, 100, 0.01), CHEAP, "p", cpus=2).workers == 0  # xdist, a bit faster
    assert auto_workers(Work(2.0, 100, 0.01), CHEAP, "p", cpus=2).workers == 0


def test_contention_measured_on_the_machine_keeps_xdist_off():
    # Two workers on two cores that other work keeps busy: each test took 1.8 times as long.
    busy = MachineCosts([Observation("p", 0, 100, 1.0), Observation("p", 2, 100, 2.0, slowdown=1.8)])
    assert auto_workers(LONG, busy, "p", cpus=2).workers == 0


def test_a_costly_start_measured_on_the_machine_keeps_xdist_off():
    # a project whose workers take 30 s to start (heavy imports in conftest.py, say)
    slow_start = MachineCosts([Observation("p", 0, 100, 1.0), Observation("p", 2, 100, 31.0, slowdown=1.0)])
    assert auto_workers(LONG, slow_start, "p", cpus=2).workers == 0


def test_one_long_test_bounds_what_workers_can_save():
    assert auto_workers(Work(40.0, 100, longest=39.0), CHEAP, "p", cpus=2).workers == 0


def test_priors_stand_in_until_xdist_has_run_on_the_machine():
    nothing = MachineCosts()
    assert nothing.extra("p", 100, 2) == PRIOR_EXTRA_SECONDS and nothing.slowdown() == PRIOR_SLOWDOWN
    # conservative: 3 s + 1.5 * W / 2 <= 0.9 * W from W = 20 s on
    assert auto_workers(Work(19.0, 100, 0.1), nothing, "p", cpus=2).workers == 0
    assert auto_workers(Work(21.0, 100, 0.1), nothing, "p", cpus=2).workers == 2


# -- the measurements ----------------------------------------------------------------------------

def test_xdist_extra_is_what_xdist_spent_beyond_one_process():
    costs = MachineCosts([Observation("p", 0, 100, 1.5), Observation("p", 2, 100, 4.0)])
    assert costs.extra("p", 100, 2) == pytest.approx(2.5)
    # conservatively scaled: to more tests and more workers as if all of it grew with them,
    # to fewer as if none of it shrank
    assert costs.extra("p", 200, 2) == pytest.approx(5.0)
    assert costs.extra("p", 100, 4) == pytest.approx(5.0)
    assert costs.extra("p", 10, 2) == pytest.approx(2.5)


def test_xdist_extra_of_the_project_comes_first_then_the_machines():
    costs = MachineCosts([Observation("other", 2, 100, 9.0), Observation("p", 2, 100, 3.0)])
    assert costs.extra("p", 100, 2) == pytest.approx(3.0)
    assert costs.extra("new", 100, 2) == pytest.approx(6.0)  # the median of the machine's


def test_observations_are_kept_per_project_and_kind():
    costs = MachineCosts()
    for i in range(10):
        costs = costs.with_observation(Observation("p", 2, 10, float(i)))
        costs = costs.with_observation(Observation("p", 0, 10, 1.0))
    assert [o.outside for o in costs.observations if o.workers] == [6.0, 7.0, 8.0, 9.0]
    assert len(costs.observations) == 8
    assert MachineCosts.from_json(json.loads(json.dumps(costs.as_json()))) == costs
    assert MachineCosts.from_json({"observations": [{"project": 1}, "x"]}) == MachineCosts()
    assert MachineCosts.from_json(None) == MachineCosts()


def test_a_run_observes_its_outside_time_and_its_slowdown():
    before = {"a.py": FileTiming(2.0, 2, 1.0), "b.py": FileTiming(2.0, 2, 1.0), "c.py": FileTiming(0.1)}
    durations = {"a.py": 3.0, "b.py": 3.0, "c.py": 0.5}
    xdist = observe_run("p", 2, wall=10.0, durations=durations, items=6, before=before, whole_files={"a.py", "b.py"})
    assert xdist.outside == pytest.approx(10.0 - 6.5 / 2) and xdist.slowdown == pytest.approx(1.5)
    one = observe_run("p", 0, wall=10.0, durations=durations, items=6, before=before, whole_files=set(durations))
    assert one.outside == pytest.approx(3.5) and one.slowdown is None
    assert observe_run("p", 2, 10.0, durations, 0, before, set()) is None  # no test ran


def test_xdist_timings_are_recorded_as_in_one_process():
    timings = one_process_timings({"a.py": 3.0}, {"a.py": 2}, {"a.py": 1.5}, slowdown=1.5)
    assert timings == {"a.py": FileTiming(2.0, 2, 1.0)}


def test_expected_work_counts_re_runs_by_their_share_of_the_file():
    timings = {"a.py": FileTiming(10.0, 10, 5.0), "b.py": FileTiming(4.0, 4, 1.0)}
    work = expected_work([("a.py", 2), ("b.py", None), ("new.py", None)], timings)
    assert work.seconds == pytest.approx(2.0 + 4.0) and work.longest == pytest.approx(2.0)
    assert work.items == 2 + 4 + 3 and work.unknown_files == 1  # a new file counts as a mean file


def test_durations_keep_counts_and_read_the_old_format(tmp_path: Path):
    (tmp_path / ".scout").mkdir()
    write_state_json(tmp_path / ".scout" / "durations.json", {"old.py": 1.5, "bad.py": "x", "odd.py": [1]})
    assert load_durations(tmp_path) == {"old.py": FileTiming(1.5)}
    save_durations(tmp_path, {"new.py": FileTiming(2.0, 3, 1.0)})
    assert load_durations(tmp_path) == {"old.py": FileTiming(1.5), "new.py": FileTiming(2.0, 3, 1.0)}


def test_the_projects_addopts_hold_for_their_key_and_an_unchanged_outside_ini_file(tmp_path: Path):
    root = tmp_path / "proj"
    root.mkdir()
    save_project_addopts(root, "k1", ["-ra", "-n", "2"], str(root / "pyproject.toml"))
    assert load_project_addopts(root, "k1") == ("-ra", "-n", "2")
    assert load_project_addopts(root, "k2") is None
    outside = tmp_path / "pytest.ini"
    outside.write_text("[pytest]\naddopts = -n 2\n")
    save_project_addopts(root, "k1", ["-n", "2"], str(outside))
    assert load_project_addopts(root, "k1") == ("-n", "2")
    outside.write_text("[pytest]\naddopts = -n 4\n")
    assert load_project_addopts(root, "k1") is None


def _events(path: Path, events: list[dict]) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_reports_say_which_workers_really_ran_and_what_the_project_asked(tmp_path: Path):
    _events(tmp_path / "main.jsonl", [
        {"event": "start", "rootdir": str(tmp_path), "time": 100.0},
        {"event": "config", "addopts": ["-n", "2"], "inifile": str(tmp_path / "pytest.ini")},
        {"event": "worker_ready", "id": "gw0", "time": 101.0},
        {"event": "worker_ready", "id": "gw1", "time": 101.5},
        {"event": "worker_down", "id": "gw1"},  # crashed, and replaced
        {"event": "worker_ready", "id": "gw2", "time": 103.0},
        {"event": "first_test", "time": 102.0},
        {"event": "finish", "exitstatus": 0, "time": 104.0},
    ])
    run = read_reports(tmp_path, tmp_path, exit_code=0)
    assert run.workers == 2 and run.addopts == ("-n", "2") and run.inifile == str(tmp_path / "pytest.ini")
    assert (run.timeline.configured, run.timeline.workers_ready, run.timeline.first_test,
            run.timeline.finished) == (100.0, 103.0, 102.0, 104.0)
    _events(tmp_path / "main.jsonl", [{"event": "start", "rootdir": str(tmp_path), "time": 100.0}])
    one = read_reports(tmp_path, tmp_path, exit_code=0)
    assert one.workers == 0 and one.addopts is None
