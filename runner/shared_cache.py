"""The content-addressed cache shared by every checkout, branch and project on the machine.

Everything in it is a pure function of content: parse results by file hash, test records by test
fingerprint, whole Scout results by the inventory's content. One sqlite database: entries are JSON
text (no pickle) with a schema version and a MAC (HMAC-SHA256) over their kind, key and value, so
that a value read back under another key (a damaged page) or written by someone without the key is
never trusted. Concurrent doit processes write safely, and rows are read and updated one by one.

Whose writes it may hold is its trust: "private" (the default), the user's alone, with the user's
own key (made on first use, owner-only, in the user's config folder, not beside the entries); a
folder that another user owns or that anyone else can write is refused. "shared", a folder a team
shares on purpose, with the team's key from DOIT_SCOUT_CACHE_KEY. A damaged database is set aside
(renamed) and a new one started; a cache that cannot be trusted, opened or written is left aside
with one warning, and doit-scout runs without it: everything runs.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import sqlite3
import stat
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import platformdirs

from doit_scout.cache_store import CacheStore
from doit_scout.config import CACHE_TRUSTS

if TYPE_CHECKING:
    from doit_scout.remote_counts import RemoteCounts

CACHE_ENV = "DOIT_SCOUT_CACHE"
TRUST_ENV = "DOIT_SCOUT_CACHE_TRUST"
KEY_ENV = "DOIT_SCOUT_CACHE_KEY"
SCHEMA = 2  # 2: the MAC covers kind, key and value (1: an xxhash of the value only)
DB_FILE = "cache.sqlite"
CLEAN_FILE = "cache.sqlite.clean"  # the database file's identity when it was last closed cleanly
KEY_FILE = "cache.key"
MIN_KEY_LENGTH = 16
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


def cache_trust(configured: str) -> tuple[str, str | None]:
    """DOIT_SCOUT_CACHE_TRUST, else `[tool.scout] cache_trust`; with a warning when the variable
    holds something else, and then "private": the choice that trusts less."""
    chosen = os.environ.get(TRUST_ENV)
    if not chosen:
        return configured, None
    if chosen in CACHE_TRUSTS:
        return chosen, None
    return "private", (f"{TRUST_ENV}={chosen!r} is not one of: {', '.join(CACHE_TRUSTS)}; "
                       "the cache is treated as private")


def entry_mac(secret: bytes, kind: str, key: str, value: str) -> str:
    """The MAC of one entry. A JSON text holds no NUL byte, so the fields cannot run into each
    other; the schema is in it so that another version's rules never read as these."""
    message = f"{SCHEMA}\0{kind}\0{key}\0{value}".encode("utf-8", "surrogateescape")
    return hmac.digest(secret, message, "sha256").hex()


class UntrustedCache(Exception):
    """The cache cannot be trusted as it is: the message says why and how to fix it."""


def not_yours(path: Path, *, private: bool = False) -> str | None:
    """Why `path` may hold what someone else wrote: another owner, or write access for its group
    or for others (with `private`, any access at all for them). None when it is the user's alone,
    or absent. Windows keeps ACLs, not these modes: not checked there."""
    if not hasattr(os, "geteuid"):
        return None
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_uid != os.geteuid():
        return f"{path} is owned by another user (uid {st.st_uid}; you are uid {os.geteuid()})"
    mode = stat.S_IMODE(st.st_mode)
    group, others = (0o070, 0o007) if private else (0o020, 0o002)
    if mode & (group | others):
        who = "anyone" if mode & others else "its group"
        return f"{path} can be {'read or written' if private else 'written'} by {who} (mode {mode:o})"
    return None


def user_key_file() -> Path:
    return Path(platformdirs.user_config_dir("doit-scout")) / KEY_FILE


