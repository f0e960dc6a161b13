"""The remote cache: green results shared between machines through a Bazel HTTP cache server.

The protocol is Bazel's HTTP remote cache (GET/PUT/HEAD `<base>/ac/<sha256>` and `<base>/cas/<sha256>`),
as bazel-remote, nginx with WebDAV and hosted caches serve it, so that a team runs an existing server
rather than ours:

- `/cas/<sha256>` holds content: JSON `{"doit_scout": 1, "kind", "key", "value"}`, checked on every read
  against its name (sha256 of the bytes) and against the kind and key that were asked for;
- `/ac/<sha256 of kind and key>` is the action entry: JSON `{"doit_scout": 1, "kind", "key", "cas",
  "size"}` mapping our key (a content fingerprint) to the content's digest, with an HMAC when the team
  shares a secret (DOIT_SCOUT_REMOTE_CACHE_SECRET).

JSON only, never pickle. Reads happen on every lookup the local cache misses (in parallel, with a
short timeout); writes only from trusted writers (`remote_cache_write`, meant for CI on main), so a
developer's machine cannot poison the team's results. A server that is down, slow, or answers with an
error switches the remote off for the rest of the run with one warning: the run goes on locally, and
an entry that fails a check is never used. Either way the local cache and the run decide; the remote
only ever saves work.

TieredCache puts the local SharedCache and a RemoteStore behind the one interface of the run's cache
(cache_store.CacheStore), and is the store a run opens when a remote is configured: callers do not know
which store served.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import queue
import ssl
import threading
import time
from collections import Counter
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from doit_scout.cache_store import CacheStore
from doit_scout.config import ScoutConfig
from doit_scout.shared_cache import RunCounts, SharedCache

TOKEN_ENV = "DOIT_SCOUT_REMOTE_CACHE_TOKEN"  # sent as `Authorization: Bearer <token>`
USER_ENV = "DOIT_SCOUT_REMOTE_CACHE_USER"  # with _PASSWORD: HTTP basic authentication
PASSWORD_ENV = "DOIT_SCOUT_REMOTE_CACHE_PASSWORD"
SECRET_ENV = "DOIT_SCOUT_REMOTE_CACHE_SECRET"  # optional: action entries carry an HMAC with it

FORMAT = 1
# What travels: results that are pure functions of content and that another machine can reuse. Parse
# results stay local (parsing is cheaper than a round trip); worker costs describe this machine.
REMOTE_KINDS = frozenset({"test", "step", "scout", "observed", "collection", "durations"})
# A lookup of many keys has an index entry too: which of exactly these keys the writers hold. A reader
# then asks only for those, rather than for each of 2,000 modules' observed inputs that do not exist.
# An index that lacks a key only ever costs a reuse; every value is still checked on its own.
INDEX_KIND = "index"
INDEX_MIN_KEYS = 64
_WIRE_KINDS = REMOTE_KINDS | {INDEX_KIND}
THREADS = 8
BUDGET_SECONDS = 5.0  # the most wall time the remote may cost one run, whatever its timeout
MAX_BODY = 64 * 1024**2
# A key the server did not have is not asked for again for this long: a warm no-op run would otherwise
# ask for every module's observed inputs, which most modules never have. Only ever costs a reuse.
MISS_MEMO_SECONDS = 3600.0
MEMO_FOLDER = "remote"  # inside the local cache folder: remembered misses and cumulative counts
MEMO_KIND = "miss"
TOTALS_KIND = "totals"


class RemoteFailure(Exception):
    """The server cannot be used for the rest of this run (down, slow, refusing, erroring)."""


class Rejected(Exception):
    """One entry failed a check: it is not used, and the run goes on with the others."""


@dataclass(frozen=True)
class RemoteSettings:
    url: str
    write: bool
    timeout: float
    authorization: str | None = None
    secret: bytes | None = None

    @classmethod
    def of(cls, config: ScoutConfig, environ: Mapping[str, str] = os.environ) -> RemoteSettings | None:
        if not config.remote_cache:
            return None
        authorization = None
        if environ.get(TOKEN_ENV):
            authorization = f"Bearer {environ[TOKEN_ENV]}"
        elif environ.get(USER_ENV):
            pair = f"{environ[USER_ENV]}:{environ.get(PASSWORD_ENV, '')}".encode()
            authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        secret = environ.get(SECRET_ENV, "").encode() or None
        return cls(config.remote_cache, config.remote_cache_write, config.remote_cache_timeout, authorization,
                   secret)


@dataclass
class RemoteCounts:
    """What the remote did for this process: per kind hits, misses and rejected entries; requests,
    bytes both ways and time spent waiting for answers."""

    hits: Counter = field(default_factory=Counter)
    misses: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    uploads: Counter = field(default_factory=Counter)
    requests: int = 0
    bytes_down: int = 0
    bytes_up: int = 0
    seconds: float = 0.0
    failures: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"hits": dict(self.hits), "misses": dict(self.misses), "rejected": dict(self.rejected),
                "uploads": dict(self.uploads), "requests": self.requests, "bytes_down": self.bytes_down,
                "bytes_up": self.bytes_up, "seconds": round(self.seconds, 6), "failures": self.failures}

    def add(self, other: Mapping[str, Any]) -> None:
        """Cumulative totals: `other` is an as_json() of another run (or of the totals so far)."""
        for name in ("hits", "misses", "rejected", "uploads"):
            counter = getattr(self, name)
            for kind, n in (other.get(name) or {}).items():
                counter[kind] += int(n)
        self.requests += int(other.get("requests", 0))
        self.bytes_down += int(other.get("bytes_down", 0))
        self.bytes_up += int(other.get("bytes_up", 0))
        self.seconds += float(other.get("seconds", 0.0))
        self.failures += int(other.get("failures", 0))

    @property
    def latency_ms(self) -> float | None:
        return 1000 * self.seconds / self.requests if self.requests else None

    def summary(self) -> str:
        hits, misses = sum(self.hits.values()), sum(self.misses.values())
        text = f"remote {hits} hits / {misses} misses"
        if self.rejected:
            text += f" / {sum(self.rejected.values())} rejected"
        if self.uploads:
            text += f" · {sum(self.uploads.values())} uploaded"
        if self.requests:
            text += f" · {_size(self.bytes_down + self.bytes_up)} in {self.requests} requests, " \
                    f"{self.latency_ms:.1f} ms each"
        return text


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


@dataclass
class TieredCounts(RunCounts):
    """The local cache's counts and the remote's, summed up and reported together."""

    remote: RemoteCounts = field(default_factory=RemoteCounts)

    @classmethod
    def of(cls, local: RunCounts, remote: RemoteCounts) -> TieredCounts:
        # The local cache's very counters, not copies: what it counts from now on is counted here.
        return cls(local.hits, local.misses, local.dropped, local.rejected, remote)

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "remote": self.remote.as_json()}

    def summary(self) -> str:
        return f"{super().summary()} · {self.remote.summary()}"


def action_digest(kind: str, key: str) -> str:
    """The /ac/ name of (kind, key): a sha256, as Bazel's action keys are."""
    return hashlib.sha256(f"doit-scout\0{FORMAT}\0{kind}\0{key}".encode("utf-8", "surrogateescape")).hexdigest()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def content_blob(kind: str, key: str, value: Any) -> bytes:
    return _dumps({"doit_scout": FORMAT, "kind": kind, "key": key, "value": value})


