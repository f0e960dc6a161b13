"""What a run tells the person at the terminal.

Everything printed here is rich Text, never markup: node ids, paths, warnings and commands come
from the project (`test_x[/usr/bin]`, `test_x[bold]`), and markup would read them as tags, crash on
a closing one or swallow the brackets. Tables fold their cells instead of cutting them with `…`,
and a console whose output is piped lays them out at their natural width."""

from __future__ import annotations

import os
import shlex
from collections import Counter
from typing import IO, TYPE_CHECKING, Collection

from rich.console import Console
from rich.table import Table
from rich.text import Text

from doit_scout.analyzers.categories import Category
from doit_scout.execution import COUNT_WORDS, INTERNAL_ERROR, USAGE_ERROR, PytestRun
from doit_scout.item_counts import count_tests
from doit_scout.plan_filters import OUTSIDE_THE_PATHS
from doit_scout.scout import ScoutRun
from doit_scout.shared_cache import RunCounts

if TYPE_CHECKING:
    from doit_scout.remote_counts import RemoteCounts
    from doit_scout.steps import StepRunResult
    from doit_scout.testing import TestPlan, TestRunResult

MAX_LISTED = 5
MAX_FAILURES_SHOWN = 20  # past this, a count: pytest's own output above has every failure
MIN_SAVED_SHOWN = 0.1  # seconds: "about 0.0 s saved" says nothing
LABEL_WIDTH = 11
# rich lays out for 80 columns when stdout is no terminal: `doit cache stats | cat` would cut its
# table. Piped, and with no COLUMNS to say otherwise, tables take their natural width (up to this).
PIPED_WIDTH = 1000


