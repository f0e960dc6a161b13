"""The Scout phase: inventory, hashing through the stat cache, imports, graph, fingerprints."""

from __future__ import annotations

import errno
import importlib.util
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import xxhash

from analyzers.categories import Categorizer, Category
from analyzers.changes import ChangeSet
from analyzers.fingerprints import compute_fingerprints, update_fingerprints
from analyzers.globs import GlobSet
from analyzers.graph import ProjectGraph, build_project_graph, is_missing
from analyzers.hashing import (
    FileStat, HashRecord, content_hash, is_hash_reusable, is_regular_file, read_and_hash,
)
from analyzers.imports import ParseResult, parse_imports
from analyzers.inventory import list_project_files
from analyzers.layout import ProjectLayout, detect_layout
from analyzers.modules import locate_modules
from runner.config import ScoutConfig
from runner.parse_cache import ParseCache
from runner.project_state import CorruptState, state_dir
from runner.scout_state import FileEntry, ScoutState, load_state, save_state

GRAPH_CATEGORIES = frozenset({Category.SOURCE, Category.TEST, Category.CONFTEST})
# Below this many cold files, starting worker processes costs more than parsing in this one.
PARALLEL_PARSE_THRESHOLD = 200


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


@dataclass
class _HashedFiles:
    entries: dict[str, str] = field(default_factory=dict)
    records: dict[str, HashRecord] = field(default_factory=dict)
    sources: dict[str, bytes] = field(default_factory=dict)  # bytes of module files read this run
    read: int = 0


def run_scout(project_root: Path, config: ScoutConfig) -> ScoutRun:
    started = time.perf_counter()
    root = project_root.resolve()
    folder = state_dir(root)
    warnings: list[str] = []
    try:
        previous = load_state(folder)
    except CorruptState as err:
        warnings.append(f"scout state was corrupt and is rebuilt from scratch ({err})")
        previous = None

    paths, inventory = list_project_files(root, GlobSet.of(config.exclude))
    layout = detect_layout(paths, packages=config.packages, test_dirs=config.test_dirs,
                           source_roots=config.source_roots)
    inputs_key = _inputs_key(root, layout, config)
    comparable = previous if previous is not None and previous.inputs_key == inputs_key else None
    categories = _categorize(paths, Categorizer.from_config(layout, config.categories), comparable)
    wanted_sources = {p for p, c in categories.items() if c in GRAPH_CATEGORIES and p.endswith(".py")}
    hashed = _hash_files(root, paths, previous.hash_records if previous else {}, wanted_sources, warnings)

    files = {p: FileEntry(d, categories[p]) for p, d in hashed.entries.items()}
    changes = ChangeSet.between(previous.digests() if previous else {}, hashed.entries)

    if comparable is not None and not changes:
        graph, fingerprints, parsed, cache_hits = comparable.graph, comparable.fingerprints, 0, 0
    else:
        module_paths = sorted(p for p in files if p in wanted_sources)
        graph, fingerprints, parsed, cache_hits = _map_imports(
            folder, module_paths, files, hashed.sources, layout, changes, comparable, config, warnings)

    state = ScoutState(inputs_key, files, hashed.records, graph, fingerprints)
    for path in graph.shadowed:
        warnings.append(f"{path} has the same module name as another file and is left out of the graph")
    if previous is None or changes or hashed.read or previous.inputs_key != inputs_key:
        save_state(folder, state)
    return ScoutRun(
        state=state, layout=layout, changes=changes, first_run=previous is None,
        inventory=inventory, files_read=hashed.read, parsed=parsed, parse_cache_hits=cache_hits,
        seconds=time.perf_counter() - started, warnings=warnings,
    )


def _map_imports(
    folder: Path, module_paths: list[str], files: Mapping[str, FileEntry], sources: Mapping[str, bytes],
    layout: ProjectLayout, changes: ChangeSet, previous: ScoutState | None, config: ScoutConfig,
    warnings: list[str],
) -> tuple[ProjectGraph, dict[str, str], int, int]:
    """The graph and fingerprints, and how many files were parsed and found in the parse cache.
    `previous` is a state resolved under the same inputs key, or None."""
    # Same module files under the same layout: only changed modules are resolved again.
    reusable = previous is not None and set(module_paths) == set(previous.graph.modules.values())
    to_parse = [p for p in module_paths if p in changes.modified] if reusable else module_paths
    parses, parsed, cache_hits = _gather_parses(
        folder, to_parse, files, sources, config.parse_workers, warnings)
    graph = build_project_graph(
        locate_modules(module_paths, layout.source_roots).values(),
        parses,
        source_roots=layout.source_roots,
        test_paths={p for p in module_paths if files[p].category is Category.TEST},
        is_external=lru_cache(maxsize=None)(_is_external),
        previous=previous.graph if reusable else None,
    )
    dirty = None
    if reusable:
        assert previous is not None
        dirty = {node for node, path in graph.modules.items() if path in changes.modified}
        dirty |= graph.missing - previous.graph.missing
    return graph, _fingerprints(graph, files, previous, dirty), parsed, cache_hits


def _categorize(
    paths: list[str], categorizer: Categorizer, previous: ScoutState | None
) -> dict[str, Category]:
    """A path's category depends only on the path and the inputs key: known paths keep theirs."""
    known = previous.files if previous is not None else {}
    return {p: known[p].category if p in known else categorizer.categorize(p) for p in paths}


