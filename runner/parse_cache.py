"""Parse results keyed by file content, so a file's bytes are parsed once whatever its path.

One sqlite database: many small entries written in one transaction, safe with concurrent doit
processes, and no pickle (values are JSON text).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Iterable, Mapping

from analyzers.imports import PARSER_VERSION, ParseResult

_BATCH = 500


class ParseCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings: list[str] = []
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as err:
            self.warnings.append(f"parse cache {self.path} was unreadable ({err}); started a new one")
            self.path.unlink(missing_ok=True)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS parses (key TEXT PRIMARY KEY, result TEXT NOT NULL)")
        return db

    @staticmethod
    def key_of(content_digest: str) -> str:
        return f"{PARSER_VERSION}:{content_digest}"

    def get_many(self, digests: Iterable[str]) -> dict[str, ParseResult]:
        """Results by content digest; entries that do not decode are dropped and not returned."""
        keys = {self.key_of(d): d for d in digests}
        found: dict[str, ParseResult] = {}
        items = list(keys)
        for start in range(0, len(items), _BATCH):
            batch = items[start : start + _BATCH]
            rows = self._query(batch)
            for key, text in rows:
                try:
                    found[keys[key]] = ParseResult.from_json(json.loads(text))
                except (ValueError, KeyError, TypeError):
                    self._db.execute("DELETE FROM parses WHERE key = ?", (key,))
        return found

    def _query(self, keys: list[str]) -> list[tuple[str, str]]:
        marks = ",".join("?" * len(keys))
        try:
            return self._db.execute(f"SELECT key, result FROM parses WHERE key IN ({marks})", keys).fetchall()
        except sqlite3.DatabaseError as err:
            self.warnings.append(f"parse cache read failed ({err}); parsing instead")
            return []

    def put_many(self, results: Mapping[str, ParseResult]) -> None:
        rows = [(self.key_of(d), json.dumps(r.to_json(), separators=(",", ":"))) for d, r in results.items()]
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO parses VALUES (?, ?)", rows)
        except sqlite3.DatabaseError as err:
            self.warnings.append(f"parse cache write failed ({err}); results were not cached")

    def close(self) -> None:
        self._db.close()
