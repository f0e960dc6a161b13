"""`doit explain [PATH ...] [--json]`: what the next `doit` would do with each test file, and why."""

from __future__ import annotations

import json
from pathlib import Path

from doit.cmd_base import DoitCmdBase
from rich.console import Console
from rich.table import Table

from analyzers.layout import is_below
from runner.config import load_config_for_doit
from runner.explain import ChangeExplainer
from runner.scout import run_scout
from runner.testing import plan_tests

opt_json = {
    "name": "as_json", "long": "json", "type": bool, "default": False,
    "help": "print the explanation as JSON",
}


class Explain(DoitCmdBase):
    name = "explain"
    doc_purpose = "say what the next doit would do with each test file, and why (runs nothing)"
    doc_usage = "[PATH ...] [--json]"
    doc_description = None
    cmd_options = (opt_json,)

    def _execute(self, as_json, pos_args=None):
        paths = list(pos_args or ())
        if "--json" in paths:  # doit's option parser stops at the first path
            paths.remove("--json")
            as_json = True
        root = Path.cwd()  # doit has moved to the dodo.py folder: the project root
        config = load_config_for_doit(root)
        state = run_scout(root, config).state
        plan = plan_tests(root, config, explain=True, state=state)
        explainer = ChangeExplainer(root, state, plan.inputs)
        wanted = [p.strip("/") for p in paths]
        decisions = [d for d in plan.decisions if not wanted or any(is_below(d.path, w) for w in wanted)]
        rows = [{
            "path": d.path,
            "decision": "run" if d.runs else "skip",
            "nodes": list(d.nodes),
            "reasons": list(d.reasons),
            "unfollowed_imports": explainer.unfollowed_imports(d.path),
        } for d in decisions]
        if as_json:
            self.outstream.write(json.dumps({"tests": rows}, indent=2) + "\n")
            return 0
        table = Table("test file", "decision", "why")
        for row in rows:
            nodes = f" ({len(row['nodes'])} nodes)" if row["nodes"] else ""
            unfollowed = [f"(cannot follow the dynamic import at {where})" for where in row["unfollowed_imports"]]
            table.add_row(row["path"], row["decision"] + nodes, "\n".join(row["reasons"] + unfollowed))
        console = Console(file=self.outstream, highlight=False)
        console.print(table)
        running = sum(1 for r in rows if r["decision"] == "run")
        console.print(f"{running} of {len(rows)} test files would run")
        return 0
