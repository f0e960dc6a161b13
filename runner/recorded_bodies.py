"""Which bodies a content's record was fingerprinted with.

What is known of a frame's executed code (doit_scout.executed) grows with every run under that
frame, whatever the content of its bodies: an edit inside a function keeps the frame, so the
bodies the edited code ran (a function it now calls), and those that ran before a test in its
process (which files share an xdist worker changes from run to run), join it. A record made
before is then under a fingerprint no longer computed, and going back to content that passed
would run its tests again.

So each traced record also leaves, under its unit's content (the static fingerprint, which
covers all code the unit can reach and what it was seen to read, with the frame), the bodies
its fingerprint was computed from. The same content computes that fingerprint again, with
today's digests of those bodies and values of those environment variables: a record found under
it was made with the same code, reading the same environment, as now."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Mapping

import xxhash

from doit_scout.cache_store import CacheStore
from doit_scout.executed import Bodies, ExecutedCode
from doit_scout.scout_state import ScoutState

RECORDED_BODIES_KIND = "executed-recorded"


def content_key(static: str, frame: str) -> str:
    return xxhash.xxh3_128_hexdigest(f"{static}\0{frame}".encode())


class RecordedBodies:
    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache

    def load(self, contents: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, ...]]:
        """Unit -> the bodies its content's last traced record was fingerprinted with, for the
        units (-> static and frame fingerprints) that have one."""
        keys = {content_key(static, frame): path for path, (static, frame) in contents.items()}
        found: dict[str, tuple[str, ...]] = {}
        for key, value in self.cache.get_many(RECORDED_BODIES_KIND, keys).items():
            try:
                found[keys[key]] = tuple(str(b) for b in value["bodies"])
            except (KeyError, TypeError):
                self.cache.counts.dropped[RECORDED_BODIES_KIND] += 1
                self.cache.delete(RECORDED_BODIES_KIND, key)
        return found

    def add(self, static: Mapping[str, str | None], frames: Mapping[str, str | None],
            bodies: Mapping[str, Collection[str]], recorded: Collection[str]) -> None:
        """Keep, under each `recorded` unit's static and frame fingerprints, the `bodies` its
        traced record was just made with."""
        values = {content_key(fp, frame): {"bodies": sorted(bodies[path])} for path in recorded
                  if path in bodies and (fp := static.get(path)) and (frame := frames.get(path))}
        if values:
            self.cache.put_many(RECORDED_BODIES_KIND, values)


@dataclass
class TracedFingerprints:
    """The fingerprints executed code gives the units whose runs were traced."""

    fingerprints: dict[str, str] = field(default_factory=dict)  # from every body known under the frame
    bodies: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what those were computed from
    recorded: dict[str, str] = field(default_factory=dict)  # from the bodies of the content's last record
    # Units whose runs read what the static fingerprint does not cover (a file as text, an
    # environment variable): no record under the static one stands in for theirs.
    exact: set[str] = field(default_factory=set)
    digests: Bodies | None = None  # the bodies' digests now (None: executed code is not recorded)


def traced_fingerprints(cache: CacheStore, state: ScoutState, static: Mapping[str, str | None],
                        frames: Mapping[str, str | None], body_inputs: Mapping[str, str]) -> TracedFingerprints:
    """`static` and `frames`: the units' fingerprints; `body_inputs`: the digests of what bodies
    read (analyzers.unit_graph)."""
    bodies = Bodies(state, body_inputs)
    found = TracedFingerprints(digests=bodies)
    executed = ExecutedCode(cache).load({f for f in frames.values() if f})
    traced = {path: frame for path, frame in frames.items() if frame and executed.get(frame) is not None}
    for path, frame in traced.items():
        ran = executed[frame]
        assert ran is not None
        found.fingerprints[path], found.bodies[path] = bodies.fingerprint(frame, ran), ran
        if bodies.beyond_static(ran):  # what a content's record ran is among what its frame ran
            found.exact.add(path)
    contents = {path: (fp, frame) for path, frame in traced.items() if (fp := static.get(path))}
    for path, recorded in RecordedBodies(cache).load(contents).items():
        found.recorded[path] = bodies.fingerprint(contents[path][1], recorded)
    return found
