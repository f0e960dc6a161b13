"""Build steps (`build:<name>` tasks): find a step's stale units, run its command over them in
batches, record the units of every invocation that succeeded."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import xxhash

from doit_scout.analyzers.categories import Category
from doit_scout.analyzers.globs import GlobSet
from doit_scout.analyzers.graph import node_contents
from doit_scout.analyzers.steps import (
    StepDecision,
    StepUnit,
    batches,
    fill_command,
    select_units,
    step_units,
    takes_units,
)
from doit_scout.analyzers.symbol_graph import interface_fingerprints
from doit_scout.bytecode import discard_stale_bytecode
from doit_scout.config import StepConfig
from doit_scout.context import RunContext
from doit_scout.environment import ProgramMissing, environment_key, runnable, tool_identity
from doit_scout.explain import ChangeExplainer, follow_snapshot, save_snapshot, step_snapshot_file
from doit_scout.forget import is_forgotten, remember
from doit_scout.scout import run_scout
from doit_scout.scout_state import ScoutState

STEP_KIND = "step"


class StepError(Exception):
    """A step cannot run as declared; the message names the step and the fix."""


def input_files(state: ScoutState, step: StepConfig) -> list[str]:
    """The step's input files: its `inputs` globs, or by default the source .py files."""
    if step.inputs is None:
        return sorted(p for p, e in state.files.items() if e.category is Category.SOURCE and p.endswith(".py"))
    globs = GlobSet.of(step.inputs)
    return sorted(p for p in state.files if globs.matches(p))


def command_key(root: Path, step: StepConfig) -> str:
    """What every unit's verdict depends on besides the project's files: the command and how it
    runs, the tool's version and the environment."""
    try:
        tool = tool_identity(step.command)
    except ProgramMissing as err:
        raise StepError(f"{step.task}: {err}. Install it (for example with pip), or change the command "
                        f"in [tool.scout.steps.{step.name}].") from None
    return xxhash.xxh3_128_hexdigest(repr((
        step.command, step.scope, step.inputs, sorted(step.env.items()), tool, environment_key(root, (), ()),
    )).encode("utf-8", "surrogateescape"))


@dataclass
class StepPlan:
    step: StepConfig
    state: ScoutState
    command_key: str
    decisions: list[StepDecision]

    @property
    def stale(self) -> list[StepUnit]:
        return [d.unit for d in self.decisions if d.runs]


def units_of(root: Path, step: StepConfig, state: ScoutState) -> tuple[str, list[StepUnit]]:
    """The step's command key and its units over `state`. StepError when the step's program is not
    installed."""
    key = command_key(root, step)
    # The config files count too: they configure the tools (ruff and mypy read pyproject.toml).
    interfaces = interface_fingerprints(state.graph, node_contents(state.graph, state.digests())) \
        if step.scope == "dependents" else {}
    return key, step_units(step.scope, input_files(state, step), state.digests(), state.module_of(),
                           interfaces, f"{key}:{state.config_digest()}")


def plan_step(context: RunContext, step: StepConfig, state: ScoutState, *, explain: bool = False) -> StepPlan:
    """StepError when the step's program is not installed."""
    root = context.root
    key, units = units_of(root, step, state)
    names = {u.fingerprint: u.name for u in units}
    # A record names its unit: one read back for another unit is no green. Not its step: steps
    # with the same command over the same files share records (the fingerprint has the command).
    green = [fp for fp, record in context.cache.get_many(STEP_KIND, names).items()
             if isinstance(record, dict) and record.get("unit") == names[fp]]
    ignore = f"forgotten: `doit forget {step.task}` was run" if is_forgotten(root, step.task) else None
    why = _Reasons(root, state, step, key) if explain else (lambda unit: ())
    return StepPlan(step, state, key, select_units(units, green, ignore_records=ignore, why_changed=why))


