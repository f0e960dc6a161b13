"""Executed code: the function bodies a test file's runs were seen to run, kept in the shared
cache under the file's frame fingerprint (UnitGraph.frame_of: everything the file depends on
but the bodies of the definitions it reaches). Its fingerprint is then the frame with the digests
of those bodies, and no other: a change inside a function that none of its tests ran leaves it
as it was, however its code can reach that function by name.

What a run saw is added to what is known under the same frame (a union): the same tests on the
same code run the same bodies, and a test whose path depends on something else (the time, a
random seed) has every path it was seen to take counted. A run whose record was incomplete (a
child process, another trace function: doit_scout.tracing) marks its frame untraced, and the
static fingerprint decides for it from then on.

A body is named `path::qualname` (analyzers.symbols' bodies); `path::*` is the whole file: one
code read as text, or that could not be parsed; `<environ>::NAME` is an environment variable the
project's code read, whose value here and now is its digest: a test whose path depends on it runs
again when it changes. The static fingerprint covers neither of the last two (it leaves comments
out, and the environment but for `test.env`), so a unit whose runs read one has no static stand-in
(Bodies.beyond_static)."""

from __future__ import annotations

import os
from typing import Callable, Collection, Iterable, Iterator, Mapping

import xxhash

from doit_scout.analyzers.categories import Category
from doit_scout.analyzers.symbol_graph import definition_node, whole_node
from doit_scout.cache_store import CacheStore
from doit_scout.scout_state import ScoutState
from doit_scout.tracing import DOC_SUFFIX, ENVIRON, ENVIRON_ALL, LITERALS, WHOLE_FILE

EXECUTED_KIND = "executed"
# Among a unit's bodies: it ran code its own code cannot reach by name (Bodies.unreached), so no
# static fingerprint may stand for its executed one (Bodies.beyond_static).
UNREACHED = f"<unreached>::{WHOLE_FILE}"


class ExecutedCode:
    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache

    def load(self, frames: Collection[str]) -> dict[str, tuple[str, ...] | None]:
        """Frame -> the bodies its runs ran (None: untraced), for the frames that have a record."""
        found: dict[str, tuple[str, ...] | None] = {}
        for frame, value in self.cache.get_many(EXECUTED_KIND, list(frames)).items():
            try:
                if value.get("untraced"):
                    found[frame] = None
                else:
                    found[frame] = tuple(str(b) for b in value["bodies"])
            except (AttributeError, KeyError, TypeError):
                self.cache.counts.dropped[EXECUTED_KIND] += 1
                self.cache.delete(EXECUTED_KIND, frame)
        return found

    def add(self, state: ScoutState, frames: Mapping[str, str | None], executed: Mapping[str, Collection[str]],
            untraced: Mapping[str, str], ran_before: Mapping[str, Collection[str]],
            reached: Callable[[str], Collection[str]]) -> None:
        """Merge what a run saw each unit run (`executed`, with `untraced` units and why) into what
        is known under its frame fingerprint (`frames`, over `state`: the code as it ran), with
        what ran before it in the same process (`ran_before`) that its code can reach by name
        (`reached` nodes): a test reads a cache, a singleton or a memo that an earlier test's
        call filled without running the code that filled it."""
        wanted = {frame: p for p in executed if (frame := frames.get(p))}
        known = self.load(wanted)
        known_bodies = Bodies(state)
        merged: dict[str, dict[str, object]] = {}
        for frame, path in wanted.items():
            if frame in known and known[frame] is None:
                continue
            if path in untraced:
                merged[frame] = {"untraced": untraced[path]}
                continue
            others = set(ran_before.get(path, ())) - set(executed[path])
            nodes = reached(path)
            carried = known_bodies.within(others, nodes) if others else ()
            own = set(known_bodies.known(executed[path]))
            bodies = set(known.get(frame) or ()) | own | set(known_bodies.known(carried))
            if known_bodies.unreached(own, nodes):
                bodies.add(UNREACHED)
            if bodies != set(known.get(frame) or ()) or frame not in known:
                merged[frame] = {"bodies": sorted(bodies)}
        if merged:
            self.cache.put_many(EXECUTED_KIND, merged)


def quiet_bodies(state: ScoutState) -> set[str]:
    """The function bodies of the project (`path::qualname`) that write nothing that outlives
    their call (analyzers.state_writes): what they computed cannot be what a later test reads."""
    found: set[str] = set()
    for path, node in state.module_of().items():
        names = state.graph.names.get(node)
        if names is not None:
            found.update(f"{path}::{qualname}" for qualname in names.bodies if qualname not in names.writers)
    return found


def with_import_effects(state: ScoutState) -> list[str]:
    """The test files whose import may change other modules' state (analyzers.import_effects)."""
    module_of = state.module_of()
    found = []
    for path, entry in state.files.items():
        names = state.graph.names.get(module_of[path]) if entry.category is Category.TEST and path in module_of else None
        if names is not None and names.import_effects:
            found.append(path)
    return found


