"""End to end: real doit runs in temporary projects sharing results through a real nginx WebDAV
cache on localhost, each "machine" with its own shared cache folder and its own clone."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from helpers import REPO_ROOT, git, write_files

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.nginx_cache import WRITER, NginxCache, nginx_path  # noqa: E402

TODO_FILES = 5


@pytest.fixture(scope="session")
def nginx_server(tmp_path_factory) -> Iterator[NginxCache]:
    """One nginx for the session (each test gets a URL prefix of its own). Missing nginx skips these
    tests on a developer's machine, and fails them in CI, where .ci/run installs it."""
    executable = nginx_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed and CI=true: .ci/run installs it (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light): the remote cache's end-to-end tests "
                    "run against a real one")
    server = NginxCache(tmp_path_factory.mktemp("nginx"), executable)
    server.start()
    yield server
    server.stop()


TEAM_SECRET = "the-team-secret-for-action-entries"


def machine(tmp_path: Path, name: str, url: str, *, writer: bool, credentials: bool | None = None,
            secret: str | None = TEAM_SECRET, trust: str | None = None) -> dict[str, str]:
    """The environment of one machine: its own shared cache folder, the remote, the team's secret
    (or none), and for a writer (CI on main) the write flag and the credentials nginx asks writers for."""
    env = {**os.environ, "DOIT_SCOUT_CACHE": str(tmp_path / f"cache-{name}"), "DOIT_SCOUT_REMOTE_CACHE": url,
           "COLUMNS": "200"}
    for variable in ("DOIT_SCOUT_REMOTE_CACHE_WRITE", "DOIT_SCOUT_REMOTE_CACHE_USER",
                     "DOIT_SCOUT_REMOTE_CACHE_PASSWORD", "DOIT_SCOUT_REMOTE_CACHE_TOKEN",
                     "DOIT_SCOUT_REMOTE_CACHE_SECRET", "DOIT_SCOUT_REMOTE_CACHE_TRUST"):
        env.pop(variable, None)
    if secret is not None:
        env["DOIT_SCOUT_REMOTE_CACHE_SECRET"] = secret
    if trust is not None:
        env["DOIT_SCOUT_REMOTE_CACHE_TRUST"] = trust
    if writer:
        env["DOIT_SCOUT_REMOTE_CACHE_WRITE"] = "1"
    if writer if credentials is None else credentials:
        env["DOIT_SCOUT_REMOTE_CACHE_USER"], env["DOIT_SCOUT_REMOTE_CACHE_PASSWORD"] = WRITER
    return env


def doit(root: Path, env: dict[str, str], ok: bool = True) -> tuple[str, dict]:
    result = subprocess.run([sys.executable, "-m", "doit"], cwd=root, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=180)
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    return result.stdout, json.loads((root / ".scout" / "last-run.json").read_text())


def clone(origin: Path, dest: Path) -> Path:
    git(origin.parent, "clone", "-q", str(origin), str(dest))
    return dest


