"""doit tasks of doit-scout. A project's dodo.py is one line: `from doit_scout.dodo import *`."""

from __future__ import annotations

from pathlib import Path

from doit_scout import invocation
from doit_scout.analyzers.sharding import parse_shard
from doit_scout.config import ConfigError, StepConfig, load_config_for_doit, parse_timeout, step_task
from doit_scout.context import RunContext
from doit_scout.execution import PytestMissing
from doit_scout.pass_through import PassThrough, pass_through
from doit_scout.project_state import (
    STATE_DIR,
    hold_checkout,
    last_run,
    remember_warnings,
    state_dir,
    update_last_run,
)
from doit_scout.report import (
    make_console,
    print_green_already,
    print_remote_summary,
    print_row,
    print_scout_summary,
    print_step_summary,
    print_test_summary,
    scout_warnings,
    since_line,
)
from doit_scout.reporter import ScoutReporter
from doit_scout.scout import current_state, run_scout
from doit_scout.shared_cache import RunCounts
from doit_scout.since import RevisionError
from doit_scout.steps import StepError, StepPlan, StepRunResult, nothing_stale, plan_step, run_step
from doit_scout.testing import TestPlan, TestRunResult, plan_tests, run_tests, write_last_run
from doit_scout.verify import files_that_differ

__all__ = ["DOIT_CONFIG", "task_scout", "task_build", "task_test"]


def _doit_config() -> dict:
    # doit opens its dependency database before it creates tasks, so .scout/ must exist now.
    # sqlite3 is the backend that survives two doit processes at once (json and dbm lose writes).
    state_dir(Path.cwd())
    return {
        "default_tasks": ["scout", "build", "test"],
        # A failing step does not hide the verdict of the tests (or of other steps); tasks that
        # wait for a failed one (`after`) still do not run, and doit still exits non-zero.
        "continue": True,
        "backend": "sqlite3",
        "dep_file": f"{STATE_DIR}/doit-deps.sqlite",
        "reporter": ScoutReporter,
    }


DOIT_CONFIG = _doit_config()


_run_context: RunContext | None = None


def run_context() -> RunContext:
    """The context every task of this doit run shares: made by the first task creator that asks."""
    global _run_context
    # doit runs task creators with the dodo.py folder, the project root, as working directory.
    root = Path.cwd()
    if _run_context is None or _run_context.root != root:
        _run_context = RunContext(root, load_config_for_doit(root))
    return _run_context


def _scout(context: RunContext, verify: bool) -> bool:
    root = context.root
    hold_checkout(root)  # every task of a run waits for the scout, so the whole run holds it
    run = run_scout(context)
    warnings = scout_warnings(run)
    print_scout_summary(run, context.cache.counts, details=_scout_details(),
                        shown_before=remember_warnings(root, "scout", warnings))
    update_last_run(root, {"scout": {**run.as_json(), "warnings": warnings}})
    if not verify:
        return True
    differing = files_that_differ(run.state, run_scout(context, from_scratch=True).state)
    if differing:
        print(f"scout --verify: the incremental state differs from a scout from scratch for: "
              f"{', '.join(differing)}. `doit forget scout` rebuilds it.")
        return False
    print(f"scout --verify: the incremental state equals a scout from scratch ({len(run.state.files)} files)")
    return True


def _scout_details() -> bool:
    """The scout says how it got there when asked for by name (`doit scout`) or with `-v 2`; in
    every other run, one line (the tests' verdict is what that run is for)."""
    run = invocation.current()
    return "scout" in run.named_tasks or run.verbose


def task_scout():
    """Inventory the project, hash its files and build its import graph."""
    return {
        "actions": [(_scout, (run_context(),))],
        "verbosity": 2,
        "uptodate": [False],  # cheap by design: finding out what changed is its job
        "params": [{"name": "verify", "long": "verify", "type": bool, "default": False,
                    "help": "also build the state from scratch and fail on any difference"}],
    }


class _StepGate:
    """doit's up-to-date check and the step's action share one plan, as for the tests."""

    def __init__(self, context: RunContext, step: StepConfig) -> None:
        self.context, self.root, self.step = context, context.root, step
        self.plan: StepPlan | None = None

    def _plan(self) -> StepPlan:
        return plan_step(self.context, self.step, current_state(self.context))

    def nothing_to_run(self) -> bool:
        try:
            self.plan = self._plan()
        except StepError:
            return False  # the action says what is wrong
        if self.plan.stale:
            return False
        nothing_stale(self.root, self.plan)
        self._report(StepRunResult(self.plan))  # doit will not call the action
        return True

    def run(self) -> bool:
        try:
            result = run_step(self.context, self.plan or self._plan())
        except StepError as err:
            print(f"doit-scout: {err}")
            return False
        print_step_summary(result)
        self._report(result)
        return result.ok

    def _report(self, result: StepRunResult) -> None:
        steps = last_run(self.root).get("steps", {})
        update_last_run(self.root, {"steps": {**steps, self.step.name: result.as_json()}})


