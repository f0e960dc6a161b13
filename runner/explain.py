"""Why a test file or a build step unit runs: what changed among its inputs since the last run
that ran it."""

from __future__ import annotations

from pathlib import Path

from analyzers.categories import Category
from analyzers.data_deps import DATA_PREFIX, data_node
from analyzers.graph import MISSING_PREFIX
from runner.project_state import CorruptState, atomic_write_json, read_json, state_dir
from runner.scout_state import ScoutState

SNAPSHOT_FILE = "last-tested.json"


def step_snapshot_file(step: str) -> str:
    return f"last-built-{step}.json"


def save_snapshot(
    root: Path, state: ScoutState, config_digest: str, environment: str, name: str = SNAPSHOT_FILE,
) -> None:
    """What the inputs were when tests (or a step) last ran, so that explanations (and audits) can
    say what changed since."""
    atomic_write_json(state_dir(root) / name, {
        "files": {p: e.digest for p, e in state.files.items()},
        "config_digest": config_digest,
        "environment": environment,
    })


class ChangeExplainer:
    """Compares the current inputs with the snapshot of the last run that ran tests (or a step)."""

    def __init__(
        self, root: Path, state: ScoutState, config_digest: str, environment: str, name: str = SNAPSHOT_FILE,
    ) -> None:
        try:
            snapshot = read_json(state_dir(root) / name) or {}
        except CorruptState:
            snapshot = {}
        self.state = state
        before: dict[str, str] = snapshot.get("files", {})
        self.has_snapshot = bool(before)
        self.tested_before = set(before)
        self.config_changed = snapshot.get("config_digest") != config_digest
        self.environment_changed = snapshot.get("environment") != environment
        now = {p: e.digest for p, e in state.files.items()}
        changed_paths = {p for p in now if before.get(p) != now[p]} | (set(before) - set(now))
        self.changed_paths = sorted(changed_paths) if before else []
        self.changed_config = sorted(
            p for p in changed_paths if p in now and state.files[p].category is Category.CONFIG)
        node_of = state.module_of()
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
        reasons = self.config_reason()
        if self.environment_changed:
            reasons.append("environment changed (Python, platform, installed packages, pytest arguments "
                           "or declared environment variables)")
        return reasons + self.changes_reaching(path, "test file changed")

    def config_reason(self) -> list[str]:
        if not self.config_changed:
            return []
        return [f"config changed: {', '.join(self.changed_config) or 'a config file was removed'}"]

    def changes_reaching(self, path: str, own_change: str) -> list[str]:
        """What changed in the import closure of the module at `path`, with import chains."""
        node = self._node_of(path)
        graph = self.state.import_graph
        upstream = graph.find_upstream_modules(node) if node in graph.modules else set()
        reasons = [own_change] if node in self.changed_nodes else []
        return reasons + [self._describe(node, changed) for changed in sorted(upstream & self.changed_nodes)]

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
