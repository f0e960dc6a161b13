"""Content hashes of files, and when a recorded hash can be trusted without reading the file."""

from __future__ import annotations

import os
import stat as stat_module
from typing import NamedTuple

import xxhash

CHUNK = 1 << 20
# A file modified within this window of the moment its hash was taken may be modified again without
# its stat changing (coarse timestamps: FAT has 2 s): git's "racily clean" case. Such a hash is
# not trusted, and the file is read again next time.
RACY_WINDOW_NS = 2_000_000_000


def content_hash(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


# Named tuples, not dataclasses: one of each per project file is loaded on every run.
class FileStat(NamedTuple):
    mtime_ns: int
    size: int
    inode: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> "FileStat":
        return cls(st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


class HashRecord(NamedTuple):
    """A file's hash, the stat it had when read, and when it was read."""

    digest: str
    stat: FileStat
    hashed_at_ns: int


def is_hash_reusable(record: HashRecord, current: FileStat) -> bool:
    """True when the file cannot have changed since `record` was taken."""
    return record.stat == current and record.stat.mtime_ns + RACY_WINDOW_NS <= record.hashed_at_ns


def is_regular_file(st: os.stat_result) -> bool:
    return stat_module.S_ISREG(st.st_mode)


def read_and_hash(path: str | os.PathLike[str], keep_bytes: bool) -> tuple[str, bytes | None]:
    """Hash a file in chunks (huge files never sit in memory whole unless `keep_bytes`)."""
    hasher = xxhash.xxh3_128()
    kept = bytearray() if keep_bytes else None
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
            if kept is not None:
                kept += chunk
    return hasher.hexdigest(), (bytes(kept) if kept is not None else None)
