"""Test records, in the shared cache by test file fingerprint, and test durations, per checkout.

A record says, for one fingerprint, what each node of the file did and whether the whole file ran
(`complete`). Damaged records are dropped; those tests simply run again."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterable, Mapping

from doit_scout.analyzers.selection import TestRecord
from doit_scout.project_state import CorruptState, atomic_write_json, read_json, state_dir
from doit_scout.shared_cache import SharedCache

TEST_KIND = "test"
SHARD_DURATIONS_KIND = "durations"
DURATIONS_FILE = "durations.json"


class RecordStore:
    def __init__(self, cache: SharedCache) -> None:
        self.cache = cache

    def records(self, fingerprints: Iterable[str]) -> dict[str, TestRecord]:
        found = {}
        for fingerprint, value in self.cache.get_many(TEST_KIND, fingerprints).items():
            try:
                found[fingerprint] = TestRecord(bool(value["complete"]), dict(value["outcomes"]))
            except (KeyError, TypeError, ValueError):
                self.cache.delete(TEST_KIND, fingerprint)
        return found

    def record_file(self, fingerprint: str, path: str, outcomes: Mapping[str, str], *, complete: bool) -> None:
        """Replace the record of `fingerprint` with a run of the whole file; `complete` when every
        node of the file is in `outcomes` (the file collected and the session finished)."""
        self.cache.put_many(TEST_KIND, {fingerprint: {"path": path, "complete": complete, "outcomes": dict(outcomes)}})

    def record_nodes(self, fingerprint: str, path: str, outcomes: Mapping[str, str]) -> None:
        """Update some nodes of a record (a re-run of the nodes that failed)."""
        previous = self.records([fingerprint]).get(fingerprint, TestRecord(False, {}))
        merged = {**previous.outcomes, **outcomes}
        self.cache.put_many(TEST_KIND, {fingerprint: {"path": path, "complete": previous.complete, "outcomes": merged}})

    def forget_file(self, fingerprint: str) -> None:
        self.cache.delete(TEST_KIND, fingerprint)


def project_identity(root: Path) -> str:
    """What names this project in every clone: its first commit, else its folder's name."""
    try:
        out = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=root, capture_output=True,
                             text=True, stdin=subprocess.DEVNULL, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    return min(out) if out else "folder:" + root.name


def load_shard_durations(root: Path, cache: SharedCache) -> dict[str, float]:
    """The durations table that shards partition the test files by: in the shared cache, so that
    every shard (and every clone sharing the cache) reads the same one."""
    key = project_identity(root)
    value = cache.get_many(SHARD_DURATIONS_KIND, [key]).get(key)
    if not isinstance(value, dict):
        return {}
    return {p: float(s) for p, s in value.items() if isinstance(s, (int, float))}


def save_shard_durations(root: Path, cache: SharedCache, durations: Mapping[str, float]) -> None:
    """Only unsharded runs write it: a sharded run that rewrote it would change the partition
    the next shard computes."""
    if durations:
        key = project_identity(root)
        cache.put_many(SHARD_DURATIONS_KIND, {key: {**load_shard_durations(root, cache), **durations}})


def load_durations(root: Path) -> dict[str, float]:
    """Seconds each test file took when it last ran in this checkout (for choosing xdist workers)."""
    try:
        data = read_json(state_dir(root) / DURATIONS_FILE)
    except CorruptState:
        return {}
    if not isinstance(data, dict):
        return {}
    return {p: float(s) for p, s in data.items() if isinstance(s, (int, float))}


def save_durations(root: Path, durations: Mapping[str, float]) -> None:
    if durations:
        atomic_write_json(state_dir(root) / DURATIONS_FILE, {**load_durations(root), **durations})
