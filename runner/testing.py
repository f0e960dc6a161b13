"""The test task: fingerprint the test files, select what must run, run it, record the results."""

from __future__ import annotations

import os
import shlex
import sys
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Collection, Mapping

import xxhash

from doit_scout.analyzers.categories import Category
from doit_scout.analyzers.globs import GlobSet
from doit_scout.analyzers.selection import TestDecision, TestRecord, select_tests
from doit_scout.analyzers.targets import CONFIG_TARGET, DIR_PREFIX, LITERALS_PREFIX, MODULE_PREFIX, TEXT_PREFIX
from doit_scout.analyzers.unit_graph import UnitGraph, build_unit_graph
from doit_scout.audit import audit_due, load_audit_log, save_audit_log, selection_misses
from doit_scout.bytecode import discard_stale_bytecode
from doit_scout.collection import (
    Manifest,
    conftest_paths,
    key_of,
    load_by_names,
    load_manifest,
    names_key_of,
    save_manifest,
    why_pytest_is_asked,
)
from doit_scout.context import RunContext
from doit_scout.environment import environment_key
from doit_scout.executed import ExecutedCode, quiet_bodies, with_import_effects
from doit_scout.execution import COUNT_WORDS, USAGE_ERROR, PytestRun, run_pytest, xdist_available
from doit_scout.explain import ChangeExplainer, changed_since_tests_ran, follow_snapshot, save_snapshot
from doit_scout.file_hashing import digest_on_disk
from doit_scout.forget import add_fresh, fresh_since_forget, remember
from doit_scout.item_counts import count_tests
from doit_scout.item_records import ItemStore, narrow_to_items, record_items
from doit_scout.observed import ObservedInputs
from doit_scout.pass_through import PassThrough
from doit_scout.plan_filters import keep_affected, keep_shard, keep_under
from doit_scout.probes import costs_little, tracer_choice
from doit_scout.project_state import (
    CorruptState,
    read_state_json,
    state_dir,
    update_last_run,
    write_state_json,
)
from doit_scout.recorded_bodies import RecordedBodies, TracedFingerprints, traced_fingerprints
from doit_scout.recorded_observations import RecordedObservations, checkout_content
from doit_scout.recording import record_run
from doit_scout.records import (
    RecordStore,
    load_durations,
    load_machine_costs,
    load_project_addopts,
    load_shard_durations,
    project_identity,
    pytest_config_key,
    save_durations,
    save_machine_costs,
    save_project_addopts,
    save_shard_durations,
)
from doit_scout.scout import current_state, run_scout
from doit_scout.scout_state import SCHEMA, ScoutState
from doit_scout.shared_cache import RunCounts
from doit_scout.since import ChangesSince, changes_since
from doit_scout.workers import (
    FileTiming,
    WorkerChoice,
    WorkerContext,
    decide_workers,
    expected_work,
    observe_run,
    one_process_timings,
    workers_asked,
)


@dataclass
class TestInputs:
    """Fingerprints of the test units (None for one doit-scout cannot fingerprint), the parts every
    unit shares, and the unit graph they were computed over (built when asked for, when the
    fingerprints came from the last run's memo). A unit's fingerprint is the one its frame and
    executed code give (doit_scout.executed) when its runs were traced, else the static one
    (`static`, over the static graph and observed inputs); `frames` are the units' frame fingerprints."""

    __test__ = False  # a domain name, not a pytest test class

    fingerprints: dict[str, str | None]
    config_digest: str
    environment: str
    build_units: Callable[[], UnitGraph]
    frames: dict[str, str | None] = field(default_factory=dict)
    static: dict[str, str | None] = field(default_factory=dict)
    traced: TracedFingerprints = field(default_factory=TracedFingerprints)
    observed: Mapping[str, frozenset[str]] = field(default_factory=dict)
    content: str = ""  # the checkout's content, observations left out (doit_scout.recorded_observations)
    # The static fingerprints with the observations earlier records of this content were made with.
    earlier: Callable[[], list[dict[str, str | None]]] = lambda: []

    @cached_property
    def units(self) -> UnitGraph:
        return self.build_units()


