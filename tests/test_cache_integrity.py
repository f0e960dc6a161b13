"""What a run trusts, and what it refuses: shared cache entries bound to their kind and key, a
damaged database set aside, cache folders that others can write, per-checkout state with a
checksum. Each scenario is a real doit run over real files that an attacker or a failing disk
changed on the way."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
import xxhash
from helpers import TODO_TESTS, doit_tests, git, run_doit

from doit_scout import shared_cache as sc
from doit_scout.project_state import CorruptState, read_checked

doit = doit_tests
STORE = "tests/test_store.py"
FAILING = "tests/test_store.py::test_ids_count_up"
OTHER_UID = 65534  # nobody
TEAM_KEY = "a team secret of 32 characters!!"


def _break_store(root: Path) -> None:
    test = root / STORE
    test.write_text(test.read_text().replace("== [1, 2, 3]", "== [3, 2, 1]"))


def _db(folder: Path) -> closing[sqlite3.Connection]:
    return closing(sqlite3.connect(folder / sc.DB_FILE))


def _test_rows(folder: Path) -> list[tuple[str, dict, int]]:
    with _db(folder) as db:
        rows = db.execute("SELECT key, value, schema FROM entries WHERE kind = 'test'").fetchall()
    return [(key, json.loads(value), schema) for key, value, schema in rows]


def _delete_item_outcomes(db: sqlite3.Connection, path: str) -> None:
    """Forget the outcomes of `path`'s items, which a traced run records besides the file's own."""
    rows = db.execute("SELECT key, value FROM entries WHERE kind = 'item-outcome'").fetchall()
    keys = [key for key, value in rows if json.loads(value)["node"].startswith(path + "::")]
    db.executemany("DELETE FROM entries WHERE kind = 'item-outcome' AND key = ?", [(key,) for key in keys])


def _record_keys(folder: Path, path: str, *, failing: bool, root: Path | None = None) -> list[str]:
    """The fingerprints a run recorded `path` under: its failing record, or its green one. A traced
    run records under its executed code's fingerprint and the static one: with `root`, only the
    static one (in the checkout's memo of unit fingerprints)."""
    keys = [k for k, record, _ in _test_rows(folder) if record["path"] == path
            and ("failed" in record["outcomes"].values()) == failing]
    if root is not None:
        memo = (root / ".scout" / "unit-fingerprints.json").read_text()
        keys = [k for k in keys if k in memo]
    assert keys
    return keys


def _green_record(folder: Path, path: str, failing: list[str]) -> tuple[dict, int]:
    """The green record of `path` from before its `failing` ones, and its schema. A traced run
    writes the same record under each of the file's fingerprints: they must agree."""
    rows = [(record, schema) for key, record, schema in _test_rows(folder) if record["path"] == path
            and key not in failing]
    assert rows and all(record["complete"] and "failed" not in record["outcomes"].values() for record, _ in rows)
    assert len({json.dumps({**record, "fingerprint": None}, sort_keys=True) for record, _ in rows}) == 1
    return rows[0]


def _failing_then_planted(root: Path, folder: Path) -> None:
    """A green run, then test_store broken and run (it fails), then, where its failing record
    was, a green one planted with a checksum recomputed as the code computes it."""
    doit(root)
    _break_store(root)
    assert doit(root, ok=False)[1]["failed"] == [FAILING]
    bad = _record_keys(folder, STORE, failing=True)
    green, schema = _green_record(folder, STORE, bad)
    for key in bad:
        planted = json.dumps({**green, "fingerprint": key}, separators=(",", ":"))
        with _db(folder) as db, db:
            db.execute("UPDATE entries SET value = ?, checksum = ?, schema = ? WHERE kind = 'test' AND key = ?",
                       (planted, xxhash.xxh3_64_hexdigest(planted.encode()), schema, key))


# Fault 1: a record read back for another file's fingerprint; a damaged database.

def test_another_files_green_record_under_this_fingerprint_is_not_trusted(todo_app: Path, shared_cache_folder: Path):
    doit(todo_app)
    _break_store(todo_app)
    assert doit(todo_app, ok=False)[1]["failed"] == [FAILING]
    bad = _record_keys(shared_cache_folder, STORE, failing=True)
    cli = _record_keys(shared_cache_folder, "tests/test_cli.py", failing=False)
    assert len(cli) <= len(bad)  # a traced run records a file under each of its fingerprints
    # What a truncated database did: test_cli's green rows, value and checksum, read under test_store's
    # keys, and nothing else left that says test_cli passed (its items' records: doit_scout.item_records).
    with _db(shared_cache_folder) as db, db:
        for key in bad:
            db.execute("DELETE FROM entries WHERE kind = 'test' AND key = ?", (key,))
        for store_key, cli_key in zip(bad, cli):
            db.execute("UPDATE entries SET key = ? WHERE kind = 'test' AND key = ?", (store_key, cli_key))
        _delete_item_outcomes(db, "tests/test_cli.py")
    out, tests = doit(todo_app, ok=False)
    assert tests["failed"] == [FAILING]
    assert "tests/test_store.py" in tests["selected"] and "tests/test_cli.py" in tests["selected"]


def test_a_record_names_its_file_and_fingerprint_and_both_are_checked(tmp_path: Path):
    from doit_scout.records import RecordStore

    cache = sc.SharedCache(tmp_path / "c")
    store = RecordStore(cache)
    store.record_file("fp-a", "tests/test_a.py", {"tests/test_a.py::t": "passed"}, complete=True)
    # A value written through the cache (so its checksum holds) under another fingerprint.
    (value,) = cache.get_many("test", ["fp-a"]).values()
    cache.put_many("test", {"fp-b": value})
    assert store.records({"fp-b": "tests/test_a.py"}) == {}
    assert store.records({"fp-a": "tests/test_a.py"})["fp-a"].complete
    assert store.records({"fp-a": "tests/test_b.py"}) == {}  # the record of another file
    assert cache.counts.dropped["test"] == 2
    cache.close()


def test_a_truncated_database_is_set_aside_with_one_warning(todo_app: Path, shared_cache_folder: Path):
    doit(todo_app)
    db = shared_cache_folder / sc.DB_FILE
    data = db.read_bytes()
    assert len(data) >= 8 * 4096
    db.write_bytes(data[: len(data) // 2])  # what a full disk or a crash of the machine leaves
    out, tests = doit(todo_app)
    assert tests["selected"] == TODO_TESTS and tests["passed"] == 10
    assert out.count("set aside") == 1
    (aside,) = [p for p in shared_cache_folder.iterdir()
                if p.name.startswith(f"{sc.DB_FILE}.damaged") and not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes() == data[: len(data) // 2]  # kept as it was, for a look
    assert doit(todo_app)[1]["selected"] == []  # the fresh database works


def test_the_database_is_checked_only_when_it_changed_since_a_clean_close(tmp_path: Path):
    cache = sc.SharedCache(tmp_path / "c")
    cache.put_many("parse", {f"k{i}": "x" * 500 for i in range(200)})
    cache.close()
    again = sc.SharedCache(tmp_path / "c")
    assert not again.checked_integrity and len(again.get_many("parse", ["k1", "k2"])) == 2
    alongside = sc.SharedCache(tmp_path / "c")  # another doit process, at the same time
    assert not alongside.checked_integrity
    alongside.close()
    again.close()
    with _db(tmp_path / "c") as db, db:  # another program, or a process that never closed cleanly
        db.execute("DELETE FROM entries WHERE key = 'k1'")
    third = sc.SharedCache(tmp_path / "c")
    assert third.checked_integrity and third.take_warnings() == []
    assert third.get_many("parse", ["k1", "k2"]) == {"k2": "x" * 500}
    third.close()


def test_entries_of_another_schema_are_misses_not_damage(tmp_path: Path):
    cache = sc.SharedCache(tmp_path / "c")
    with _db(tmp_path / "c") as db, db:
        db.execute("INSERT INTO entries VALUES ('test', 'old', '{}', 'c', 1, 2, 0, 0)")
    assert cache.get_many("test", ["old"]) == {}
    assert (cache.counts.misses["test"], cache.counts.dropped["test"]) == (1, 0)
    assert cache.take_warnings() == []
    cache.close()


@pytest.mark.parametrize("damage", [
    "UPDATE entries SET key = 'b' WHERE key = 'a'",      # a's value and checksum under another key
    "UPDATE entries SET kind = 'parse' WHERE key = 'a'",  # ... or another kind
])
def test_an_entry_moved_to_another_key_or_kind_is_dropped(tmp_path: Path, damage: str):
    cache = sc.SharedCache(tmp_path / "c")
    cache.put_many("test", {"a": {"complete": True}})
    with _db(tmp_path / "c") as db, db:
        db.execute(damage)
    assert cache.get_many("test", ["b"]) == {} and cache.get_many("parse", ["a"]) == {}
    assert cache.counts.dropped["test"] + cache.counts.dropped["parse"] == 1
    cache.close()


# Fault 2: a cache folder that others can write.

def _world_writable(folder: Path) -> None:
    folder.chmod(0o777)


def _owned_by_another_user(folder: Path) -> None:
    for path in [folder, *folder.iterdir()]:
        os.chown(path, OTHER_UID, OTHER_UID)


@pytest.mark.parametrize("opened_up", [_world_writable, _owned_by_another_user])
def test_a_cache_folder_others_can_write_is_refused_and_everything_runs(
        todo_app: Path, shared_cache_folder: Path, opened_up):
    _failing_then_planted(todo_app, shared_cache_folder)
    opened_up(shared_cache_folder)
    out, tests = doit(todo_app, ok=False)
    assert tests["failed"] == [FAILING] and tests["selected"] == TODO_TESTS
    warnings = [line for line in out.splitlines() if str(shared_cache_folder) in line]
    assert len(warnings) == 1 and "cache_trust" in out and "DOIT_SCOUT_CACHE_KEY" in out


@pytest.mark.parametrize("where", ["group-writable folder", "world-writable database file"])
def test_the_cache_is_refused_when_its_group_or_anyone_can_write_it(tmp_path: Path, where: str):
    folder = tmp_path / "c"
    sc.SharedCache(folder).close()
    if where == "group-writable folder":
        folder.chmod(0o770)
    else:
        folder.chmod(0o755)  # others can enter it, and write the file
        (folder / sc.DB_FILE).chmod(0o666)
    cache = sc.SharedCache(folder)
    (warning,) = cache.take_warnings()
    assert not cache.enabled and str(folder) in warning and "chmod" in warning
    assert cache.get_many("test", ["a"]) == {}


def test_files_made_with_a_loose_umask_inside_a_closed_folder_are_tightened(tmp_path: Path):
    folder = tmp_path / "c"
    old = os.umask(0o002)  # user private groups: what many distributions give users
    try:
        cache = sc.SharedCache(folder)
        cache.put_many("parse", {"a": [1]})
        cache.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((folder / sc.DB_FILE).stat().st_mode) == 0o600
    (folder / sc.DB_FILE).chmod(0o664)  # as an earlier version left it
    again = sc.SharedCache(folder)
    assert again.take_warnings() == [] and again.get_many("parse", ["a"]) == {"a": [1]}
    assert stat.S_IMODE((folder / sc.DB_FILE).stat().st_mode) == 0o600
    again.close()


def test_a_key_is_made_owner_only_on_first_use_and_kept(tmp_path: Path):
    key_file = tmp_path / "config" / "doit-scout" / sc.KEY_FILE
    assert not key_file.exists()
    cache = sc.SharedCache(tmp_path / "c")
    cache.put_many("parse", {"a": [1]})
    cache.close()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key = key_file.read_bytes()
    again = sc.SharedCache(tmp_path / "c")
    assert again.get_many("parse", ["a"]) == {"a": [1]} and key_file.read_bytes() == key
    again.close()


def test_a_key_others_can_read_is_refused(tmp_path: Path):
    sc.SharedCache(tmp_path / "c").close()
    key_file = tmp_path / "config" / "doit-scout" / sc.KEY_FILE
    key_file.chmod(0o644)
    cache = sc.SharedCache(tmp_path / "c")
    (warning,) = cache.take_warnings()
    assert not cache.enabled and str(key_file) in warning and "chmod 600" in warning


def test_a_shared_folder_opted_in_serves_a_second_clone_with_the_team_key(
        todo_app: Path, shared_cache_folder: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv(sc.TRUST_ENV, "shared")
    monkeypatch.setenv(sc.KEY_ENV, TEAM_KEY)
    doit(todo_app)
    shared_cache_folder.chmod(0o777)
    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(todo_app), str(second))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "another-user"))  # the key is the team's, not the user's
    out, tests = doit(second)
    assert tests["selected"] == [] and str(shared_cache_folder) not in out


def test_entries_with_a_bad_mac_in_a_shared_folder_are_misses_with_one_warning(
        todo_app: Path, shared_cache_folder: Path, monkeypatch):
    monkeypatch.setenv(sc.TRUST_ENV, "shared")
    monkeypatch.setenv(sc.KEY_ENV, TEAM_KEY)
    doit(todo_app)
    _break_store(todo_app)
    assert doit(todo_app, ok=False)[1]["failed"] == [FAILING]
    bad = _record_keys(shared_cache_folder, STORE, failing=True)
    green, _ = _green_record(shared_cache_folder, STORE, bad)
    # Someone who can write the folder, knows the format, but not the team's key.
    for key in bad:
        planted = json.dumps({**green, "fingerprint": key}, separators=(",", ":"))
        mac = sc.entry_mac(b"a key of their own, not the team", "test", key, planted)
        with _db(shared_cache_folder) as db, db:
            db.execute("UPDATE entries SET value = ?, checksum = ? WHERE kind = 'test' AND key = ?", (planted, mac, key))
    out, tests = doit(todo_app, ok=False)
    assert tests["failed"] == [FAILING]
    assert out.count("failed authentication") == 1 and sc.KEY_ENV in out


def test_a_shared_folder_without_the_team_key_runs_everything_with_one_warning(
        todo_app: Path, shared_cache_folder: Path, monkeypatch):
    monkeypatch.setenv(sc.TRUST_ENV, "shared")
    monkeypatch.delenv(sc.KEY_ENV, raising=False)
    out, tests = doit(todo_app)
    assert tests["selected"] == TODO_TESTS
    assert out.count(sc.KEY_ENV) == 1
    assert doit(todo_app)[1]["selected"] == TODO_TESTS  # nothing recorded without a key: never a false green


def test_cache_trust_is_configured_and_a_bad_value_is_named(project: Path, monkeypatch):
    from doit_scout.config import ConfigError, parse_config

    assert parse_config({"cache_trust": "shared"}).cache_trust == "shared"
    assert parse_config({}).cache_trust == "private"
    with pytest.raises(ConfigError, match="cache_trust = 'team' is not allowed.*private.*shared"):
        parse_config({"cache_trust": "team"})
    monkeypatch.setenv(sc.TRUST_ENV, "everyone")
    assert sc.cache_trust("shared") == ("private", f"{sc.TRUST_ENV}='everyone' is not one of: private, shared; "
                                                   "the cache is treated as private")


# Fault 3: per-checkout state that a flipped byte changes while it stays valid JSON.

NOT_STATE = {
    ".gitignore": "keeps .scout/ out of git",
    "run.lock": "a lock file, empty",
    "doit-deps.sqlite": "doit's own database: its gate only reruns more",
    "last-run.json": "the report for machines, which no decision reads",
}


def test_every_state_file_in_the_checkout_has_a_checksum_that_a_flipped_byte_breaks(todo_app: Path):
    doit(todo_app)
    _break_store(todo_app)
    doit(todo_app, "test", "--audit", ok=False)
    assert run_doit(todo_app, "forget", "test").returncode == 0
    files = sorted(p for p in (todo_app / ".scout").iterdir() if p.name not in NOT_STATE)
    assert {"state.json", "collection.json", "unit-fingerprints.json", "durations.json", "audit.json",
            "forgotten.json"} <= {p.name for p in files}
    for path in files:
        lines = read_checked(path)
        assert lines, path
        text = path.read_text()
        at = text.index('"', text.index("\n"))  # the first string of the JSON: flip a byte inside it
        flipped = text[: at + 1] + chr(ord(text[at + 1]) ^ 1) + text[at + 2:]
        json.loads(flipped.partition("\n")[2].partition("\n")[0])  # still valid JSON
        path.write_text(flipped)
        with pytest.raises(CorruptState):
            read_checked(path)


def test_a_moved_import_edge_in_state_json_means_a_fresh_scout(todo_app: Path):
    doit(todo_app)
    state = todo_app / ".scout" / "state.json"
    text = state.read_text()
    # tests.test_reports imports todo.reports: moved to todo.reporta (no such module), one byte.
    assert text.count("todo.reports") >= 2
    state.write_text(text.replace('"todo.reports"', '"todo.reporta"'))
    edit = todo_app / "todo" / "reports.py"
    edit.write_text(edit.read_text() + "\nEDITED = len('import time')\n")
    out, tests = doit(todo_app)
    assert "rebuilt from scratch" in out
    assert tests["selected"] == ["tests/test_cli.py", "tests/test_reports.py"]


def test_remembered_fingerprints_edited_on_disk_are_computed_again(todo_app: Path, shared_cache_folder: Path):
    doit(todo_app)
    (green,) = _record_keys(shared_cache_folder, STORE, failing=False, root=todo_app)
    _break_store(todo_app)
    assert doit(todo_app, ok=False)[1]["failed"] == [FAILING]
    (bad,) = _record_keys(shared_cache_folder, STORE, failing=True, root=todo_app)
    memo = todo_app / ".scout" / "unit-fingerprints.json"
    text = memo.read_text()
    assert bad in text
    # Valid JSON still: the broken file mapped back to the fingerprint it had when it passed.
    memo.write_text(text.replace(bad, green))
    assert doit(todo_app, ok=False)[1]["failed"] == [FAILING]


def test_a_key_in_the_environment_travels_with_a_private_cache(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(sc.KEY_ENV, TEAM_KEY)  # a CI secret: the folder is restored on a fresh machine
    cache = sc.SharedCache(tmp_path / "c")
    cache.put_many("parse", {"a": [1]})
    cache.close()
    assert not (tmp_path / "config" / "doit-scout" / sc.KEY_FILE).exists()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "fresh-machine"))
    again = sc.SharedCache(tmp_path / "c")
    assert again.get_many("parse", ["a"]) == {"a": [1]}
    again.close()
    monkeypatch.delenv(sc.KEY_ENV)  # without it, the user's own key: what the other one signed is dropped
    third = sc.SharedCache(tmp_path / "c")
    assert third.get_many("parse", ["a"]) == {} and third.counts.dropped["parse"] == 1
    third.close()