class Bodies:
    """The bodies of the code as it is in `state`, and the digests of what they were seen to read
    (`inputs`: analyzers.unit_graph's body_inputs)."""

    def __init__(self, state: ScoutState, inputs: Mapping[str, str] | None = None) -> None:
        self.state = state
        self.module_of = state.module_of()
        self.inputs = inputs or {}
        # What each body adds to a fingerprint: the same for every unit and test item that ran it
        # (a plan computes one per test item, each of hundreds of bodies).
        self._parts: dict[str, bytes] = {}
        self._digests: dict[str, str] = {}
        self._known: dict[str, str | None] = {}  # a body as the trace names it -> as known() gives it

    def fingerprint(self, frame: str, bodies: Iterable[str]) -> str:
        """A unit's fingerprint from its frame and the bodies its runs ran, with what they read."""
        hasher = xxhash.xxh3_128(frame.encode("utf-8", "surrogateescape"))
        parts = self._parts
        for body in sorted(bodies):
            part = parts.get(body)
            if part is None:
                read = self.inputs.get(body)
                part = parts[body] = f"\0{body}={self.digest(body)}{'' if read is None else ':' + read}".encode(
                    "utf-8", "surrogateescape")
            hasher.update(part)
        return hasher.hexdigest()

    def digest(self, body: str) -> str:
        found = self._digests.get(body)
        if found is None:
            found = self._digests[body] = self._digest(body)
        return found

    def _digest(self, body: str) -> str:
        path, _, qualname = body.rpartition("::")
        if path == ENVIRON:
            if qualname == ENVIRON_ALL:
                return _environment_digest()
            value = os.environ.get(qualname)
            return "unset" if value is None else "=" + xxhash.xxh3_64_hexdigest(value.encode("utf-8", "surrogateescape"))
        entry = self.state.files.get(path)
        if entry is None:
            return "absent"
        names = self._names(path)
        if qualname == LITERALS and names is not None and names.literals:
            return "literals:" + names.literals
        if names is None or qualname in (WHOLE_FILE, LITERALS):
            return "file:" + entry.digest
        if qualname.endswith(DOC_SUFFIX):
            function = qualname.removesuffix(DOC_SUFFIX)
            return ("doc:" + names.docs.get(function, "none")) if function in names.bodies else "absent"
        return names.bodies.get(qualname, "absent")

    def known(self, bodies: Iterable[str]) -> Iterator[str]:
        """The bodies of project files; code whose name no function of its module has (a class
        body, code compiled from a string) is module-level code, which the frame holds."""
        cache = self._known
        for body in bodies:
            if body not in cache:
                cache[body] = self._known_as(body)
            if (found := cache[body]) is not None:
                yield found

    def _known_as(self, body: str) -> str | None:
        path, _, qualname = body.rpartition("::")
        if path == ENVIRON:
            return body
        if path not in self.state.files:
            return None  # outside the inventory (a git-ignored file): as in the static graph, no input
        names = self._names(path)
        if names is None or qualname == WHOLE_FILE:
            return f"{path}::{WHOLE_FILE}"
        return body if qualname.removesuffix(DOC_SUFFIX) in names.bodies or qualname == LITERALS else None

    def within(self, bodies: Iterable[str], nodes: Collection[str]) -> list[str]:
        """The `bodies` of definitions among `nodes` (a unit's reach), and the environment
        variables among them when there are such bodies: what those computed may be what a
        later test reads."""
        found, environ = [], []
        for body in bodies:
            path, _, qualname = body.rpartition("::")
            module = self.module_of.get(path)
            if path == ENVIRON:
                environ.append(body)
            elif module is None:
                continue
            elif qualname == LITERALS:
                continue  # what a literal reader keeps (Hypothesis's pool) no name reaches
            elif qualname == WHOLE_FILE:
                if module in nodes or whole_node(module) in nodes:
                    found.append(body)
            elif definition_node(module, qualname.partition(".")[0]) in nodes:
                found.append(body)
        return found + environ if found else []

    def unreached(self, bodies: Iterable[str], nodes: Collection[str]) -> bool:
        """Whether a unit ran a body of a definition its code cannot reach (`nodes`): a function
        handed over in a dict that another test filled, which its static fingerprint leaves out."""
        for body in bodies:
            path, _, qualname = body.rpartition("::")
            module = self.module_of.get(path)
            if module is not None and qualname not in (WHOLE_FILE, LITERALS) and \
                    definition_node(module, qualname.partition(".")[0]) not in nodes:
                return True
        return False

    @staticmethod
    def beyond_static(bodies: Iterable[str]) -> bool:
        """Whether runs that ran `bodies` read something the static fingerprint does not cover."""
        return any(body.startswith(ENVIRON + "::") or body.endswith(("::" + WHOLE_FILE, "::" + LITERALS))
                   for body in bodies)

    def _names(self, path: str):
        node = self.module_of.get(path)
        return self.state.graph.names.get(node) if node is not None else None


# What a shell changes on its own from one command to the next, which no program reads for
# what it does.
_SHELL_VARIABLES = frozenset({"_", "OLDPWD", "PWD", "SHLVL"})


def _environment_digest() -> str:
    hasher = xxhash.xxh3_128()
    for name, value in sorted(os.environ.items()):
        if name not in _SHELL_VARIABLES:
            hasher.update(f"{name}={value}\0".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()
