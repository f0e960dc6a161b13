"""Hashing the project's files through the stat cache."""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from doit_scout.analyzers.hashing import (
    FileStat,
    HashRecord,
    is_hash_reusable,
    is_regular_file,
    read_and_hash,
)

UNREADABLE_PREFIX = "unreadable:"
# A path with a file where one of its folders would be (`pkg/mod.py/__init__.py`, which a module
# lookup probes) names nothing, as a path with a missing folder does.
_ABSENT = (FileNotFoundError, NotADirectoryError)


@dataclass
class HashedFiles:
    """Digests of the files that exist, the stat cache for them, and how many were read."""

    entries: dict[str, str] = field(default_factory=dict)
    records: dict[str, HashRecord] = field(default_factory=dict)
    sources: dict[str, bytes] = field(default_factory=dict)  # bytes of module files read this run
    read: int = 0


def hash_files(
    root: Path, paths: list[str], records: Mapping[str, HashRecord], wanted_sources: set[str],
    warnings: list[str],
) -> HashedFiles:
    """Hash `paths` below `root`, trusting `records` where the stat cache allows; the bytes of
    `wanted_sources` that are read are kept for parsing."""
    out = HashedFiles()
    prefix = f"{root}{os.sep}"
    for path in paths:
        full = prefix + path
        try:
            st = os.stat(full)
        except _ABSENT:
            continue  # listed by git but deleted, or vanished during the scan: gone
        except OSError as err:  # a symlink loop, a too-long name...
            out.entries[path] = _unreadable(path, err, warnings)
            continue
        if not is_regular_file(st):
            continue  # a folder (git submodule), a FIFO or a device: not a file we can hash
        current = FileStat.of(st)
        record = records.get(path)
        if record is not None and is_hash_reusable(record, current):
            out.entries[path] = record.digest
            out.records[path] = record
            continue
        hashed_at = time.time_ns()
        try:
            digest, data = read_and_hash(full, keep_bytes=path in wanted_sources)
        except _ABSENT:
            continue
        except OSError as err:
            out.entries[path] = _unreadable(path, err, warnings)
            continue
        out.read += 1
        out.entries[path] = digest
        out.records[path] = HashRecord(digest, current, hashed_at)
        if data is not None:
            out.sources[path] = data
    return out


def _unreadable(path: str, err: OSError, warnings: list[str]) -> str:
    warnings.append(f"cannot read {path}: {err.strerror or err}; it counts as changed on every run")
    # A digest that never repeats: whatever depends on an unreadable file is never up to date.
    return f"{UNREADABLE_PREFIX}{errno.errorcode.get(err.errno or 0, 'error')}:{time.time_ns()}"


def digest_on_disk(root: Path, path: str) -> str:
    """The digest of a file outside the inventory (one code was seen to read), "absent" when there
    is none, "folder" for a folder; an unreadable file counts as changed on every run."""
    full = root / path
    try:
        if full.is_dir():
            return "folder"
        return read_and_hash(full, keep_bytes=False)[0]
    except _ABSENT:
        return "absent"
    except OSError as err:
        return _unreadable(path, err, [])
