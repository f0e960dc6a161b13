"""The shared cache itself: integrity, eviction, degraded modes, configuration."""

import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from doit_scout.config import ConfigError, ScoutConfig, parse_age, parse_config, parse_size
from doit_scout.shared_cache import SharedCache, cache_location


def test_location_precedence(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DOIT_SCOUT_CACHE")
    assert cache_location(None).name == "doit-scout"
    assert cache_location(str(tmp_path / "configured")) == tmp_path / "configured"
    monkeypatch.setenv("DOIT_SCOUT_CACHE", str(tmp_path / "env"))
    assert cache_location(str(tmp_path / "configured")) == tmp_path / "env"


def test_new_cache_folder_is_private(tmp_path: Path):
    cache = SharedCache(tmp_path / "new" / "cache")
    assert cache.enabled and stat.S_IMODE((tmp_path / "new" / "cache").stat().st_mode) == 0o700
    cache.close()


def test_round_trip_and_counts(tmp_path: Path):
    cache = SharedCache(tmp_path / "c")
    cache.put_many("parse", {"a": {"imports": [1, 2]}, "b": [3]})
    assert cache.get_many("parse", ["a", "b", "c"]) == {"a": {"imports": [1, 2]}, "b": [3]}
    assert (cache.counts.hits["parse"], cache.counts.misses["parse"]) == (2, 1)
    cache.close()
    again = SharedCache(tmp_path / "c")
    (stats,) = again.kind_stats()
    assert (stats.kind, stats.entries, stats.hits, stats.misses) == ("parse", 2, 2, 1)
    again.close()


@pytest.mark.parametrize("damage", [
    "UPDATE entries SET value = '[4]' WHERE key = 'a'",              # checksum no longer matches
    "UPDATE entries SET checksum = upper(checksum) WHERE key = 'a'",  # the checksum itself damaged
    "UPDATE entries SET value = substr(value, 1, 3) WHERE key = 'a'",  # truncated
])
def test_damaged_entries_are_dropped_and_counted(tmp_path: Path, damage: str):
    cache = SharedCache(tmp_path / "c")
    cache.put_many("test", {"a": {"complete": True}, "b": {"complete": False}})
    with sqlite3.connect(tmp_path / "c" / "cache.sqlite") as db:
        db.execute(damage)
    assert cache.get_many("test", ["a", "b"]) == {"b": {"complete": False}}
    assert cache.counts.dropped["test"] == 1
    assert cache.get_many("test", ["a"]) == {}  # gone, not dropped twice
    assert cache.counts.dropped["test"] == 1
    cache.close()


def test_gc_evicts_by_age_then_least_recently_used(tmp_path: Path):
    cache = SharedCache(tmp_path / "c")
    cache.put_many("parse", {f"k{i}": "x" * 100 for i in range(10)})
    with sqlite3.connect(tmp_path / "c" / "cache.sqlite") as db:
        for i in range(10):
            db.execute("UPDATE entries SET used = ? WHERE key = ?", (time.time() - 1000 * i, f"k{i}"))
    assert cache.collect_garbage(max_age_seconds=4500) == 5  # k5..k9 unused for longer
    assert cache.collect_garbage(max_bytes=250) == 3  # keeps the two most recently used
    assert sorted(cache.get_many("parse", [f"k{i}" for i in range(10)])) == ["k0", "k1"]
    assert cache.clear() == 2 and cache.kind_stats() == []
    cache.close()


def test_cache_grown_past_its_limit_trims_itself_when_the_run_ends(tmp_path: Path):
    cache = SharedCache(tmp_path / "c", max_bytes=1000)
    cache.put_many("parse", {f"k{i}": "x" * 100 for i in range(20)})
    cache.close()
    reopened = SharedCache(tmp_path / "c")
    assert sum(s.size for s in reopened.kind_stats()) <= 800
    reopened.close()


def test_uncreatable_folder_runs_without_cache_with_one_warning(tmp_path: Path):
    (tmp_path / "file").write_text("not a folder")
    cache = SharedCache(tmp_path / "file" / "cache")
    assert not cache.enabled and len(cache.take_warnings()) == 1
    assert cache.get_many("parse", ["a"]) == {} and cache.counts.misses["parse"] == 1
    cache.put_many("parse", {"a": 1})  # quietly nothing
    assert cache.take_warnings() == []
    cache.close()


def test_unusable_database_file_runs_without_cache(tmp_path: Path):
    (tmp_path / "c" / "cache.sqlite").mkdir(parents=True)  # a folder where the database should be
    cache = SharedCache(tmp_path / "c")
    assert not cache.enabled and "running without it" in cache.take_warnings()[0]


def test_damaged_database_starts_empty(tmp_path: Path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "cache.sqlite").write_bytes(b"garbage" * 1000)
    cache = SharedCache(tmp_path / "c")
    assert cache.enabled and "was damaged" in cache.take_warnings()[0]
    cache.close()


def test_processes_writing_at_once_lose_nothing(tmp_path: Path):
    writer = (
        "import sys; from pathlib import Path; from doit_scout.shared_cache import SharedCache\n"
        "c = SharedCache(Path(sys.argv[1]))\n"
        "for i in range(50): c.put_many('parse', {f'{sys.argv[2]}-{i}': [i]})\n"
        "c.close()\n"
    )
    runs = [subprocess.Popen([sys.executable, "-c", writer, str(tmp_path / "c"), name]) for name in "abcd"]
    assert [run.wait(timeout=120) for run in runs] == [0, 0, 0, 0]
    cache = SharedCache(tmp_path / "c")
    keys = [f"{n}-{i}" for n in "abcd" for i in range(50)]
    assert len(cache.get_many("parse", keys)) == 200
    cache.close()


def test_sizes_and_ages_parse_and_bad_ones_are_named():
    assert parse_size("2GB") == 2 * 1024**3 and parse_size("500mb") == 500 * 1024**2 and parse_size(10) == 10
    assert parse_age("30d") == 30 * 86400 and parse_age("12h") == 43200
    for bad in ("lots", "5XB"):
        with pytest.raises(ValueError):
            parse_size(bad)
    with pytest.raises(ValueError):
        parse_age("soon")
    assert parse_config({"cache_max_size": "1GB", "cache_dir": "~/c"}) == ScoutConfig(
        cache_max_bytes=1024**3, cache_dir="~/c")
    with pytest.raises(ConfigError, match="cache_max_size = 'huge' is not allowed"):
        parse_config({"cache_max_size": "huge"})


def test_switched_off_cache_finds_and_keeps_nothing_quietly(monkeypatch):
    monkeypatch.setenv("DOIT_SCOUT_CACHE", "off")
    assert cache_location("/somewhere") is None
    cache = SharedCache(None)
    cache.put_many("test", {"a": 1})
    assert cache.get_many("test", ["a"]) == {} and not cache.enabled and cache.take_warnings() == []