class _Reasons:
    """What changed in a unit's inputs since the step last ran in this checkout."""

    def __init__(self, root: Path, state: ScoutState, step: StepConfig, command: str) -> None:
        self.step = step
        self.changes = ChangeExplainer(root, state, state.config_digest(), command, name=step_snapshot_file(step.name))
        self.globs = GlobSet.of(step.inputs) if step.inputs is not None else None

    def __call__(self, unit: StepUnit) -> list[str]:
        changes = self.changes
        if not changes.has_snapshot:
            return [f"{self.step.task} has not run in this checkout yet"]
        reasons = changes.config_reason()
        if changes.environment_changed:
            reasons.append("the command, its tool's version or the environment changed")
        for path in unit.files:
            if path not in changes.tested_before:
                reasons.append(f"new file: {path}")
            elif self.step.scope == "dependents" and unit.modules:
                reasons += changes.changes_reaching(path, f"changed: {path}")
            elif path in changes.changed_paths:
                reasons.append(f"changed: {path}")
        if self.step.scope == "all":
            gone = [p for p in changes.changed_paths if p not in changes.state.files and self._is_input(p)]
            reasons += [f"removed: {path}" for path in gone]
        return reasons or ["no green record: it failed or was interrupted when it last ran, or its "
                           "record left the cache"]

    def _is_input(self, path: str) -> bool:
        if self.globs is None:
            return path.endswith(".py")
        return self.globs.matches(path)


@dataclass
class Invocation:
    units: list[StepUnit]
    argv: list[str]
    exit_code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def names_its_files(self) -> bool:
        """Whether the output mentions any of its units, as a tool reporting on files does; when it
        does not, the command itself failed."""
        return any(name in self.output for u in self.units for name in (*u.files, *u.modules))


@dataclass
class StepRunResult:
    plan: StepPlan
    invocations: list[Invocation] = field(default_factory=list)
    recorded: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[Invocation]:
        return [i for i in self.invocations if not i.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_json(self) -> dict[str, int]:
        return {
            "units": len(self.plan.decisions),
            "stale": len(self.plan.stale),
            "ran": sum(len(i.units) for i in self.invocations),
            "failed": sum(len(i.units) for i in self.failed),
        }


def nothing_stale(root: Path, plan: StepPlan) -> None:
    """Every unit's green record matched: explanations compare with this state from now on."""
    follow_snapshot(root, plan.state, plan.state.config_digest(), plan.command_key, step_snapshot_file(plan.step.name))


def run_step(context: RunContext, plan: StepPlan) -> StepRunResult:
    """Run the command over the stale units, `batch` at a time; record the units of each
    invocation that succeeded, unless their inputs changed while it ran. A command without
    placeholders runs once for all of them."""
    started = time.perf_counter()
    root = context.root
    step = plan.step
    result = StepRunResult(plan)
    stale = plan.stale
    groups = batches(stale, step.batch if takes_units(step.command) else None)
    environment = {**os.environ, **step.env}
    if groups:
        discard_stale_bytecode(root, plan.state.files)
    for units in groups:
        files = [f for u in units for f in u.files]
        modules = [m for u in units for m in u.modules]
        command = fill_command(step.command, files, modules)
        shown = shlex.join(command[:6]) + (" …" if len(command) > 6 else "")
        print(f"{step.task}: {shown} ({len(units)} unit{'s' * (len(units) != 1)})", flush=True)
        argv = runnable(command)
        try:
            completed = subprocess.run(argv, cwd=root, env=environment, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        except OSError as err:  # the program vanished, or is not executable
            raise StepError(f"{step.task}: cannot run {argv[0]!r}: {err}") from None
        result.invocations.append(Invocation(units, argv, completed.returncode, completed.stdout))
    if groups:
        # Inputs are checked again: a unit whose files changed while it ran (a formatter rewrote
        # it, the user saved) stays stale.
        still = {u.fingerprint for u in units_of(root, step, run_scout(context).state)[1]}
        green = [u for i in result.invocations if i.ok for u in i.units if u.fingerprint in still]
        context.cache.put_many(STEP_KIND, {u.fingerprint: {"step": step.name, "unit": u.name} for u in green})
        result.recorded = len(green)
        save_snapshot(root, plan.state, plan.state.config_digest(), plan.command_key, step_snapshot_file(step.name))
        remember(root, step.task)
    result.seconds = time.perf_counter() - started
    return result
