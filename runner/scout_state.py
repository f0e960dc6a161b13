"""The Scout phase's result, as kept in `.scout/state.json` between runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

import grimp
import xxhash

from analyzers.categories import Category
from analyzers.data_deps import is_data
from analyzers.graph import ImportEdge, NamesOverlay, ProjectGraph, is_missing
from analyzers.hashing import FileStat, HashRecord
from analyzers.symbols import ModuleNames
from analyzers.config_inputs import config_seen_by_tests
from runner.project_state import CorruptState, atomic_write_json, read_json

SCHEMA = 9
STATE_FILE = "state.json"
_test_config_digests: dict[tuple[str, str], str] = {}


class FileEntry(NamedTuple):
    digest: str
    category: Category


_CATEGORIES = {c.value: c for c in Category}


@dataclass(frozen=True)
class GraphSummary:
    """What every run reads of the graph (the scout report, the collection key), kept beside it in
    the state file so that a run where nothing changed need not decode the graph."""

    modules: Mapping[str, str]
    edge_count: int
    broken: Mapping[str, str]
    dynamic: Mapping[str, tuple[int, ...]]
    missing: tuple[str, ...]
    shadowed: tuple[str, ...]

    @classmethod
    def of(cls, graph: ProjectGraph) -> "GraphSummary":
        return cls(graph.modules, len(graph.edges), graph.broken, graph.dynamic, tuple(sorted(graph.missing)),
                   graph.shadowed)

    def to_json(self) -> dict[str, Any]:
        return {"modules": dict(self.modules), "edge_count": self.edge_count, "broken": dict(self.broken),
                "dynamic": {n: list(lines) for n, lines in self.dynamic.items()}, "missing": list(self.missing),
                "shadowed": list(self.shadowed)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "GraphSummary":
        return cls(dict(data["modules"]), int(data["edge_count"]), dict(data["broken"]),
                   {n: tuple(lines) for n, lines in data["dynamic"].items()}, tuple(data["missing"]),
                   tuple(data["shadowed"]))


class ScoutState:
    """`inputs_key` identifies what the graph was resolved under (layout, config, environment);
    `hash_records` is the stat cache. A loaded state keeps its graph as JSON text until something
    asks for it: a run where nothing changed never decodes it (most of the file, at 10,000 files)."""

    def __init__(self, inputs_key: str, files: dict[str, FileEntry], hash_records: dict[str, HashRecord],
                 graph: ProjectGraph | str, fingerprints: dict[str, str],
                 summary: GraphSummary | None = None) -> None:
        """`graph` is a graph, or its JSON text together with its `summary`."""
        self.inputs_key = inputs_key
        self.files = files
        self.hash_records = hash_records
        self.fingerprints = fingerprints
        self._graph = graph
        self.summary = summary if summary is not None else GraphSummary.of(graph)  # type: ignore[arg-type]

    def with_inventory(self, files: dict[str, FileEntry], hash_records: dict[str, HashRecord]) -> "ScoutState":
        """The same graph over the same contents, with the stat cache of this run."""
        return ScoutState(self.inputs_key, files, hash_records, self._graph, self.fingerprints, self.summary)

    @property
    def graph(self) -> ProjectGraph:
        if isinstance(self._graph, str):
            try:
                self._graph = graph_from_json(json.loads(self._graph))
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
                # Only a doit-scout bug gets here: the file matched its checksum when loaded.
                raise CorruptState(f"malformed import graph in the state ({err!r}); "
                                   "`doit forget` rebuilds it") from err
        return self._graph

    @cached_property
    def import_graph(self) -> grimp.ImportGraph:
        """The graph as grimp sees it, for queries: upstream modules, shortest import chains."""
        return self.graph.to_import_graph()

    def digests(self) -> dict[str, str]:
        return {path: entry.digest for path, entry in self.files.items()}

    def config_digest(self) -> str:
        """One digest of every config file: a change to any of them can change any verdict."""
        hasher = xxhash.xxh3_128()
        for path, entry in sorted(self.files.items()):
            if entry.category is Category.CONFIG:
                hasher.update(f"{path}\0{entry.digest}\0".encode())
        return hasher.hexdigest()

    def test_config_digest(self, root: Path) -> str:
        """One digest of what test outcomes can depend on in the config files (analyzers.config_inputs):
        a version bump or a linter's settings change none of it. Read from disk once per content."""
        key = (str(root), self.config_digest())
        if key not in _test_config_digests:
            hasher = xxhash.xxh3_128()
            for path, entry in sorted(self.files.items()):
                if entry.category is Category.CONFIG:
                    try:
                        text = (root / path).read_text(encoding="utf-8", errors="surrogateescape")
                    except OSError:
                        text = f"unreadable:{entry.digest}"
                    hasher.update(f"{path}\0{config_seen_by_tests(path, text)}\0".encode("utf-8", "surrogateescape"))
            _test_config_digests[key] = hasher.hexdigest()
        return _test_config_digests[key]

    def module_of(self) -> dict[str, str]:
        """Path -> module name, for the files that are modules."""
        return {path: node for node, path in self.summary.modules.items()}

    def facts(self) -> dict[str, Any]:
        """Everything the Scout phase concludes about the project, without the stat cache:
        equal for a state built incrementally and one built from scratch."""
        return {
            "files": {p: (e.digest, e.category.value) for p, e in self.files.items()},
            "modules": dict(self.graph.modules),
            "edges": self.graph.edges,
            "missing": self.graph.missing,
            "data": self.graph.data,
            "broken": dict(self.graph.broken),
            "dynamic": dict(self.graph.dynamic),
            "shadowed": self.graph.shadowed,
            "names": dict(self.graph.names),
            "fingerprints": self.fingerprints,
        }

    def to_json(self) -> dict[str, Any]:
        files = {}
        for path, entry in self.files.items():
            row: list[Any] = [entry.digest, entry.category.value]
            record = self.hash_records.get(path)
            if record is not None:
                st = record.stat
                row += [st.mtime_ns, st.size, st.inode, st.ctime_ns, record.hashed_at_ns]
            files[path] = row
        graph_text = self._graph if isinstance(self._graph, str) else \
            json.dumps(graph_to_json(self._graph), separators=(",", ":"))
        return {
            "schema": SCHEMA,
            "inputs_key": self.inputs_key,
            "files": files,
            "summary": self.summary.to_json(),
            "graph": graph_text,
            "fingerprints": self.fingerprints,
        }

    @classmethod
    def from_json(cls, data: Any) -> "ScoutState":
        if not isinstance(data, dict):
            raise CorruptState(f"expected a JSON object, found {type(data).__name__}")
        if data.get("schema") != SCHEMA:
            raise CorruptState(f"written by another doit-scout version (schema {data.get('schema')}, "
                               f"this one reads {SCHEMA})")
        try:
            files, records = {}, {}
            for path, row in data["files"].items():
                files[path] = FileEntry(row[0], _CATEGORIES[row[1]])
                if len(row) == 7:
                    records[path] = HashRecord(row[0], FileStat._make(row[2:6]), row[6])
            if not isinstance(data["graph"], str):
                raise TypeError("the graph is no JSON text")
            return cls(data["inputs_key"], files, records, data["graph"], dict(data["fingerprints"]),
                       GraphSummary.from_json(data["summary"]))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise CorruptState(f"malformed state: {err!r}") from err


