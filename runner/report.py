"""What a run tells the person at the terminal."""

from __future__ import annotations

import shlex
from collections import Counter
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from doit_scout.analyzers.categories import Category
from doit_scout.scout import ScoutRun
from doit_scout.shared_cache import RunCounts

if TYPE_CHECKING:
    from doit_scout.steps import StepRunResult
    from doit_scout.testing import TestRunResult

MAX_LISTED = 5


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _changes_line(run: ScoutRun) -> str:
    changes = run.changes
    if run.first_run:
        return "first scout: everything is new"
    if not changes:
        return "nothing since the last scout"
    return (f"{len(changes.added)} added · {len(changes.modified)} modified · "
            f"{len(changes.deleted)} deleted ({_listing(list(changes.changed))})")


def print_scout_summary(run: ScoutRun, cache: RunCounts, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    state = run.state
    counts = Counter(entry.category for entry in state.files.values())
    rows = [
        ("scout", f"{len(state.files)} files ({run.inventory}) · {len(state.summary.modules)} modules · "
                  f"{state.summary.edge_count} import edges · {counts[Category.TEST]} test files · "
                  f"{run.seconds:.2f} s"),
        ("layout", f"packages {', '.join(run.layout.packages) or 'none found'} · "
                   f"test folders {', '.join(run.layout.test_dirs) or 'none found'}"),
        ("categories", " · ".join(f"{c.value} {counts[c]}" for c in Category)),
        ("changes", _changes_line(run)),
        ("parsing", "graph and fingerprints from the shared cache · " * run.from_snapshot +
                    f"{run.parsed} parsed · {run.parse_cache_hits} from the parse cache · "
                    f"{run.files_read} files read"),
        ("cache", cache.summary()),
    ]
    for label, text in rows:
        console.print(f"[bold]{label:<11}[/]{text}", soft_wrap=True)
    for node, error in sorted(state.summary.broken.items()):
        console.print(f"[yellow]! {state.summary.modules[node]}: {error} (imports unknown; "
                      "whatever imports it counts as changed)[/]", soft_wrap=True)
    dynamic = [f"{state.summary.modules[n]}:{line}" for n, lines in sorted(state.summary.dynamic.items()) for line in lines]
    if dynamic:
        console.print("[yellow]! dynamic imports with computed names, which the graph cannot follow: "
                      f"{_listing(dynamic)} (doit explain shows the tests they concern)[/]", soft_wrap=True)
    missing = list(state.summary.missing)
    if missing:
        console.print("[yellow]! imports that resolve to no file (a project module that does not "
                      "exist, or a package not installed here): "
                      f"{_listing([m.removeprefix('missing:') for m in missing])}[/]", soft_wrap=True)
    for warning in run.warnings:
        console.print(f"[yellow]! {warning}[/]", soft_wrap=True)


_XDIST_DIFFERENT_COLLECTIONS = "Different tests were collected between"
USAGE_ERROR = 4  # pytest's exit status for options or paths it does not accept


def print_test_summary(result: "TestRunResult", cache: RunCounts, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    plan = result.plan
    total = len(plan.decisions)
    selected = len(plan.selected)
    skipped_share = 100 * (total - selected) / total if total else 100
    run = result.pytest
    sharded = [d for d in plan.decisions if d.reasons and d.reasons[0].startswith("runs in shard")]
    served = f"{total - selected - len(sharded)} files served from records"
    if run is None and sharded and not selected:
        line = f"no test files in this shard: the {len(sharded)} selected run in other shards"
    elif run is None:
        line = f"0 of {total} test files selected ({skipped_share:.0f}% skipped): {served}, nothing to run"
    else:
        counts = Counter(run.outcomes.values())
        line = (f"{selected} of {total} test files selected ({skipped_share:.0f}% skipped) · "
                f"{len(run.outcomes)} nodes run: {counts['passed']} passed, {counts['failed']} failed, "
                f"{counts['skipped'] + counts['xfailed']} skipped · {served} · "
                f"{'xdist ' + str(run.workers) + ' workers' if run.workers else 'one process'}")
    timings = " · ".join(f"{phase} {seconds:.2f} s" for phase, seconds in result.seconds.items())
    console.print(f"[bold]{'tests':<11}[/]{line}", soft_wrap=True)
    console.print(f"[bold]{'time':<11}[/]{timings}", soft_wrap=True)
    console.print(f"[bold]{'cache':<11}[/]{cache.summary()} (this run)", soft_wrap=True)
    for node in result.failed_nodes:
        console.print(f"[red]✗ {escape(node)}[/]", soft_wrap=True)
    if run is not None and any(_XDIST_DIFFERENT_COLLECTIONS in m for m in run.collection_errors.values()):
        console.print("[red]✗ pytest-xdist's workers collected different tests, so pytest ran none: test ids "
                      "that change from one process to the next (built from the clock, random values or "
                      "set order). Make those ids stable, or run in one process: \\[tool.scout.test] "
                      "workers = 0[/]", soft_wrap=True)
    known = {d.path for d in (plan.audit_of or plan).decisions}
    for path, nodes in result.misses.items():
        changed = _listing(result.changed_before_audit) or "no file"
        if path not in known:
            cause = ("doit-scout did not know it was a test: pytest collects it now, so from here on it "
                     "is one")
        elif path in result.newly_observed:
            cause = ("it depends on something no import shows; this run saw what it reads and runs (its "
                     "imports, files, folders, subprocesses), and that is now part of its inputs")
        else:
            cause = ("nothing it was seen to import or read changed: it is flaky, or it depends on "
                     "something outside the project (declare environment variables in \\[tool.scout.test] "
                     "env, files outside the project in \\[tool.scout.test] data)")
        console.print(
            f"[bold red]✗ SELECTION MISS: {escape(path)} fails ({escape(', '.join(nodes))}) but the "
            f"incremental selection would have skipped it. Changed since tests last ran: {escape(changed)}. "
            f"Why: {cause}.[/]", soft_wrap=True)
    if run is not None:
        incomplete = result.incomplete
        if incomplete and run.exit_code != USAGE_ERROR:
            console.print(
                f"[yellow]! {len(incomplete)} selected test files did not run to completion (pytest "
                f"deselected or did not collect some of their tests: -k, -m, -x, --maxfail, --lf, or the "
                f"session stopped): they stay stale: {escape(_listing(incomplete))}[/]", soft_wrap=True)
        if run.exit_code == USAGE_ERROR:
            console.print("[red]✗ pytest stopped with a usage error (exit status 4), before running any test: "
                          "its message is above[/]", soft_wrap=True)
        elif run.interrupted is not None:
            console.print(f"[red]✗ the pytest session was stopped early ({escape(run.interrupted)}): the files "
                          "it did not finish stay stale, and this run is not green[/]", soft_wrap=True)
        elif not run.finished:
            console.print("[red]✗ the pytest session did not finish (a test or a plugin ended the process): "
                          "nothing it ran is recorded green[/]", soft_wrap=True)
        unmapped = run.unmapped_items()
        if unmapped:
            console.print(
                f"[yellow]! {len(unmapped)} tests come from files outside the project, which doit-scout "
                f"cannot fingerprint: they ran and run every time ({escape(_listing(unmapped))})[/]",
                soft_wrap=True)
    if plan.collect_reason is not None and run is not None:
        console.print(f"[dim]{plan.collect_reason}[/]", soft_wrap=True)
    for path in result.stale_after_run:
        console.print(f"[yellow]! {path} changed while its tests ran: its results were not recorded[/]",
                      soft_wrap=True)
    for warning in plan.warnings:
        console.print(f"[yellow]! {warning}[/]", soft_wrap=True)


def print_step_summary(result: "StepRunResult", console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    step = result.plan.step
    counts = result.as_json()
    invocations = len(result.invocations)
    line = (f"{step.name}: {counts['stale']} of {counts['units']} units stale · ran {counts['ran']} in {invocations} "
            f"invocation{'s' * (invocations != 1)} · {counts['failed']} failed · {result.seconds:.2f} s")
    console.print(f"[bold]{'build':<11}[/]{line}", soft_wrap=True)
    for failed in result.failed:
        command = escape(shlex.join(failed.argv))
        console.print(f"[red]✗ {step.task}: {command} exited with {failed.exit_code}[/]", soft_wrap=True)
        console.print(failed.output.rstrip(), markup=False, soft_wrap=True)
        if not failed.names_its_files():
            console.print(
                f"[red]✗ {step.task}: its output names none of its {len(failed.units)} units, so the command "
                f"itself failed rather than a file: check the command and the tool's configuration "
                f"(\\[tool.scout.steps.{step.name}]). Nothing was recorded green.[/]", soft_wrap=True)
    unrecorded = counts["ran"] - counts["failed"] - result.recorded
    if unrecorded > 0:
        console.print(f"[yellow]! {unrecorded} units changed while {step.task} ran (a formatter, or a "
                      "save): they stay stale and run again next time[/]", soft_wrap=True)
