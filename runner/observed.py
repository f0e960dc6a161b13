"""Observed inputs: what running code was seen to read, kept in the shared cache by the content of
the code that read it.

An observation is a fact about a source file's content ("pkg/__init__.py with this digest loaded
pkg/lazy.py"), so it is stored under (path, digest) and shared by every checkout with the same
file; observations accumulate (a union), since another test may drive the same code elsewhere.
What the static graph already predicts is not stored."""

from __future__ import annotations

import posixpath
from typing import Collection, Mapping

import xxhash

from doit_scout.analyzers.fingerprints import closure_of
from doit_scout.analyzers.targets import BODY_SEPARATOR
from doit_scout.analyzers.unit_graph import SESSION_SOURCE
from doit_scout.context import RunContext
from doit_scout.scout_state import ScoutState

OBSERVED_KIND = "observed"


def _key(source: str, digest: str) -> str:
    return xxhash.xxh3_128_hexdigest(f"{source}\0{digest}".encode("utf-8", "surrogateescape"))


class ObservedInputs:
    def __init__(self, context: RunContext) -> None:
        self.cache = context.cache
        self.root = context.root

    def _session_digest(self, state: ScoutState) -> str:
        """What pytest itself loads outside any project code depends on what it reads of the config
        files: a dependency group or a lock file edited leaves it as it was."""
        return "session:" + state.test_config_digest(self.root)

    def _keys(self, state: ScoutState, units: Collection[str]) -> dict[str, str]:
        sources = {*state.summary.modules.values(), *units}
        keys = {_key(path, state.files[path].digest): path for path in sources if path in state.files}
        keys[_key(SESSION_SOURCE, self._session_digest(state))] = SESSION_SOURCE
        return keys

    def load(self, state: ScoutState, units: Collection[str]) -> dict[str, frozenset[str]]:
        """Source -> targets, for the sources as they are now: modules, and units that are no
        module (a doctest file, a golden file a conftest hook runs). A source is a path, for what
        its module-level code read, or `path::qualname`, for what a function body of it read.
        A file seen before in this checkout with other content, and not yet with this one, has
        what it was last seen to read: an edit of the function that starts a child process
        leaves that input standing (more inputs can only run more tests), where dropping it would
        change every importer's fingerprint."""
        own, latest = self._load(state, units)
        return {source: targets for sources in {**latest, **own}.values() for source, targets in sources.items()}

    def _load(self, state: ScoutState, units: Collection[str]) -> tuple[dict[str, Observations], dict[str, Observations]]:
        """What is known of the files' current content, and the latest of the others'."""
        keys = self._keys(state, units)
        own = self._observations(keys)
        return own, self._observations({self._latest_key(path): path for path in set(keys.values()) - own.keys()})

    def _observations(self, keys: Mapping[str, str]) -> dict[str, Observations]:
        """Path -> its observations, for the cache keys (-> path) that have an entry."""
        found: dict[str, Observations] = {}
        for key, value in self.cache.get_many(OBSERVED_KIND, keys).items():
            path = keys[key]
            try:
                sources = {path: frozenset(str(t) for t in value["targets"])}
                sources.update({_body_source(path, str(qualname)): frozenset(str(t) for t in targets)
                                for qualname, targets in value.get("bodies", {}).items()})
            except (AttributeError, KeyError, TypeError):
                self.cache.delete(OBSERVED_KIND, key)
                continue
            found[path] = {source: targets for source, targets in sources.items() if targets}
        return found

    def _latest_key(self, source: str) -> str:
        # Per checkout: a content is a fact shared with every clone, what was last seen is not.
        return _key(source, f"latest:{self.root}")

    def add(self, state: ScoutState, observed: Mapping[str, Collection[str]], units: Collection[str]) -> None:
        """Merge what a run observed into what is known, for files whose content is `state`'s.
        A content first seen takes what its file was last seen to read, so what it depends on is
        its own from then on."""
        unpredicted = unpredicted_inputs(state, observed, units)
        if not unpredicted:
            return
        by_path: dict[str, Observations] = {}
        for source, targets in unpredicted.items():
            by_path.setdefault(source_path(source), {})[source] = targets
        own, latest = self._load(state, units)
        digest = {p: e.digest for p, e in state.files.items()}
        merged = {}
        for path, sources in by_path.items():
            known = own.get(path, latest.get(path, {}))
            if path in own and all(targets <= known.get(source, frozenset()) for source, targets in sources.items()):
                continue
            union = {source: known.get(source, frozenset()) | sources.get(source, frozenset())
                     for source in {*known, *sources}}
            entry = {"source": path, "targets": sorted(union.get(path, ())),
                     "bodies": {source.partition(BODY_SEPARATOR)[2]: sorted(targets)
                                for source, targets in sorted(union.items()) if source != path}}
            merged[_key(path, self._session_digest(state) if path == SESSION_SOURCE else digest[path])] = entry
            merged[self._latest_key(path)] = entry
        if merged:
            self.cache.put_many(OBSERVED_KIND, merged)


