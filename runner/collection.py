"""The collection manifest: which files pytest collects, learned from pytest's own runs.

Whether pytest collects a file depends on its path, the config files, the conftest.py files and
the installed plugins, which the collection key covers. Under the same key the same files are
collected, so the manifest is kept in the shared cache by key (a second clone, or a branch that
comes back, knows its test files without asking pytest) and in `.scout/` as the last one seen.

A manifest has two keys. The exact key covers the bytes of every conftest.py and of everything it
imports: cheap (the scout keeps those fingerprints), and what a run where nothing changed looks
up. When it is unknown, the names key decides: it covers what the conftest.py files' code can
reach by name (their unit fingerprints, as every test's covers them, observed reads included),
and what pytest can see of the config files. An edit of a helper module that a conftest.py
imports, in a definition its code never reaches, or a version bump in pyproject.toml, keeps the
names key, and pytest is not asked again."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from doit_scout.analyzers.categories import Category
from doit_scout.analyzers.data_deps import DATA_PREFIX
from doit_scout.analyzers.fingerprints import closure_of
from doit_scout.analyzers.unit_graph import collection_key
from doit_scout.cache_store import CacheStore
from doit_scout.project_state import CorruptState, read_state_json, state_dir, write_state_json
from doit_scout.scout_state import ScoutState

COLLECTION_KIND = "collection"
MANIFEST_FILE = "collection.json"
# What the collection depended on when the manifest was last known: read only to say why pytest is
# asked again, so that a run where nothing changed does not read it.
INPUTS_FILE = "collection-inputs.json"
MAX_NAMED = 5


@dataclass(frozen=True)
class Manifest:
    """`files` pytest collected under `key` (the exact key); `known` False when no run under this
    key, or under `names_key` (computed only when the exact key is unknown), told."""

    key: str
    files: frozenset[str]
    known: bool
    names_key: str | None = None


def key_of(state: ScoutState, environment: str) -> str:
    """The exact key: the files, every config file's bytes, the conftest.py closures' bytes and
    the environment."""
    conftests = [state.fingerprints[node] for node, path in state.summary.modules.items() if _is_conftest(path)]
    return collection_key(state.files, conftests, state.config_digest(), environment)


def conftest_paths(state: ScoutState) -> set[str]:
    return {path for path in state.summary.modules.values() if _is_conftest(path)}


def _is_conftest(path: str) -> bool:
    return posixpath.basename(path) == "conftest.py"


def names_key_of(state: ScoutState, fingerprints: Mapping[str, str | None], config_digest: str,
                 environment: str) -> str:
    """The names key, from the unit fingerprints of the conftest.py files (`fingerprints` must hold
    them) and the test config digest: what collection can depend on, as test fingerprints see it."""
    conftests = [f"{path}={fingerprints[path]}" for path in sorted(conftest_paths(state))]
    return collection_key(state.files, conftests, f"names:{config_digest}", environment)


def load_manifest(root: Path, cache: CacheStore, state: ScoutState, environment: str) -> Manifest:
    """The files pytest collects under the exact key; when unknown, the last ones this checkout
    saw (a guess, for explanations: the run asks pytest)."""
    key = key_of(state, environment)
    local = _read_local(root)
    if local.get("key") == key:
        return Manifest(key, frozenset(local["files"]), True, local.get("names_key"))
    shared = _shared_files(cache, key)
    if shared is not None:
        manifest = Manifest(key, shared, True)
        _write_local(root, state, environment, manifest)
        return manifest
    return Manifest(key, frozenset(map(str, local.get("files", ()))), False)


def load_by_names(root: Path, cache: CacheStore, state: ScoutState, environment: str, manifest: Manifest,
                  names_key: str) -> Manifest:
    """`manifest` (whose exact key is unknown) as the names key knows it. A manifest found is
    kept under the exact key too: the next run where nothing changed finds it there."""
    local = _read_local(root)
    files = frozenset(local["files"]) if local.get("names_key") == names_key else _shared_files(cache, names_key)
    if files is None:
        return replace(manifest, names_key=names_key)
    found = Manifest(manifest.key, files, True, names_key)
    save_manifest(root, cache, state, environment, found)
    return found


def save_manifest(root: Path, cache: CacheStore, state: ScoutState, environment: str, manifest: Manifest) -> None:
    files = {"files": sorted(manifest.files)}
    cache.put_many(COLLECTION_KIND, {manifest.key: files, **({manifest.names_key: files} if manifest.names_key else {})})
    _write_local(root, state, environment, manifest)


def _shared_files(cache: CacheStore, key: str) -> frozenset[str] | None:
    shared = cache.get_many(COLLECTION_KIND, [key]).get(key)
    if isinstance(shared, dict) and isinstance(shared.get("files"), list):
        return frozenset(map(str, shared["files"]))
    return None


def _read_local(root: Path) -> dict:
    try:
        data = read_state_json(state_dir(root) / MANIFEST_FILE)
    except CorruptState:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return {}
    return data


def _write_local(root: Path, state: ScoutState, environment: str, manifest: Manifest) -> None:
    local = _read_local(root)
    if local.get("key") != manifest.key:  # the inputs file holds this key's inputs already
        write_state_json(state_dir(root) / INPUTS_FILE, _collection_inputs(state, environment))
    write_state_json(state_dir(root) / MANIFEST_FILE, {
        "key": manifest.key, "names_key": manifest.names_key, "files": sorted(manifest.files)})


def _collection_inputs(state: ScoutState, environment: str) -> dict:
    """The paths, the bytes of the config files and of the conftest.py closures, and the
    environment (what the exact key covers), to compare with when pytest must be asked again."""
    covered = _config_files(state) | set(_closure_files(state))
    return {"paths": sorted(state.files), "digests": {p: state.files[p].digest for p in sorted(covered)},
            "environment": environment}


def _config_files(state: ScoutState) -> set[str]:
    return {p for p, e in state.files.items() if e.category is Category.CONFIG}


def _closure_files(state: ScoutState) -> dict[str, set[str]]:
    """Each file a conftest.py imports, directly or not (data files of its packages too), with the
    conftest.py files that import it; a conftest.py itself is among its own."""
    modules = state.summary.modules
    successors = state.graph.successors()
    importers: dict[str, set[str]] = {}
    for node, conftest in modules.items():
        if not _is_conftest(conftest):
            continue
        for reached in closure_of([node], successors):
            path = modules.get(reached) or (reached.removeprefix(DATA_PREFIX) if reached.startswith(DATA_PREFIX) else None)
            if path is not None and path in state.files:
                importers.setdefault(path, set()).add(conftest)
    return importers


def why_pytest_is_asked(root: Path, state: ScoutState, environment: str) -> str:
    """What changed, among what collection depends on, since the manifest was last known here
    (`files were added: tests/test_new.py`, `a module tests/conftest.py imports changed: ...`)."""
    try:
        before = read_state_json(state_dir(root) / INPUTS_FILE)
    except CorruptState:
        before = None
    if not isinstance(before, dict) or not isinstance(before.get("digests"), dict):
        return "it has not said yet in this checkout"
    paths, digests = set(before.get("paths", ())), before["digests"]

    def changed(path: str) -> bool:
        return path in digests and digests[path] != state.files[path].digest

    parts = []
    added, removed = sorted(state.files.keys() - paths), sorted(paths - state.files.keys())
    if added:
        parts.append(f"files were added: {_named(added)}")
    if removed:
        parts.append(f"files were removed: {_named(removed)}")
    config = sorted(p for p in _config_files(state) if changed(p))
    if config:
        parts.append(f"config changed: {_named(config)}")
    closure = _closure_files(state)
    conftests = sorted(p for p in closure if _is_conftest(p) and changed(p))
    if conftests:
        parts.append(f"conftest.py changed: {_named(conftests)}")
    # By the conftest.py files that import them: modules, and the data files of their packages.
    imported: dict[tuple[tuple[str, ...], bool], list[str]] = {}
    for path in sorted(p for p in closure if not _is_conftest(p) and changed(p)):
        imported.setdefault((tuple(sorted(closure[path])), path.endswith(".py")), []).append(path)
    for (importers, modules), changed_paths in sorted(imported.items()):
        parts.append(_imported_changed(list(importers), modules, changed_paths))
    if before.get("environment") != environment:
        parts.append("the environment changed (Python, the platform, installed distributions and plugins, "
                     "or [tool.scout.test] pytest_args or env)")
    return "; ".join(parts) or "what its collection depends on changed"


def _imported_changed(importers: list[str], modules: bool, paths: list[str]) -> str:
    """`a module tests/conftest.py imports changed: tests/base.py`, and its plurals."""
    one = len(importers) == 1
    what = ("a module" if len(paths) == 1 else "modules") if modules else ("a file" if len(paths) == 1 else "files")
    verb = ("imports" if one else "import") if modules else ("depends on" if one else "depend on")
    return f"{what} {_named(importers)} {verb} changed: {_named(paths)}"


def _named(paths: list[str]) -> str:
    shown = ", ".join(paths[:MAX_NAMED])
    return shown + (f" and {len(paths) - MAX_NAMED} more" if len(paths) > MAX_NAMED else "")
