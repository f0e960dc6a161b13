"""Test units: the files pytest collected items from, and what each one depends on.

pytest decides what a test is; doit-scout learns it from pytest's runs (the collection manifest)
and fingerprints each collected file, whatever it is: a test module, a module whose doctests run,
a golden `.txt` file a conftest hook collects. A unit depends on its own content, its import
closure, the conftest.py files above it, and on what running code was observed to read
(`observed`: source -> targets), which becomes edges of the graph its fingerprint is computed
over. A source is a file, for what its module-level code read, or `path::qualname`, for what a
function body read: that is an input of the definition (code that reaches it by name), and of
the tests seen running that body (`body_inputs`), not of every importer. Targets are project paths, `dir:<folder>` (a folder code listed), `module:<name>` (run
with `python -m`) and `config:` (a child process ran).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from typing import Callable, Collection, Iterable, Mapping

import xxhash

from doit_scout.analyzers.data_deps import data_node, is_data
from doit_scout.analyzers.fingerprints import closure_of, compute_fingerprints
from doit_scout.analyzers.graph import ImportEdge, ProjectGraph, node_contents
from doit_scout.analyzers.layout import parent_dirs
from doit_scout.analyzers.symbol_graph import WHOLE_SUFFIX, SymbolGraph, definition_node, whole_node
from doit_scout.analyzers.targets import (
    BODY_SEPARATOR,
    CONFIG_TARGET,
    DIR_PREFIX,
    LITERALS_PREFIX,
    MODULE_PREFIX,
    TEXT_PREFIX,
)

# The node for what code outside any project file read (a pytest plugin from an entry point):
# every unit depends on it.
SESSION_NODE = "session:"
SESSION_SOURCE = ""


@dataclass(frozen=True)
class UnitGraph:
    """The project graph extended with observed inputs, and the fingerprints of its name-level
    refinement (analyzers.symbol_graph). `unit_nodes` maps each fingerprintable unit path to its
    node; `unit_inputs` to the nodes its fingerprint combines: its own (for a module, as a whole:
    pytest runs every test in it), the conftest.py files above it, and what pytest itself loaded;
    `unit_digests` the unit file's bytes. They are not edges of the graph, so that no unit's
    fingerprint depends on which other units exist. `frame_fingerprints` are computed over the
    same graph with each definition's frame (its code less its function bodies) for content: the
    part of a unit's inputs that its runs cannot show it does not use; what a body was seen to
    read is left out of them, and is the body's (`body_inputs`: `path::qualname` -> the digest of
    what it read)."""

    graph: ProjectGraph
    fingerprints: Mapping[str, str]
    frame_fingerprints: Mapping[str, str]
    unit_nodes: Mapping[str, str]
    unit_inputs: Mapping[str, tuple[str, ...]]
    unit_digests: Mapping[str, str]
    symbols: SymbolGraph
    body_inputs: Mapping[str, str]

    def fingerprint_of(self, path: str, config_digest: str, environment: str) -> str | None:
        """None for a unit doit-scout cannot fingerprint (not a project file it knows)."""
        return self._combined(self.fingerprints, path, config_digest, environment)

    def frame_of(self, path: str, config_digest: str, environment: str) -> str | None:
        """The fingerprint of everything a unit depends on but the bodies of the definitions it
        reaches: with the bodies its run was seen to execute, its fingerprint (doit_scout.executed)."""
        frame = self._combined(self.frame_fingerprints, path, config_digest, environment)
        return None if frame is None else "frame:" + frame

    def reached(self, path: str) -> set[str]:
        """The nodes a unit's fingerprint covers: its inputs and every node they reach by name."""
        return closure_of(self.unit_inputs.get(path, ()), self.symbols.successors)

    def state_reach(self, path: str) -> set[str]:
        """The nodes whose earlier runs may have left state a unit's code reads: those it reaches,
        and the writers (analyzers.state_writes) that name something it reaches with what they
        reach (a function that fills a module-level dict the unit reads with what it computed,
        which the unit itself never names)."""
        reached = self.reached(path)
        successors = self.symbols.successors
        writers = {w for w in self.symbols.writers if not reached.isdisjoint(self.symbols.written_targets(w))}
        return reached | closure_of(writers, successors)

    def _combined(self, fingerprints: Mapping[str, str], path: str, config_digest: str, environment: str) -> str | None:
        inputs = self.unit_inputs.get(path)
        if inputs is None:
            return None
        combined = ":".join(f"{node}={fingerprints[node]}" for node in inputs)
        return xxhash.xxh3_128_hexdigest(
            f"{path}:{self.unit_digests[path]}:{combined}:{config_digest}:{environment}".encode("utf-8", "surrogateescape"))