def make_console(file: IO[str] | None = None) -> Console:
    """A console for doit-scout's output: on a terminal, rich's width; piped, wide enough."""
    console = Console(file=file, highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console.width = PIPED_WIDTH
    return console


def make_table(*headers: str, title: str | None = None) -> Table:
    """A table whose cells fold rather than end in `…` when the terminal is too narrow."""
    table = Table(title=Text(title) if title is not None else None)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def add_row(table: Table, *cells: str) -> None:
    table.add_row(*(Text(cell) for cell in cells))  # Text: a cell's brackets are not markup


def print_row(console: Console, label: str, text: str) -> None:
    console.print(Text.assemble((f"{label:<{LABEL_WIDTH}}", "bold"), text), soft_wrap=True)


def print_warning(console: Console, text: str) -> None:
    console.print(Text(f"! {text}", style="yellow"), soft_wrap=True)


def print_failure(console: Console, text: str, style: str = "red") -> None:
    console.print(Text(f"✗ {text}", style=style), soft_wrap=True)


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + "s" * (count != 1)


def _seconds(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _changes_line(run: ScoutRun) -> str:
    changes = run.changes
    if run.first_run:
        return "first scout: everything is new"
    if not changes:
        return "nothing since the last scout"
    return (f"{len(changes.added)} added · {len(changes.modified)} modified · "
            f"{len(changes.deleted)} deleted ({_listing(list(changes.changed))})")


def scout_warnings(run: ScoutRun) -> list[str]:
    """What the scout has to warn about, one line each. Most say the same on every run."""
    summary = run.state.summary
    lines = [f"{summary.modules[node]}: {error} (imports unknown; whatever imports it counts as changed)"
             for node, error in sorted(summary.broken.items())]
    dynamic = [f"{summary.modules[n]}:{line}" for n, lines in sorted(summary.dynamic.items()) for line in lines]
    if dynamic:
        lines.append("dynamic imports with computed names, which the graph cannot follow: "
                     f"{_listing(dynamic)} (doit explain shows the tests they concern)")
    missing = [m.removeprefix("missing:") for m in summary.missing]
    if missing:
        lines.append("imports that resolve to no file (a project module that does not exist, or a package "
                     f"not installed here): {_listing(missing)}")
    return lines + run.warnings


def print_scout_summary(
    run: ScoutRun, cache: RunCounts, console: Console | None = None, *, details: bool = False,
    shown_before: Collection[str] = (),
) -> None:
    """One line (files, modules, changes, time) and the warnings not in `shown_before`; with
    `details` (`doit scout`, or `-v 2`), how the scout got there and every warning."""
    console = console or make_console()
    state = run.state
    warnings = scout_warnings(run)
    held = [] if details else [w for w in warnings if w in shown_before]
    line = (f"{len(state.files):,} files · {len(state.summary.modules):,} modules · {_changes_line(run)} · "
            f"{run.seconds:.2f} s")
    if held:
        line += f" · {_plural(len(held), 'warning')} as before (`doit scout` lists them)"
    print_row(console, "scout", line)
    if details:
        counts = Counter(entry.category for entry in state.files.values())
        rows = [
            ("layout", f"{len(state.files):,} files from {run.inventory} · packages "
                       f"{', '.join(run.layout.packages) or 'none found'} · test folders "
                       f"{', '.join(run.layout.test_dirs) or 'none found'}"),
            ("categories", " · ".join(f"{c.value} {counts[c]}" for c in Category)),
            ("graph", f"{state.summary.edge_count:,} import edges · {counts[Category.TEST]} test files"),
            ("parsing", "graph and fingerprints from the shared cache · " * run.from_snapshot +
                        f"{run.parsed} parsed · {run.parse_cache_hits} from the parse cache · "
                        f"{run.files_read} files read"),
            ("cache", cache.summary()),
        ]
        for label, text in rows:
            print_row(console, label, text)
    for warning in warnings:
        if warning not in held:
            print_warning(console, warning)


_XDIST_DIFFERENT_COLLECTIONS = "Different tests were collected between"


def _count(count: int, word: str) -> str:
    """pytest's form: `1 error`, `2 errors`, `1 warning`; `passed` and the others do not change."""
    return f"{count:,} " + (word.removesuffix("s") if count == 1 and word in ("errors", "warnings") else word)


def _counts_phrase(result: "TestRunResult") -> str:
    """`1,570 passed, 3 failed, 40 skipped`: the counts of pytest's own final line, in its words,
    zeros left out as pytest does."""
    run = result.pytest
    assert run is not None
    parts = [_count(run.counts[word], word) for word in COUNT_WORDS if run.counts[word]]
    return ", ".join(parts) or "no tests ran"


def _served_phrase(result: "TestRunResult", served: list[str]) -> str:
    """How many files came from their green records, and the time that saved by their durations
    in plain pytest (untraced runs): said only when known (`at least` when some are not) and not
    negligible."""
    phrase = f"{_plural(len(served), 'file')} served from records"
    timings = result.plan.durations
    known = [timings[p].seconds for p in served if p in timings and not timings[p].traced]
    if known and sum(known) >= MIN_SAVED_SHOWN:
        phrase += f" ({'about' if len(known) == len(served) else 'at least'} {_seconds(sum(known))} saved)"
    return phrase


def _tests_line(result: "TestRunResult") -> str:
    plan = result.plan
    total = len(plan.decisions)
    selected = len(plan.selected)
    sharded = {d.path for d in plan.decisions if d.reasons and d.reasons[0].startswith("runs in shard")}
    # Files outside the paths given to pytest were not asked for: no record served them.
    served = [d.path for d in plan.decisions if not d.runs and d.path not in sharded
              and d.reasons != (OUTSIDE_THE_PATHS,)]
    run = result.pytest
    if run is None and sharded and not selected:
        return f"no test files in this shard: the {len(sharded)} selected run in other shards"
    if run is None:
        tests = count_tests(plan.decisions, plan.durations)
        of_tests = f"0 of {tests.total_tests:,} tests in " if tests.known else ""
        return f"{of_tests}0 of {_plural(total, 'file')} selected: {_served_phrase(result, served)}, nothing to run"
    counts = count_tests(plan.decisions, plan.durations)
    chosen = counts.phrase() if counts.known else f"{selected:,} of {_plural(total, 'file')}"
    line = f"{chosen} selected · {_counts_phrase(result)} · {_served_phrase(result, served)}"
    return line + (f" · xdist {run.workers} workers" if run.workers else " · one process")


_NOTICEABLE, _NOTICEABLE_SECONDS = 1.1, 1.0


def _costlier_than_plain(result: "TestRunResult") -> str | None:
    """Said once, when this run's tests took longer than every test of the suite takes in plain
    pytest (their untraced durations, when all are known): the run paid for recording."""
    run, timings = result.pytest, result.plan.durations
    if run is None or not run.item_traces or not result.plan.decisions:
        return None
    suite = [timings[d.path].seconds for d in result.plan.decisions if d.path in timings and not timings[d.path].traced]
    spent = sum(run.node_durations.values())
    # Only a cost a user would notice: a few hundredths of a second over a tiny suite is noise.
    if len(suite) < len(result.plan.decisions) or spent <= sum(suite) * _NOTICEABLE + _NOTICEABLE_SECONDS:
        return None
    return (f"this run's tests took {_seconds(spent)}, more than the whole suite's {_seconds(sum(suite))} in plain "
            "pytest: they were traced, to record which functions each test runs")


def since_line(plan: "TestPlan") -> str | None:
    """`--since REV`: what changed since it, and what that selects (None without --since)."""
    changes = plan.since
    if changes is None:
        return None
    changed = sorted(changes.changed)
    affected = [d for d in plan.decisions if d.path in changes.affected]
    running = sum(1 for d in affected if d.runs)
    line = (f"{changes.revision} (merge base {changes.base[:10]}): {_plural(len(changed), 'file')} changed"
            + (f" ({_listing(changed)})" if changed else "") + " · ")
    if changes.everything:
        line += "a config file among them: every test file is affected · "
    return line + (f"{_plural(len(affected), 'test file')} affected: {running:,} to run, {len(affected) - running:,} "
                   f"green in their records · {len(plan.decisions) - len(affected):,} not affected")


def print_cache_counts(console: Console, cache: RunCounts, *, details: bool) -> None:
    """The local cache's counters are doit-scout's own business: printed with `-v 2` (and by `doit
    cache stats`). What a team's remote cache served says where results came from, and a damaged
    or unauthenticated entry the run refused is a warning: those are printed either way."""
    if details:
        print_row(console, "cache", f"{cache.summary()} (this run)")
        return
    remote: RemoteCounts | None = getattr(cache, "remote", None)
    if remote is not None and remote.requests:
        print_row(console, "cache", f"{remote.summary()} (this run)")
    problems = cache.problems()
    if problems:
        print_warning(console, f"cache: {problems} (this run; `doit cache stats` has the counts)")


def print_test_summary(result: "TestRunResult", cache: RunCounts, console: Console | None = None, *,
                       details: bool = False) -> None:
    """What ran and what it said; with `details` (doit's `-v 2`), the cache's counters too."""
    console = console or make_console()
    plan = result.plan
    run = result.pytest
    if (since := since_line(plan)) is not None:
        print_row(console, "since", since)
    print_row(console, "tests", _tests_line(result))
    if (costlier := _costlier_than_plain(result)) is not None:
        print_warning(console, costlier)
    print_row(console, "time", " · ".join(f"{phase} {seconds:.2f} s" for phase, seconds in result.seconds.items()))
    print_cache_counts(console, cache, details=details)
    failed = result.failed_nodes
    for node in failed[:MAX_FAILURES_SHOWN]:
        print_failure(console, node)
    if len(failed) > MAX_FAILURES_SHOWN:
        print_failure(console, f"and {len(failed) - MAX_FAILURES_SHOWN:,} more (.scout/last-run.json lists them all)")
    if run is not None and any(_XDIST_DIFFERENT_COLLECTIONS in m for m in run.collection_errors.values()):
        print_failure(console, "pytest-xdist's workers collected different tests, so pytest ran none: test ids "
                      "that change from one process to the next (built from the clock, random values or "
                      "set order). Make those ids stable, or run in one process: [tool.scout.test] workers = 0")
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
                     "something outside the project (declare environment variables in [tool.scout.test] "
                     "env, files outside the project in [tool.scout.test] data)")
        print_failure(console, f"SELECTION MISS: {path} fails ({', '.join(nodes)}) but the incremental selection "
                      f"would have skipped it. Changed since tests last ran: {changed}. Why: {cause}.",
                      style="bold red")
    if run is not None:
        reached, unreached = _reached(run, result.incomplete)
        said_why = run.exit_code in (USAGE_ERROR, INTERNAL_ERROR)  # in a line of its own below
        if reached and not said_why:
            print_warning(console, f"{len(reached)} selected test files did not run to completion (pytest "
                          "deselected or did not collect some of their tests: -k, -m, -x, --maxfail, --lf, or "
                          f"the session stopped): they stay stale: {_listing(reached)}")
        if unreached and not said_why:
            print_warning(console, f"{_plural(len(unreached), 'more selected test file')} pytest did not collect"
                          f"{' before it stopped' if run.interrupted else ''}: they stay stale")
        if result.left_out:
            print_failure(console, "pytest's own configuration (--lf or --sw in its addopts) kept tests of "
                          f"{_listing(result.left_out)} from running: this run is not green (pytest's --lf "
                          "takes them again once none of the failures it knows of is left)")
        if run.exit_code == USAGE_ERROR:
            print_failure(console, "pytest stopped with a usage error (exit status 4), before running any test: "
                          "its message is above")
        elif run.exit_code == INTERNAL_ERROR:
            print_failure(console, "pytest stopped with an internal error (exit status 3, pytest's own: its "
                          "INTERNALERROR lines are above; a plugin or a conftest.py hook raised): nothing it ran "
                          "was recorded green")
        elif run.interrupted is not None:
            print_failure(console, f"the pytest session was stopped early ({run.interrupted}): the files it did "
                          "not finish stay stale, and this run is not green")
        elif not run.finished:
            print_failure(console, "the pytest session did not finish (a test or a plugin ended the process): "
                          "nothing it ran is recorded green")
        unmapped = run.unmapped_items()
        if unmapped:
            print_warning(console, f"{len(unmapped)} tests come from files outside the project, which doit-scout "
                          f"cannot fingerprint: they ran and run every time ({_listing(unmapped)})")
    if plan.collect_reason is not None and run is not None:
        console.print(Text(plan.collect_reason, style="dim"), soft_wrap=True)
    for path in result.stale_after_run:
        print_warning(console, f"{path} changed while its tests ran: its results were not recorded")
    for warning in plan.warnings:
        print_warning(console, warning)


def _reached(run: PytestRun, incomplete: list[str]) -> tuple[list[str], list[str]]:
    """The incomplete files pytest reported on (collected, with items or errors), and those it never
    got to: a session stopped while collecting names only the first."""
    reported = run.collected | run.error_files | {p for p in run.items.values() if p is not None}
    return [p for p in incomplete if p in reported], [p for p in incomplete if p not in reported]


def print_green_already(result: "TestRunResult", pytest_args: Collection[str], console: Console | None = None) -> None:
    """Arguments for pytest (`-k`, `-m`, paths) and nothing to run: whatever they select is green in
    its records, which the run says, with how to run it anyway, rather than end in doit's `-- test`."""
    console = console or make_console()
    served = sum(1 for d in result.plan.decisions if not d.runs and d.reasons != (OUTSIDE_THE_PATHS,))
    if not served:
        return
    args = shlex.join(pytest_args)
    print_row(console, "tests", f"nothing ran: {_plural(served, 'test file')} green in their records (unchanged "
              f"since they passed), so what `{args}` selects of them passed already. To run it anyway: "
              f"doit test --all -- {args}")


def print_remote_summary(counts: RemoteCounts, warnings: Collection[str], console: Console | None = None) -> None:
    """A run that ran no test prints no tests line: it still says what the remote cache served, and
    why it stopped using it."""
    console = console or make_console()
    print_row(console, "cache", f"{counts.summary()} (this run)")
    for warning in warnings:
        print_warning(console, warning)


def print_step_summary(result: "StepRunResult", console: Console | None = None) -> None:
    console = console or make_console()
    step = result.plan.step
    counts = result.as_json()
    invocations = len(result.invocations)
    print_row(console, "build", f"{step.name}: {counts['stale']} of {counts['units']} units stale · ran "
              f"{counts['ran']} in {invocations} invocation{'s' * (invocations != 1)} · {counts['failed']} "
              f"failed · {result.seconds:.2f} s")
    for failed in result.failed:
        print_failure(console, f"{step.task}: {shlex.join(failed.argv)} exited with {failed.exit_code}")
        console.print(Text(failed.output.rstrip()), soft_wrap=True)
        if not failed.names_its_files():
            print_failure(console, f"{step.task}: its output names none of its {len(failed.units)} units, so the "
                          "command itself failed rather than a file: check the command and the tool's "
                          f"configuration ([tool.scout.steps.{step.name}]). Nothing was recorded green.")
    unrecorded = counts["ran"] - counts["failed"] - result.recorded
    if unrecorded > 0:
        print_warning(console, f"{unrecorded} units changed while {step.task} ran (a formatter, or a save): they "
                      "stay stale and run again next time")
