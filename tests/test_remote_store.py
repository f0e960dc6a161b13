"""The remote store against a programmable stdlib HTTP server in this process: what is checked,
what is sent, and how it degrades (errors, garbage, a server that never answers)."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from helpers import run_doit, write_files

from doit_scout.config import ConfigError, ScoutConfig, load_config, parse_config, remote_from_environment
from doit_scout.remote_cache import REMOTE_KINDS, RemoteStore, TieredCache
from doit_scout.remote_counts import remote_totals
from doit_scout.remote_entries import RemoteSettings, action_digest
from doit_scout.shared_cache import SharedCache


class Stub(ThreadingHTTPServer):
    """A Bazel HTTP cache in a dict; `status` forces every answer's status."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.store: dict[str, bytes] = {}
        self.log: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        self.status: int | None = None
        self.hold_reads: threading.Event | None = None  # GETs wait for it: a slow server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/team"


class Handler(BaseHTTPRequestHandler):
    server: Stub
    protocol_version = "HTTP/1.1"  # keep-alive, as real cache servers do

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(self.server.status or status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.log.append(("GET", self.path, self.headers.get("Authorization")))
        if self.server.hold_reads is not None:
            self.server.hold_reads.wait(30)
        body = self.server.store.get(self.path)
        self._answer(404) if body is None else self._answer(200, body)

    def do_PUT(self) -> None:
        self.server.log.append(("PUT", self.path, self.headers.get("Authorization")))
        self.server.store[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(201)


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def store(url: str, *, write: bool = False, timeout: float = 2.0, trust: str = "server", **env: str) -> RemoteStore:
    """A store that trusts the server unless told otherwise: these tests are about the protocol
    (a secret set is checked whatever the trust)."""
    config = ScoutConfig(remote_cache=url, remote_cache_write=write, remote_cache_timeout=timeout,
                         remote_cache_trust=trust)
    return RemoteStore(RemoteSettings.of(config, env))


RECORD = {"path": "tests/test_a.py", "complete": True, "outcomes": {"tests/test_a.py::test_a": "passed"}}


def test_what_a_writer_stores_another_machine_reads(stub: Stub):
    store(stub.url, write=True).put_many("test", {"f1": RECORD})
    reader = store(stub.url)
    assert reader.get_many("test", ["f1", "f2"]) == {"f1": RECORD}
    assert (reader.counts.hits["test"], reader.counts.misses["test"]) == (1, 1)
    assert f"/team/ac/{action_digest('test', 'f1')}" in stub.store  # under the URL's prefix
    assert all(json.loads(body) for body in stub.store.values())  # JSON, never pickle


def test_a_reader_never_writes_and_local_kinds_stay_local(stub: Stub):
    store(stub.url).put_many("test", {"f1": RECORD})
    store(stub.url, write=True).put_many("parse", {"p": [1]})
    store(stub.url, write=True).get_many("worker-costs", ["m"])
    assert stub.log == []


def test_credentials_over_plain_http_to_another_host_are_warned_about():
    assert "plain http" in store("http://cache.example/x", DOIT_SCOUT_REMOTE_CACHE_TOKEN="t").take_warnings()[0]
    assert store("https://cache.example/x", DOIT_SCOUT_REMOTE_CACHE_TOKEN="t").take_warnings() == []
    assert store("http://127.0.0.1:1/x", DOIT_SCOUT_REMOTE_CACHE_TOKEN="t").take_warnings() == []


def test_credentials_come_from_the_environment(stub: Stub):
    store(stub.url, DOIT_SCOUT_REMOTE_CACHE_TOKEN="t0k").get_many("test", ["a"])
    store(stub.url, DOIT_SCOUT_REMOTE_CACHE_USER="ci", DOIT_SCOUT_REMOTE_CACHE_PASSWORD="pw").get_many("test", ["a"])
    assert [auth for _, _, auth in stub.log] == ["Bearer t0k", "Basic Y2k6cHc="]


@pytest.mark.parametrize("status", [500, 503, 401, 403, 400])
def test_an_error_status_warns_once_and_switches_the_remote_off(stub: Stub, status: int):
    stub.status = status
    remote = store(stub.url)
    assert remote.get_many("test", [f"k{i}" for i in range(20)]) == {}
    asked = len(stub.log)
    assert remote.get_many("test", ["more"]) == {} and len(stub.log) == asked  # the breaker holds
    (warning,) = remote.take_warnings()
    assert f"answered {status}" in warning and "local cache only" in warning
    assert ("DOIT_SCOUT_REMOTE_CACHE_TOKEN" in warning) is (status in (401, 403))
    assert remote.take_warnings() == [] and remote.counts.failures == 1


def test_a_real_run_names_the_entry_a_failing_request_asked_for(stub: Stub, project: Path, monkeypatch):
    stub.status = 500
    write_files(project, {"dodo.py": "from doit_scout.dodo import *\n"})
    monkeypatch.setenv("DOIT_SCOUT_REMOTE_CACHE", stub.url)
    monkeypatch.setenv("DOIT_SCOUT_REMOTE_CACHE_SECRET", "the-team-secret")
    result = run_doit(project)
    assert result.returncode == 0, result.stdout + result.stderr  # the run goes on locally
    failed = re.search(r"cannot be used: it answered 500 Internal Server Error to GET (ac/[0-9a-f]{64});", result.stdout)
    assert failed is not None, result.stdout
    assert f"/team/{failed[1]}" in {path for _, path, _ in stub.log}
    assert result.stdout.count("cannot be used") == 1


def test_a_server_that_never_answers_costs_one_timeout(tmp_path: Path):
    with socket.socket() as hole:  # listens (the kernel completes connections) but never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        remote = store(f"http://127.0.0.1:{hole.getsockname()[1]}/x", timeout=0.2)
        assert remote.get_many("test", [f"k{i}" for i in range(50)]) == {}
        assert remote.failure is not None and "timed out" in remote.failure
        requests = remote.counts.requests
        assert requests <= 8  # one per thread at most; the rest never started
        assert remote.get_many("test", ["again"]) == {} and remote.counts.requests == requests


def test_slow_reads_end_within_the_budget_and_a_writer_still_uploads(stub: Stub, monkeypatch):
    import doit_scout.remote_cache as remote_cache

    monkeypatch.setattr(remote_cache, "BUDGET_SECONDS", 0.3)
    stub.hold_reads = threading.Event()
    try:
        remote = store(stub.url, write=True, timeout=10)  # each request may take long, the run may not
        assert remote.get_many("test", [f"k{i}" for i in range(30)]) == {}
        assert not remote.readable and remote.usable
        asked = len(stub.log)
        assert remote.get_many("test", ["later"]) == {} and len(stub.log) == asked  # reads are over
        remote.put_many("test", {"f1": RECORD})
        assert f"/team/ac/{action_digest('test', 'f1')}" in stub.store  # writes are not
        (warning,) = remote.take_warnings()
        assert "did not answer" in warning and "reads only the local cache" in warning
    finally:
        stub.hold_reads.set()


def test_a_server_that_is_down_warns_once(tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    remote = store(f"http://127.0.0.1:{port}/x")
    assert remote.get_many("test", ["a", "b"]) == {} and not remote.usable
    assert len(remote.take_warnings()) == 1


def _put(stub: Stub, kind: str, key: str, action: bytes, content: bytes | None = None) -> None:
    stub.store[f"/team/ac/{action_digest(kind, key)}"] = action
    if content is not None:
        stub.store[f"/team/cas/{hashlib.sha256(content).hexdigest()}"] = content


def _entry(kind: str, key: str, content: bytes, **changes) -> bytes:
    entry = {"doit_scout": 1, "kind": kind, "key": key, "cas": hashlib.sha256(content).hexdigest(),
             "size": len(content), **changes}
    return json.dumps(entry).encode()


def _content(kind: str, key: str, value) -> bytes:
    return json.dumps({"doit_scout": 1, "kind": kind, "key": key, "value": value}).encode()


@pytest.mark.parametrize("damage", ["garbage action", "action for another key", "content for another key",
                                    "content renamed", "content of another size", "pickle"])
def test_entries_that_fail_a_check_are_rejected_and_counted(stub: Stub, damage: str):
    good = _content("test", "k", RECORD)
    if damage == "garbage action":
        _put(stub, "test", "k", b"\x00not json")
    elif damage == "action for another key":
        _put(stub, "test", "k", _entry("test", "other", good), good)
    elif damage == "content for another key":
        other = _content("test", "other", RECORD)
        _put(stub, "test", "k", _entry("test", "k", other), other)
    elif damage == "content renamed":  # the bytes changed on the server, the name did not
        _put(stub, "test", "k", _entry("test", "k", good))
        stub.store[f"/team/cas/{hashlib.sha256(good).hexdigest()}"] = good.replace(b"passed", b"failed")
    elif damage == "content of another size":
        _put(stub, "test", "k", _entry("test", "k", good, size=len(good) + 1), good)
    else:
        blob = b"\x80\x04\x95cos\nsystem\n."
        _put(stub, "test", "k", _entry("test", "k", blob), blob)
    remote = store(stub.url)
    assert remote.get_many("test", ["k", "k2"]) == {}
    assert remote.counts.rejected["test"] == 1 and remote.usable  # one bad entry: the others still count
    (warning,) = remote.take_warnings()
    assert "such entries are ignored" in warning


def test_content_evicted_behind_its_action_entry_is_a_plain_miss(stub: Stub):
    good = _content("test", "k", RECORD)
    _put(stub, "test", "k", _entry("test", "k", good))  # bazel-remote evicts CAS and AC apart
    remote = store(stub.url)
    assert remote.lookup("test", ["k"]) == ({}, ["k"])
    assert remote.counts.rejected["test"] == 0 and remote.take_warnings() == []


def test_with_a_team_secret_only_signed_entries_count(stub: Stub):
    store(stub.url, write=True, DOIT_SCOUT_REMOTE_CACHE_SECRET="s3").put_many("test", {"signed": RECORD})
    store(stub.url, write=True).put_many("test", {"unsigned": RECORD})
    assert store(stub.url, DOIT_SCOUT_REMOTE_CACHE_SECRET="s3").get_many("test", ["signed", "unsigned"]) == \
        {"signed": RECORD}
    other = store(stub.url, DOIT_SCOUT_REMOTE_CACHE_SECRET="wrong")
    assert other.get_many("test", ["signed"]) == {} and other.counts.rejected["test"] == 1
    # Without a secret, only a store that trusts the server believes an unsigned entry.
    assert store(stub.url, trust="signed").get_many("test", ["unsigned"]) == {}
    assert store(stub.url, trust="server").get_many("test", ["unsigned"]) == {"unsigned": RECORD}


def test_the_tiered_cache_keeps_remote_hits_and_remembers_misses(stub: Stub, tmp_path: Path):
    store(stub.url, write=True).put_many("test", {"f1": RECORD})
    written = len(stub.log)
    tiered = TieredCache(SharedCache(tmp_path / "c"), store(stub.url))
    assert tiered.get_many("test", ["f1", "gone"]) == {"f1": RECORD}
    asked = len(stub.log)
    assert tiered.get_many("test", ["f1", "gone"]) == {"f1": RECORD}
    assert len(stub.log) == asked  # f1 is local now; "gone" was a miss a moment ago
    assert tiered.local.get_many("test", ["f1"]) == {"f1": RECORD}
    assert tiered.counts.as_json()["remote"]["hits"] == {"test": 1}
    tiered.close()
    totals = remote_totals(tmp_path / "c", stub.url)
    assert totals is not None and totals.hits["test"] == 1 and totals.requests == asked - written


def test_remote_kinds_are_the_kinds_callers_use():
    from doit_scout.collection import COLLECTION_KIND
    from doit_scout.observed import OBSERVED_KIND
    from doit_scout.records import SHARD_DURATIONS_KIND, TEST_KIND
    from doit_scout.scout import SCOUT_KIND
    from doit_scout.steps import STEP_KIND

    assert REMOTE_KINDS == {TEST_KIND, STEP_KIND, SCOUT_KIND, OBSERVED_KIND, COLLECTION_KIND, SHARD_DURATIONS_KIND}


@pytest.mark.parametrize("table, message", [
    ({"remote_cache": "ftp://cache"}, "remote_cache = 'ftp://cache' is not allowed; expected an http:// or https://"),
    ({"remote_cache": "https://ci:pw@cache"}, "holds credentials"),
    ({"remote_cache": 7}, "remote_cache = 7 is not allowed"),
    ({"remote_cache_write": "yes"}, "remote_cache_write = 'yes' is not allowed; expected true or false"),
    ({"remote_cache_timeout": -1}, "remote_cache_timeout = -1 is not allowed"),
    ({"remote_cache_trust": "yes"}, "remote_cache_trust = 'yes' is not allowed; expected \"signed\""),
])
def test_bad_remote_settings_name_the_key(table: dict, message: str):
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace(".", r"\.").replace("/", "/")):
        parse_config(table)


def test_the_environment_wins_over_the_table():
    config = parse_config({"remote_cache": "https://cache.example/team/", "remote_cache_write": True,
                           "remote_cache_timeout": "5s"})
    assert (config.remote_cache, config.remote_cache_write, config.remote_cache_timeout) == \
        ("https://cache.example/team", True, 5.0)
    assert remote_from_environment(config, {"DOIT_SCOUT_REMOTE_CACHE_WRITE": "0"}).remote_cache_write is False
    assert remote_from_environment(config, {"DOIT_SCOUT_REMOTE_CACHE": "off"}).remote_cache is None
    assert remote_from_environment(ScoutConfig(), {"DOIT_SCOUT_REMOTE_CACHE": "http://h:8080"}).remote_cache == \
        "http://h:8080"
    assert config.remote_cache_trust == "signed"
    assert parse_config({"remote_cache_trust": "server"}).remote_cache_trust == "server"
    assert remote_from_environment(config, {"DOIT_SCOUT_REMOTE_CACHE_TRUST": "server"}).remote_cache_trust == "server"
    with pytest.raises(ConfigError, match="DOIT_SCOUT_REMOTE_CACHE_TRUST='all' is not allowed"):
        remote_from_environment(config, {"DOIT_SCOUT_REMOTE_CACHE_TRUST": "all"})
    with pytest.raises(ConfigError, match="DOIT_SCOUT_REMOTE_CACHE_WRITE='maybe' is not allowed"):
        remote_from_environment(config, {"DOIT_SCOUT_REMOTE_CACHE_WRITE": "maybe"})
    with pytest.raises(ConfigError, match="DOIT_SCOUT_REMOTE_CACHE = 'cache:80'"):
        remote_from_environment(config, {"DOIT_SCOUT_REMOTE_CACHE": "cache:80"})


def test_the_environment_configures_a_project_without_pyproject(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DOIT_SCOUT_REMOTE_CACHE", "http://h:8080")
    monkeypatch.setenv("DOIT_SCOUT_REMOTE_CACHE_TRUST", "server")
    config = load_config(tmp_path)
    assert (config.remote_cache, config.remote_cache_trust) == ("http://h:8080", "server")


def test_an_index_spares_a_reader_one_request_per_absent_key(stub: Stub, tmp_path: Path):
    keys = [f"module{i}" for i in range(100)]
    writer = TieredCache(SharedCache(tmp_path / "ci"), store(stub.url, write=True))
    assert writer.get_many("observed", keys) == {}  # the plan, before the tests ran
    writer.put_many("observed", {k: {"targets": [k]} for k in keys[:3]})  # what the run observed
    writer.close()

    reader = TieredCache(SharedCache(tmp_path / "dev"), store(stub.url))
    before = len(stub.log)
    assert reader.get_many("observed", keys) == {k: {"targets": [k]} for k in keys[:3]}
    assert len(stub.log) - before == 2 + 3 * 2  # the index (action, content), then each listed entry
    before = len(stub.log)  # again: the hits are local now, and the absent keys remembered
    assert reader.get_many("observed", keys) == {k: {"targets": [k]} for k in keys[:3]} and len(stub.log) == before
    assert reader.get_many("observed", ["new"]) == {} and len(stub.log) == before + 1  # no index: asked for
    reader.close()


def test_an_index_never_stands_in_for_a_value(stub: Stub, tmp_path: Path):
    """A stale or forged index only decides what is asked for: a value is used only when its own
    entries pass their checks."""
    keys = [f"k{i}" for i in range(64)]
    writer = TieredCache(SharedCache(tmp_path / "ci"), store(stub.url, write=True))
    writer.get_many("test", keys)
    writer.put_many("test", {"k1": RECORD})
    writer.close()
    for path in [p for p in stub.store if "/cas/" in p and b'"kind":"test"' in stub.store[p]]:
        stub.store[path] = stub.store[path].replace(b"passed", b"failed")  # the record's content damaged
    reader = TieredCache(SharedCache(tmp_path / "dev"), store(stub.url))
    assert reader.get_many("test", keys) == {} and reader.remote.counts.rejected["test"] == 1
    reader.close()
