"""Why a test file or a build step unit runs: what changed among its inputs since the last run
decided it (ran it, or found its green record matching)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Callable, Mapping

import grimp
import xxhash

from doit_scout.analyzers.categories import Category
from doit_scout.analyzers.data_deps import DATA_PREFIX, data_node
from doit_scout.analyzers.graph import MISSING_PREFIX
from doit_scout.analyzers.impact import nodes_of
from doit_scout.analyzers.symbol_graph import WHOLE_SUFFIX
from doit_scout.analyzers.targets import CONFIG_TARGET, DIR_PREFIX, LITERALS_PREFIX
from doit_scout.analyzers.unit_graph import UnitGraph
from doit_scout.project_state import CorruptState, read_state_json, state_dir, write_state_json
from doit_scout.scout_state import ScoutState

SNAPSHOT_FILE = "last-tested.json"
# The key of the state each snapshot holds, by snapshot name: a run whose state is the snapshot's
# (a run where nothing changed) reads this small file, not the snapshot.
SNAPSHOT_KEYS_FILE = "snapshot-keys.json"


def step_snapshot_file(step: str) -> str:
    return f"last-built-{step}.json"


def save_snapshot(
    root: Path, state: ScoutState, config_digest: str, environment: str, name: str = SNAPSHOT_FILE,
    units: UnitGraph | None = None, *, ran: bool = True,
) -> None:
    """What the inputs were when tests (or a step) were last decided, so that explanations can say
    what changed since: files, the imports that resolved to no file, and for tests the content of
    every module skeleton and definition, so that they can name the definitions that changed.

    `ran` is False when nothing ran because every unit's green record matched (an edit undone):
    this state is then the state of those records, and what the next explanation compares with.
    `ran_files` keeps the files of the last run that ran, for audits, which name what changed
    since the tests last ran."""
    files = {p: e.digest for p, e in state.files.items()}
    snapshot: dict = {
        "files": files,
        "config_digest": config_digest,
        "environment": environment,
        "missing": sorted(units.graph.missing if units is not None else state.summary.missing),
        "names": units.symbols.named_contents() if units is not None else {},
    }
    if not ran:
        before = _read_snapshot(root, name)
        snapshot["ran_files"] = before.get("ran_files", before.get("files", {}))
    write_state_json(state_dir(root) / name, snapshot)
    keys = _snapshot_keys(root)
    write_state_json(state_dir(root) / SNAPSHOT_KEYS_FILE, {**keys, name: snapshot_key(state, config_digest, environment)})


def follow_snapshot(
    root: Path, state: ScoutState, config_digest: str, environment: str, name: str = SNAPSHOT_FILE,
    units: Callable[[], UnitGraph] | None = None,
) -> None:
    """After a run that ran nothing because every unit's green record matched: the snapshot moves
    to this state (unless it holds it already), so that a file edited, run, then reverted is not
    named as a change by the next explanation."""
    if _snapshot_keys(root).get(name) != snapshot_key(state, config_digest, environment):
        save_snapshot(root, state, config_digest, environment, name, units() if units else None, ran=False)


def snapshot_key(state: ScoutState, config_digest: str, environment: str) -> str:
    hasher = xxhash.xxh3_128(f"{state.inputs_key}\0{config_digest}\0{environment}".encode("utf-8", "surrogateescape"))
    for path, entry in sorted(state.files.items()):
        hasher.update(f"\0{path}\0{entry.digest}".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


def _snapshot_keys(root: Path) -> dict[str, str]:
    try:
        keys = read_state_json(state_dir(root) / SNAPSHOT_KEYS_FILE)
    except CorruptState:
        return {}
    return keys if isinstance(keys, dict) else {}


def _read_snapshot(root: Path, name: str) -> dict:
    try:
        snapshot = read_state_json(state_dir(root) / name)
    except CorruptState:
        return {}
    return snapshot if isinstance(snapshot, dict) else {}


def _changed_paths(before: Mapping[str, str], now: Mapping[str, str]) -> set[str]:
    return {p for p in now if before.get(p) != now[p]} | (set(before) - set(now))


def changed_since_tests_ran(root: Path, state: ScoutState) -> list[str]:
    """The files that changed since the last run that ran tests (audits name them)."""
    snapshot = _read_snapshot(root, SNAPSHOT_FILE)
    before = snapshot.get("ran_files", snapshot.get("files")) or {}
    return sorted(_changed_paths(before, {p: e.digest for p, e in state.files.items()})) if before else []


class ChangeExplainer:
    """Compares the current inputs with the snapshot of the last run that ran tests (or a step)."""

    def __init__(
        self, root: Path, state: ScoutState, config_digest: str, environment: str,
        units: UnitGraph | None = None, name: str = SNAPSHOT_FILE,
    ) -> None:
        """With `units`, test units are explained over the graph extended with what running code
        was observed to read; without, paths are modules of the static graph (step units)."""
        snapshot = _read_snapshot(root, name)
        self.state = state
        self.graph = units.graph if units is not None else state.graph
        self.unit_nodes = dict(units.unit_nodes) if units is not None else {}
        self.unit_inputs = dict(units.unit_inputs) if units is not None else {}
        before: dict[str, str] = snapshot.get("files", {})
        self.has_snapshot = bool(before)
        self.tested_before = set(before)
        self.config_changed = snapshot.get("config_digest") != config_digest
        self.environment_changed = snapshot.get("environment") != environment
        now = {p: e.digest for p, e in state.files.items()}
        changed_paths = _changed_paths(before, now)
        self.changed_paths = sorted(changed_paths) if before else []
        self.changed_config = sorted(
            p for p in changed_paths if p in now and state.files[p].category is Category.CONFIG)
        node_of = state.module_of()
        self.changed_nodes = {node_of[p] for p in changed_paths if p in node_of}
        self.changed_nodes |= {data_node(p) for p in changed_paths} & self.graph.data
        # An import that resolved to no file when the snapshot was taken (an optional dependency,
        # a version-guarded import) is no change; one that resolves to none since (a module
        # deleted) is. A snapshot from before this was kept counts none as new.
        self.changed_nodes |= set(self.graph.missing) - set(snapshot.get("missing", self.graph.missing))
        if before:
            self.changed_nodes |= nodes_of(self.graph, changed_paths, before.keys() ^ now.keys()) - set(node_of.values())
        self.symbols = units.symbols if units is not None else None
        self.units = units
        # A module whose constants a reader took changed in that part only if its constants did.
        names_before: dict[str, str] = snapshot.get("names") or {}
        now_literals = self.symbols.contents if self.symbols is not None else {}
        self.changed_nodes -= {n for n in self.changed_nodes if n.startswith(LITERALS_PREFIX)
                               and n in names_before and names_before[n] == now_literals.get(n)}
        self.changed_names = self._changed_names(snapshot.get("names") or {}, changed_paths)

    def _changed_names(self, before: dict[str, str], changed_paths: set[str]) -> set[str]:
        """Module skeletons and definitions of changed files whose content differs from the snapshot
        (new ones included)."""
        if self.symbols is None or not before:
            return set()
        changed_modules = {n for n in self.changed_nodes if n in self.graph.modules}
        now = self.symbols.named_contents()
        return {n for n, content in now.items()
                if (n if n in self.graph.modules else self.symbols.module_of_definition(n)) in changed_modules
                and before.get(n) != content}

    @cached_property
    def import_graph(self) -> grimp.ImportGraph:
        return self.state.import_graph if self.graph is self.state.graph else self.graph.to_import_graph()

    def unfollowed_imports(self, path: str) -> list[str]:
        """`path:line` of dynamic imports with computed names in the file's import closure: what
        they load is not in the graph, so a change there is not seen."""
        node = self._node_of(path)
        if node is None:
            return []
        graph = self.import_graph
        closure = {node} | (graph.find_upstream_modules(node) if node in graph.modules else set())
        return [f"{self.graph.modules[n]}:{line}" for n in sorted(closure & set(self.graph.dynamic))
                for line in self.graph.dynamic[n]]

    def _node_of(self, path: str) -> str | None:
        if path in self.unit_nodes:
            return self.unit_nodes[path]
        return next((n for n, p in self.graph.modules.items() if p == path), None)

    def reasons(self, path: str) -> list[str]:
        if not self.has_snapshot:
            return ["no test run recorded yet"]
        if path not in self.tested_before:
            return ["new test file"]
        reasons = self.config_reason() or self._child_process_reason(path)
        if self.environment_changed:
            reasons.append("environment changed (Python, platform, installed packages, pytest arguments "
                           "or declared environment variables)")
        return reasons + self.changes_reaching(path, "test file changed")

    def config_reason(self) -> list[str]:
        if not self.config_changed:
            return []
        return [f"config changed: {', '.join(self.changed_config) or 'a config file was removed'}"]

    def _child_process_reason(self, path: str) -> list[str]:
        """A config file changed in a part no test can see, but code the test reaches was seen
        starting a child process, which may read any config file whole."""
        if not self.changed_config or self.symbols is None or path not in self.unit_inputs:
            return []
        chain = self.symbols.path_to(self.unit_inputs[path], {CONFIG_TARGET})
        if chain is None:
            return []
        starter = chain[-2] if len(chain) > 1 else chain[0]
        where = self.graph.modules.get(starter.removesuffix(WHOLE_SUFFIX).partition(":")[0], starter)
        return [f"config changed: {', '.join(self.changed_config)}, and code it reaches ({where}) was seen "
                "starting a child process, which may read any config file"]

    def changes_reaching(self, path: str, own_change: str) -> list[str]:
        """What changed in the import closure of the module at `path`, with import chains."""
        node = self._node_of(path)
        if node is None:
            return [own_change] if path in self.changed_paths else []
        graph = self.import_graph
        upstream: set[str] = set()
        for input_node in self.unit_inputs.get(path, (node,)):
            upstream |= {input_node} - {node}
            upstream |= graph.find_upstream_modules(input_node) if input_node in graph.modules else set()
        if self.units is not None:  # and what the function bodies it reaches were seen to read
            upstream |= self.units.reached(path) - {node}
        reasons = [own_change] if node in self.changed_nodes else []
        changed = sorted(upstream & self.changed_nodes)
        if self.changed_names and path in self.unit_inputs:
            return reasons + self._name_chains(path, changed)
        return reasons + [self._describe(node, c) for c in changed]

    def _name_chains(self, path: str, changed_upstream: list[str]) -> list[str]:
        """For each changed module upstream: the chain of names from the test to what changed in
        it, or why the change does not reach the test."""
        assert self.symbols is not None
        reasons = []
        for module in changed_upstream:
            if module not in self.graph.modules or self.graph.modules[module].endswith("conftest.py"):
                reasons.append(self._describe(self.unit_nodes[path], module))
                continue
            targets = {n for n in self.changed_names if n == module or self.symbols.module_of_definition(n) == module}
            chain = self.symbols.path_to(self.unit_inputs[path], targets) if targets else None
            if chain is None:
                names = sorted(n.rpartition(":")[2] for n in targets if n != module)
                what = f" ({', '.join(names)})" if names else " (only comments, blank lines or formatting)"
                reasons.append(f"{self.graph.modules[module]} changed{what}, but nothing its code can reach by name")
            else:
                reasons.append(self._describe_chain(path, chain))
        return reasons

    def _describe_chain(self, path: str, chain: list[str]) -> str:
        assert self.symbols is not None
        changed = chain[-1]
        module = self.symbols.module_of_definition(changed)
        if module is None:
            what = self._module_change(changed)
        else:
            what = f"{self.graph.modules[module]}:{changed.rpartition(':')[2]} changed"
        hops = [path]
        for source, target in zip(chain, chain[1:]):
            if target.endswith(WHOLE_SUFFIX) or target in self.unit_inputs[path]:
                continue
            ref = self.symbols.reference_between(source, target)
            notes = [f"as `{ref}`"] if ref and not target.endswith(":" + ref) else []
            if ref is None and target in self.symbols.kept.get(source, ()):
                notes.append("registered when its module is imported")
            source_module = self.symbols.module_of_definition(source) or source.removesuffix(WHOLE_SUFFIX)
            via = self.symbols.reexporter(source_module, ref, target) if ref else None
            if via is not None:
                notes.append(f"re-exported by {self.graph.modules[via]}")
            hops.append((what if target == changed else target) + (f" ({', '.join(notes)})" if notes else ""))
        if chain[-1] in self.unit_inputs[path]:
            hops.append(what)
        return " <- ".join(hops)

    def _module_change(self, module: str) -> str:
        """What changed in a module the chain reaches as a module: its content is its import-time
        skeleton, or, when it counts as a whole, its code less the function bodies."""
        return f"{self.graph.modules[module]} changed at import time (module-level code, a class body or a signature)"

    def unreached_changes(self, path: str, *, traced: bool = False) -> list[str]:
        """For a test that does not run: the changed modules it imports whose changes its code
        cannot reach by name, and, `traced` (decided by the code its runs ran: doit_scout.executed),
        those it can reach but did not run."""
        node = self._node_of(path)
        if not self.changed_names or node is None or path not in self.unit_inputs:
            return []
        graph = self.import_graph
        upstream = set().union(*(graph.find_upstream_modules(n) for n in self.unit_inputs[path] if n in graph.modules))
        changed = sorted(m for m in upstream & self.changed_nodes if m in self.graph.modules)
        return [r if r.endswith("by name") else f"{r}, but its tests did not run that code when they last ran"
                for r in self._name_chains(path, changed) if traced or r.endswith("by name")]

    def _describe(self, test_node: str, changed: str) -> str:
        if changed.startswith(DATA_PREFIX):
            return f"data file changed: {changed.removeprefix(DATA_PREFIX)}"
        if changed.startswith(DIR_PREFIX):
            return f"a file was added to or removed from {changed.removeprefix(DIR_PREFIX)}/, which its code lists"
        if changed.startswith(LITERALS_PREFIX):
            return f"constants changed in {changed.removeprefix(LITERALS_PREFIX)}, whose constants a reader took (Hypothesis)"
        path = self.graph.modules.get(changed)
        if path is not None and path.endswith("conftest.py"):
            return f"conftest changed: {path}"
        chain = self.import_graph.find_shortest_chain(importer=test_node, imported=changed) or ()
        via = " -> ".join(chain)
        if changed.startswith(MISSING_PREFIX):
            return f"imports a module that does not exist: {changed.removeprefix(MISSING_PREFIX)} ({via})"
        return f"imports changed module {changed} ({via})"
