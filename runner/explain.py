"""Why a test file runs: what changed among its inputs since the last test run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from analyzers.categories import Category
from analyzers.data_deps import DATA_PREFIX, data_node
from analyzers.graph import MISSING_PREFIX
from runner.project_state import CorruptState, atomic_write_json, read_json, state_dir
from runner.scout_state import ScoutState

if TYPE_CHECKING:
    from runner.testing import TestInputs

SNAPSHOT_FILE = "last-tested.json"


def save_snapshot(root: Path, state: ScoutState, inputs: "TestInputs") -> None:
    """What the inputs were when tests last ran, so that explanations (and audits) can say what
    changed since."""
    atomic_write_json(state_dir(root) / SNAPSHOT_FILE, {
        "files": {p: e.digest for p, e in state.files.items()},
        "config_digest": inputs.config_digest,
        "environment": inputs.environment,
    })


class ChangeExplainer:
    """Compares the current inputs with the snapshot of the last run that ran tests."""

    def __init__(self, root: Path, state: ScoutState, inputs: "TestInputs") -> None:
        try:
            snapshot = read_json(state_dir(root) / SNAPSHOT_FILE) or {}
        except CorruptState:
            snapshot = {}
        self.state = state
        before: dict[str, str] = snapshot.get("files", {})
        self.has_snapshot = bool(before)
        self.tested_before = set(before)
        self.config_changed = snapshot.get("config_digest") != inputs.config_digest
        self.environment_changed = snapshot.get("environment") != inputs.environment
        now = {p: e.digest for p, e in state.files.items()}
        changed_paths = {p for p in now if before.get(p) != now[p]} | (set(before) - set(now))
        self.changed_paths = sorted(changed_paths) if before else []
        self.changed_config = sorted(
            p for p in changed_paths if p in now and state.files[p].category is Category.CONFIG)
        node_of = {path: node for node, path in state.graph.modules.items()}
        self.changed_nodes = {node_of[p] for p in changed_paths if p in node_of}
        self.changed_nodes |= {data_node(p) for p in changed_paths} & state.graph.data
        self.changed_nodes |= set(state.graph.missing)

    def unfollowed_imports(self, path: str) -> list[str]:
        """`path:line` of dynamic imports with computed names in the file's import closure: what
        they load is not in the graph, so a change there is not seen."""
        node = self._node_of(path)
        graph = self.state.import_graph
        closure = {node} | (graph.find_upstream_modules(node) if node in graph.modules else set())
        return [f"{self.state.graph.modules[n]}:{line}" for n in sorted(closure & set(self.state.graph.dynamic))
                for line in self.state.graph.dynamic[n]]

    def _node_of(self, path: str) -> str:
        return next(n for n, p in self.state.graph.modules.items() if p == path)

    def reasons(self, path: str) -> list[str]:
        if not self.has_snapshot:
            return ["no test run recorded yet"]
        if path not in self.tested_before:
            return ["new test file"]
        reasons = []
        if self.config_changed:
            reasons.append(f"config changed: {', '.join(self.changed_config) or 'a config file was removed'}")
        if self.environment_changed:
            reasons.append("environment changed (Python, platform, installed packages, pytest arguments "
                           "or declared environment variables)")
        node = self._node_of(path)
        graph = self.state.import_graph
        upstream = graph.find_upstream_modules(node) if node in graph.modules else set()
        if node in self.changed_nodes:
            reasons.append("test file changed")
        for changed in sorted(upstream & self.changed_nodes):
            reasons.append(self._describe(node, changed))
        return reasons

    def _describe(self, test_node: str, changed: str) -> str:
        if changed.startswith(DATA_PREFIX):
            return f"data file changed: {changed.removeprefix(DATA_PREFIX)}"
        path = self.state.graph.modules.get(changed)
        if path is not None and path.endswith("conftest.py"):
            return f"conftest changed: {path}"
        chain = self.state.import_graph.find_shortest_chain(importer=test_node, imported=changed) or ()
        via = " -> ".join(chain)
        if changed.startswith(MISSING_PREFIX):
            return f"imports a module that does not exist: {changed.removeprefix(MISSING_PREFIX)} ({via})"
        return f"imports changed module {changed} ({via})"
