"""End to end: a project on a disk that refuses writes, and file names that are not UTF-8."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

from helpers import doit_tests, git_init, run_doit, write_files

from doit_scout.project_state import LAST_RUN_FILE, read_checked

# Writes past 4 KB fail with EFBIG, as on a full disk: doit's task database (12 KB after a first run)
# cannot grow its journal, nor the shared cache its WAL.
FILE_SIZE_LIMIT = 4096


def _limited_doit(root: Path) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))

    return subprocess.run([sys.executable, "-m", "doit"], cwd=root, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"}, timeout=120,
                          preexec_fn=limit)


def _state_files(root: Path) -> dict[str, object]:
    """Every JSON file of the checkout's state, read through its digest check (CorruptState if damaged);
    last-run.json, for people and other programs, is plain JSON."""
    return {p.name: json.loads(p.read_text()) if p.name == LAST_RUN_FILE else read_checked(p)
            for p in sorted((root / ".scout").glob("*.json"))}


def test_a_disk_that_refuses_writes_says_so_in_one_line_and_loses_nothing(project: Path,
                                                                          shared_cache_folder: Path):
    write_files(project, {"dodo.py": "from doit_scout.dodo import *\n"})
    git_init(project)
    # A first run cannot even make the database (doit would call it "a bad format or corrupted").
    unmade = _limited_doit(project)
    assert unmade.returncode != 0 and "Traceback" not in unmade.stderr, unmade.stderr
    assert unmade.stderr.count("cannot write doit's task database") == 1, unmade.stderr
    first = run_doit(project)
    assert first.returncode == 0, first.stdout + first.stderr

    write_files(project, {"tests/test_new.py": "def test_new():\n    pass\n"})
    refused = _limited_doit(project)
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr and "OperationalError" not in refused.stderr, refused.stderr
    (line,) = [line for line in refused.stderr.splitlines() if "doit-deps.sqlite" in line]
    assert "disk" in line and "free space" in line and "run doit again" in line, line
    assert f"file size limit of {FILE_SIZE_LIMIT} bytes" in line, line  # what refused here: not the disk

    # Nothing lost: every state file still passes its check, the shared cache its integrity check,
    # and with writes allowed again the first run's records still serve; only the new file runs.
    _state_files(project)
    db = sqlite3.connect(shared_cache_folder / "cache.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    again = run_doit(project)
    assert again.returncode == 0, again.stdout + again.stderr
    last = json.loads((project / ".scout" / "last-run.json").read_text())["tests"]
    assert last["selected"] == ["tests/test_new.py"] and last["failed"] == []
    _, third = doit_tests(project)
    assert third["selected"] == []


READS_EVERY_DATA_FILE = "import os\n\ndef test_data():\n    for name in sorted(os.listdir(b'data')):\n" \
                        "        with open(os.path.join(b'data', name), 'rb') as f:\n            assert f.read()\n"


def test_file_names_that_are_not_utf8_are_explained_and_run(project: Path, monkeypatch):
    # A terminal whose encoding refuses what it cannot encode, as a UTF-8 locale other than C.UTF-8 does.
    monkeypatch.setenv("PYTHONIOENCODING", "utf-8:strict")
    tracked, untracked = project / os.fsdecode(b"data/caf\xe9.txt"), project / os.fsdecode(b"data/new-\xff.txt")
    write_files(project, {"dodo.py": "from doit_scout.dodo import *\n", "tests/test_data.py": READS_EVERY_DATA_FILE})
    tracked.parent.mkdir()
    tracked.write_bytes(b"1")
    git_init(project)
    untracked.write_bytes(b"1")
    _, first = doit_tests(project)
    assert "tests/test_data.py" in first["selected"]

    tracked.write_bytes(b"2")
    untracked.write_bytes(b"2")
    explained = run_doit(project, "explain")
    assert explained.returncode == 0 and "Traceback" not in explained.stderr, explained.stdout + explained.stderr
    text = " ".join(explained.stdout.split())  # a table cell wraps
    assert "data file changed: data/caf\\xe9.txt" in text and "data file changed: data/new-\\xff.txt" in text, text
    as_json = run_doit(project, "explain", "--json")
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    (reasons,) = [t["reasons"] for t in json.loads(as_json.stdout)["tests"] if t["path"] == "tests/test_data.py"]
    # The names as Python reads them from the disk: os.fsencode gives back the bytes.
    assert {os.fsencode(r.removeprefix("data file changed: ")) for r in reasons} == \
        {b"data/caf\xe9.txt", b"data/new-\xff.txt"}

    _, ran = doit_tests(project)
    assert ran["selected"] == ["tests/test_data.py"] and ran["failed"] == []
    _, again = doit_tests(project)
    assert again["selected"] == []
