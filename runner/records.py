"""Green records: what each test node did, by test file fingerprint.

One sqlite database in `.scout/`: rows update one at a time, two doit processes may write at once,
and a damaged database is replaced (its records dropped, so those tests simply run again)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Iterable, Mapping

from analyzers.selection import TestRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS test_files (
    fingerprint TEXT PRIMARY KEY, path TEXT NOT NULL, complete INTEGER NOT NULL, recorded_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS test_nodes (
    fingerprint TEXT NOT NULL, node TEXT NOT NULL, outcome TEXT NOT NULL,
    PRIMARY KEY (fingerprint, node));
CREATE TABLE IF NOT EXISTS durations (path TEXT PRIMARY KEY, seconds REAL NOT NULL);
"""
_BATCH = 500


class RecordStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings: list[str] = []
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as err:
            self.warnings.append(f"test records {path} were unreadable ({err}); they were dropped")
            path.unlink(missing_ok=True)
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        return db

    def close(self) -> None:
        self._db.close()

    def records(self, fingerprints: Iterable[str]) -> dict[str, TestRecord]:
        wanted = list(dict.fromkeys(fingerprints))
        complete: dict[str, bool] = {}
        outcomes: dict[str, dict[str, str]] = {}
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            for fp, done in self._db.execute(
                f"SELECT fingerprint, complete FROM test_files WHERE fingerprint IN ({marks})", batch
            ):
                complete[fp] = bool(done)
            for fp, node, outcome in self._db.execute(
                f"SELECT fingerprint, node, outcome FROM test_nodes WHERE fingerprint IN ({marks})", batch
            ):
                outcomes.setdefault(fp, {})[node] = outcome
        return {fp: TestRecord(done, outcomes.get(fp, {})) for fp, done in complete.items()}

    def record_file(self, fingerprint: str, path: str, outcomes: Mapping[str, str], *, complete: bool) -> None:
        """Replace the record of `fingerprint` with a run of the whole file; `complete` when every
        node of the file is in `outcomes` (the file collected and the session finished)."""
        with self._db:
            self._db.execute("DELETE FROM test_nodes WHERE fingerprint = ?", (fingerprint,))
            self._db.execute("INSERT OR REPLACE INTO test_files VALUES (?, ?, ?, ?)",
                             (fingerprint, path, int(complete), time.time()))
            self._write_nodes(fingerprint, outcomes)

    def record_nodes(self, fingerprint: str, outcomes: Mapping[str, str]) -> None:
        """Update some nodes of an existing record (a re-run of the nodes that failed)."""
        with self._db:
            self._write_nodes(fingerprint, outcomes)

    def _write_nodes(self, fingerprint: str, outcomes: Mapping[str, str]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO test_nodes VALUES (?, ?, ?)",
            [(fingerprint, node, outcome) for node, outcome in outcomes.items()],
        )

    def forget_file(self, fingerprint: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM test_files WHERE fingerprint = ?", (fingerprint,))
            self._db.execute("DELETE FROM test_nodes WHERE fingerprint = ?", (fingerprint,))

    def durations(self) -> dict[str, float]:
        return dict(self._db.execute("SELECT path, seconds FROM durations"))

    def save_durations(self, durations: Mapping[str, float]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO durations VALUES (?, ?)", list(durations.items()))