def graph_to_json(graph: ProjectGraph) -> dict[str, Any]:
    return {
        "modules": graph.modules,
        "edges": graph.edges,
        "broken": graph.broken,
        "dynamic": graph.dynamic,
        "shadowed": list(graph.shadowed),
        "names": _names_json(graph.names),
    }


def _names_json(names: Mapping[str, ModuleNames]) -> dict[str, Any]:
    """Each module's names as JSON, reusing the text-decoded form of those no run decoded."""
    if isinstance(names, _NamesDecodedOnUse):
        return names.raw()
    if isinstance(names, NamesOverlay):
        found = {n: v for n, v in _names_json(names.previous).items() if n in names.kept}
        return {**found, **{node: value.to_json() for node, value in names.changed.items()}}
    return {node: value.to_json() for node, value in names.items()}


def graph_from_json(data: dict[str, Any]) -> ProjectGraph:
    """KeyError, TypeError or ValueError when `data` is not a graph."""
    edges = tuple(ImportEdge._make(e) for e in data["edges"])
    return ProjectGraph(
        modules=dict(data["modules"]),
        edges=edges,
        missing=frozenset(e.imported for e in edges if is_missing(e.imported)),
        data=frozenset(e.imported for e in edges if is_data(e.imported)),
        broken=dict(data["broken"]),
        dynamic={node: tuple(lines) for node, lines in data["dynamic"].items()},
        shadowed=tuple(data["shadowed"]),
        names=_NamesDecodedOnUse(dict(data["names"])),
    )


class _NamesDecodedOnUse(Mapping[str, ModuleNames]):
    """A module's names are read only when tests are fingerprinted anew: a run where nothing
    changed decodes none of them. A malformed entry reads as absent: that module then counts as a
    whole (analyzers.symbol_graph), which is safe."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw
        self._decoded: dict[str, ModuleNames] = {}

    def __getitem__(self, node: str) -> ModuleNames:
        if node not in self._decoded:
            try:
                self._decoded[node] = ModuleNames.from_json(self._raw[node])
            except (TypeError, ValueError, AttributeError) as err:
                raise KeyError(node) from err
        return self._decoded[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def raw(self) -> dict[str, Any]:
        return self._raw


def load_state(folder: Path) -> ScoutState | None:
    """The saved state, None when there is none; CorruptState when it cannot be used."""
    data = read_json(folder / STATE_FILE, checksum=True)
    return None if data is None else ScoutState.from_json(data)


def save_state(folder: Path, state: ScoutState) -> None:
    atomic_write_json(folder / STATE_FILE, state.to_json(), checksum=True)
