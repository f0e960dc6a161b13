"""The test task: fingerprint the test files, select what must run, run it, record the results."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import xxhash

from analyzers.categories import Category
from analyzers.globs import GlobSet
from analyzers.selection import TestDecision, select_tests
from analyzers.sharding import shard_files
from runner.audit import audit_due, load_audit_log, save_audit_log, selection_misses
from runner.config import ScoutConfig
from runner.environment import environment_key
from runner.execution import (
    PytestRun,
    choose_workers,
    estimate_seconds,
    run_pytest,
    xdist_available,
)
from runner.explain import ChangeExplainer, save_snapshot
from runner.forget import is_forgotten, remember
from runner.project_state import update_last_run
from runner.records import RecordStore, load_durations, save_durations
from runner.scout import current_state, run_scout
from runner.scout_state import ScoutState
from runner.shared_cache import RunCounts, shared_cache
from runner.since import ChangesSince, changes_since


@dataclass
class TestInputs:
    """Fingerprints of the test files, and the parts every test shares."""

    __test__ = False  # a domain name, not a pytest test class

    fingerprints: dict[str, str]
    config_digest: str
    environment: str


@dataclass
class TestPlan:
    __test__ = False  # a domain name, not a pytest test class

    state: ScoutState
    inputs: TestInputs
    decisions: list[TestDecision]
    durations: dict[str, float]
    seconds: float
    warnings: list[str] = field(default_factory=list)
    # On an audit: what the incremental selection would have done, to compare outcomes with.
    audit_of: list[TestDecision] | None = None
    explainer: ChangeExplainer | None = None  # when planned for `doit explain`

    @property
    def selected(self) -> list[TestDecision]:
        return [d for d in self.decisions if d.runs]


def fingerprint_tests(root: Path, state: ScoutState, config: ScoutConfig) -> TestInputs:
    """A test file's fingerprint combines its graph fingerprint (its bytes, its import closure,
    conftest chain and data files) with every config file and the environment key."""
    config_digest = state.config_digest()
    environment = environment_key(root, config.test.pytest_args, config.test.env)
    fingerprints = {}
    for node, path in state.graph.modules.items():
        if state.files[path].category is Category.TEST:
            combined = f"{state.fingerprints[node]}:{config_digest}:{environment}".encode()
            fingerprints[path] = xxhash.xxh3_128_hexdigest(combined)
    return TestInputs(fingerprints, config_digest, environment)


def plan_tests(
    root: Path, config: ScoutConfig, *, run_all: bool = False, explain: bool = False,
    state: ScoutState | None = None, shard: tuple[int, int] | None = None, since: str | None = None,
    audit: bool = False,
) -> TestPlan:
    """RevisionError when `since` cannot be compared with."""
    started = time.perf_counter()
    state = state or current_state(root, config)
    inputs = fingerprint_tests(root, state, config)
    cache = shared_cache(config)
    records = RecordStore(cache).records(inputs.fingerprints.values())
    durations = load_durations(root)
    ignore = "forgotten: `doit forget` was run" if is_forgotten(root, "test") else (
        "--all: every test runs" if run_all else None)
    always_run = GlobSet.of(config.test.always_run)
    explainer = ChangeExplainer(root, state, inputs.config_digest, inputs.environment) if explain else None
    decisions = select_tests(
        inputs.fingerprints, records, ignore_records=ignore, always_run=always_run,
        why_changed=explainer.reasons if explainer else lambda path: (),
    )
    audit_reason = "audit: doit test --audit" if audit else audit_due(
        load_audit_log(root), config.test, time.time())
    audit_of = None
    if audit_reason:
        audit_of = decisions if ignore is None else select_tests(
            inputs.fingerprints, records, always_run=always_run)
        decisions = select_tests(inputs.fingerprints, records, ignore_records=audit_reason, always_run=always_run)
    if since:
        decisions = _keep_affected(decisions, changes_since(root, since, state, config))
    if shard is not None:
        decisions = _keep_shard(decisions, durations, *shard)
    return TestPlan(state, inputs, decisions, durations, time.perf_counter() - started, cache.take_warnings(),
                    audit_of, explainer)


def _keep_affected(decisions: list[TestDecision], changes: ChangesSince) -> list[TestDecision]:
    """Unaffected tests do not run; affected ones run unless a green record matches them."""
    reason = (f"a config file changed since {changes.revision}" if changes.everything
              else f"affected by what changed since {changes.revision}")
    return [
        TestDecision(d.path, d.fingerprint, d.action, d.nodes, (reason, *d.reasons) if d.runs else d.reasons)
        if d.path in changes.affected
        else TestDecision(d.path, d.fingerprint, "skip", reasons=(f"not affected by changes since {changes.revision}",))
        for d in decisions
    ]


def _keep_shard(decisions: list[TestDecision], durations: dict[str, float], index: int, count: int) -> list[TestDecision]:
    """Only the files of shard `index` of `count` still run; the others run in other jobs."""
    shards = shard_files([d.path for d in decisions if d.runs], durations, count)
    home = {path: i for i, paths in enumerate(shards, start=1) for path in paths}
    return [
        d if not d.runs or home[d.path] == index
        else TestDecision(d.path, d.fingerprint, "skip", reasons=(f"runs in shard {home[d.path]}/{count}",))
        for d in decisions
    ]


@dataclass
class TestRunResult:
    __test__ = False  # a domain name, not a pytest test class

    plan: TestPlan
    pytest: PytestRun | None
    stale_after_run: list[str]
    seconds: dict[str, float]
    misses: dict[str, list[str]] = field(default_factory=dict)  # audit: path -> failing nodes
    misses_fail: bool = True
    changed_before_audit: list[str] = field(default_factory=list)  # files changed since the last run

    @property
    def failed_nodes(self) -> list[str]:
        if self.pytest is None:
            return []
        failed = [n for n, o in self.pytest.outcomes.items() if o == "failed"]
        return sorted({*failed, *self.pytest.collection_errors})

    @property
    def ok(self) -> bool:
        if self.misses and self.misses_fail:
            return False
        return self.pytest is None or (
            self.pytest.exit_code in (0, 5) and not self.pytest.collection_errors)


def run_tests(root: Path, config: ScoutConfig, *, run_all: bool = False, plan: TestPlan | None = None) -> TestRunResult:
    plan = plan or plan_tests(root, config, run_all=run_all)
    planned = time.perf_counter()
    selected = plan.selected
    if not selected:
        # No snapshot either: explanations compare with the last run that ran tests.
        _audit_log_after(root, plan, None)
        return TestRunResult(plan, None, [], {"plan": plan.seconds})
    workers = config.test.workers
    if workers is None:
        workers = choose_workers(
            estimate_seconds([d.path for d in selected], plan.durations), len(selected),
            os.cpu_count() or 1,
        )
    if workers and not xdist_available():
        plan.warnings.append("pytest-xdist is not installed: tests run in one process")
        workers = 0
    pytest_run = run_pytest(root, selected, workers=workers, extra_args=config.test.pytest_args)
    ran = time.perf_counter()
    # Inputs are checked again: a file that changed while pytest ran keeps its tests stale.
    after = fingerprint_tests(root, run_scout(root, config).state, config)
    stale = sorted(d.path for d in selected if after.fingerprints.get(d.path) != d.fingerprint)
    _record(RecordStore(shared_cache(config)), selected, pytest_run, set(stale))
    save_durations(root, pytest_run.durations)
    if pytest_run.completed:
        remember(root, "test")
    misses, changed = _audit_log_after(root, plan, pytest_run)
    save_snapshot(root, plan.state, plan.inputs.config_digest, plan.inputs.environment)
    return TestRunResult(plan, pytest_run, stale, {
        "plan": plan.seconds, "pytest": ran - planned, "record": time.perf_counter() - ran,
    }, misses, config.test.audit_misses == "fail", changed)


def _audit_log_after(
    root: Path, plan: TestPlan, run: PytestRun | None,
) -> tuple[dict[str, list[str]], list[str]]:
    """Count the run; after a completed audit, log the selection misses (path -> failing nodes)
    with the files changed since the last run."""
    log = load_audit_log(root)
    misses: dict[str, list[str]] = {}
    changed: list[str] = []
    if plan.audit_of is not None and run is not None and run.completed:
        misses = selection_misses(plan.audit_of, run)
        changed = ChangeExplainer(root, plan.state, plan.inputs.config_digest, plan.inputs.environment).changed_paths
        log.misses += [{"path": path, "nodes": nodes, "at": time.time(), "changed_since_last_run": changed}
                       for path, nodes in misses.items()]
        log.runs_since_audit, log.last_audit_at = 0, time.time()
    else:
        log.runs_since_audit += 1
    save_audit_log(root, log)
    return misses, changed


def _record(store: RecordStore, selected: list[TestDecision], run: PytestRun, stale: set[str]) -> None:
    """Write what ran. Nothing a failure, an error, a crash or an interruption touched is
    recorded green."""
    by_file: dict[str, dict[str, str]] = {}
    for node, outcome in run.outcomes.items():
        by_file.setdefault(node.split("::")[0], {})[node] = outcome
    for decision in selected:
        outcomes = by_file.get(decision.path, {})
        if decision.path in stale:
            continue
        if decision.path in run.collection_errors or (decision.action == "rerun" and run.exit_code == 4):
            # A file that does not collect, or failed nodes pytest no longer finds (usage
            # error): no record, so the next run takes the whole file again.
            store.forget_file(decision.fingerprint)
            continue
        if decision.action == "run":
            store.record_file(decision.fingerprint, decision.path, outcomes, complete=run.completed)
        else:
            store.record_nodes(decision.fingerprint, decision.path, outcomes)


def write_last_run(root: Path, result: TestRunResult, cache: RunCounts) -> None:
    plan = result.plan
    passed = 0 if result.pytest is None else sum(
        1 for o in result.pytest.outcomes.values() if o == "passed")
    update_last_run(root, {
        "tests": {
            "total_files": len(plan.decisions),
            "selected": [d.path for d in plan.selected],
            "skipped": [d.path for d in plan.decisions if not d.runs],
            "failed": result.failed_nodes,
            "passed": passed,
            "stale_after_run": result.stale_after_run,
            "audit": plan.audit_of is not None,
            "selection_misses": result.misses,
            "workers": 0 if result.pytest is None else result.pytest.workers,
            "exit_code": None if result.pytest is None else result.pytest.exit_code,
        },
        "seconds": result.seconds,
        "cache": cache.as_json(),
    })
