"""The Scout phase: inventory, hashing through the stat cache, imports, graph, fingerprints."""

from __future__ import annotations

import gc
import posixpath
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Mapping

import xxhash

from doit_scout.analyzers.categories import Categorizer, Category
from doit_scout.analyzers.changes import ChangeSet
from doit_scout.analyzers.data_deps import data_inputs, data_node, rules_from_config
from doit_scout.analyzers.fingerprints import closure_of, compute_fingerprints, update_fingerprints
from doit_scout.analyzers.globs import GlobSet
from doit_scout.analyzers.graph import ProjectGraph, build_project_graph, node_contents
from doit_scout.analyzers.inventory import list_project_files
from doit_scout.analyzers.layout import ProjectLayout, detect_layout
from doit_scout.analyzers.modules import locate_modules
from doit_scout.cache_store import CacheStore
from doit_scout.config import ScoutConfig
from doit_scout.context import KnownState, RunContext
from doit_scout.environment import inputs_key_of, is_external
from doit_scout.file_hashing import hash_files
from doit_scout.forget import is_forgotten, remember
from doit_scout.parsing import parse_modules
from doit_scout.project_state import CorruptState, state_dir
from doit_scout.scout_state import (
    STATE_FILE,
    FileEntry,
    ScoutState,
    graph_from_json,
    graph_to_json,
    load_state,
    save_state,
)

SCOUT_KIND = "scout"
GRAPH_CATEGORIES = frozenset({Category.SOURCE, Category.TEST, Category.CONFTEST})


@dataclass
class ScoutRun:
    """One run of the Scout phase: the new state and what it took to get there."""

    state: ScoutState
    layout: ProjectLayout
    changes: ChangeSet
    first_run: bool
    inventory: str  # "git" or "walk"
    files_read: int
    parsed: int
    parse_cache_hits: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    from_snapshot: bool = False  # graph and fingerprints came whole from the shared cache

    def as_json(self) -> dict:
        """What `.scout/last-run.json` says of the scout: the summary line's facts and the details'."""
        counts = Counter(entry.category.value for entry in self.state.files.values())
        return {
            "files": len(self.state.files), "modules": len(self.state.summary.modules),
            "inventory": self.inventory, "categories": {c.value: counts[c.value] for c in Category},
            "first_run": self.first_run, "added": list(self.changes.added),
            "modified": list(self.changes.modified), "deleted": list(self.changes.deleted),
            "parsed": self.parsed, "parse_cache_hits": self.parse_cache_hits, "files_read": self.files_read,
            "from_snapshot": self.from_snapshot, "seconds": self.seconds,
        }


def current_state(context: RunContext) -> ScoutState:
    """The state the scout task left, or a fresh scout when there is none to use. Callers only
    read it. Each gate of one doit run (every build step's, then the tests') asks: the file is read
    once, and again only after a scout saved it."""
    path = state_dir(context.root.resolve()) / STATE_FILE
    identity = _identity(path)
    known = context.known_state
    if identity is not None and known is not None and known.file_identity == identity:
        return known.state
    try:
        state = load_state(path.parent)
    except CorruptState:
        state = None
    if state is None or identity is None:
        return run_scout(context).state
    context.known_state = KnownState(identity, state)
    return state


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)  # saves replace the file: new inode