# An observation source (a path, or `path::qualname`) -> what it was seen to read.
Observations = dict[str, frozenset[str]]


def source_path(source: str) -> str:
    """The file of an observation source."""
    return source.partition(BODY_SEPARATOR)[0]


def _body_source(path: str, qualname: str) -> str:
    return f"{path}{BODY_SEPARATOR}{qualname}"


def unpredicted_inputs(
    state: ScoutState, observed: Mapping[str, Collection[str]], units: Collection[str],
) -> dict[str, frozenset[str]]:
    """The observations the static graph does not already hold: what importing the source's
    module imports, its data files, and the packages above them (importing a.b.c runs
    a/__init__.py), are dropped; the same for a function body of it (`path::qualname`), as code
    that reaches the function reaches its module.
    For code outside the project (pytest itself), conftest.py files, config files and the units
    themselves are dropped: the graph and the fingerprints hold them already. A unit that is no
    module (a doctest .rst file) has no static inputs: what its examples imported and read is kept."""
    graph = state.graph
    node_of = state.module_of()
    # What importing a module runs: a function body's imports run for the code that calls it only.
    successors = graph.successors(at_import=True)
    closures: dict[str, set[str]] = {}
    result: dict[str, frozenset[str]] = {}
    for source, targets in observed.items():
        path = source_path(source)
        if source == SESSION_SOURCE:
            kept = {t for t in targets if not _known_to_every_unit(state, t, units)}
        elif path in node_of:
            node = node_of[path]
            direct = _paths_of(graph, successors.get(node, set()))
            if node not in closures:
                closures[node] = closure_of([node], successors)
            kept = set()
            for target in targets:
                if target in direct or _is_package_above(target, direct) or target == path:
                    continue
                if target in node_of and node_of[target] in closures[node]:
                    continue
                kept.add(target)
        elif path in units and path in state.files:
            kept = {t for t in targets if t != path}
        else:
            continue  # not a module of the graph nor a unit: no fingerprint reaches it
        if kept:
            result[source] = frozenset(kept)
    return result


def _known_to_every_unit(state: ScoutState, target: str, units: Collection[str]) -> bool:
    """Outside project code, pytest itself lists folders while it collects (the collection key
    covers that), reads its config and imports conftest.py files and test files: only other
    modules (a plugin a project registers with an entry point or -p) are kept."""
    return not target.endswith(".py") or posixpath.basename(target) == "conftest.py" or target in units


def _paths_of(graph, nodes: Collection[str]) -> set[str]:
    return {graph.modules.get(n) or n.removeprefix("data:") for n in nodes}


def _is_package_above(target: str, direct: set[str]) -> bool:
    if posixpath.basename(target) != "__init__.py":
        return False
    folder = posixpath.dirname(target) + "/"
    return any(path.startswith(folder) for path in direct)
