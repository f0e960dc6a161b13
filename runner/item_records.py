"""Test-item records: per node id, what its own runs ran, and its outcome under those inputs.

A test file whose fingerprint has no green record is looked at item by item when only bodies
changed (its frame, doit_scout.executed, is the same: the file itself, its conftest.py files,
the import-time code of what it imports, the config and the environment are as they were). Each
item of the file, as its last whole run under that frame collected them (`frame-items`), has the
bodies its own traced runs ran (its windows, the setup of the fixtures it used, what ran while
modules were imported, and what ran before it in its process that its code can reach by name:
today's rule of doit_scout.executed, per item), a union over every run under the frame, as the
file's own record is. Its fingerprint is the frame with those bodies' digests (and what they
read); an item with a green outcome under it has nothing to run for. The stale items run alone
(by node id, as a re-run of failed nodes does); a file none of whose items is stale is not
collected. Whatever is not known (no item list, an item never recorded, an untraced run) runs:
never a false green, and when in doubt the whole file."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Collection, Iterable, Mapping

import xxhash

from doit_scout.analyzers.selection import GREEN_OUTCOMES, TestDecision
from doit_scout.cache_store import CacheStore
from doit_scout.executed import Bodies
from doit_scout.tracing import ENVIRON

if TYPE_CHECKING:
    from doit_scout.execution import PytestRun

ITEM_BODIES_KIND = "item-bodies"  # (frame, node) -> the bodies the item's runs ran, with their digests then
# Bodies with their digests that every item of a run under a frame ran (import-time code, shared
# fixtures): kept once, and named by each item's own entry, which holds the rest.
ITEM_SHARED_KIND = "item-shared"
ITEM_OUTCOME_KIND = "item-outcome"  # (node, item fingerprint) -> its outcome
FRAME_ITEMS_KIND = "frame-items"  # frame -> the file's items when it last ran whole under it


@dataclass(frozen=True)
class ItemTrace:
    """What one item's traced run ran (`code`), the log of its process (`before` of which ran
    before it ended), and why its record is incomplete (None: it is not)."""

    code: set[str]
    log: tuple[str, ...]
    before: int
    broken: str | None


def _key(*parts: str) -> str:
    return xxhash.xxh3_128_hexdigest("\0".join(parts).encode("utf-8", "surrogateescape"))


class ItemStore:
    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache

    def items_of(self, frames: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
        """Path -> its items, for the files (-> frame) whose last whole run under it said."""
        found = {}
        by_frame = {frame: path for path, frame in frames.items()}
        for frame, value in self.cache.get_many(FRAME_ITEMS_KIND, by_frame).items():
            try:
                if value["frame"] != frame or value["path"] != by_frame[frame]:
                    raise ValueError("another file's items")
                found[by_frame[frame]] = tuple(str(n) for n in value["nodes"])
            except (KeyError, TypeError, ValueError):
                self._drop(FRAME_ITEMS_KIND, frame)
        return found

    def bodies_of(self, frame: str, nodes: Iterable[str]) -> dict[str, dict[str, str]]:
        """Node -> its recorded bodies (-> their digest when last recorded), for those that have
        some; an item whose shared part is gone (evicted, damaged) has none."""
        keys = {_key(frame, node): node for node in nodes}
        entries = self.cache.get_many(ITEM_BODIES_KIND, keys)
        shared = self._shared(frame, {str(v["shared"]) for v in entries.values()
                                      if isinstance(v, dict) and v.get("shared") is not None})
        found = {}
        for key, value in entries.items():
            try:
                if value["frame"] != frame or value["node"] != keys[key]:
                    raise ValueError("another item's bodies")
                own = {str(b): str(d) for b, d in value["bodies"].items()}
                if value.get("shared") is not None:
                    own.update(shared[value["shared"]])
                found[keys[key]] = own
            except (AttributeError, KeyError, TypeError, ValueError):
                self._drop(ITEM_BODIES_KIND, key)
        return found

    def _shared(self, frame: str, keys: Collection[str]) -> dict[str, dict[str, str]]:
        found = {}
        for key, value in self.cache.get_many(ITEM_SHARED_KIND, [str(k) for k in keys]).items():
            try:
                if value["frame"] != frame:
                    raise ValueError("another frame's bodies")
                found[key] = {str(b): str(d) for b, d in value["bodies"].items()}
            except (AttributeError, KeyError, TypeError, ValueError):
                self._drop(ITEM_SHARED_KIND, key)
        return found

    def put_bodies(self, bodies: Mapping[tuple[str, str], dict[str, str]]) -> None:
        """(frame, node) -> the item's bodies with their digests: what all the items of a frame
        have in common is written once."""
        values: dict[str, dict] = {}
        shared_values: dict[str, dict] = {}
        for frame in {f for f, _ in bodies}:
            items = {node: found for (f, node), found in bodies.items() if f == frame}
            common = set.intersection(*(set(found.items()) for found in items.values())) if len(items) > 1 else set()
            shared = None
            if common:
                shared = _key(frame, *sorted(f"{b}={d}" for b, d in common))
                shared_values[shared] = {"frame": frame, "bodies": dict(sorted(common))}
            for node, found in items.items():
                values[_key(frame, node)] = {"frame": frame, "node": node, "shared": shared,
                                             "bodies": {b: d for b, d in found.items() if (b, d) not in common}}
        # the shared parts first: an item entry never names one that is not there
        for kind, entries in ((ITEM_SHARED_KIND, shared_values), (ITEM_BODIES_KIND, values)):
            if entries:
                self.cache.put_many(kind, entries)

    def outcomes(self, fingerprints: Mapping[str, str]) -> dict[str, str]:
        """Node -> its recorded outcome under its fingerprint (node -> fingerprint)."""
        keys = {_key(node, fp): node for node, fp in fingerprints.items()}
        found = {}
        for key, value in self.cache.get_many(ITEM_OUTCOME_KIND, keys).items():
            node = keys[key]
            try:
                if value["node"] != node or value["fingerprint"] != fingerprints[node]:
                    raise ValueError("another item's outcome")
                found[node] = str(value["outcome"])
            except (KeyError, TypeError, ValueError):
                self._drop(ITEM_OUTCOME_KIND, key)
        return found

    def _drop(self, kind: str, key: str) -> None:
        self.cache.counts.dropped[kind] += 1
        self.cache.delete(kind, key)


@dataclass(frozen=True)
class FileItems:
    """What item records say of one file: its items, and those with no green record of their inputs
    (each with the bodies that changed since it last ran, when that is why)."""

    nodes: tuple[str, ...]
    stale: dict[str, tuple[str, ...]]


def stale_items(store: ItemStore, frames: Mapping[str, str], digests: Bodies) -> dict[str, FileItems]:
    """For the files (-> frame) whose items are known under their frame."""
    listed = store.items_of(frames)
    recorded: dict[str, dict[str, str]] = {}
    for path, nodes in listed.items():
        recorded.update(store.bodies_of(frames[path], nodes))
    outcomes = store.outcomes({node: digests.fingerprint(frames[path], recorded[node])
                               for path, nodes in listed.items() for node in nodes if node in recorded})
    found = {}
    for path, nodes in listed.items():
        stale = {node: _changed(recorded.get(node, {}), digests) for node in nodes
                 if outcomes.get(node) not in GREEN_OUTCOMES}
        found[path] = FileItems(nodes, stale)
    return found


def _changed(recorded: Mapping[str, str], digests: Bodies) -> tuple[str, ...]:
    """The bodies whose digest is not the one recorded (say why an item runs)."""
    return tuple(sorted(b for b, d in recorded.items() if digests.digest(b) != d))


def narrow_to_items(decisions: list[TestDecision], frames: Mapping[str, str | None], traced: Collection[str],
                    store: ItemStore, digests: Bodies | None) -> list[TestDecision]:
    """Decisions to run whole files whose inputs changed, narrowed to the items whose own do; only
    for files whose runs were traced (`traced`): one whose record is incomplete (a child process,
    another trace function) is decided by its static fingerprint, whole."""
    wanted = {d.path: frame for d in decisions if d.action == "run" and d.path in traced
              and (frame := frames.get(d.path)) and _narrowable(d.reasons)}
    if digests is None or not wanted:
        return decisions
    known = stale_items(store, wanted, digests)
    return [_narrowed(d, known[d.path]) if d.path in known else d for d in decisions]


def _narrowable(reasons: tuple[str, ...]) -> bool:
    """A file that runs whenever anything does runs whole (its items are not its inputs' to decide)."""
    return "always_run" not in reasons


def _narrowed(decision: TestDecision, items: FileItems) -> TestDecision:
    total = len(items.nodes)
    if not items.stale:
        return replace(decision, action="skip", nodes=(), reasons=(
            f"each of its {total} tests has a green record of what it ran, unchanged",) + decision.reasons)
    if len(items.stale) == total:
        return decision
    why = [f"{node.partition('::')[2]}: {', '.join(bodies) if bodies else 'no record of its inputs'}"
           + (" changed" if bodies else "") for node, bodies in sorted(items.stale.items())]
    return replace(decision, action="rerun", nodes=tuple(sorted(items.stale)), reasons=(
        f"{len(items.stale)} of its {total} tests ran code that changed or have no record: {'; '.join(why)}",
        *decision.reasons))


def record_items(store: ItemStore, run: PytestRun, frames: Mapping[str, str | None], digests: Bodies,
                 reached: Callable[[str], Collection[str]], stale: Collection[str]) -> None:
    """Record each traced item that ran to a verdict, of a file whose inputs held while it ran and
    whose trace is whole, under its file's frame; and the items of the files that ran whole (but
    those the project's own configuration deselected)."""
    skip = {*stale, *run.untraced}
    whole = run.complete_files() - run.partial_files
    by_file: dict[str, list[str]] = {}
    for node, path in run.items.items():
        if path is not None and path in whole and node not in run.deselected:
            by_file.setdefault(path, []).append(node)
    listed = {frame: {"frame": frame, "path": path, "nodes": sorted(nodes)}
              for path, nodes in by_file.items() if path not in skip and (frame := frames.get(path))}
    carriable: dict[tuple[int, str], frozenset[str]] = {}
    ran: dict[str, tuple[str, set[str]]] = {}
    for node, trace in run.item_traces.items():
        path = run.items.get(node)
        frame = frames.get(path) if path is not None else None
        if path is None or frame is None or path in skip or trace.broken or node not in run.outcomes:
            continue
        key = (id(trace.log), path)
        if key not in carriable:  # what of its process's log the file's code can reach by name
            carriable[key] = frozenset(digests.within(set(trace.log), reached(path)))
        ran[node] = (frame, set(digests.known(trace.code)) | set(digests.known(_carried(trace, carriable[key]))))
    known: dict[str, dict[str, str]] = {}
    for frame in {f for f, _ in ran.values()}:
        known.update(store.bodies_of(frame, [n for n, (f, _) in ran.items() if f == frame]))
    bodies_values: dict[tuple[str, str], dict[str, str]] = {}
    outcome_values = {}
    for node, (frame, bodies) in ran.items():
        merged = set(known.get(node, {})) | bodies  # every path it was seen to take
        bodies_values[frame, node] = {b: digests.digest(b) for b in sorted(merged)}
        fingerprint = digests.fingerprint(frame, merged)
        outcome_values[_key(node, fingerprint)] = {"node": node, "fingerprint": fingerprint,
                                                   "outcome": run.outcomes[node]}
    store.put_bodies(bodies_values)
    for kind, values in ((ITEM_OUTCOME_KIND, outcome_values), (FRAME_ITEMS_KIND, listed)):
        if values:
            store.cache.put_many(kind, values)


def _carried(trace: ItemTrace, carriable: frozenset[str]) -> list[str]:
    """What ran before the item in its process, not by it, that its file's code can reach by name
    (Bodies.within over the prefix of the log: the environment variables only with some body)."""
    found = [b for b in trace.log[:trace.before] if b in carriable and b not in trace.code]
    bodies = [b for b in found if not b.startswith(ENVIRON + "::")]
    return found if bodies else []
