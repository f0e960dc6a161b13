"""Bytecode that Python would run instead of a source file's current content.

Python, and pytest's assertion rewriting, reuse a timestamp-based .pyc whose header holds the
source's mtime in whole seconds and its size. A file rewritten within the same second at the same
size (an editor's save, a formatter, `git checkout`) therefore imports as its old content, and a
test of the new content could pass on the old one: a false green, recorded under the new content's
fingerprint. Before project code runs, such .pyc files are deleted; they are only a cache.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

# A .pyc written this long after its source's last change was compiled from that content. Within
# it, a rewrite in the same second can hide behind the header, even one made while Python compiled.
# Two seconds, since some filesystems keep mtimes to the second.
_RACY_NS = 2_000_000_000
_HEADER_BYTES = 16  # magic, flags, source mtime, source size: 4 bytes each, little-endian


def discard_stale_bytecode(root: Path, sources: Iterable[str]) -> list[str]:
    """Delete the .pyc files Python or pytest could load in place of these sources (paths
    relative to `root`); returns the sources whose bytecode went."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for source in sources:
        if source.endswith(".py"):
            folder, _, name = source.rpartition("/")
            by_folder[folder].append(name)
    discarded = []
    for folder, names in by_folder.items():
        directory = root / folder
        pycs = _bytecode_by_stem(Path(importlib.util.cache_from_source(str(directory / names[0]))).parent)
        for name in names:
            for pyc in pycs.get(name[:-3], ()):
                if _may_hide_source(pyc, directory / name):
                    try:
                        os.unlink(pyc)
                    except FileNotFoundError:
                        pass
                    discarded.append(f"{folder}/{name}" if folder else name)
    return discarded


def _bytecode_by_stem(cache_dir: Path) -> dict[str, list[str]]:
    """This interpreter's .pyc files in `cache_dir` by source stem: `mod.cpython-311.pyc` and
    pytest's `mod.cpython-311-pytest-8.3.4.pyc`."""
    marker = f".{sys.implementation.cache_tag}"
    found: dict[str, list[str]] = defaultdict(list)
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:  # no __pycache__ here
        return found
    for entry in entries:
        stem, tagged, rest = entry.name.partition(marker)
        if tagged and stem and rest.endswith(".pyc") and (rest == ".pyc" or rest.startswith("-pytest-")):
            found[stem].append(entry.path)
    return found


def _may_hide_source(pyc: str, source: Path) -> bool:
    """Whether Python would accept `pyc` for `source` as it is now, although it may have been
    compiled from an earlier content of the same size in the same second."""
    try:
        source_stat = source.stat()
        if os.stat(pyc).st_mtime_ns > source_stat.st_mtime_ns + _RACY_NS:
            return False
        with open(pyc, "rb") as stream:
            header = stream.read(_HEADER_BYTES)
    except OSError:
        return False
    if len(header) < _HEADER_BYTES or int.from_bytes(header[4:8], "little") != 0:
        return False  # hash-based bytecode is checked against the source's content
    mtime, size = int.from_bytes(header[8:12], "little"), int.from_bytes(header[12:16], "little")
    return mtime == int(source_stat.st_mtime) & 0xFFFFFFFF and size == source_stat.st_size & 0xFFFFFFFF