def _hash_files(
    root: Path, paths: list[str], records: Mapping[str, HashRecord], wanted_sources: set[str],
    warnings: list[str],
) -> _HashedFiles:
    out = _HashedFiles()
    prefix = f"{root}{os.sep}"
    for path in paths:
        full = prefix + path
        try:
            st = os.stat(full)
        except FileNotFoundError:
            continue  # listed by git but deleted, or vanished during the scan: gone
        except OSError as err:  # a symlink loop, a too-long name...
            out.entries[path] = _unreadable(path, err, warnings)
            continue
        if not is_regular_file(st):
            continue  # a folder (git submodule), a FIFO or a device: not a file we can hash
        current = FileStat.of(st)
        record = records.get(path)
        if record is not None and is_hash_reusable(record, current):
            out.entries[path] = record.digest
            out.records[path] = record
            continue
        hashed_at = time.time_ns()
        try:
            digest, data = read_and_hash(full, keep_bytes=path in wanted_sources)
        except FileNotFoundError:
            continue
        except OSError as err:
            out.entries[path] = _unreadable(path, err, warnings)
            continue
        out.read += 1
        out.entries[path] = digest
        out.records[path] = HashRecord(digest, current, hashed_at)
        if data is not None:
            out.sources[path] = data
    return out


def _unreadable(path: str, err: OSError, warnings: list[str]) -> str:
    warnings.append(f"cannot read {path}: {err.strerror or err}; it counts as changed on every run")
    # A digest that never repeats: whatever depends on an unreadable file is never up to date.
    return f"unreadable:{errno.errorcode.get(err.errno or 0, 'error')}:{time.time_ns()}"


def _gather_parses(
    folder: Path, module_paths: list[str], files: Mapping[str, FileEntry], sources: Mapping[str, bytes],
    workers: int, warnings: list[str],
) -> tuple[dict[str, ParseResult], int, int]:
    """Parse results of `module_paths`, from the parse cache or by parsing; how many of each."""
    parses: dict[str, ParseResult] = {}
    needed: dict[str, list[str]] = {}  # content digest -> paths
    for path in module_paths:
        digest = files[path].digest
        if digest.startswith("unreadable:"):
            parses[path] = ParseResult(error="file could not be read")
        else:
            needed.setdefault(digest, []).append(path)
    if not needed:
        return parses, 0, 0

    cache = ParseCache(folder / "parse-cache.sqlite")
    try:
        found = cache.get_many(needed)
        unreadable: dict[str, ParseResult] = {}
        to_parse = {}
        for digest, paths in needed.items():
            if digest in found:
                continue
            data = next((sources[p] for p in paths if p in sources), None)
            if data is None:  # the stat cache vouched for it, but the parse cache lost it
                data = _read_unchanged(folder.parent / paths[0], digest)
            if data is None:
                warnings.append(f"{paths[0]} changed or vanished during the scan; the next scout sees it")
                unreadable[digest] = ParseResult(error="changed during the scan")
            else:
                to_parse[digest] = data
        fresh = _parse_many(to_parse, workers)
        cache.put_many(fresh)
        warnings.extend(cache.warnings)
    finally:
        cache.close()
    for digest, paths in needed.items():
        for path in paths:
            parses[path] = found.get(digest) or fresh.get(digest) or unreadable[digest]
    return parses, len(fresh), len(found)


def _read_unchanged(path: Path, digest: str) -> bytes | None:
    """The file's bytes if they still hash to `digest`."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if content_hash(data) == digest else None


def _parse_many(sources: Mapping[str, bytes], workers: int) -> dict[str, ParseResult]:
    digests = list(sources)
    if workers <= 1 or len(digests) < PARALLEL_PARSE_THRESHOLD:
        return {d: parse_imports(sources[d]) for d in digests}
    chunk = max(16, len(digests) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(parse_imports, (sources[d] for d in digests), chunksize=chunk)
        return dict(zip(digests, results))


def _fingerprints(
    graph: ProjectGraph, files: Mapping[str, FileEntry], previous: ScoutState | None,
    dirty: set[str] | None,
) -> dict[str, str]:
    """`dirty`, when known, are the only nodes whose content or imports differ from `previous`."""
    contents = node_contents(graph, files)
    successors = graph.successors()
    if previous is None:
        return compute_fingerprints(contents, successors)
    if dirty is None:
        old_contents = node_contents(previous.graph, previous.files)
        old_successors = previous.graph.successors()
        dirty = {
            n for n in contents
            if old_contents.get(n) != contents[n] or old_successors.get(n) != successors[n]
        }
    return update_fingerprints(previous.fingerprints, contents, successors, dirty)


def node_contents(graph: ProjectGraph, files: Mapping[str, FileEntry]) -> dict[str, str]:
    """What a node's own content is for its fingerprint: path, bytes, and whether it parsed."""
    contents = {}
    for node, path in graph.modules.items():
        error = graph.broken.get(node)
        contents[node] = f"{path}:{files[path].digest}" + (f":broken:{error}" if error else "")
    for node in graph.missing:
        contents[node] = "missing"
    return contents


def _inputs_key(root: Path, layout: ProjectLayout, config: ScoutConfig) -> str:
    """What import resolution depends on besides the files: layout, categories, environment.
    A change here re-resolves every import (the mtimes of sys.path folders outside the project
    stand for installs and uninstalls)."""
    hasher = xxhash.xxh3_128()
    hasher.update(repr((layout, sorted(config.categories.items()), sys.version, sys.executable)).encode())
    for entry in sys.path:
        if Path(entry or ".").resolve().is_relative_to(root):
            continue
        try:
            hasher.update(f"{entry}:{os.stat(entry).st_mtime_ns}".encode())
        except OSError:
            hasher.update(entry.encode())
    return hasher.hexdigest()


def _is_external(top_level: str) -> bool:
    """Whether a top-level name that is no project module comes from outside the project."""
    if top_level in sys.stdlib_module_names or top_level in sys.builtin_module_names:
        return True
    try:
        return importlib.util.find_spec(top_level) is not None
    except (ImportError, ValueError):
        return False
