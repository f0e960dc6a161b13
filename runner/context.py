"""The context of one doit run: the project root, its configuration, the cache and the scout state.

A run makes one (dodo.py: the task creators share it; `doit explain` makes its own) and hands it to
the scout, the build steps and the tests, so that none reopens the cache from the configuration.
Analyzers never see it: they take plain inputs.
"""

from __future__ import annotations

import atexit
from dataclasses import dataclass
from pathlib import Path

from doit_scout.cache_store import CacheStore
from doit_scout.config import ScoutConfig
from doit_scout.remote_cache import tiered
from doit_scout.scout_state import ScoutState
from doit_scout.shared_cache import SharedCache, cache_location, cache_trust


@dataclass(frozen=True)
class KnownState:
    """The scout state this run last saved or read, and the identity (mtime, size, inode) of the
    state file then: the gates of one run read the file once, and again only after a scout saved it."""

    file_identity: tuple[int, int, int]
    state: ScoutState


class RunContext:
    def __init__(self, root: Path, config: ScoutConfig, cache: CacheStore | None = None) -> None:
        """`cache`: the store to use; by default the process's store for the configured location,
        opened when first used."""
        self.root = root
        self.config = config
        self._cache = cache
        self.known_state: KnownState | None = None  # see scout.current_state

    @property
    def cache(self) -> CacheStore:
        # Opened on first use, not with the context: `doit list`, `doit forget` and `doit help`
        # create the tasks too, and must not make a cache folder and a key for nothing.
        if self._cache is None:
            self._cache = open_cache(self.config)
        return self._cache


_open_caches: dict[Path | None, CacheStore] = {}


def open_cache(config: ScoutConfig) -> CacheStore:
    """The process's store at the configured location, opened once (its counts span the doit run):
    the local cache, with a remote behind it when `remote_cache` is configured."""
    folder = cache_location(config.cache_dir)
    if folder not in _open_caches:
        trust, problem = cache_trust(config.cache_trust)
        local = SharedCache(folder, config.cache_max_bytes, trust=trust)
        if problem:
            local.warnings.insert(0, problem)
        _open_caches[folder] = tiered(local, config)
    return _open_caches[folder]


@atexit.register
def close_caches() -> None:
    """Let go of the process's stores, as the end of a doit run does; the next use opens them again."""
    caches = list(_open_caches.values())
    _open_caches.clear()
    for cache in caches:
        cache.close()
