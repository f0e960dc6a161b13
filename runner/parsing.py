"""Parse results of module files: from the parse cache, or by parsing (in parallel when many)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Mapping

from doit_scout.analyzers.hashing import content_hash
from doit_scout.analyzers.imports import PARSER_VERSION, ParseResult, parse_imports
from doit_scout.cache_store import CacheStore
from doit_scout.file_hashing import UNREADABLE_PREFIX
from doit_scout.scout_state import FileEntry

PARSE_KIND = "parse"
# Below this many cold files, starting worker processes costs more than parsing in this process.
PARALLEL_PARSE_THRESHOLD = 200


def parse_modules(
    root: Path, module_paths: list[str], files: Mapping[str, FileEntry], sources: Mapping[str, bytes],
    cache: CacheStore, workers: int, warnings: list[str], *, reuse: bool = True,
) -> tuple[dict[str, ParseResult], int, int]:
    """Parse results of `module_paths`, from the shared cache (unless not `reuse`) or by parsing;
    how many of each."""
    parses: dict[str, ParseResult] = {}
    needed: dict[str, list[str]] = {}  # content digest -> paths
    for path in module_paths:
        digest = files[path].digest
        if digest.startswith(UNREADABLE_PREFIX):
            parses[path] = ParseResult(error="file could not be read")
        else:
            needed.setdefault(digest, []).append(path)
    if not needed:
        return parses, 0, 0

    found = {}
    cached = cache.get_many(PARSE_KIND, map(_key_of, needed)) if reuse else {}
    for key, value in cached.items():
        try:
            found[key.partition(":")[2]] = ParseResult.from_json(value)
        except (KeyError, TypeError, ValueError):
            cache.delete(PARSE_KIND, key)  # passed its checksum, yet not a parse result: drop it
    unreadable: dict[str, ParseResult] = {}
    to_parse = {}
    for digest, paths in needed.items():
        if digest in found:
            continue
        data = next((sources[p] for p in paths if p in sources), None)
        if data is None:  # the stat cache vouched for it, but the cache no longer has its parse
            data = _read_unchanged(root / paths[0], digest)
        if data is None:
            warnings.append(f"{paths[0]} changed or vanished during the scan; the next scout sees it")
            unreadable[digest] = ParseResult(error="changed during the scan")
        else:
            to_parse[digest] = data
    fresh = _parse_many(to_parse, workers)
    cache.put_many(PARSE_KIND, {_key_of(d): r.to_json() for d, r in fresh.items()})
    for digest, paths in needed.items():
        for path in paths:
            parses[path] = found.get(digest) or fresh.get(digest) or unreadable[digest]
    return parses, len(fresh), len(found)


def _key_of(digest: str) -> str:
    return f"{PARSER_VERSION}:{digest}"


def _read_unchanged(path: Path, digest: str) -> bytes | None:
    """The file's bytes if they still hash to `digest`."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if content_hash(data) == digest else None


def _process_context() -> multiprocessing.context.BaseContext:
    """fork starts workers fastest, but forking a process that runs threads (an xdist worker, an
    IDE host) can deadlock the child: then a fresh interpreter serves them instead."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _parse_many(sources: Mapping[str, bytes], workers: int) -> dict[str, ParseResult]:
    digests = list(sources)
    if workers <= 1 or len(digests) < PARALLEL_PARSE_THRESHOLD:
        return {d: parse_imports(sources[d]) for d in digests}
    chunk = max(16, len(digests) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers, mp_context=_process_context()) as pool:
        results = pool.map(parse_imports, (sources[d] for d in digests), chunksize=chunk)
        return dict(zip(digests, results))
