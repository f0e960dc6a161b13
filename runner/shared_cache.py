"""The content-addressed cache shared by every checkout, branch and project on the machine.

Everything in it is a pure function of content: parse results by file hash, test records by test
fingerprint, whole Scout results by the inventory's content. One sqlite database: entries are JSON
text (no pickle) with a checksum and a schema version, concurrent doit processes write safely, and
rows are read and updated one by one. A damaged entry is dropped and counted, never trusted; a cache
that cannot be opened or written is left aside with one warning, and doit-scout runs without it.
"""

from __future__ import annotations

import atexit
import json
import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import platformdirs
import xxhash

from doit_scout.config import ScoutConfig

CACHE_ENV = "DOIT_SCOUT_CACHE"
SCHEMA = 1
DB_FILE = "cache.sqlite"
_BATCH = 500

_TABLES = """
CREATE TABLE IF NOT EXISTS entries (
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, checksum TEXT NOT NULL,
    schema INTEGER NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL, used REAL NOT NULL,
    PRIMARY KEY (kind, key));
CREATE INDEX IF NOT EXISTS entries_by_use ON entries (used);
CREATE TABLE IF NOT EXISTS totals (
    kind TEXT PRIMARY KEY, hits INTEGER NOT NULL, misses INTEGER NOT NULL, dropped INTEGER NOT NULL);
"""


OFF = "off"


def cache_location(configured: str | None) -> Path | None:
    """DOIT_SCOUT_CACHE, else `[tool.scout] cache_dir`, else the user's cache folder; None when
    set to "off" (no shared cache: nothing is reused, every test runs every time)."""
    chosen = os.environ.get(CACHE_ENV) or configured
    if chosen == OFF:
        return None
    return Path(chosen).expanduser() if chosen else Path(platformdirs.user_cache_dir("doit-scout"))


def checksum_of(text: str) -> str:
    return xxhash.xxh3_64_hexdigest(text.encode("utf-8", "surrogateescape"))


@dataclass
class RunCounts:
    """Hits, misses and dropped (damaged) entries per kind, for this process."""

    hits: Counter = field(default_factory=Counter)
    misses: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)

    def as_json(self) -> dict[str, dict[str, int]]:
        return {"hits": dict(self.hits), "misses": dict(self.misses), "dropped": dict(self.dropped)}

    def summary(self) -> str:
        kinds = sorted(set(self.hits) | set(self.misses))
        parts = [f"{k} {self.hits[k]} hits / {self.misses[k]} misses" for k in kinds]
        parts += [f"{n} damaged {k} entries dropped" for k, n in sorted(self.dropped.items()) if n]
        return " · ".join(parts) or "not used"


@dataclass(frozen=True)
class KindStats:
    kind: str
    entries: int
    size: int
    hits: int
    misses: int
    dropped: int
    oldest_use: float | None
    newest_use: float | None

    @property
    def hit_rate(self) -> float | None:
        asked = self.hits + self.misses
        return self.hits / asked if asked else None


