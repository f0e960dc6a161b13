"""The remote cache: green results shared between machines through a Bazel HTTP cache server.

The protocol is Bazel's HTTP remote cache (GET/PUT/HEAD `<base>/ac/<sha256>` and `<base>/cas/<sha256>`),
as bazel-remote, nginx with WebDAV and hosted caches serve it, so that a team runs an existing server
rather than ours:

What is on the server, and which entries a reader believes (only those signed with the team secret,
unless the configuration trusts the server), is remote_entries.py's; the counts are remote_counts.py's.

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

import hashlib
import http.client
import queue
import ssl
import threading
import time
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from doit_scout.cache_store import CacheStore
from doit_scout.config import ScoutConfig
from doit_scout.remote_counts import MEMO_FOLDER, RemoteCounts, TieredCounts, add_remote_totals
from doit_scout.remote_entries import (
    MAX_BODY,
    PASSWORD_ENV,
    TOKEN_ENV,
    USER_ENV,
    Rejected,
    RemoteSettings,
    action_digest,
    action_entry,
    content_blob,
    parse_action,
    parse_content,
)
from doit_scout.shared_cache import SharedCache

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
# A key the server did not have is not asked for again for this long: a warm no-op run would otherwise
# ask for every module's observed inputs, which most modules never have. Only ever costs a reuse.
MISS_MEMO_SECONDS = 3600.0
MEMO_KIND = "miss"


class RemoteFailure(Exception):
    """The server cannot be used for the rest of this run (down, slow, refusing, erroring)."""


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
            digest, size = parse_action(kind, key, body, self.settings)
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


def tiered(local: SharedCache, config: ScoutConfig) -> CacheStore:
    """The store a run uses: the local cache alone when no remote is configured, when its entries
    could not be trusted (no team secret, and the server not trusted), or when the local cache is
    switched off (then nothing is reused, remote or not)."""
    settings = RemoteSettings.of(config)
    if settings is None or local.folder is None:
        return local
    refusal = settings.refusal()
    if refusal:  # neither read nor written: the run goes on with the local cache, and says why
        local.warnings.append(refusal)
        return local
    return TieredCache(local, RemoteStore(settings))