def run_scout(context: RunContext, *, from_scratch: bool = False) -> ScoutRun:
    """With `from_scratch`, reuse nothing (no state, no cache reads) and save no state: the
    reference that `doit scout --verify` compares the incremental state with."""
    with _no_cyclic_gc():
        return _scout(context, from_scratch)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """A scout allocates hundreds of thousands of small objects (decoded state, edges, tuples) and
    makes almost no cycles: the cycle collector's full passes over them were a third of an
    incremental scout at 10,000 files. Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _scout(context: RunContext, from_scratch: bool) -> ScoutRun:
    started = time.perf_counter()
    root, config = context.root.resolve(), context.config
    folder = state_dir(root)
    warnings: list[str] = []
    forgotten = from_scratch or is_forgotten(root, "scout")
    try:
        previous = None if forgotten else load_state(folder)
    except CorruptState as err:
        warnings.append(f"scout state could not be used and is rebuilt from scratch: {err}")
        previous = None

    paths, inventory = list_project_files(root, GlobSet.of(config.exclude))
    layout = detect_layout(paths, packages=config.packages, test_dirs=config.test_dirs,
                           source_roots=config.source_roots)
    inputs_key = inputs_key_of(root, layout, config)
    comparable = previous if previous is not None and previous.inputs_key == inputs_key else None
    categories = _categorize(paths, Categorizer.from_config(layout, config.categories), comparable)
    wanted_sources = {p for p, c in categories.items() if c in GRAPH_CATEGORIES and p.endswith(".py")}
    hashed = hash_files(root, paths, previous.hash_records if previous else {}, wanted_sources, warnings)

    files = {p: FileEntry(d, categories[p]) for p, d in hashed.entries.items()}
    changes = ChangeSet.between(previous.digests() if previous else {}, hashed.entries)

    cache = context.cache
    snapshot_key = None if comparable is not None else _snapshot_key(inputs_key, files)
    snapshot = _cached_snapshot(cache, snapshot_key) if snapshot_key and not forgotten else None
    parsed = cache_hits = 0
    if comparable is not None and not changes:
        state = comparable.with_inventory(files, hashed.records)
    elif snapshot is not None:
        state = ScoutState(inputs_key, files, hashed.records, *snapshot)
    else:
        module_paths = sorted(p for p in files if p in wanted_sources)
        graph, fingerprints, parsed, cache_hits, kept = _map_imports(
            cache, root, module_paths, files, hashed.sources, layout, changes, comparable, config, warnings,
            reuse=not forgotten)
        if snapshot_key and not from_scratch:
            cache.put_many(SCOUT_KIND, {snapshot_key: {"graph": graph_to_json(graph), "fingerprints": fingerprints}})
        stored_lines = comparable.stored_lines(kept) if comparable is not None and kept else None
        state = ScoutState(inputs_key, files, hashed.records, graph, fingerprints, stored_lines=stored_lines)
    warnings.extend(cache.take_warnings())

    for path in state.summary.shadowed:
        warnings.append(f"{path} has the same module name as another file and is left out of the graph")
    if not from_scratch and (previous is None or changes or hashed.read or previous.inputs_key != inputs_key):
        save_state(folder, state)
    if not from_scratch:
        identity = _identity(folder / STATE_FILE)
        if identity is not None:  # what the file holds now: the gates of this run need not read it
            context.known_state = KnownState(identity, state)
    if forgotten and not from_scratch:
        remember(root, "scout")
    return ScoutRun(
        state=state, layout=layout, changes=changes, first_run=previous is None,
        inventory=inventory, files_read=hashed.read, parsed=parsed, parse_cache_hits=cache_hits,
        seconds=time.perf_counter() - started, warnings=warnings, from_snapshot=snapshot is not None,
    )


def _snapshot_key(inputs_key: str, files: Mapping[str, FileEntry]) -> str:
    """The inventory's content: every path with its digest and category, and the inputs key."""
    hasher = xxhash.xxh3_128(inputs_key.encode("utf-8", "surrogateescape"))
    for path, entry in sorted(files.items()):
        hasher.update(f"{path}\0{entry.digest}\0{entry.category.value}\0".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


def _cached_snapshot(cache: CacheStore, key: str) -> tuple[ProjectGraph, dict[str, str]] | None:
    value = cache.get_many(SCOUT_KIND, [key]).get(key)
    if value is None:
        return None
    try:
        return graph_from_json(value["graph"]), dict(value["fingerprints"])
    except (KeyError, TypeError, ValueError):
        cache.delete(SCOUT_KIND, key)  # passed its checksum, yet not a snapshot: drop it
        return None


def _map_imports(
    cache: CacheStore, root: Path, module_paths: list[str], files: Mapping[str, FileEntry], sources: Mapping[str, bytes],
    layout: ProjectLayout, changes: ChangeSet, previous: ScoutState | None, config: ScoutConfig,
    warnings: list[str], *, reuse: bool,
) -> tuple[ProjectGraph, dict[str, str], int, int, set[str]]:
    """The graph and fingerprints, how many files were parsed and found in the parse cache, and
    the modules whose imports and names are `previous`'s, a state resolved under the same inputs
    key, or None."""
    test_paths = {p for p in module_paths if files[p].category is Category.TEST}
    pytest_imported = test_paths | {p for p in module_paths if files[p].category is Category.CONFTEST}
    modules = locate_modules(module_paths, layout.source_roots, pytest_imported).values()
    reads = data_inputs(
        modules, [p for p, f in files.items() if f.category is Category.DATA],
        test_paths=test_paths, test_dirs=layout.test_dirs, rules=rules_from_config(config.test.data),
    )
    # Same module and data files under the same layout: only changed modules are resolved again.
    reusable = (
        previous is not None
        and set(module_paths) == set(previous.graph.modules.values())
        and {n for nodes in reads.values() for n in nodes} == previous.graph.data
    )
    to_parse = [p for p in module_paths if p in changes.modified] if reusable else module_paths
    parses, parsed, cache_hits = parse_modules(
        root, to_parse, files, sources, cache, config.parse_workers, warnings, reuse=reuse)
    graph = build_project_graph(
        modules,
        parses,
        source_roots=layout.source_roots,
        test_paths=test_paths,
        is_external=lru_cache(maxsize=None)(is_external),
        data_inputs=reads,
        previous=previous.graph if reusable and previous is not None else None,
    )
    dirty = None
    kept: set[str] = set()
    if reusable:
        assert previous is not None
        dirty = {node for node, path in graph.modules.items() if path in changes.modified}
        kept = graph.modules.keys() - dirty
        dirty |= {data_node(p) for p in changes.modified} & graph.data
        dirty |= graph.missing - previous.graph.missing
    return graph, _fingerprints(graph, files, previous, dirty), parsed, cache_hits, kept


def _categorize(
    paths: list[str], categorizer: Categorizer, previous: ScoutState | None
) -> dict[str, Category]:
    """A path's category depends only on the path and the inputs key: known paths keep theirs."""
    known = previous.files if previous is not None else {}
    return {p: known[p].category if p in known else categorizer.categorize(p) for p in paths}


def _fingerprints(
    graph: ProjectGraph, files: Mapping[str, FileEntry], previous: ScoutState | None,
    dirty: set[str] | None,
) -> dict[str, str]:
    """The fingerprints of the conftest.py files and what they import, the only module
    fingerprints a run uses (the collection key; test files get theirs from names, at the test
    task). `dirty`, when known, are the only nodes whose content or imports differ from `previous`."""
    contents = node_contents(graph, {p: e.digest for p, e in files.items()})
    successors = graph.successors()
    conftests = closure_of((n for n, p in graph.modules.items() if posixpath.basename(p) == "conftest.py"), successors)
    if previous is None:
        return compute_fingerprints(contents, successors, conftests)
    if dirty is None:
        old_contents = node_contents(previous.graph, previous.digests())
        old_successors = previous.graph.successors()
        dirty = {
            n for n in contents
            if old_contents.get(n) != contents[n] or old_successors.get(n) != successors[n]
        }
    return update_fingerprints(previous.fingerprints, contents, successors, dirty, conftests)


