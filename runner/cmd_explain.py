"""`doit explain [PATH ...] [--json]`: what the next `doit` would do with each build step unit and
each test file, and why."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Mapping

from doit.cmd_base import DoitCmdBase
from doit.exceptions import InvalidCommand
from rich.text import Text

from doit_scout.analyzers.layout import is_below
from doit_scout.analyzers.selection import TestDecision
from doit_scout.audit import load_audit_log, next_audit
from doit_scout.cmd_run import SeeksProject
from doit_scout.config import load_config_for_doit
from doit_scout.context import RunContext
from doit_scout.item_counts import count_tests
from doit_scout.report import add_row, make_console, make_table, since_line
from doit_scout.scout import run_scout
from doit_scout.since import RevisionError
from doit_scout.steps import StepError, plan_step
from doit_scout.testing import plan_tests
from doit_scout.workers import FileTiming

opt_json = {
    "name": "as_json", "long": "json", "type": bool, "default": False,
    "help": "print the explanation as JSON",
}
opt_since = {
    "name": "since", "long": "since", "type": str, "default": "",
    "help": "REV: explain the selection of `doit test --since REV`",
}


class Explain(SeeksProject, DoitCmdBase):
    name = "explain"
    doc_purpose = "say what the next doit would do with each step unit and test file, and why (runs no test)"
    doc_usage = "[--json] [--since REV] [PATH ...]"
    doc_description = None
    cmd_options = (opt_json, opt_since)

    def parse_execute(self, in_args):
        # doit's option parser stops at the first path; `doit explain src/ --json` reads well too.
        options, paths, words = [], [], iter(in_args)
        for word in words:
            if word.startswith("--since") and "=" not in word:
                options += [word, next(words, "")]
            elif word.startswith("-"):
                options.append(word)
            else:
                paths.append(word)
        return super().parse_execute(options + paths)

    def _execute(self, as_json, since, pos_args=None):
        paths = list(pos_args or ())
        root = Path.cwd()  # doit has moved to the dodo.py folder: the project root
        context = RunContext(root, load_config_for_doit(root))
        config = context.config
        state = run_scout(context).state
        try:
            plan = plan_tests(context, explain=True, state=state, since=since or None)
        except RevisionError as err:
            raise InvalidCommand(str(err)) from None
        explainer = plan.explainer
        assert explainer is not None
        wanted = [p.strip("/") for p in paths]
        decisions = [d for d in plan.decisions if not wanted or any(is_below(d.path, w) for w in wanted)]
        rows = [{
            "path": d.path,
            "decision": "run" if d.runs else "skip",
            "nodes": list(d.nodes),
            "tests": _tests_of(d, plan.durations),
            "reasons": list(d.reasons),
            "unfollowed_imports": explainer.unfollowed_imports(d.path),
        } for d in decisions]
        steps = []
        for step in config.steps:
            try:
                step_plan = plan_step(context, step, state, explain=True)
            except StepError as err:  # the step's task will fail with this; the rest still explains
                steps.append({"step": step.name, "unit": None, "decision": "error", "reasons": [str(err)]})
                continue
            steps += [{
                "step": step.name,
                "unit": d.unit.name,
                "decision": "run" if d.runs else "skip",
                "reasons": list(d.reasons),
            } for d in step_plan.decisions if not wanted or any(is_below(f, w) for f in d.unit.files for w in wanted)]
        audit = next_audit(load_audit_log(root), config.test, time.time())
        # Asked while planning (collection only) when it had not said under these inputs.
        asked = plan.manifest.known and plan.collection_changes is not None
        collection = {"known": plan.manifest.known, "asked": asked, "changes": plan.collection_changes,
                      "reason": plan.collect_reason}
        counts = count_tests(decisions, plan.durations)
        summary = {"tests": counts.tests, "total_tests": counts.total_tests, "files": counts.files,
                   "total_files": counts.total_files, "counts_known": counts.known}
        if as_json:
            self.outstream.write(json.dumps({"steps": steps, "tests": rows, "summary": summary,
                                             "collection": collection, "next_audit": audit}, indent=2) + "\n")
            return 0
        console = make_console(self.outstream)
        if steps:
            step_table = make_table("step", "unit", "decision", "why")
            for row in steps:
                add_row(step_table, row["step"], row["unit"] or "-", row["decision"], "\n".join(row["reasons"]))
            console.print(step_table)
            running = sum(1 for r in steps if r["decision"] == "run")
            console.print(f"{running} of {len(steps)} step units would run")
        table = make_table("test file", "decision", "why")
        for row in rows:
            nodes = f" ({len(row['nodes'])} of {row['tests'] or '?'} tests)" if row["nodes"] else ""
            add_row(table, row["path"], row["decision"] + nodes, "\n".join(row["reasons"]))
        console.print(table)
        running = sum(1 for r in rows if r["decision"] == "run")
        console.print(f"{counts.phrase()} would run" if counts.known else f"{running} of {len(rows)} test files would run")
        if (changes := since_line(plan)) is not None:
            console.print(Text(f"since {changes}"), soft_wrap=True)
        for line in unfollowed_lines(rows):
            console.print(Text(line), soft_wrap=True)
        if asked:
            console.print(f"pytest was asked which files are tests (collection only): {plan.collection_changes}",
                          markup=False, soft_wrap=True)
        elif not plan.manifest.known:
            console.print(f"pytest was asked which files are tests ({plan.collection_changes}) and could not say "
                          "(`doit test` shows its output): the files above are the last ones it named, with the "
                          "project's test files by name", markup=False, soft_wrap=True)
        return 0


def unfollowed_lines(rows: list[dict]) -> list[str]:
    """Each dynamic import no graph follows, once, with the test files whose imports reach it
    (under each file's row, the same lines repeated: 116 lines for 22 files)."""
    affected: dict[str, list[str]] = {}
    for row in rows:
        for where in row["unfollowed_imports"]:
            affected.setdefault(where, []).append(row["path"])
    return [f"cannot follow the dynamic import at {where} (a computed name: what it loads is not in the import "
            f"graph), which the imports of {_files(paths)} reach" for where, paths in sorted(affected.items())]


def _files(paths: list[str]) -> str:
    if len(paths) == 1:
        return paths[0]
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return f"{len(paths)} test files ({', '.join(paths[:3])}{more})"


def _tests_of(decision: TestDecision, timings: Mapping[str, FileTiming]) -> int | None:
    """How many tests the file had when it last ran whole (None: not known)."""
    timing = timings.get(decision.path)
    return timing.items if timing is not None and timing.items else None
