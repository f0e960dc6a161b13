import os
from pathlib import Path

from helpers import OLD_NS, age_files, scout, write_files

from doit_scout.analyzers.hashing import (
    RACY_WINDOW_NS,
    FileStat,
    HashRecord,
    content_hash,
    is_hash_reusable,
    read_and_hash,
)

STAT = FileStat(mtime_ns=10 * RACY_WINDOW_NS, size=5, inode=7, ctime_ns=10 * RACY_WINDOW_NS)


def test_unchanged_stat_hashed_well_after_mtime_is_trusted():
    assert is_hash_reusable(HashRecord("d", STAT, STAT.mtime_ns + RACY_WINDOW_NS), STAT)


def test_racily_clean_record_is_not_trusted():
    # Hashed in the same timestamp window as the last write: a second write could hide.
    assert not is_hash_reusable(HashRecord("d", STAT, STAT.mtime_ns + RACY_WINDOW_NS - 1), STAT)


def test_any_stat_field_change_distrusts_the_record():
    record = HashRecord("d", STAT, STAT.mtime_ns + 10 * RACY_WINDOW_NS)
    for changed in (
        FileStat(STAT.mtime_ns + 1, STAT.size, STAT.inode, STAT.ctime_ns),
        FileStat(STAT.mtime_ns, STAT.size + 1, STAT.inode, STAT.ctime_ns),
        FileStat(STAT.mtime_ns, STAT.size, STAT.inode + 1, STAT.ctime_ns),
        FileStat(STAT.mtime_ns, STAT.size, STAT.inode, STAT.ctime_ns + 1),
    ):
        assert not is_hash_reusable(record, changed)


def test_chunked_hash_equals_whole_hash(tmp_path: Path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "big").write_bytes(data)
    assert read_and_hash(tmp_path / "big", keep_bytes=False) == (content_hash(data), None)


def test_stat_cache_skips_reading_unchanged_files(project: Path):
    age_files(project)
    first = scout(project)
    assert first.files_read == len(first.state.files)
    second = scout(project)
    assert second.files_read == 0 and not second.changes


def test_recently_written_files_are_read_again(project: Path):
    age_files(project)
    scout(project)
    (project / "pkg" / "util.py").write_text("def base():\n    return 40\n")
    assert scout(project).files_read == 1
    # Still inside the racy window: the stat cache does not vouch for it yet.
    assert scout(project).files_read == 1


def test_edit_that_keeps_size_and_mtime_is_detected(project: Path):
    age_files(project)
    before = scout(project)
    path = project / "pkg" / "util.py"
    text = path.read_text()
    path.write_text(text.replace("41", "42"))
    os.utime(path, ns=(OLD_NS, OLD_NS))
    after = scout(project)
    assert after.changes.modified == ("pkg/util.py",)
    assert after.state.files["pkg/util.py"].digest != before.state.files["pkg/util.py"].digest


def test_change_detection_is_exact(project: Path):
    age_files(project)
    scout(project)
    (project / "pkg" / "core.py").write_text("from pkg import util\n")
    (project / "pkg" / "extra.py").unlink()
    write_files(project, {"pkg/new.py": "import pkg.core\n"})
    (project / "pkg" / "util.py").touch()  # new mtime, same bytes: not a modification
    changes = scout(project).changes
    assert changes.added == ("pkg/new.py",)
    assert changes.modified == ("pkg/core.py",)
    assert changes.deleted == ("pkg/extra.py",)
    assert changes.unchanged == 8
