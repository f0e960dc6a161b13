"""What a checkout's content was known to read when its tests were recorded.

What running code was seen to read is kept by the content of that code (doit_scout.observed) and
only grows: on another branch, the same bytes of a module may read more (settings there switch a
read on), and every test that reaches the module then has an input more, here too. Going back to
content recorded green would run its tests again.

So each recording also leaves, under the content of the whole checkout (every file's digest, the
test config, the environment: nothing observed), the observations its fingerprints were computed
with. The same content computes those fingerprints again: a record found under one was made with
these very files, and what its run read is among those observations, so it holds now."""

from __future__ import annotations

from typing import Mapping

import xxhash

from doit_scout.cache_store import CacheStore
from doit_scout.scout_state import ScoutState

RECORDED_OBSERVATIONS_KIND = "observed-recorded"
_GENERATIONS_KEPT = 3  # runs at one content that learnt more, each with records under its own

Observations = Mapping[str, frozenset[str]]


def checkout_content(state: ScoutState, config_digest: str, environment: str) -> str:
    hasher = xxhash.xxh3_128(f"{config_digest}\0{environment}\0".encode("utf-8", "surrogateescape"))
    for path, entry in sorted(state.files.items()):
        hasher.update(f"{path}\0{entry.digest}\0{entry.category.value}\0".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


class RecordedObservations:
    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache

    def load(self, content: str) -> list[dict[str, frozenset[str]]]:
        """The observations records of `content` were made with, newest first."""
        value = self.cache.get_many(RECORDED_OBSERVATIONS_KIND, [content]).get(content)
        if value is None:
            return []
        try:
            return [{str(s): frozenset(str(t) for t in targets) for s, targets in generation.items()}
                    for generation in value["generations"]]
        except (AttributeError, KeyError, TypeError):
            self.cache.counts.dropped[RECORDED_OBSERVATIONS_KIND] += 1
            self.cache.delete(RECORDED_OBSERVATIONS_KIND, content)
            return []

    def add(self, content: str, observed: Observations) -> None:
        generations = [dict(observed), *(g for g in self.load(content) if g != observed)][:_GENERATIONS_KEPT]
        self.cache.put_many(RECORDED_OBSERVATIONS_KIND, {content: {"generations": [
            {source: sorted(targets) for source, targets in sorted(g.items())} for g in generations]}})
