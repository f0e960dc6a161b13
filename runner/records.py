"""Test records, in the shared cache by test file fingerprint; test durations, per checkout; what
pytest runs cost on this machine, in the shared cache by machine; what the project's own pytest
configuration asks, per checkout.

A record says, for one fingerprint, what each node of the file did and whether the whole file ran
(`complete`), and names the test file and the fingerprint it is of: both are checked on reading,
so that a record read back under another fingerprint (a damaged database) is never another file's
green. Damaged records are dropped; those tests simply run again."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import xxhash

from doit_scout.analyzers.selection import TestRecord
from doit_scout.cache_store import CacheStore
from doit_scout.project_state import CorruptState, read_state_json, state_dir, write_state_json
from doit_scout.workers import FileTiming, MachineCosts, machine_id

TEST_KIND = "test"
SHARD_DURATIONS_KIND = "durations"
WORKER_COSTS_KIND = "worker-costs"
DURATIONS_FILE = "durations.json"
PYTEST_CONFIG_FILE = "pytest-config.json"


class RecordStore:
    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache
        self._pending: dict[str, dict] | None = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Records written inside go to the cache in one transaction when it ends: one commit per
        test file cost 4 ms each on this machine, a second for 250 files."""
        self._pending = {}
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
            if pending:
                self.cache.put_many(TEST_KIND, pending)

    def _put(self, fingerprint: str, value: dict) -> None:
        if self._pending is not None:
            self._pending[fingerprint] = value
        else:
            self.cache.put_many(TEST_KIND, {fingerprint: value})

    def records(self, units: Mapping[str, str]) -> dict[str, TestRecord]:
        """The records of `units`, fingerprint -> the test file it is the fingerprint of."""
        found = {}
        for fingerprint, value in self.cache.get_many(TEST_KIND, units).items():
            path = units[fingerprint]  # outside the try: a caller's mistake is no damaged record
            try:
                if value["fingerprint"] != fingerprint or value["path"] != path:
                    raise ValueError("the record of another file or fingerprint")
                found[fingerprint] = TestRecord(bool(value["complete"]), dict(value["outcomes"]))
            except (KeyError, TypeError, ValueError):
                self.cache.counts.dropped[TEST_KIND] += 1
                self.cache.delete(TEST_KIND, fingerprint)
        return found

    def record_file(self, fingerprint: str, path: str, outcomes: Mapping[str, str], *, complete: bool) -> None:
        """Replace the record of `fingerprint` with a run of the whole file; `complete` when every
        node of the file is in `outcomes` (the file collected and the session finished)."""
        self._put(fingerprint, {"fingerprint": fingerprint, "path": path, "complete": complete,
                                "outcomes": dict(outcomes)})

    def record_nodes(self, fingerprint: str, path: str, outcomes: Mapping[str, str]) -> None:
        """Update some nodes of a record (a re-run of the nodes that failed)."""
        pending = (self._pending or {}).get(fingerprint)
        previous = TestRecord(bool(pending["complete"]), dict(pending["outcomes"])) if pending else \
            self.records({fingerprint: path}).get(fingerprint, TestRecord(False, {}))
        merged = {**previous.outcomes, **outcomes}
        self._put(fingerprint, {"fingerprint": fingerprint, "path": path, "complete": previous.complete,
                                "outcomes": merged})

    def forget_file(self, fingerprint: str) -> None:
        if self._pending is not None:
            self._pending.pop(fingerprint, None)
        self.cache.delete(TEST_KIND, fingerprint)


def project_identity(root: Path) -> str:
    """What names this project in every clone: its first commit, else its folder's name."""
    try:
        out = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=root, capture_output=True,
                             text=True, stdin=subprocess.DEVNULL, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    return min(out) if out else "folder:" + root.name


def load_shard_durations(root: Path, cache: CacheStore) -> dict[str, float]:
    """The durations table that shards partition the test files by: in the shared cache, so that
    every shard (and every clone sharing the cache) reads the same one."""
    key = project_identity(root)
    value = cache.get_many(SHARD_DURATIONS_KIND, [key]).get(key)
    if not isinstance(value, dict):
        return {}
    return {p: float(s) for p, s in value.items() if isinstance(s, (int, float))}