@dataclass
class TestPlan:
    __test__ = False  # a domain name, not a pytest test class

    state: ScoutState
    inputs: TestInputs
    manifest: Manifest
    decisions: list[TestDecision]
    hidden: frozenset[str]  # files pytest need not collect: their green records match
    durations: dict[str, FileTiming]  # what each test file cost when it last ran, as in one process
    seconds: float
    warnings: list[str] = field(default_factory=list)
    # On an audit: what the incremental selection would have done, to compare outcomes with.
    audit_of: TestPlan | None = None
    explainer: ChangeExplainer | None = None  # when planned for `doit explain`
    sharded: bool = False
    since: ChangesSince | None = None  # --since REV: tests what changed does not affect skip without a record
    # What changed, among what pytest's collection depends on, since it last said which files are
    # tests (None: it said under these inputs). With the manifest known, pytest was asked while
    # planning (`doit explain`, --shard).
    collection_changes: str | None = None
    full: bool = False  # records do not count (--all, `doit forget`, an audit): every test runs
    forgotten: frozenset[str] | None = None  # after `doit forget test`: the fingerprints recorded since

    @property
    def selected(self) -> list[TestDecision]:
        return [d for d in self.decisions if d.runs]

    @property
    def collect_reason(self) -> str | None:
        """Why pytest must run even when no known test file needs to."""
        if self.manifest.known:
            return None
        return f"pytest is asked which files are tests: {self.collection_changes or 'it has not said yet'}"

    @property
    def runs_pytest(self) -> bool:
        return bool(self.selected) or self.collect_reason is not None


def fingerprint_units(context: RunContext, state: ScoutState, units: Collection[str]) -> TestInputs:
    """A unit's fingerprint covers its content, its import closure, the conftest.py files above it,
    what running code was observed to read, every config file and the environment key."""
    root, config = context.root, context.config
    config_digest = state.test_config_digest(root)
    environment = environment_key(root, config.test.pytest_args, config.test.env)
    observed = ObservedInputs(context).load(state, units)
    content = checkout_content(state, config_digest, environment)

    def outside_of(observed: Mapping[str, frozenset[str]]) -> dict[str, str]:
        # Files code was seen to read that the inventory does not list (git-ignored ones) are read now.
        found = {t: digest_on_disk(root, t) for targets in observed.values() for t in targets
                 if not t.startswith((DIR_PREFIX, MODULE_PREFIX, TEXT_PREFIX, LITERALS_PREFIX)) and t != CONFIG_TARGET
                 and t not in state.files}
        return {**found, CONFIG_TARGET: state.config_digest()}

    def build_with(observed: Mapping[str, frozenset[str]], outside: Mapping[str, str]) -> UnitGraph:
        return build_unit_graph(state.graph, state.digests(), units, observed,
                                digest_of=lambda path: outside.get(path) or digest_on_disk(root, path),
                                shared=with_import_effects(state))

    def earlier() -> list[dict[str, str | None]]:
        graphs = (build_with(then, outside_of(then)) for then in RecordedObservations(context.cache).load(content)
                  if then != observed)
        return [{path: g.fingerprint_of(path, config_digest, environment) for path in units} for g in graphs]

    outside = outside_of(observed)

    def build() -> UnitGraph:
        return build_with(observed, outside)

    key = _fingerprints_key(state, units, observed, outside, config_digest, environment)
    remembered = _remembered_fingerprints(root)
    if key in remembered:
        static, frames, body_inputs = remembered[key]
        units_graph = build
    else:
        graph = build()
        static = {path: graph.fingerprint_of(path, config_digest, environment) for path in units}
        frames = {path: graph.frame_of(path, config_digest, environment) for path in units}
        body_inputs = dict(graph.body_inputs)
        kept = list(remembered.items())[-(_FINGERPRINTS_KEPT - 1):]
        write_state_json(state_dir(root) / _FINGERPRINTS_FILE,
                         {"entries": {**{k: list(v) for k, v in kept}, key: [static, frames, body_inputs]}})
        units_graph = lambda: graph  # noqa: E731
    traced = traced_fingerprints(context.cache, state, static, frames, body_inputs) \
        if config.test.executed_code else TracedFingerprints()
    return TestInputs({**static, **traced.fingerprints}, config_digest, environment, units_graph, frames, static, traced,
                      observed, content, earlier)


# The unit fingerprints of the last computation, with a digest of everything they were computed
# from: a run where nothing changed reads them instead of building the unit graph again.
_FINGERPRINTS_FILE = "unit-fingerprints.json"
_FINGERPRINTS_VERSION = 13  # bump when the same inputs would give other fingerprints
_FINGERPRINTS_KEPT = 4  # the plan's units and the units a run recorded differ