def task_build():
    """Run the project's build steps ([tool.scout.steps]) over what changed since they passed."""
    context = run_context()
    # The group waits for the scout first, so that its steps start in their declared order (steps
    # that all wait for a running task resume in no particular order).
    yield {"basename": "build", "name": None, "doc": task_build.__doc__, "task_dep": ["scout"]}
    for step in context.config.steps:
        gate = _StepGate(context, step)
        yield {
            "name": step.name,
            "doc": f"{step.scope}: {' '.join(step.command)}",
            "actions": [gate.run],
            "task_dep": ["scout", *(name if name == "test" else step_task(name) for name in step.after)],
            "uptodate": [gate.nothing_to_run],
            "verbosity": 2,
        }


class _TestGate:
    """doit's up-to-date check and the test action share one plan: the check computes it after
    the scout task ran, the action runs it."""

    def __init__(self, context: RunContext) -> None:
        self.context, self.root = context, context.root
        self.plan: TestPlan | None = None
        self.refused: TestRunResult | None = None  # pytest refused the arguments after `--`

    def _cache_counts(self) -> RunCounts:
        return self.context.cache.counts

    def _pass_through(self) -> PassThrough:
        """ValueError names a path outside the project."""
        return pass_through(list(invocation.current().pytest_args), self.root)

    def _plan(self, options: dict) -> TestPlan:
        return plan_tests(self.context, run_all=bool(options.get("run_all")),
                          shard=parse_shard(options["shard"]) if options.get("shard") else None,
                          since=options.get("since") or None, audit=bool(options.get("audit")),
                          paths=self._pass_through().paths)

    def nothing_to_run(self, task) -> bool:
        try:
            self.plan = self._plan(task.options)
        except (ValueError, RevisionError, ConfigError):
            return False  # the action says what is wrong
        if self.plan.runs_pytest:
            return False
        result = run_tests(self.context, plan=self.plan, pass_through=self._pass_through())
        if result.pytest is not None:  # pytest refused the arguments: the action reports it, as a failure
            self.refused = result
            return False
        # doit will not call the action: the report of this run is written here.
        if task.options.get("shard"):
            print_test_summary(result, self._cache_counts(), details=invocation.current().verbose)
        else:
            self._remote_summary()
            if (since := since_line(self.plan)) is not None:
                print_row(make_console(), "since", since)
            if self._pass_through().args:
                print_green_already(result, self._pass_through().args)
        write_last_run(self.root, result, self._cache_counts())
        return True

    def _remote_summary(self) -> None:
        cache = self.context.cache
        remote = cache.remote_counts()
        if remote is not None and remote.requests and self.plan is not None:
            messages = cache.remote_messages()
            print_remote_summary(remote, [w for w in self.plan.warnings if w in messages])

    def run(self, run_all: bool, shard: str, since: str, audit: bool, timeout: str, no_record: bool = False) -> bool:
        try:
            plan = self.plan or self._plan({"run_all": run_all, "shard": shard, "since": since, "audit": audit})
            result = self.refused or run_tests(self.context, plan=plan, pass_through=self._pass_through(),
                                               timeout=parse_timeout(timeout, "--timeout") if timeout else None,
                                               record=not no_record)
        except (ValueError, RevisionError, PytestMissing, ConfigError) as err:  # --shard, --since, no pytest
            print(f"doit-scout: {err}")
            return False
        if result.pytest is not None:
            invocation.current().pytest_status = result.pytest.exit_code
            invocation.current().interrupted |= result.pytest.interrupted == "Ctrl-C"
        print_test_summary(result, self._cache_counts(), details=invocation.current().verbose)
        write_last_run(self.root, result, self._cache_counts())
        return result.ok


def task_test():
    """Run the tests the changes since their last green run can affect (pytest, xdist)."""
    context = run_context()
    gate = _TestGate(context)
    return {
        "actions": [gate.run],
        "task_dep": ["scout", *(step_task(name) for name in context.config.test.after)],
        "uptodate": [gate.nothing_to_run],
        "params": [{"name": "run_all", "long": "all", "type": bool, "default": False,
                    "help": "run every test once, ignoring green records (forgets nothing)"},
                   {"name": "shard", "long": "shard", "type": str, "default": "",
                    "help": "K/N: run only the K-th of N parts of the selection, balanced by durations"},
                   {"name": "since", "long": "since", "type": str, "default": "",
                    "help": "REV: only tests affected by changes since the merge base of REV and HEAD"},
                   {"name": "audit", "long": "audit", "type": bool, "default": False,
                    "help": "run every test and report any failure the incremental selection would have skipped"},
                   {"name": "timeout", "long": "timeout", "type": str, "default": "",
                    "help": "stop the pytest session after this long (seconds, or 90s, 20m, 2h)"},
                   {"name": "no_record", "long": "no-record", "type": bool, "default": False,
                    "help": "run the tests untraced: outcomes are recorded, not which code each test ran "
                            "(as `[tool.scout.test] executed_code = false` for this run only)"}],
        "verbosity": 2,
    }