class SharedCache:
    def __init__(self, folder: Path | None, max_bytes: int | None = None) -> None:
        """Past `max_bytes`, the cache collects its own garbage when a run ends. With no folder
        the cache is switched off: it finds nothing and keeps nothing."""
        self.folder = folder
        self.max_bytes = max_bytes
        self.counts = RunCounts()
        self.warnings: list[str] = []
        self._db: sqlite3.Connection | None = None
        if folder is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = self._connect()
        except (OSError, sqlite3.Error) as err:
            self._disable(f"cannot use the shared cache at {folder} ({err})")

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def _connect(self) -> sqlite3.Connection:
        assert self.folder is not None
        path = self.folder / DB_FILE
        try:
            return self._open(path)
        except sqlite3.DatabaseError as err:
            if isinstance(err, sqlite3.OperationalError):
                raise  # locked, read-only, no space: not damage, so nothing is deleted
            self.warnings.append(f"the shared cache {path} was damaged ({err}); it starts empty")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_TABLES)
        return db

    def _disable(self, reason: str) -> None:
        self.warnings.append(f"{reason}; running without it")
        if self._db is not None:
            self._db.close()
        self._db = None

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        if self._db is not None:
            try:
                found = self._read(kind, wanted)
            except sqlite3.Error as err:
                self._disable(f"reading the shared cache failed ({err})")
        self.counts.hits[kind] += len(found)
        self.counts.misses[kind] += len(wanted) - len(found)
        return found

    def _read(self, kind: str, keys: list[str]) -> dict[str, Any]:
        assert self._db is not None
        found, damaged = {}, []
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, value, checksum, schema FROM entries WHERE kind = ? AND key IN ({marks})",
                [kind, *batch],
            ).fetchall()
            for key, value, checksum, schema in rows:
                try:
                    if schema != SCHEMA or checksum != checksum_of(value):
                        raise ValueError("checksum or schema mismatch")
                    found[key] = json.loads(value)
                except (ValueError, TypeError):
                    damaged.append(key)
        if damaged:
            self.counts.dropped[kind] += len(damaged)
            self._write(lambda db: db.executemany(
                "DELETE FROM entries WHERE kind = ? AND key = ?", [(kind, k) for k in damaged]))
        if found:
            now = time.time()
            self._write(lambda db: db.executemany(
                "UPDATE entries SET used = ? WHERE kind = ? AND key = ?", [(now, kind, k) for k in found]))
        return found

    def put_many(self, kind: str, values: Mapping[str, Any]) -> None:
        now = time.time()
        rows = []
        for key, value in values.items():
            text = json.dumps(value, separators=(",", ":"))
            rows.append((kind, key, text, checksum_of(text), SCHEMA, len(text), now, now))
        self._write(lambda db: db.executemany(
            "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows))

    def delete(self, kind: str, key: str) -> None:
        self._write(lambda db: db.execute("DELETE FROM entries WHERE kind = ? AND key = ?", (kind, key)))

    def _write(self, change) -> None:
        if self._db is None:
            return
        try:
            with self._db:
                change(self._db)
        except sqlite3.Error as err:  # read-only, disk full, too busy
            self._disable(f"writing to the shared cache at {self.folder} failed ({err})")

    def kind_stats(self) -> list["KindStats"]:
        """Entries, size, cumulative hits and misses, and first and last use, per kind."""
        if self._db is None:
            return []
        totals = {k: (h, m, d) for k, h, m, d in self._db.execute("SELECT kind, hits, misses, dropped FROM totals")}
        stats = []
        for kind, entries, size, oldest, newest in self._db.execute(
            "SELECT kind, count(*), total(size), min(used), max(used) FROM entries GROUP BY kind ORDER BY kind"
        ):
            hits, misses, dropped = totals.get(kind, (0, 0, 0))
            stats.append(KindStats(kind, entries, int(size), hits, misses, dropped, oldest, newest))
        return stats

    def collect_garbage(self, max_bytes: int | None = None, max_age_seconds: float | None = None) -> int:
        """Evict entries unused for `max_age_seconds`, then the least recently used until the
        entries take at most `max_bytes`. Returns how many were evicted."""
        evicted = 0

        def evict(db: sqlite3.Connection) -> None:
            nonlocal evicted
            if max_age_seconds is not None:
                evicted += db.execute("DELETE FROM entries WHERE used < ?", (time.time() - max_age_seconds,)).rowcount
            if max_bytes is not None:
                total = db.execute("SELECT total(size) FROM entries").fetchone()[0]
                while total > max_bytes:
                    rows = db.execute("SELECT kind, key, size FROM entries ORDER BY used LIMIT 500").fetchall()
                    if not rows:
                        break
                    for kind, key, size in rows:
                        if total <= max_bytes:
                            break
                        db.execute("DELETE FROM entries WHERE kind = ? AND key = ?", (kind, key))
                        total -= size
                        evicted += 1

        self._write(evict)
        return evicted

    def clear(self) -> int:
        cleared = 0

        def delete_all(db: sqlite3.Connection) -> None:
            nonlocal cleared
            cleared = db.execute("DELETE FROM entries").rowcount
            db.execute("DELETE FROM totals")

        self._write(delete_all)
        return cleared

    def take_warnings(self) -> list[str]:
        """The warnings not yet shown (each is shown once)."""
        taken, self.warnings = self.warnings, []
        return taken

    def close(self) -> None:
        """Add this process's counts to the cumulative totals and let the database go."""
        _open_caches.pop(self.folder, None)
        kinds = set(self.counts.hits) | set(self.counts.misses) | set(self.counts.dropped)
        self._write(lambda db: db.executemany(
            "INSERT INTO totals VALUES (?, ?, ?, ?) ON CONFLICT(kind) DO UPDATE SET "
            "hits = hits + excluded.hits, misses = misses + excluded.misses, dropped = dropped + excluded.dropped",
            [(k, self.counts.hits[k], self.counts.misses[k], self.counts.dropped[k]) for k in kinds]))
        if self._db is not None and self.max_bytes is not None:
            total = self._db.execute("SELECT total(size) FROM entries").fetchone()[0]
            if total > self.max_bytes:  # shrink well below the limit, so this stays rare
                self.collect_garbage(max_bytes=int(self.max_bytes * 0.8))
        if self._db is not None:
            self._db.close()
            self._db = None


_open_caches: dict[Path | None, SharedCache] = {}


def shared_cache(config: ScoutConfig) -> SharedCache:
    """The process's cache at the configured location, opened once; counts span the doit run."""
    folder = cache_location(config.cache_dir)
    if folder not in _open_caches:
        # The one seam of the remote cache: with `remote_cache` configured, the same API is served by
        # a tiered store (this cache, then the server); imported here, as it builds on this module.
        from doit_scout.remote_cache import tiered

        _open_caches[folder] = tiered(SharedCache(folder, config.cache_max_bytes), config)
    return _open_caches[folder]


@atexit.register
def close_shared_caches() -> None:
    for cache in list(_open_caches.values()):
        cache.close()
