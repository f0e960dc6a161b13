"""The collection manifest: which files pytest collects, learned from pytest's own runs.

Whether pytest collects a file depends on its path, the config files, the conftest.py files and
the installed plugins, which the collection key covers. Under the same key the same files are
collected, so the manifest is kept in the shared cache by key (a second clone, or a branch that
comes back, knows its test files without asking pytest) and in `.scout/` as the last one seen."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from doit_scout.analyzers.unit_graph import collection_key
from doit_scout.project_state import CorruptState, read_state_json, state_dir, write_state_json
from doit_scout.scout_state import ScoutState
from doit_scout.shared_cache import SharedCache

COLLECTION_KIND = "collection"
MANIFEST_FILE = "collection.json"


@dataclass(frozen=True)
class Manifest:
    """`files` pytest collected under `key`; `known` False when no run under this key told."""

    key: str
    files: frozenset[str]
    known: bool


def key_of(state: ScoutState, environment: str) -> str:
    conftests = [state.fingerprints[node] for node, path in state.summary.modules.items()
                 if posixpath.basename(path) == "conftest.py"]
    return collection_key(state.files, conftests, state.config_digest(), environment)


def load_manifest(root: Path, cache: SharedCache, key: str) -> Manifest:
    """The files pytest collects under `key`; when unknown, the last ones this checkout saw
    (a guess, for explanations: the run asks pytest)."""
    local = _read_local(root)
    if local.get("key") == key:
        return Manifest(key, frozenset(local["files"]), True)
    shared = cache.get_many(COLLECTION_KIND, [key]).get(key)
    if isinstance(shared, dict) and isinstance(shared.get("files"), list):
        manifest = Manifest(key, frozenset(map(str, shared["files"])), True)
        _write_local(root, manifest)
        return manifest
    return Manifest(key, frozenset(map(str, local.get("files", ()))), False)


def save_manifest(root: Path, cache: SharedCache, manifest: Manifest) -> None:
    cache.put_many(COLLECTION_KIND, {manifest.key: {"files": sorted(manifest.files)}})
    _write_local(root, manifest)


def _read_local(root: Path) -> dict:
    try:
        data = read_state_json(state_dir(root) / MANIFEST_FILE)
    except CorruptState:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return {}
    return data


def _write_local(root: Path, manifest: Manifest) -> None:
    write_state_json(state_dir(root) / MANIFEST_FILE, {"key": manifest.key, "files": sorted(manifest.files)})