def commit(root: Path, files: dict[str, str]) -> None:
    write_files(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")


def remote_counts(last_run: dict) -> dict:
    return last_run["cache"]["remote"]


def _blobs(server: NginxCache, url: str) -> list[tuple[Path, dict, Path]]:
    """Each test record's action entry on the server, its action, and the content it names. A
    traced run records a file under two fingerprints (its executed code's and its static one:
    doit_scout.executed), so a file may have more than one."""
    base = server.root / "data" / url.rsplit("/", 1)[1]
    found = []
    for action in (base / "ac").iterdir():
        entry = json.loads(action.read_bytes())
        if entry["kind"] == "test":
            found.append((action, entry, base / "cas" / entry["cas"]))
    return found


def server_test_paths(server: NginxCache, url: str) -> list[str]:
    """The test file of each test record on the server, one per record."""
    return sorted(json.loads(cas.read_bytes())["value"]["path"] for _, _, cas in _blobs(server, url))


def test_a_second_machine_runs_nothing_that_passed_elsewhere(todo_app: Path, tmp_path: Path,
                                                             nginx_server: NginxCache):
    url = nginx_server.url()
    # The URL from the project's own [tool.scout] table; who writes is each machine's business.
    pyproject = todo_app / "pyproject.toml"
    pyproject.write_text(f'[tool.scout]\nremote_cache = "{url}"\n\n' + pyproject.read_text())
    git(todo_app, "commit", "-qam", "use the team's remote cache")
    ci = machine(tmp_path, "ci", url, writer=True)
    ci.pop("DOIT_SCOUT_REMOTE_CACHE")

    out, first = doit(todo_app, ci)
    assert len(first["tests"]["selected"]) == TODO_FILES
    stored = nginx_server.files(url)
    assert any(p.startswith("ac/") for p in stored) and any(p.startswith("cas/") for p in stored)
    uploaded = server_test_paths(nginx_server, url)  # every file's records, each uploaded once
    assert sorted(set(uploaded)) == sorted(first["tests"]["selected"])
    assert remote_counts(first)["uploads"]["test"] == len(uploaded)

    laptop = clone(todo_app, tmp_path / "laptop")
    dev = machine(tmp_path, "dev", url, writer=False)
    dev.pop("DOIT_SCOUT_REMOTE_CACHE")
    out, second = doit(laptop, dev)
    assert second["tests"]["selected"] == [] and len(second["tests"]["skipped"]) == TODO_FILES
    assert remote_counts(second)["hits"]["test"] == TODO_FILES
    assert second["steps"]["lint"]["ran"] == 0 and second["steps"]["typecheck"]["ran"] == 0  # steps travel too
    assert "remote " in out and " hits" in out  # the run says where its results came from

    stats = subprocess.run([sys.executable, "-m", "doit", "cache", "stats"], cwd=laptop, env=dev, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=60).stdout
    assert f"remote cache at {url} (reads only)" in " ".join(stats.split())  # a title wraps
    test_row = next(line for line in stats.splitlines() if "│ test " in line)
    assert test_row.split("│")[2].strip() == str(TODO_FILES)  # hits
    assert "mean latency" in stats and "0 runs switched it off" in stats

    # Durations for sharding travel too: a fresh CI shard partitions by the writer's table.
    shard = clone(todo_app, tmp_path / "shard")
    result = subprocess.run([sys.executable, "-m", "doit", "test", "--shard", "1/2"], cwd=shard,
                            env=machine(tmp_path, "shard", url, writer=False), capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    sharded = json.loads((shard / ".scout" / "last-run.json").read_text())
    assert remote_counts(sharded)["hits"]["durations"] == 1 and sharded["tests"]["selected"] == []

    # The remote hits are now local: the same machine, the remote switched off, still runs nothing.
    _, third = doit(laptop, {**dev, "DOIT_SCOUT_REMOTE_CACHE": "off"})
    assert third["tests"]["selected"] == [] and "remote" not in third["cache"]


def test_a_reader_reads_but_never_writes(project: Path, tmp_path: Path, nginx_server: NginxCache):
    url = nginx_server.url()
    commit(project, {"dodo.py": "from doit_scout.dodo import *\n"})
    doit(project, machine(tmp_path, "ci", url, writer=True))
    held = nginx_server.files(url)
    puts = sum(r.startswith("PUT ") for r in nginx_server.requests(url))
    assert puts > 0

    # A developer with the writers' credentials but without the write flag: it reads, and its new
    # green result stays on its machine.
    laptop = clone(project, tmp_path / "laptop")
    write_files(laptop, {"tests/test_new.py": "def test_new():\n    assert True\n"})
    out, last = doit(laptop, machine(tmp_path, "dev", url, writer=False, credentials=True))
    assert last["tests"]["selected"] == ["tests/test_new.py"]
    assert remote_counts(last)["hits"]["test"] == 2 and remote_counts(last)["uploads"] == {}
    assert nginx_server.files(url) == held
    assert sum(r.startswith("PUT ") for r in nginx_server.requests(url)) == puts

    # So a third machine with the same change runs it again: nothing the developer ran was shared.
    other = clone(project, tmp_path / "other")
    write_files(other, {"tests/test_new.py": "def test_new():\n    assert True\n"})
    _, third = doit(other, machine(tmp_path, "third", url, writer=False))
    assert third["tests"]["selected"] == ["tests/test_new.py"]


def _tamper_contents(server: NginxCache, url: str) -> list[str]:
    """Rewrite every test record's content on the server as green, keeping its name: the sha256 no
    longer matches, as after an edit on the server or a bit flip on its disk. The test files of
    the records changed, one per record."""
    changed = []
    for _, _, cas in _blobs(server, url):
        blob = json.loads(cas.read_bytes())
        blob["value"]["outcomes"] = {node: "passed" for node in blob["value"]["outcomes"]}
        cas.write_bytes(json.dumps(blob).encode())
        changed.append(blob["value"]["path"])
    return sorted(changed)


def _swap_actions(server: NginxCache, url: str) -> list[str]:
    """Swap the action entries of test records: each now names content that is valid, but for
    another fingerprint (another test file's, or the same file's other one)."""
    tests = _blobs(server, url)
    contents = [action.read_bytes() for action, _, _ in tests]
    for (action, _, _), content in zip(tests, contents[1:] + contents[:1]):
        action.write_bytes(content)
    return sorted(json.loads(cas.read_bytes())["value"]["path"] for _, _, cas in tests)


@pytest.mark.parametrize("tamper", [_tamper_contents, _swap_actions])
def test_a_tampered_entry_on_the_server_is_rejected_and_its_tests_run(project: Path, tmp_path: Path,
                                                                     nginx_server: NginxCache, tamper):
    url = nginx_server.url()
    commit(project, {"dodo.py": "from doit_scout.dodo import *\n",
                     # Green on CI, red on the laptop, with the same fingerprint (ON_CI is not a declared
                     # input): only a record could make it green there.
                     "tests/test_env.py": "import os\n\ndef test_ci_only():\n"
                                          "    assert os.environ.get('ON_CI') == '1'\n"})
    doit(project, {**machine(tmp_path, "ci", url, writer=True), "ON_CI": "1"})
    tampered = tamper(nginx_server, url)  # every record on the server, of each of the three files
    assert sorted(set(tampered)) == ["tests/test_core.py", "tests/test_env.py", "tests/test_extra.py"]

    laptop = clone(project, tmp_path / "laptop")
    out, last = doit(laptop, machine(tmp_path, "dev", url, writer=False), ok=False)
    assert sorted(last["tests"]["selected"]) == ["tests/test_core.py", "tests/test_env.py", "tests/test_extra.py"]
    assert last["tests"]["failed"] == ["tests/test_env.py::test_ci_only"]  # run, not served green
    assert remote_counts(last)["rejected"]["test"] == 3 and remote_counts(last)["hits"].get("test", 0) == 0
    assert out.count("such entries are ignored") == 1


def test_the_server_stopped_mid_run_warns_once_and_the_run_goes_on(project: Path, tmp_path: Path):
    executable = nginx_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed and CI=true: .ci/run installs it (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    server = NginxCache(tmp_path / "nginx", executable)
    server.start()
    url = server.url()
    try:
        commit(project, {
            "dodo.py": "from doit_scout.dodo import *\n",
            # Runs last (pytest orders files by name): the server goes away while the tests run,
            # after the plan read from it and before the results are written to it.
            "tests/test_zz_stop_server.py": "import os, signal\n\ndef test_stop():\n"
                                            "    pid = int(os.environ.get('NGINX_PID', '0'))\n"
                                            "    if pid > 0:\n"
                                            "        os.kill(pid, signal.SIGTERM)\n",
        })
        ci = {**machine(tmp_path, "ci", url, writer=True), "NGINX_PID": str(server.pid)}
        out, last = doit(project, ci)
        assert len(last["tests"]["selected"]) == 3 and last["tests"]["failed"] == []
        assert remote_counts(last)["failures"] == 1
        # A write, after the reads, named by the content it was storing.
        assert len(re.findall(f"the remote cache {re.escape(url)} cannot be used: PUT cas/[0-9a-f]{{64}} failed", out)) == 1
        assert "this run goes on with the local cache only" in out
    finally:
        server.stop()

    # Nothing was lost: the results are in the local cache, so the next run runs nothing...
    _, again = doit(project, ci)
    assert again["tests"]["selected"] == []
    # ...and a fresh machine with the server down runs everything, green, with one warning.
    laptop = clone(project, tmp_path / "laptop")
    out, fresh = doit(laptop, machine(tmp_path, "dev", url, writer=False))
    assert len(fresh["tests"]["selected"]) == 3 and fresh["tests"]["failed"] == []
    assert out.count("cannot be used") == 1


def _forge_green(server: NginxCache, url: str) -> list[str]:
    """What anyone who can write to the server can do: for each red test record, content that says
    green, under its correct sha256 name, and the record's action entry re-pointed at it (no MAC:
    the forger has no team secret). Every check but the signature passes. The test files of the
    records forged, one per record."""
    forged = []
    for action, entry, cas in _blobs(server, url):
        blob = json.loads(cas.read_bytes())
        if "failed" not in blob["value"]["outcomes"].values():
            continue
        blob["value"]["outcomes"] = {node: "passed" for node in blob["value"]["outcomes"]}
        content = json.dumps(blob).encode()
        digest = hashlib.sha256(content).hexdigest()
        (cas.parent / digest).write_bytes(content)
        entry.pop("mac", None)
        action.write_bytes(json.dumps({**entry, "cas": digest, "size": len(content)}).encode())
        forged.append(blob["value"]["path"])
    return forged


RED_ON_EVERY_MACHINE = {"dodo.py": "from doit_scout.dodo import *\n",
                        "tests/test_red.py": "def test_red():\n    assert 1 == 2\n"}


@pytest.mark.parametrize("setup", ["no secret, no trust", "secret", "server trusted"])
def test_a_forged_action_entry_is_trusted_only_where_the_server_is(project: Path, tmp_path: Path,
                                                                    nginx_server: NginxCache, setup: str):
    url = nginx_server.url()
    commit(project, RED_ON_EVERY_MACHINE)
    secret = TEAM_SECRET if setup == "secret" else None
    # CI writes real entries (unsigned unless there is a secret; trusting the server where there is not).
    doit(project, machine(tmp_path, "ci", url, writer=True, secret=secret, trust=None if secret else "server"),
         ok=False)
    forged = _forge_green(nginx_server, url)  # each record of the red file: one a fingerprint it has
    assert forged and set(forged) == {"tests/test_red.py"}

    laptop = clone(project, tmp_path / "laptop")
    requests_before = len(nginx_server.requests(url))
    trust = "server" if setup == "server trusted" else None
    out, last = doit(laptop, machine(tmp_path, "dev", url, writer=False, secret=secret, trust=trust),
                     ok=setup == "server trusted")
    if setup == "server trusted":  # what trusting the server means: its writers decide what is green
        assert last["tests"]["selected"] == [] and remote_counts(last)["hits"]["test"] == 3
        return
    assert "tests/test_red.py" in last["tests"]["selected"]
    assert last["tests"]["failed"] == ["tests/test_red.py::test_red"]  # run, not served green
    if setup == "secret":  # the genuine, signed entries still serve
        assert remote_counts(last)["rejected"]["test"] == 1 and remote_counts(last)["hits"]["test"] == 2
        return
    # Neither a secret nor explicit trust: the remote is not read at all, and one line says how to fix it.
    assert len(nginx_server.requests(url)) == requests_before
    (line,) = [line for line in out.splitlines() if "DOIT_SCOUT_REMOTE_CACHE_SECRET" in line]
    assert 'remote_cache_trust = "server"' in line and "DOIT_SCOUT_REMOTE_CACHE_TRUST=server" in line


def test_a_writer_without_a_secret_or_trust_uploads_nothing_and_says_why(project: Path, tmp_path: Path,
                                                                          nginx_server: NginxCache):
    url = nginx_server.url()
    commit(project, {"dodo.py": "from doit_scout.dodo import *\n"})
    out, _ = doit(project, machine(tmp_path, "ci", url, writer=True, secret=None))
    assert nginx_server.requests(url) == [] and nginx_server.files(url) == {}
    assert out.count("DOIT_SCOUT_REMOTE_CACHE_SECRET") == 1