def save_shard_durations(root: Path, cache: CacheStore, durations: Mapping[str, float]) -> None:
    """Only unsharded runs write it: a sharded run that rewrote it would change the partition
    the next shard computes."""
    if durations:
        key = project_identity(root)
        cache.put_many(SHARD_DURATIONS_KIND, {key: {**load_shard_durations(root, cache), **durations}})


def load_durations(root: Path) -> dict[str, FileTiming]:
    """What each test file cost when it last ran in this checkout, as in one process (for
    choosing xdist workers). A file written before timings held counts, a bare number, is read
    as seconds."""
    try:
        data = read_state_json(state_dir(root) / DURATIONS_FILE)
    except CorruptState:
        return {}
    if not isinstance(data, dict):
        return {}
    timings = {}
    for path, value in data.items():
        if isinstance(value, (int, float)):
            timings[path] = FileTiming(float(value))
        elif isinstance(value, list) and len(value) in (3, 4) and all(isinstance(v, (int, float)) for v in value):
            timings[path] = FileTiming(float(value[0]), int(value[1]), float(value[2]), bool(value[3:4] and value[3]))
    return timings


def save_durations(root: Path, timings: Mapping[str, FileTiming], *, traced: bool = False) -> None:
    """`traced`: the run was traced, and its seconds overstate what the files cost in plain pytest:
    a file's untraced seconds, when known, are kept (with the run's count of its tests)."""
    if timings:
        previous = load_durations(root)
        if traced:
            timings = {p: replace(previous[p], items=t.items) if p in previous and not previous[p].traced
                       else replace(t, traced=True) for p, t in timings.items()}
        merged = {**previous, **timings}
        write_state_json(state_dir(root) / DURATIONS_FILE,
                          {p: [t.seconds, t.items, t.longest, int(t.traced)] for p, t in merged.items()})


def load_machine_costs(cache: CacheStore) -> MachineCosts:
    """What pytest runs of every project cost on this machine (none with the cache off)."""
    key = machine_id()
    return MachineCosts.from_json(cache.get_many(WORKER_COSTS_KIND, [key]).get(key))


def save_machine_costs(cache: CacheStore, costs: MachineCosts) -> None:
    cache.put_many(WORKER_COSTS_KIND, {machine_id(): costs.as_json()})


def pytest_config_key(config_digest: str, args: Sequence[str]) -> str:
    """What the project's ini-file addopts, as pytest reads them, depend on: the config files the
    tests see, and doit-scout's own pytest arguments (`-c` or `-o addopts=` would change them)."""
    return xxhash.xxh3_128_hexdigest("\0".join([config_digest, *args]).encode("utf-8", "surrogateescape"))


def _file_digest(path: str) -> str:
    try:
        return xxhash.xxh3_128_hexdigest(Path(path).read_bytes())
    except OSError:
        return "unreadable"


def load_project_addopts(root: Path, key: str) -> tuple[str, ...] | None:
    """The project's ini-file addopts as pytest last reported them, if they still hold: None
    when the config files (or doit-scout's arguments, which may name another ini-file) changed."""
    try:
        data = read_state_json(state_dir(root) / PYTEST_CONFIG_FILE)
    except CorruptState:
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("addopts"), list):
        return None
    outside = data.get("outside")
    if isinstance(outside, list) and len(outside) == 2 and _file_digest(str(outside[0])) != outside[1]:
        return None
    return tuple(str(a) for a in data["addopts"])


def save_project_addopts(root: Path, key: str, addopts: Sequence[str], inifile: str | None) -> None:
    """`inifile` is the file pytest read them from: one outside the project is not among the
    config files the key covers, so its content is checked on reading."""
    outside = None
    if inifile is not None and not Path(inifile).resolve().is_relative_to(root.resolve()):
        outside = [inifile, _file_digest(inifile)]
    write_state_json(state_dir(root) / PYTEST_CONFIG_FILE, {"key": key, "addopts": list(addopts), "outside": outside})