def user_key() -> bytes:
    """The user's own key, made on first use: owner-only, and outside the cache folder, so that
    whoever could write the entries still could not sign them."""
    path = user_key_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            _make_key(path)
    except OSError as err:  # a read-only home folder
        raise UntrustedCache(f"cannot make the shared cache's key {path} ({err}): set {KEY_ENV} to a secret key "
                             "of at least 16 characters instead") from None
    problem = not_yours(path, private=True) or not_yours(path.parent)
    if problem:
        raise UntrustedCache(f"the shared cache's key is not used: {problem}. Fix: chmod 600 {path} "
                             f"(and chmod 700 {path.parent}), or delete it to get a new key")
    try:
        key = path.read_bytes().strip()
    except OSError as err:
        raise UntrustedCache(f"cannot read the shared cache's key {path} ({err})") from None
    if len(key) < MIN_KEY_LENGTH:
        raise UntrustedCache(f"the shared cache's key {path} is damaged (only {len(key)} bytes): delete it "
                             "and a new key is made (what the old one signed is then dropped)")
    return key


def _make_key(path: Path) -> None:
    """Written whole beside `path` (mkstemp makes it 0600), then linked in: of two processes
    making it at once, the first wins and the other reads the winner's."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def team_key(shared: bool) -> bytes:
    """DOIT_SCOUT_CACHE_KEY: the team's key for a shared folder, or, in a private one, a key that
    travels with the cache (a CI job that restores the folder on a fresh machine)."""
    key = os.environ.get(KEY_ENV, "")
    if len(key) < MIN_KEY_LENGTH:
        how = "is not set" if not key else f"is too short ({len(key)} characters)"
        whose = "the team's secret key, the same for everyone who shares the folder" if shared else "a secret key"
        context = 'the cache is shared (cache_trust = "shared") but ' if shared else ""
        raise UntrustedCache(
            f"{context}{KEY_ENV} {how}: set it to {whose}, at least {MIN_KEY_LENGTH} characters "
            "(python -c 'import secrets; print(secrets.token_hex(32))' makes one)")
    return key.encode("utf-8", "surrogateescape")


def _identity(path: Path) -> list[int] | None:
    """What changes whenever the file's bytes do (ctime too, which no program can set back)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def _set_aside(path: Path) -> Path:
    """Renamed, never deleted: what a damaged database held may still be worth a look."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    for suffix in ("", "-wal", "-shm"):
        try:
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
        except FileNotFoundError:
            pass
    return aside


def _owner_only(path: Path) -> None:
    """The database and its -wal and -shm files (which SQLite makes with the database's mode)
    0600. Only when they are not: a chmod changes the file's ctime, which would make the next
    opener check the whole file."""
    for suffix in ("", "-wal", "-shm"):
        try:
            st = os.stat(f"{path}{suffix}")
        except FileNotFoundError:
            continue
        if stat.S_IMODE(st.st_mode) != 0o600:
            os.chmod(f"{path}{suffix}", 0o600)


def _is_damage(err: sqlite3.Error) -> bool:
    """Locked, read-only, no space: operational, not damage, so nothing is set aside for it."""
    return isinstance(err, sqlite3.DatabaseError) and not isinstance(err, sqlite3.OperationalError)


@dataclass
class RunCounts:
    """Hits, misses, dropped (damaged) and rejected (unauthenticated, in a shared folder) entries
    per kind, for this process. Rejected entries count as misses too."""

    hits: Counter = field(default_factory=Counter)
    misses: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)

    def as_json(self) -> dict[str, dict[str, int]]:
        return {"hits": dict(self.hits), "misses": dict(self.misses), "dropped": dict(self.dropped),
                "rejected": dict(self.rejected)}

    def summary(self) -> str:
        kinds = sorted(set(self.hits) | set(self.misses))
        parts = [f"{k} {self.hits[k]} hits / {self.misses[k]} misses" for k in kinds]
        return " · ".join(parts + [self.problems()] * bool(self.problems())) or "not used"

    def problems(self) -> str:
        """Entries the run refused to use, "" for none."""
        parts = [f"{n} damaged {k} entries dropped" for k, n in sorted(self.dropped.items()) if n]
        parts += [f"{n} unauthenticated {k} entries refused" for k, n in sorted(self.rejected.items()) if n]
        return " · ".join(parts)


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


class SharedCache(CacheStore):
    """The local store: one sqlite database in a folder of this machine."""

    def __init__(self, folder: Path | None, max_bytes: int | None = None, *, trust: str = "private",
                 secret: bytes | None = None) -> None:
        """Past `max_bytes`, the cache collects its own garbage when a run ends. With no folder
        the cache is switched off: it finds nothing and keeps nothing. `trust` is "private" or
        "shared" (see the module); `secret` is the MAC key, by default the user's own key
        (private) or the team's from DOIT_SCOUT_CACHE_KEY (shared)."""
        self.folder = folder
        self.max_bytes = max_bytes
        self.trust = trust
        self.counts = RunCounts()
        self.warnings: list[str] = []
        self.checked_integrity = False  # whether opening ran `PRAGMA quick_check`
        self._secret = secret or b""
        self._db: sqlite3.Connection | None = None
        self._told_rejected = False
        if folder is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if trust != "shared":
                self._check_private(folder)
            if secret is None:
                shared = trust == "shared"
                self._secret = team_key(shared) if shared or os.environ.get(KEY_ENV) else user_key()
            self._db = self._connect()
        except UntrustedCache as err:
            self._disable(str(err))
        except (OSError, sqlite3.Error) as err:
            self._disable(f"cannot use the shared cache at {folder} ({err})")

    @property
    def enabled(self) -> bool:
        return self._db is not None

    @staticmethod
    def _check_private(folder: Path) -> None:
        """Refuse a folder, or a file in it, that someone else could have written: a record
        planted there would pass for this user's own. Inside a folder no one else can enter, a
        file's own write bits let no one in (a umask of 002 made them): they are taken away."""
        problem = not_yours(folder)
        closed = not stat.S_IMODE(folder.stat().st_mode) & 0o011
        for path in (*(folder / f"{DB_FILE}{s}" for s in ("", "-wal", "-shm")), folder / CLEAN_FILE):
            if problem:
                break
            problem = not_yours(path)
            if problem and closed and path.stat().st_uid == os.geteuid():
                path.chmod(stat.S_IMODE(path.stat().st_mode) & 0o700)
                problem = None
        if problem:
            raise UntrustedCache(
                f"the shared cache at {folder} is not used: {problem}, so another user could plant results "
                f"in it. Fix: make it yours alone (chown -R {os.geteuid()} {folder}; chmod -R go-w {folder}), "
                f"or point {CACHE_ENV} at a folder of your own; a folder a team shares on purpose needs "
                f"[tool.scout] cache_trust = \"shared\" ({TRUST_ENV}=shared) and the team's key in {KEY_ENV}")

    def _connect(self) -> sqlite3.Connection:
        assert self.folder is not None
        path = self.folder / DB_FILE
        try:
            return self._open(path, check=path.exists() and not self._closed_cleanly(path))
        except sqlite3.DatabaseError as err:
            if not _is_damage(err):
                raise
            self._set_aside_damaged(path, err)
            return self._open(path, check=False)

    def _closed_cleanly(self, path: Path) -> bool:
        """Whether the database file is as its last clean close left it. Reads do not see damage
        (a truncated file reads as pages of zeros, and wrong rows may come back): checking every
        page costs time in proportion to its size, so only a file that changed since, by a crash,
        another program or a disk, is checked."""
        try:
            return json.loads((path.parent / CLEAN_FILE).read_text()) == _identity(path)
        except (OSError, ValueError):
            return False

    def _open(self, path: Path, *, check: bool) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=60)
        try:
            if check:
                self.checked_integrity = True
                verdict = db.execute("PRAGMA quick_check(1)").fetchone()[0]
                if verdict != "ok":
                    raise sqlite3.DatabaseError(f"PRAGMA quick_check: {verdict}")
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_TABLES)
            if self.trust != "shared":  # owner-only, whatever the umask (a shared folder's group writes too)
                _owner_only(path)
        except BaseException:
            db.close()
            raise
        return db

    def _set_aside_damaged(self, path: Path, err: sqlite3.Error) -> None:
        aside = _set_aside(path)
        self.warnings.append(f"the shared cache {path} was damaged ({err}): it was set aside as {aside.name} "
                             "and a new one started; what it held runs again")

    def _disable(self, reason: str) -> None:
        self.warnings.append(f"{reason}; running without it")
        if self._db is not None:
            self._db.close()
        self._db = None

    def _failed(self, doing: str, err: sqlite3.Error) -> None:
        """A damaged database found while in use is set aside too; this run goes on without a cache."""
        if not _is_damage(err) or self.folder is None:
            self._disable(f"{doing} the shared cache at {self.folder} failed ({err})")
            return
        if self._db is not None:
            self._db.close()
            self._db = None
        aside = _set_aside(self.folder / DB_FILE)
        self.warnings.append(f"the shared cache {self.folder / DB_FILE} was damaged ({err}): it was set aside as "
                             f"{aside.name}; running without it until this run ends")

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        if self._db is not None:
            try:
                found = self._read(kind, wanted)
            except sqlite3.Error as err:
                self._failed("reading", err)
        self.counts.hits[kind] += len(found)
        self.counts.misses[kind] += len(wanted) - len(found)
        return found

    def _read(self, kind: str, keys: list[str]) -> dict[str, Any]:
        assert self._db is not None
        found, damaged, rejected = {}, [], 0
        secret, digest, compare = self._secret, hmac.digest, hmac.compare_digest
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, value, checksum, schema FROM entries WHERE kind = ? AND key IN ({marks})",
                [kind, *batch],
            ).fetchall()
            prefix = f"{SCHEMA}\0{kind}\0"
            for key, value, checksum, schema in rows:
                if schema != SCHEMA:
                    continue  # another version's entry: a miss here, left for it
                # entry_mac, inlined: this loop is the cache's hot path
                message = f"{prefix}{key}\0{value}".encode("utf-8", "surrogateescape")
                if not isinstance(checksum, str) or not compare(checksum, digest(secret, message, "sha256").hex()):
                    if self.trust == "shared":
                        rejected += 1  # another key, or no key: not damage, and not ours to delete
                    else:
                        damaged.append(key)
                    continue
                try:
                    found[key] = json.loads(value)
                except ValueError:
                    damaged.append(key)
        if rejected:
            self._rejected(kind, rejected)
        if damaged:
            self.counts.dropped[kind] += len(damaged)
            self._write(lambda db: db.executemany(
                "DELETE FROM entries WHERE kind = ? AND key = ?", [(kind, k) for k in damaged]))
        if found:
            now = time.time()
            self._write(lambda db: db.executemany(
                "UPDATE entries SET used = ? WHERE kind = ? AND key = ?", [(now, kind, k) for k in found]))
        return found

    def _rejected(self, kind: str, count: int) -> None:
        self.counts.rejected[kind] += count
        if not self._told_rejected:
            self._told_rejected = True
            self.warnings.append(
                f"entries in the shared cache at {self.folder} failed authentication (written with another "
                f"{KEY_ENV}, or by someone without it) and were not used: they run again. If the team's key "
                f"changed, set the new one in {KEY_ENV}")

    def put_many(self, kind: str, values: Mapping[str, Any]) -> None:
        if self._db is None:
            return
        now = time.time()
        rows = []
        for key, value in values.items():
            text = json.dumps(value, separators=(",", ":"))
            rows.append((kind, key, text, entry_mac(self._secret, kind, key, text), SCHEMA, len(text), now, now))
        self._write(lambda db: db.executemany(
            "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows))

    def delete(self, kind: str, key: str) -> None:
        self._write(lambda db: db.execute("DELETE FROM entries WHERE kind = ? AND key = ?", (kind, key)))

    def _write(self, change: Callable[[sqlite3.Connection], Any]) -> None:
        if self._db is None:
            return
        try:
            with self._db:
                change(self._db)
        except sqlite3.Error as err:  # read-only, disk full, too busy, damaged
            self._failed("writing to", err)

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

    def remote_counts(self) -> RemoteCounts | None:
        return None

    def remote_messages(self) -> Sequence[str]:
        return ()

    def close(self) -> None:
        """Add this process's counts to the cumulative totals and let the database go."""
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
            self._mark_clean()

    def _mark_clean(self) -> None:
        """Remember the database file as this clean close leaves it: the next open checks the
        file only if it changed since. A process that still has it open rewrites this when it
        closes; one that dies first leaves it out of date, and the next open checks."""
        assert self.folder is not None
        identity = _identity(self.folder / DB_FILE)
        if identity is None:
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{CLEAN_FILE}.")
        except OSError:
            return  # a read-only folder: the next open checks the file, which costs time only
        try:
            if self.trust == "shared":  # the others who open it read it too
                os.chmod(tmp, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(identity))
            os.replace(tmp, self.folder / CLEAN_FILE)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