def action_entry(kind: str, key: str, blob: bytes, secret: bytes | None) -> bytes:
    entry: dict[str, Any] = {"doit_scout": FORMAT, "kind": kind, "key": key,
                             "cas": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
    if secret is not None:
        entry["mac"] = hmac.new(secret, _dumps(entry), hashlib.sha256).hexdigest()
    return _dumps(entry)


def parse_action(kind: str, key: str, body: bytes, secret: bytes | None) -> tuple[str, int]:
    """The content digest and size an action entry names; Rejected unless it is ours, for this very
    kind and key, and (with a secret) signed with it."""
    try:
        entry = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("an action entry that is not JSON") from None
    if not isinstance(entry, dict) or entry.get("doit_scout") != FORMAT:
        raise Rejected("an action entry of another format")
    if entry.get("kind") != kind or entry.get("key") != key:
        raise Rejected("an action entry for another key")
    digest, size = entry.get("cas"), entry.get("size")
    if not isinstance(digest, str) or len(digest) != 64 or not isinstance(size, int) or not 0 <= size <= MAX_BODY:
        raise Rejected("an action entry without a valid content digest")
    if secret is not None:
        mac = entry.pop("mac", None)
        if not isinstance(mac, str) or not hmac.compare_digest(
                mac, hmac.new(secret, _dumps(entry), hashlib.sha256).hexdigest()):
            raise Rejected(f"an action entry not signed with {SECRET_ENV}")
    return digest, size


def parse_content(kind: str, key: str, digest: str, body: bytes) -> Any:
    """The value in a /cas/ blob; Rejected unless its sha256 is its name and it is for (kind, key)."""
    if hashlib.sha256(body).hexdigest() != digest:
        raise Rejected("content whose sha256 is not its name")
    try:
        blob = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("content that is not JSON") from None
    if not isinstance(blob, dict) or blob.get("doit_scout") != FORMAT or blob.get("kind") != kind \
            or blob.get("key") != key or "value" not in blob:
        raise Rejected("content for another key")
    return blob["value"]


class _Pool:
    """Daemon threads: a request stuck past the run's budget must not hold the process at exit, as
    concurrent.futures' pool would (it joins its threads)."""

    def __init__(self, size: int) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._size = size
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        if len(self._threads) < self._size:
            thread = threading.Thread(target=self._work, daemon=True, name="doit-scout-remote")
            thread.start()
            self._threads.append(thread)
        future: Future = Future()
        self._jobs.put((future, fn, args))
        return future

    def _work(self) -> None:
        while True:
            future, fn, args = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as err:  # handed to the waiting thread
                future.set_exception(err)


class RemoteStore:
    """A Bazel HTTP cache behind get_many/put_many. The first failure switches it off for the run
    (a circuit breaker): one warning, no further requests, and the run goes on locally."""

    def __init__(self, settings: RemoteSettings) -> None:
        self.settings = settings
        self.counts = RemoteCounts()
        self.warnings: list[str] = []  # not yet shown (take_warnings)
        self.messages: list[str] = []  # every warning of the run, shown or not
        self.failure: str | None = None
        parts = urlsplit(settings.url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._prefix = parts.path.rstrip("/")
        # TLS is verified against the system's certificate authorities (SSL_CERT_FILE for a private one).
        self._tls = ssl.create_default_context() if self._https else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pools = {"read": _Pool(THREADS), "write": _Pool(THREADS)}  # stuck reads do not hold up writes
        self._spent = {"read": 0.0, "write": 0.0}  # reads and writes have a budget each
        self._over: set[str] = set()
        self._rejected_warned = False
        if settings.authorization and not self._https and self._host not in ("localhost", "127.0.0.1", "::1"):
            self._warn(f"credentials for the remote cache {settings.url} go over plain http: use https://")

    @property
    def usable(self) -> bool:
        """Nothing failed: the server answers."""
        return self.failure is None

    @property
    def readable(self) -> bool:
        return self.usable and "read" not in self._over

    @property
    def writable(self) -> bool:
        return self.settings.write and self.usable and "write" not in self._over

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        return self.lookup(kind, keys)[0]

    def lookup(self, kind: str, keys: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
        """The values found, and the keys the server answered it does not have (a failed or
        rejected lookup is neither)."""
        wanted = list(dict.fromkeys(keys))
        if kind not in _WIRE_KINDS or not wanted or not self.readable:
            return {}, []
        found, missing = {}, []
        for key, (outcome, value) in zip(wanted, self._all(self._fetch, [(kind, k) for k in wanted], "read")):
            if outcome == "hit":
                found[key] = value
            elif outcome == "miss":
                missing.append(key)
            elif outcome == "rejected":
                self._reject(kind, key, value)
        self.counts.hits[kind] += len(found)
        self.counts.misses[kind] += len(missing)
        return found, missing

    def put_many(self, kind: str, values: Mapping[str, Any]) -> None:
        """Uploads only from a trusted writer; content first, so no action entry names missing content."""
        if kind not in _WIRE_KINDS or not values or not self.writable:
            return
        items = [(kind, key, value) for key, value in values.items()]
        uploaded = sum(outcome == "stored" for outcome, _ in self._all(self._store, items, "write"))
        self.counts.uploads[kind] += uploaded

    def take_warnings(self) -> list[str]:
        taken, self.warnings = self.warnings, []
        return taken

    # -- requests -------------------------------------------------------------------------------

    def _all(self, job: Callable[..., tuple[str, Any]], items: list[tuple], direction: str) -> list[tuple[str, Any]]:
        """Run `job` over `items` on the pool, within what is left of the run's budget for reads
        (or writes): what has not answered by then counts as failed, and this direction is over
        for the run. A slow server costs a developer's run at most the read budget, and a slow
        read does not keep a writer from uploading."""
        started = time.perf_counter()
        futures = [self._pools[direction].submit(job, *item) for item in items]
        left = max(0.0, BUDGET_SECONDS - self._spent[direction])
        done, late = wait(futures, timeout=left)
        self._spent[direction] += time.perf_counter() - started
        if late:
            for future in late:
                future.cancel()
            self._over.add(direction)
            self._warn(f"the remote cache {self.settings.url} did not answer {len(late)} {direction} requests "
                       f"within the {BUDGET_SECONDS:.0f} s they may cost a run; the rest of this run "
                       + ("reads only the local cache" if direction == "read" else "keeps its results local"))
        results = []
        for future in futures:
            if future in done and future.exception() is None:
                results.append(future.result())
            else:
                if future in done and not isinstance(future.exception(), RemoteFailure):
                    self._fail(f"an unexpected error ({future.exception()!r})")
                results.append(("failed", None))
        return results

    def _fetch(self, kind: str, key: str) -> tuple[str, Any]:
        try:
            status, body = self._request("GET", f"/ac/{action_digest(kind, key)}")
            if status == 404:
                return "miss", None
            digest, size = parse_action(kind, key, body, self.settings.secret)
            status, body = self._request("GET", f"/cas/{digest}")
            if status == 404:
                return "miss", None  # servers evict content and action entries independently
            if len(body) != size:
                raise Rejected("content of another size than its action entry says")
            return "hit", parse_content(kind, key, digest, body)
        except Rejected as err:
            return "rejected", str(err)
        except RemoteFailure:
            return "failed", None

    def _store(self, kind: str, key: str, value: Any) -> tuple[str, Any]:
        blob = content_blob(kind, key, value)
        try:
            self._request("PUT", f"/cas/{hashlib.sha256(blob).hexdigest()}", blob)
            self._request("PUT", f"/ac/{action_digest(kind, key)}", action_entry(kind, key, blob, self.settings.secret))
        except RemoteFailure:
            return "failed", None
        return "stored", None

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """(status, body) for 200 and (for GET) 404; RemoteFailure for anything else, and the
        remote is switched off."""
        if not self.usable:
            raise RemoteFailure(self.failure)
        started = time.perf_counter()
        try:
            status, reason, data = self._exchange(method, self._prefix + path, body)
        except (OSError, http.client.HTTPException, ValueError) as err:
            self._fail(f"{method} {path.lstrip('/')} failed ({_why(err)})")
            raise RemoteFailure(self.failure) from None
        finally:
            with self._lock:
                self.counts.requests += 1
                self.counts.seconds += time.perf_counter() - started
        with self._lock:
            self.counts.bytes_down += len(data)
            self.counts.bytes_up += len(body or b"")
        if status in (200, 201, 204) or (status == 404 and method == "GET"):
            return status, data
        hint = f" (check {TOKEN_ENV}, or {USER_ENV} and {PASSWORD_ENV})" if status in (401, 403) else ""
        if status == 400 and method == "PUT" and path.startswith("/ac/"):
            hint = " (bazel-remote needs --disable_http_ac_validation: these action entries are JSON, not protobuf)"
        self._fail(f"it answered {status} {reason} to {method} {path.lstrip('/')}{hint}")
        raise RemoteFailure(self.failure)

    def _exchange(self, method: str, path: str, body: bytes | None) -> tuple[int, str, bytes]:
        """One request on this thread's keep-alive connection; a connection the server closed while
        idle is opened again once."""
        for attempt in (1, 2):
            connection, fresh = self._connection()
            try:
                connection.request(method, path, body=body, headers=self._headers(body))
                response = connection.getresponse()
                data = response.read(MAX_BODY + 1)
                if len(data) > MAX_BODY:
                    raise ValueError(f"an answer over {MAX_BODY} bytes")
                if response.will_close:
                    self._drop_connection()
                return response.status, response.reason, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop_connection()
                if fresh or attempt == 2:
                    raise
            except BaseException:
                self._drop_connection()
                raise
        raise AssertionError("unreachable")

    def _headers(self, body: bytes | None) -> dict[str, str]:
        headers = {"User-Agent": "doit-scout"}
        if self.settings.authorization:
            headers["Authorization"] = self.settings.authorization
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        return headers

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, False
        if self._tls is not None:
            connection = http.client.HTTPSConnection(self._host, self._port, timeout=self.settings.timeout,
                                                     context=self._tls)
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self.settings.timeout)
        self._local.connection = connection
        return connection, True

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    # -- degraded modes ---------------------------------------------------------------------------

    def _fail(self, why: str) -> None:
        with self._lock:
            if self.failure is not None:
                return
            self.failure = why
            self.counts.failures += 1
            self._warn(f"the remote cache {self.settings.url} cannot be used: {why}; this run goes on with the "
                       "local cache only")

    def _reject(self, kind: str, key: str, why: str) -> None:
        self.counts.rejected[kind] += 1
        if not self._rejected_warned:
            self._rejected_warned = True
            self._warn(f"the remote cache {self.settings.url} served {why} ({kind} {key[:16]}…): such entries "
                       "are ignored, and what they would have served runs")

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        self.messages.append(text)


def _why(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return "timed out" if isinstance(err, TimeoutError) else text


class TieredCache(CacheStore):
    """The local SharedCache, then the remote for what it misses; remote hits are kept locally.
    Maintenance of the folder (stats, gc, clear) is the local cache's own: `doit cache` opens that."""

    def __init__(self, local: SharedCache, remote: RemoteStore) -> None:
        self.local, self.remote = local, remote
        assert local.folder is not None
        self.memo = SharedCache(local.folder / MEMO_FOLDER)
        self.counts = TieredCounts.of(local.counts, remote.counts)
        self._indexes: dict[str, _Index] = {}  # a writer's lookups of many keys, by index key

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        found = self.local.get_many(kind, wanted)
        if kind not in REMOTE_KINDS or not self.remote.readable:
            return found
        index = _index_key(kind, wanted) if len(wanted) >= INDEX_MIN_KEYS else None
        asked = self._not_missed_lately(kind, [k for k in wanted if k not in found])
        listed = self._listed(index) if index and (asked or self.remote.settings.write) else None
        fetched = self._fetch(kind, asked, listed) if asked else {}
        if index and self.remote.settings.write:  # brought up to date when this run closes
            self._indexes[index] = _Index(kind, set(wanted), {*found, *fetched}, listed)
        return {**found, **fetched}

    def _not_missed_lately(self, kind: str, missing: list[str]) -> list[str]:
        """The keys the remote did not lack a moment ago (a warm run asks for none twice)."""
        if not missing:
            return []
        now = time.time()
        recent = {k for k, at in self.memo.get_many(MEMO_KIND, [_memo_key(kind, k) for k in missing]).items()
                  if isinstance(at, (int, float)) and now - at < MISS_MEMO_SECONDS}
        return [k for k in missing if _memo_key(kind, k) not in recent]

    def _fetch(self, kind: str, asked: list[str], listed: set[str] | None) -> dict[str, Any]:
        """What the remote has of `asked` (with an index, only those it lists are asked for).
        Hits are kept locally, misses remembered."""
        unlisted = [] if listed is None else [k for k in asked if k not in listed]
        fetched, absent = self.remote.lookup(kind, [k for k in asked if listed is None or k in listed])
        if fetched:
            self.local.put_many(kind, fetched)
        if self.remote.usable and (absent or unlisted):
            self.memo.put_many(MEMO_KIND, {_memo_key(kind, k): time.time() for k in [*absent, *unlisted]})
        return fetched

    def _listed(self, index: str) -> set[str] | None:
        value = self.remote.get_many(INDEX_KIND, [index]).get(index)
        if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
            return None
        return set(value)

    def put_many(self, kind: str, values: Mapping[str, Any]) -> None:
        self.local.put_many(kind, values)
        self.remote.put_many(kind, values)
        for entry in self._indexes.values():
            if entry.kind == kind:
                entry.held |= entry.keys & values.keys()

    def delete(self, kind: str, key: str) -> None:
        """The local entry only: entries on the server are never deleted from here; only writers
        change the server, by writing."""
        self.local.delete(kind, key)

    def take_warnings(self) -> list[str]:
        return self.local.take_warnings() + self.memo.take_warnings() + self.remote.take_warnings()

    def remote_counts(self) -> RemoteCounts:
        return self.remote.counts

    def remote_messages(self) -> Sequence[str]:
        return self.remote.messages

    def close(self) -> None:
        """Uploads a writer's indexes that changed, and adds this run's remote counts to the
        cumulative ones (`doit cache stats`)."""
        changed = {key: sorted(entry.held) for key, entry in self._indexes.items() if entry.held != entry.listed}
        self.remote.put_many(INDEX_KIND, changed)
        if self.remote.counts.requests:
            add_remote_totals(self.memo, self.remote.settings.url, self.remote.counts)
        self.memo.close()
        self.local.close()


@dataclass
class _Index:
    kind: str
    keys: set[str]  # the lookup's keys
    held: set[str]  # those this writer holds now
    listed: set[str] | None  # those the server's index listed when the run began


def _index_key(kind: str, keys: Iterable[str]) -> str:
    return hashlib.sha256("\0".join([kind, *sorted(keys)]).encode("utf-8", "surrogateescape")).hexdigest()


def _memo_key(kind: str, key: str) -> str:
    return f"{kind}\0{key}"


def add_remote_totals(memo: SharedCache, url: str, counts: RemoteCounts) -> None:
    totals = RemoteCounts()
    previous = memo.get_many(TOTALS_KIND, [url]).get(url)
    if isinstance(previous, dict):
        try:
            totals.add(previous)
        except (TypeError, ValueError, AttributeError):
            pass  # damaged totals start again
    totals.add(counts.as_json())
    memo.put_many(TOTALS_KIND, {url: totals.as_json()})


def remote_totals(cache_folder: Path, url: str) -> RemoteCounts | None:
    """The cumulative counts of the remote at `url`, as `doit cache stats` shows them."""
    folder = cache_folder / MEMO_FOLDER
    if not (folder / "cache.sqlite").exists():
        return None
    memo = SharedCache(folder)
    try:
        value = memo.get_many(TOTALS_KIND, [url]).get(url)
    finally:
        memo.close()
    counts = RemoteCounts()
    try:
        counts.add(value if isinstance(value, dict) else {})
    except (TypeError, ValueError, AttributeError):
        return None
    return counts


def tiered(local: SharedCache, config: ScoutConfig) -> CacheStore:
    """The store a run uses: the local cache alone when no remote is configured or the local cache
    is switched off (then nothing is reused, remote or not)."""
    settings = RemoteSettings.of(config)
    if settings is None or local.folder is None:
        return local
    return TieredCache(local, RemoteStore(settings))