def _fingerprints_key(
    state: ScoutState, units: Collection[str], observed: Mapping[str, Collection[str]],
    outside: Mapping[str, str], config_digest: str, environment: str,
) -> str:
    hasher = xxhash.xxh3_128(f"{_FINGERPRINTS_VERSION}\0{SCHEMA}\0{state.inputs_key}\0{config_digest}\0"
                             f"{environment}\0".encode("utf-8", "surrogateescape"))
    for path, entry in sorted(state.files.items()):
        hasher.update(f"{path}\0{entry.digest}\0{entry.category.value}\0".encode("utf-8", "surrogateescape"))
    hasher.update(b"units\0" + "\0".join(sorted(units)).encode("utf-8", "surrogateescape"))
    for source, targets in sorted(observed.items()):
        hasher.update(f"\0{source}\0".encode("utf-8", "surrogateescape") + "\0".join(sorted(targets)).encode("utf-8", "surrogateescape"))
    for path, digest in sorted(outside.items()):
        hasher.update(f"\0{path}\0{digest}".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


Fingerprints = dict[str, str | None]


def _remembered_fingerprints(root: Path) -> dict[str, tuple[Fingerprints, Fingerprints, dict[str, str]]]:
    """Memo key -> the units' static and frame fingerprints, and the digests of what bodies read."""
    try:
        data = read_state_json(state_dir(root) / _FINGERPRINTS_FILE)
    except CorruptState:
        return {}
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {k: (v[0], v[1], v[2]) for k, v in entries.items()
            if isinstance(v, list) and len(v) == 3 and all(isinstance(part, dict) for part in v)}


def plan_tests(
    context: RunContext, *, run_all: bool = False, explain: bool = False, state: ScoutState | None = None,
    shard: tuple[int, int] | None = None, since: str | None = None, audit: bool = False,
    paths: Collection[str] = (),
) -> TestPlan:
    """RevisionError when `since` cannot be compared with. With `paths` (files and folders given
    to pytest), only tests under them are candidates."""
    started = time.perf_counter()
    root, config, cache = context.root, context.config, context.cache
    state = state or current_state(context)
    environment = environment_key(root, config.test.pytest_args, config.test.env)
    manifest = load_manifest(root, cache, state, environment)
    inputs = None
    collection_changes = None
    if not manifest.known:
        # Any file may be a test now: all are fingerprinted, the conftest.py files for the names key.
        inputs = fingerprint_units(context, state, set(state.files) | manifest.files)
        manifest = load_by_names(root, cache, state, environment, manifest, names_key_of(
            state, inputs.fingerprints, inputs.config_digest, environment))
    if not manifest.known:
        collection_changes = why_pytest_is_asked(root, state, environment)
        if explain or shard is not None:
            # Ask pytest first (collection only): an explanation names the files pytest collects,
            # and every shard must partition the same list of them.
            manifest = learn_manifest(context, state, manifest, inputs, quiet=explain)
    plan = _plan(context, state, manifest, run_all=run_all, explain=explain, inputs=inputs)
    audit_reason = "audit: doit test --audit" if audit else audit_due(
        load_audit_log(root), config.test, time.time())
    if audit_reason:
        incremental = plan if not run_all else _plan(context, state, manifest, inputs=inputs)
        plan = _plan(context, state, manifest, explain=explain, ignore=audit_reason, inputs=inputs)
        plan.audit_of = incremental
    plan.collection_changes = collection_changes
    if since:
        changes = changes_since(context, since, state, plan.inputs.units)
        plan.decisions = keep_affected(plan.decisions, changes)
        plan.since = changes
    if paths:
        plan.decisions = keep_under(plan.decisions, paths)
    if shard is not None:
        plan.decisions = keep_shard(plan.decisions, load_shard_durations(root, cache), *shard)
        plan.sharded = True
    plan.hidden = frozenset(plan.hidden | {d.path for d in plan.decisions if not d.runs})
    plan.seconds = time.perf_counter() - started
    plan.warnings += cache.take_warnings()
    return plan


def _plan(
    context: RunContext, state: ScoutState, manifest: Manifest, *, run_all: bool = False, explain: bool = False,
    ignore: str | None = None, inputs: TestInputs | None = None,
) -> TestPlan:
    """Decide for each unit of the manifest. When the manifest is unknown, any file of the project
    with a complete green record may be hidden from pytest, which collects every other one; the
    test files by name are decided as a guess (pytest's run says which it collects). `inputs`: the
    fingerprints of every file, when computed already."""
    root, config = context.root, context.config
    units = set(manifest.files)
    if not manifest.known:
        units |= {p for p, e in state.files.items() if e.category is Category.TEST}
    candidates = units if manifest.known else units | set(state.files)
    inputs = inputs or fingerprint_units(context, state, candidates)
    fresh = fresh_since_forget(root, "test")  # only records written since `doit forget` count
    records, fingerprints = _records_of(context, inputs, candidates, fresh)
    ignore = ignore or ("--all: every test runs" if run_all else None)
    explainer = ChangeExplainer(root, state, inputs.config_digest, inputs.environment, inputs.units) \
        if explain else None
    mapped = {p: fp for p, fp in fingerprints.items() if fp is not None and p in units}
    decisions = select_tests(
        mapped, records, ignore_records=ignore, always_run=GlobSet.of(config.test.always_run),
        why_changed=(lambda path: (FORGOTTEN,)) if fresh is not None else explainer.reasons if explainer
        else lambda path: (),
    )
    if ignore is None and fresh is None:
        decisions = narrow_to_items(decisions, inputs.frames, inputs.traced.fingerprints, ItemStore(context.cache),
                                    inputs.traced.digests)
    if explainer is not None:
        decisions = [replace(d, reasons=(*d.reasons, *explainer.unreached_changes(
            d.path, traced=d.fingerprint != inputs.static.get(d.path)))) if not d.runs else d for d in decisions]
    decisions += [
        TestDecision(path, "", "run", reasons=(
            "pytest collects it, but it is not among the project files doit-scout lists (outside the "
            "project, or ignored by git): it cannot be fingerprinted and runs every time",))
        for path in sorted(units - set(mapped))
    ]
    hidden = set() if ignore else {d.path for d in decisions if not d.runs}
    if not manifest.known and not ignore:
        hidden |= {p for p in candidates - units if _green(records.get(fingerprints.get(p) or ""))}
    return TestPlan(state, inputs, manifest, sorted(decisions, key=lambda d: d.path), frozenset(hidden),
                    load_durations(root), 0.0, explainer=explainer, full=ignore is not None or fresh is not None,
                    forgotten=fresh)


FORGOTTEN = "forgotten: `doit forget` was run"


def _records_of(context: RunContext, inputs: TestInputs, paths: Collection[str], fresh: frozenset[str] | None,
                ) -> tuple[dict[str, TestRecord], dict[str, str | None]]:
    """The records of `paths` (of `fresh` fingerprints only, unless None: after `doit forget`),
    and the fingerprint each is decided by: the one its executed code gives; else the one its
    content's last traced record was made with (doit_scout.recorded_bodies: an edit undone, after
    its run added bodies under the same frame); else the static one when only that has a record
    (a branch switched back to, whose code was last run before these tests were traced) and its
    runs read nothing it leaves out. All are sound: a run is recorded under the first and the
    last, and the second is the first as that record computed it."""
    recorded = inputs.traced.recorded
    wanted = {fp: path for path in paths
              for fp in (inputs.fingerprints.get(path), recorded.get(path), inputs.static.get(path))
              if fp and (fresh is None or fp in fresh)}
    records = RecordStore(context.cache).records(wanted)
    chosen = {path: fp if fp in records else recorded[path] if recorded.get(path) in records
              else fp if path in inputs.traced.exact or inputs.static.get(path) not in records
              else inputs.static[path] for path, fp in inputs.fingerprints.items()}
    # Else the static one as an earlier record of this very checkout content computed it, with
    # what was known then to be read (doit_scout.recorded_observations: a branch switched back to).
    missing = {p for p in paths if not _green(records.get(chosen.get(p) or "")) and p not in inputs.traced.exact}
    for earlier in inputs.earlier() if missing else ():
        found = RecordStore(context.cache).records(
            {fp: p for p in missing if (fp := earlier.get(p)) and (fresh is None or fp in fresh)})
        for fp, record in found.items():
            if _green(record) and (path := next(p for p in missing if earlier.get(p) == fp)):
                records[fp], chosen[path] = record, fp
                missing.discard(path)
    return records, chosen


def _green(record: TestRecord | None) -> bool:
    return record is not None and record.complete and not record.failing


def learn_manifest(context: RunContext, state: ScoutState, manifest: Manifest, inputs: TestInputs | None, *,
                   quiet: bool = False) -> Manifest:
    """Ask pytest which files it collects (collection only; green files stay hidden). `quiet`
    keeps pytest's output off the terminal."""
    root = context.root
    plan = _plan(context, state, manifest, inputs=inputs)
    discard_stale_bytecode(root, state.files)
    run = run_pytest(root, [], hidden=plan.hidden, extra_args=context.config.test.pytest_args,
                     collect_only=True, quiet=quiet)
    learned = _manifest_after(manifest, plan.hidden, run)
    if learned.known:
        save_manifest(root, context.cache, state, plan.inputs.environment, learned)
    return learned


def _seen(run: PytestRun, hidden: Collection[str]) -> set[str]:
    """The files pytest collected (with or without items, or failing to), and those it was told
    to hide, which it collected when their records were made."""
    return run.collected | run.error_files | {p for p in run.items.values() if p is not None} | set(hidden)


def _manifest_after(manifest: Manifest, hidden: Collection[str], run: PytestRun) -> Manifest:
    """What a run says pytest collects. Only a run that collected everything it was not told to
    hide replaces what was known; others (--lf, an interrupted collection) only add to it."""
    seen = _seen(run, hidden)
    if run.collected_everything:
        return replace(manifest, files=frozenset(seen), known=True)
    return replace(manifest, files=frozenset(seen | manifest.files), known=False)


def _as_collected(plan: TestPlan, run: PytestRun) -> list[TestDecision]:
    """The plan's decisions for what a run that collected everything says the test files are: a
    file it made no collector for is none (outside testpaths, under norecursedirs, ignored), and
    one it collected that the plan did not decide (a file a conftest.py hook collects, a module
    whose doctests run) ran, or was hidden for its green record."""
    seen = _seen(run, plan.hidden)
    decided = {d.path: d for d in plan.decisions if d.path in seen}
    for path in seen - decided.keys():
        fingerprint = plan.inputs.fingerprints.get(path) or ""
        decided[path] = TestDecision(path, fingerprint, "skip", reasons=("a green record matches its inputs",)) \
            if path in plan.hidden else TestDecision(path, fingerprint, "run", reasons=(
                "pytest collected it when asked which files are tests",))
    return sorted(decided.values(), key=lambda d: d.path)


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
    newly_observed: list[str] = field(default_factory=list)  # units whose inputs grew by observation
    workers: WorkerChoice | None = None  # who decided the xdist workers, and why

    @property
    def failed_nodes(self) -> list[str]:
        if self.pytest is None:
            return []
        failed = [n for n, o in self.pytest.outcomes.items() if o == "failed"]
        return sorted({*failed, *self.pytest.collection_errors})

    @property
    def incomplete(self) -> list[str]:
        """Selected files that did not run to completion without failing: they stay stale."""
        run = self.pytest
        if run is None:
            return []
        complete = run.complete_files()
        failing = {n.split("::")[0] for n in self.failed_nodes}
        return sorted(d.path for d in self.plan.selected if d.path not in complete | failing and d.action == "run")

    @property
    def left_out(self) -> list[str]:
        """Selected files the project's own --lf or --sw kept tests of from running: not green."""
        kept_out = set() if self.pytest is None else self.pytest.left_out_by_config()
        return [p for p in self.incomplete if p in kept_out]

    @property
    def ok(self) -> bool:
        if self.misses and self.misses_fail or self.left_out:
            return False
        run = self.pytest
        return run is None or (
            run.completed and run.exit_code in (0, 5) and not run.collection_errors
            and "failed" not in run.outcomes.values())


def arguments_pytest_refuses(context: RunContext, plan: TestPlan, pass_through: PassThrough) -> PytestRun | None:
    """With nothing to run, the arguments after `--` still go to pytest, which alone knows its
    options, its plugins' and the paths it accepts: a collection with every green file hidden, its
    output kept unless pytest refuses them (usage error, exit status 4: the run returned)."""
    if not pass_through.args:
        return None
    run = run_pytest(context.root, [], hidden=plan.hidden,
                     extra_args=(*context.config.test.pytest_args, *pass_through.args), collect_only=True, quiet=True)
    if run.exit_code != USAGE_ERROR:
        return None
    print(run.output, end="", flush=True)
    return run


def run_tests(context: RunContext, *, run_all: bool = False, plan: TestPlan | None = None,
              pass_through: PassThrough = PassThrough(), timeout: float | None = None,
              record: bool = True) -> TestRunResult:
    """`pass_through`: what the command line gave pytest after `--`; `timeout` stops a session
    that runs longer (None: the configured one); `record` False runs it untraced."""
    root, config = context.root, context.config
    plan = plan or plan_tests(context, run_all=run_all, paths=pass_through.paths)
    planned = time.perf_counter()
    if not plan.runs_pytest:
        refused = arguments_pytest_refuses(context, plan, pass_through)
        if refused is not None:
            return TestRunResult(plan, refused, [], {"plan": plan.seconds})
        _audit_log_after(root, plan, None, [])
        _use_up_forget(root, plan, {})
        if plan.since is None and not plan.sharded and not pass_through.paths:  # every skip: a green record matched
            follow_snapshot(root, plan.state, plan.inputs.config_digest, plan.inputs.environment,
                            units=lambda: plan.inputs.units)
        return TestRunResult(plan, None, [], {"plan": plan.seconds})
    selected = plan.selected
    cache = context.cache
    workers = _WorkerDecision(context, plan, pass_through)
    choice = workers.choose()
    if choice.warning:
        plan.warnings.append(choice.warning)
    if not pass_through.may_record_green:
        plan.warnings.append(
            f"pytest options that can change outcomes were given ({' '.join(pass_through.unvetted)}): "
            "the tests ran, and nothing was recorded green")
    discard_stale_bytecode(root, plan.state.files)
    traced = record and _traces(context, plan)
    pytest_run = run_pytest(root, selected, hidden=plan.hidden, worker_args=choice.args,
                            extra_args=(*config.test.pytest_args, *pass_through.args),
                            interactive=pass_through.interactive, timeout=timeout or config.test.timeout,
                            trace=traced, quiet_bodies=quiet_bodies(plan.state) if traced else ())
    if pass_through.narrows_collection():
        pytest_run.narrowed = True  # what it did not collect may still be a test
    reruns = {d.path for d in selected if d.action == "rerun"} - pytest_run.widened  # a node gone: it ran whole
    pytest_run.partial_files |= {*pass_through.node_files, *reruns}  # but node ids after `--` narrow it still
    pytest_run.deselected_by_config = not pass_through.deselects()
    if pytest_run.collected_everything:
        plan.decisions = _as_collected(plan, pytest_run)  # pytest decides what a test is
    ran = time.perf_counter()
    if not pass_through.may_record_green:
        _audit_log_after(root, plan, None, [])
        return TestRunResult(plan, pytest_run, [], {"plan": plan.seconds, "pytest": ran - planned},
                             workers=workers.settle(pytest_run, choice))
    choice = workers.learn(pytest_run, choice)
    manifest = _manifest_after(plan.manifest, plan.hidden, pytest_run)
    ObservedInputs(context).add(plan.state, pytest_run.observed, manifest.files)
    # Inputs are checked again, with what this run observed: a file that changed while pytest ran
    # keeps its tests stale; the others are recorded under their fingerprint as it is now.
    after_state = run_scout(context).state
    ran_units = _units_that_ran(pytest_run)
    # The conftest.py files too, for the manifest's names key (before and after alike: when
    # nothing changed while pytest ran, the second reads the first's fingerprints).
    fingerprinted = ran_units | conftest_paths(after_state)
    before = fingerprint_units(context, plan.state, fingerprinted)
    if pytest_run.executed:
        ExecutedCode(cache).add(plan.state, before.frames, pytest_run.executed, pytest_run.untraced,
                                pytest_run.ran_before, before.units.state_reach)
        before = fingerprint_units(context, plan.state, fingerprinted)  # with what this run ran
    after = fingerprint_units(context, after_state, fingerprinted)
    stale = sorted(p for p in ran_units if after.fingerprints[p] is not None
                   and before.fingerprints[p] != after.fingerprints[p])
    # A run that did not trace a file's tests says nothing of which bodies they ran: only the
    # static fingerprint holds for it.
    seen = {p for p in pytest_run.executed if traced and p not in pytest_run.untraced}
    recorded = record_run(RecordStore(cache), plan.decisions, pytest_run, {
        p: {after.fingerprints[p] if p in seen else None, after.static.get(p)} - {None} for p in ran_units}, set(stale))
    if pytest_run.item_traces and after.traced.digests is not None:
        record_items(ItemStore(cache), pytest_run, after.frames, after.traced.digests, after.units.state_reach, stale)
    _use_up_forget(root, plan, recorded)
    RecordedBodies(cache).add(after.static, after.frames, after.traced.bodies, (seen & ran_units) - set(stale))
    RecordedObservations(cache).add(after.content, after.observed)
    if manifest.known and key_of(after_state, after.environment) == manifest.key:
        names_key = names_key_of(after_state, after.fingerprints, after.config_digest, after.environment)
        save_manifest(root, cache, after_state, after.environment, replace(manifest, names_key=names_key))
    if not plan.sharded and pytest_run.completed:
        save_shard_durations(root, cache, pytest_run.durations)
    newly_observed = sorted(d.path for d in selected if plan.inputs.static.get(d.path) and after.static.get(d.path)
                            not in (None, plan.inputs.static[d.path]) and d.path not in stale)
    misses, changed = _audit_log_after(root, plan, pytest_run, newly_observed)
    save_snapshot(root, plan.state, plan.inputs.config_digest, plan.inputs.environment, units=plan.inputs.units)
    plan.warnings += cache.take_warnings()  # recording wrote to the cache (and to a remote one, if any)
    return TestRunResult(plan, pytest_run, stale, {
        "plan": plan.seconds, "pytest": ran - planned, "record": time.perf_counter() - ran,
    }, misses, config.test.audit_misses == "fail", changed, newly_observed, choice)


def _traces(context: RunContext, plan: TestPlan) -> bool:
    """Whether this run records which functions each test runs. With the C probe on CPython 3.11
    (a frame evaluator, doit_scout.probes) that costs about a tenth of plain pytest's time: every
    run records, a first one and a full one too, so that no record is made that cannot vouch for a
    test whose runs read the environment or a file as text (an undo after the first run found
    only such records on click, and ran 15 of 34 files again). Other probes cost as much again as
    the tests' own code or more: not on a file's first run in a checkout, when there is no record
    to be more precise than yet, nor on a full run (--all, `doit forget`, an audit), which costs
    what plain pytest does. Python 3.11 names code by qualified name (`Class.method`); 3.10 runs
    untraced."""
    if not context.config.test.executed_code or sys.version_info < (3, 11):
        return False
    if costs_little(_tracer_named()):
        return True
    return not plan.full and any(d.path in plan.durations for d in plan.selected)


def _tracer_named() -> str | None:
    try:
        return tracer_choice()
    except ValueError:
        return None  # the run stops on it before pytest starts (doit_scout.execution)


class _WorkerDecision:
    """The worker choice of one run (doit_scout.workers), from what was recorded before it, and
    what the run teaches the next choice: the project's own addopts as pytest read them, what
    pytest cost on this machine, and the files' timings."""

    def __init__(self, context: RunContext, plan: TestPlan, pass_through: PassThrough) -> None:
        self.root, self.config, self.plan, self.cache = context.root, context.config, plan, context.cache
        self.pass_through = pass_through.args
        self.key = pytest_config_key(plan.inputs.config_digest, [*self.config.test.pytest_args, *self.pass_through])
        self.env_addopts = _split_addopts(os.environ.get("PYTEST_ADDOPTS", ""))
        self.project = project_identity(self.root)
        self.costs = load_machine_costs(self.cache)

    def project_args(self, addopts: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """The project's own pytest arguments, as pytest orders them (the ini-file's addopts, then
        PYTEST_ADDOPTS, whose -n wins): known with the addopts, or when PYTEST_ADDOPTS settles it."""
        if addopts is None:
            return self.env_addopts if workers_asked(self.env_addopts) is not None else None
        return (*addopts, *self.env_addopts)

    def choose(self) -> WorkerChoice:
        work = expected_work(((d.path, len(d.nodes) if d.action == "rerun" else None) for d in self.plan.selected),
                             self.plan.durations)
        context = WorkerContext(work, self.costs, self.project, os.cpu_count() or 1, xdist_available(),
                                self.project_args(load_project_addopts(self.root, self.key)), os.environ)
        return decide_workers(self.pass_through, self.config.test, context)

    def settle(self, run: PytestRun, choice: WorkerChoice) -> WorkerChoice:
        """The choice as the run settled it (who really decided)."""
        return choice.settled(self.project_args(run.addopts))

    def learn(self, run: PytestRun, choice: WorkerChoice) -> WorkerChoice:
        """Record what the run teaches; return the choice as the run settled it."""
        if run.addopts is not None:
            save_project_addopts(self.root, self.key, run.addopts, run.inifile)
        whole = self._whole_files(run)
        costs = self.costs
        observation = observe_run(self.project, run.workers, run.timeline.wall, run.durations,
                                  len(run.node_durations), self.plan.durations, whole) if run.completed else None
        if observation is not None:
            costs = costs.with_observation(observation)
            save_machine_costs(self.cache, costs)
        counts, longest = run.tests_and_longest()
        durations = {p: s for p, s in run.durations.items() if p in whole}
        timings = one_process_timings(durations, counts, longest, costs.slowdown() if run.workers else 1.0)
        # A costly probe's durations overstate what plain pytest takes; the cheap one's do not.
        save_durations(self.root, timings, traced=bool(run.item_traces) and not costs_little(run.tracer))
        return self.settle(run, choice)

    def _whole_files(self, run: PytestRun) -> set[str]:
        """Files every test of which ran: a re-run of a file's failed tests, or `-k`, says little
        of what the whole file costs."""
        return run.complete_files() & set(run.durations)


def _split_addopts(text: str) -> tuple[str, ...]:
    """PYTEST_ADDOPTS as pytest splits it; unbalanced quotes (pytest's own error) count as none."""
    try:
        return tuple(shlex.split(text))
    except ValueError:
        return ()


def _units_that_ran(run: PytestRun) -> set[str]:
    return run.collected | run.error_files | {p for p in run.items.values() if p is not None}


def _audit_log_after(
    root: Path, plan: TestPlan, run: PytestRun | None, newly_observed: list[str],
) -> tuple[dict[str, list[str]], list[str]]:
    """Count the run; after a completed audit, log the selection misses (path -> failing nodes)
    with the files changed since the last run."""
    log = load_audit_log(root)
    misses: dict[str, list[str]] = {}
    changed: list[str] = []
    if plan.audit_of is not None and run is not None and run.completed:
        incremental = plan.audit_of
        misses = selection_misses(incremental.decisions, incremental.hidden, incremental.runs_pytest, run)
        changed = changed_since_tests_ran(root, plan.state)
        log.misses += [{"path": path, "nodes": nodes, "at": time.time(), "changed_since_last_run": changed,
                        "unknown_to_selection": path not in {d.path for d in incremental.decisions},
                        "inputs_observed_now": path in newly_observed}
                       for path, nodes in misses.items()]
        log.runs_since_audit, log.last_audit_at = 0, time.time()
    else:
        log.runs_since_audit += 1
    save_audit_log(root, log)
    return misses, changed


def _use_up_forget(root: Path, plan: TestPlan, recorded: Mapping[str, Collection[str]]) -> None:
    """After `doit forget test`: what was recorded complete counts again (`recorded`: path -> its
    fingerprints); the forget is cleared once every test file has such a record."""
    if plan.forgotten is None:
        return
    add_fresh(root, "test", {fp for fps in recorded.values() for fp in fps})
    if all(d.path in recorded or {plan.inputs.fingerprints.get(d.path), plan.inputs.static.get(d.path)}
           & plan.forgotten for d in plan.decisions):
        remember(root, "test")


def write_last_run(root: Path, result: TestRunResult, cache: RunCounts) -> None:
    plan = result.plan
    counts = count_tests(plan.decisions, plan.durations)
    passed = 0 if result.pytest is None else sum(1 for o in result.pytest.outcomes.values() if o == "passed")
    update_last_run(root, {
        "tests": {
            "total_files": len(plan.decisions),
            "collection_asked": plan.collect_reason is not None,
            "collection_changes": plan.collection_changes,
            "selected": [d.path for d in plan.selected],
            "skipped": [d.path for d in plan.decisions if not d.runs],
            "failed": result.failed_nodes,
            "passed": passed,
            "counts": {} if result.pytest is None else {w: result.pytest.counts[w] for w in COUNT_WORDS},
            "tests_run": 0 if result.pytest is None else result.pytest.tests,
            "tests_ran": [] if result.pytest is None else sorted(result.pytest.outcomes),
            "tests_selected": counts.tests,
            "tests_total": counts.total_tests,
            "stale_after_run": result.stale_after_run,
            "incomplete": result.incomplete,
            "unmapped_items": [] if result.pytest is None else result.pytest.unmapped_items(),
            "finished": None if result.pytest is None else result.pytest.finished,
            "audit": plan.audit_of is not None,
            "selection_misses": result.misses,
            "workers": 0 if result.pytest is None else result.pytest.workers,
            "workers_reason": None if result.workers is None else result.workers.reason,
            "tracer": None if result.pytest is None else result.pytest.tracer,  # c, python, None: untraced
            "pytest_phases": {} if result.pytest is None else result.pytest.timeline.phases(),
            "exit_code": None if result.pytest is None else result.pytest.exit_code,
            "interrupted": None if result.pytest is None else result.pytest.interrupted,
        },
        "seconds": result.seconds,
        "cache": cache.as_json(),
    })