def build_unit_graph(
    graph: ProjectGraph,
    digests: Mapping[str, str],
    units: Iterable[str],
    observed: Mapping[str, Collection[str]],
    digest_of: Callable[[str], str],
    shared: Collection[str] = (),
) -> UnitGraph:
    """`digests` are the inventory's files; `digest_of(path)` gives the content digest of a path
    outside it (a git-ignored file code read, or "absent"), and of CONFIG_TARGET. Units outside the inventory are left
    out: they cannot be fingerprinted and always run. `shared`: the test modules whose import may
    change other modules' state (analyzers.import_effects): collection imports them all before
    any test runs, so their module-level code is an input of every unit."""
    node_of_path = {path: node for node, path in graph.modules.items()}
    conftests = {posixpath.dirname(p): n for p, n in node_of_path.items() if posixpath.basename(p) == "conftest.py"}
    contents = node_contents(graph, digests)
    edges: dict[tuple[str, str], set[str]] = {}  # (source node, kind) -> targets
    listings: dict[str, set[str]] = {}

    def node_for(target: str) -> str | None:
        if target == CONFIG_TARGET:
            contents[target] = digest_of(target)
            return target
        if target.startswith(MODULE_PREFIX):
            name = target.removeprefix(MODULE_PREFIX)
            return name if name in graph.modules else None
        if target.startswith(LITERALS_PREFIX):
            path = target.removeprefix(LITERALS_PREFIX)
            names = graph.names.get(node_of_path.get(path, ""))
            contents[target] = f"literals:{names.literals}" if names is not None and names.literals \
                else f"bytes:{digests.get(path) or digest_of(path)}"
            return target
        if target.startswith(DIR_PREFIX):
            folder = target.removeprefix(DIR_PREFIX)
            if target not in contents:
                if not listings:
                    listings.update(_folder_entries(digests))
                contents[target] = xxhash.xxh3_128_hexdigest(
                    "\0".join(sorted(listings.get("" if folder == "." else folder, ()))).encode("utf-8", "surrogateescape"))
            return target
        if target in node_of_path:
            return node_of_path[target]
        target = target.removeprefix(TEXT_PREFIX)  # a module read as text is data: its bytes
        node = data_node(target)
        if node not in contents:
            contents[node] = digests.get(target) or digest_of(target)
        return node

    unit_nodes: dict[str, str] = {}
    unit_inputs: dict[str, tuple[str, ...]] = {}
    for path in units:
        if path not in digests:
            continue
        node = node_for(path)
        assert node is not None
        unit_nodes[path] = node
        own = (node, whole_node(node)) if node in graph.modules else (node,)
        chain = [conftests[d] for d in parent_dirs(path) if d in conftests and conftests[d] != node]
        chain += [node_of_path[p] for p in sorted(shared) if p in node_of_path and node_of_path[p] != node]
        unit_inputs[path] = (*own, *chain, *([SESSION_NODE] if SESSION_SOURCE in observed else []))
    in_bodies: dict[str, tuple[str, set[str]]] = {}  # body source -> its definition node, targets
    for source, targets in observed.items():
        path, _, qualname = source.partition(BODY_SEPARATOR)
        source_node = SESSION_NODE if source == SESSION_SOURCE else node_of_path.get(path, unit_nodes.get(path))
        if source_node is None:
            continue  # neither a module of the graph nor a unit (any more): nothing depends on it
        names = graph.names.get(source_node)
        top = qualname.partition(".")[0]
        # What a class body read is module-level code's (the trace records no class body), and so is
        # a body's that is no more (the file changed since).
        body = bool(qualname) and names is not None and qualname in names.bodies and top in names.definitions
        for target in targets:
            target_node = node_for(target)
            if target_node is None or target_node == source_node:
                continue
            if body:
                # A module a body loaded or read is reached with no name to follow: all of it.
                reached = whole_node(target_node) if target_node in graph.modules else target_node
                in_bodies.setdefault(source, (definition_node(source_node, top), set()))[1].add(reached)
            edges.setdefault((source_node, "body" if body else "observed"), set()).add(target_node)
    if SESSION_SOURCE in observed:
        contents[SESSION_NODE] = "session"

    # A body's reads are edges that importing the module does not follow (like a function's
    # imports); what reads them is the definition (SymbolGraph.add_read_in_body).
    existing = {(e.importer, e.imported) for e in graph.edges}
    new_edges: dict[tuple[str, str], ImportEdge] = {}
    for (source, kind), targets in sorted(edges.items(), key=lambda item: item[0][1] == "body"):
        for target in sorted(targets):
            if (source, target) not in existing:
                new_edges.setdefault((source, target), ImportEdge(source, target, 0, kind))
    extended = replace(
        graph, edges=tuple(sorted((*graph.edges, *new_edges.values()))),
        data=graph.data | {n for n in contents if is_data(n)},
    )
    # pytest uses the names of conftest.py files without references (fixtures, hooks).
    symbols = SymbolGraph(extended, contents, whole=conftests.values())
    # What a literal reader took is in each traced test's own record, for the tests that drew from
    # it (doit_scout.tracing): the frame leaves it out, the static fingerprint keeps it.
    frame_successors = {node: {t for t in targets if not t.startswith(LITERALS_PREFIX)}
                        for node, targets in symbols.successors.items()}
    for definition, targets in in_bodies.values():
        symbols.add_read_in_body(definition, contents, targets)
    fingerprints = compute_fingerprints(symbols.contents, symbols.fingerprint_successors())
    frames = compute_fingerprints(symbols.frame_contents(), frame_successors)
    # A body's reads count at the frame level: a module it imported counts with its frame (its
    # code less the function bodies), and the bodies of it that ran are in the run's own record.
    # Its whole fingerprint would count what that module's code can reach by name, and never ran
    # (click's wrap_text imports _textwrap, whose package reaches _expand_args's docs/ listing).
    # A module it read counts with its bytes too: read as text (a `cat` the trace sees nothing of),
    # a function body's edit is an edit of what it read.
    body_inputs = {source: _digest_of(targets, frames, contents) for source, (_, targets) in in_bodies.items()}
    return UnitGraph(extended, fingerprints, frames, unit_nodes, unit_inputs, {p: digests[p] for p in unit_nodes},
                     symbols, body_inputs)


def _digest_of(nodes: Iterable[str], fingerprints: Mapping[str, str], contents: Mapping[str, str]) -> str:
    """`nodes`' fingerprints, and the bytes of the modules among them counted whole."""
    return xxhash.xxh3_128_hexdigest("\0".join(
        f"{n}={fingerprints[n]}:{contents.get(n.removesuffix(WHOLE_SUFFIX), '') if n.endswith(WHOLE_SUFFIX) else ''}"
        for n in sorted(nodes)).encode("utf-8", "surrogateescape"))


def _folder_entries(paths: Iterable[str]) -> dict[str, set[str]]:
    """Each folder's entries (files and subfolders, by name) as the inventory lists them; the
    project root is ""."""
    entries: dict[str, set[str]] = {}
    for path in paths:
        parts = path.split("/")
        for depth in range(len(parts)):
            entries.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
    return entries


def collection_key(paths: Iterable[str], conftest_fingerprints: Iterable[str], config_digest: str,
                   environment: str) -> str:
    """What pytest's collection depends on: which files exist, the conftest.py files (and what they
    import), the config files and the environment (plugins). Not the content of other files:
    whether pytest collects a file depends on its path and these."""
    hasher = xxhash.xxh3_128(f"{config_digest}\0{environment}\0".encode("utf-8", "surrogateescape"))
    for fingerprint in sorted(conftest_fingerprints):
        hasher.update(f"{fingerprint}\0".encode("utf-8", "surrogateescape"))
    for path in sorted(paths):
        hasher.update(f"{path}\0".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()
