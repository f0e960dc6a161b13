"""The Scout phase's result, as kept in `.scout/state.json` between runs."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Collection, Iterator, Mapping, NamedTuple, Sequence

import grimp
import xxhash

from doit_scout.analyzers.categories import Category
from doit_scout.analyzers.config_inputs import config_seen_by_tests, linted_in_tests
from doit_scout.analyzers.data_deps import is_data
from doit_scout.analyzers.graph import ImportEdge, NamesOverlay, ProjectGraph, is_missing
from doit_scout.analyzers.hashing import FileStat, HashRecord
from doit_scout.analyzers.symbols import ModuleNames
from doit_scout.environment import installed_distributions
from doit_scout.project_state import (
    CorruptState,
    atomic_write_checked,
    decoded_json,
    read_checked,
)

SCHEMA = 19
STATE_FILE = "state.json"
# (root, config digest) -> test config digest, for the last few config contents (`doit watch`
# lives through many).
_test_config_digests: dict[tuple[str, str], str] = {}
_TEST_CONFIG_DIGESTS_KEPT = 8
# Files whose presence alone decides which configuration pytest reads and where its rootdir is;
# another config file no test can see anything of (a new requirements file) changes nothing.
_PYTEST_CONFIG_NAMES = frozenset({
    "pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", "setup.py",
})


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


_UNSAFE_IN_LINE = frozenset("\t\n\r")


class GraphText(NamedTuple):
    """The graph as the state file holds it: one JSON text with the modules and what is known of
    them as a whole, then one line per module with its imports and its names
    (`<node><tab><imports JSON><tab><names JSON, or nothing>`). A scout after a change writes the
    lines of the modules it did not parse again as they were read, and encodes only the others.
    A node with a tab or a line break in its name (no importable module has one) keeps its imports
    in the first text and is left without names: it then counts as a whole module, which is safe."""

    graph: str
    lines: Sequence[str]

    @classmethod
    def of(cls, graph: ProjectGraph, stored: Mapping[str, str] | None = None) -> "GraphText":
        """`stored`: lines read before that still hold for `graph` (its module's imports and
        names are the same), by node."""
        stored = stored or {}
        fresh: dict[str, list[tuple[str, int, str]]] = {}
        for importer, imported, line, kind in graph.edges:
            if importer not in stored:
                fresh.setdefault(importer, []).append((imported, line, kind))
        names = _names_json(graph.names)
        whole: dict[str, list[tuple[str, int, str]]] = {}
        lines = []
        for node in sorted({*graph.modules, *fresh, *names, *stored}):
            if node in stored:
                lines.append(stored[node])
            elif _UNSAFE_IN_LINE & set(node):
                if node in fresh:
                    whole[node] = fresh[node]
            else:
                lines.append(f"{node}\t{json.dumps(fresh.get(node, []), separators=(',', ':'))}\t{names.get(node, '')}")
        data = {**graph_to_json(graph, with_imports=False), "imports": whole}
        return cls(json.dumps(data, separators=(",", ":")), lines)

    def lines_of(self, nodes: Collection[str]) -> dict[str, str]:
        """The lines of `nodes`, by node."""
        found = {}
        for line in self.lines:
            node = line.partition("\t")[0]
            if node in nodes:
                found[node] = line
        return found

    def decoded(self) -> ProjectGraph:
        """KeyError, TypeError or ValueError when the text is not a graph."""
        data = json.loads(self.graph)
        nodes, imports_texts, names = [], [], {}
        for line in self.lines:
            node, tab, rest = line.partition("\t")
            imports_text, tab_too, names_text = rest.partition("\t")
            if not (tab and tab_too):
                raise ValueError(f"a module line without its two tabs: {line[:80]!r}")
            nodes.append(node)
            imports_texts.append(imports_text)
            if names_text:
                names[node] = names_text
        # One JSON text of all lines' imports: one call into the decoder, not one per module.
        imports = dict(zip(nodes, json.loads(f"[{','.join(imports_texts)}]"), strict=True))
        if data["imports"]:  # nodes with unsafe names, whose imports came in the first text
            imports = dict(sorted({**imports, **data["imports"]}.items()))
        data["imports"] = imports
        data["names"] = names
        return graph_from_json(data)


class ScoutState:
    """`inputs_key` identifies what the graph was resolved under (layout, config, environment);
    `hash_records` is the stat cache. A loaded state keeps its graph as text until something
    asks for it: a run where nothing changed never decodes it (most of the file, at 10,000 files)."""

    def __init__(self, inputs_key: str, files: dict[str, FileEntry], hash_records: dict[str, HashRecord],
                 graph: ProjectGraph | GraphText, fingerprints: dict[str, str],
                 summary: GraphSummary | None = None, stored_lines: Mapping[str, str] | None = None) -> None:
        """`graph` is a graph, or its text together with its `summary`. `stored_lines` are lines of
        a graph text read before that still hold for this graph (GraphText.of)."""
        self.inputs_key = inputs_key
        self.files = files
        self.hash_records = hash_records
        self.fingerprints = fingerprints
        self._graph = graph
        self._text = graph if isinstance(graph, GraphText) else None
        self._stored_lines = stored_lines
        self.summary = summary if summary is not None else GraphSummary.of(graph)  # type: ignore[arg-type]

    def with_inventory(self, files: dict[str, FileEntry], hash_records: dict[str, HashRecord]) -> "ScoutState":
        """The same graph over the same contents, with the stat cache of this run."""
        return ScoutState(self.inputs_key, files, hash_records, self._text or self._graph, self.fingerprints,
                          self.summary, self._stored_lines)

    def stored_lines(self, nodes: Collection[str]) -> dict[str, str]:
        """The lines this state's graph was read as, of `nodes`: for a graph built on it where
        those modules kept their imports and names."""
        return self._text.lines_of(nodes) if self._text is not None else {}

    @property
    def graph(self) -> ProjectGraph:
        if isinstance(self._graph, GraphText):
            try:
                self._graph = self._graph.decoded()
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
                hasher.update(f"{path}\0{entry.digest}\0".encode("utf-8", "surrogateescape"))
        return hasher.hexdigest()

    def test_config_digest(self, root: Path) -> str:
        """One digest of what test outcomes can depend on in the config files (analyzers.config_inputs):
        a version bump or a linter's settings change none of it. Read from disk once per content."""
        key = (str(root), self.config_digest())
        if key not in _test_config_digests:
            hasher = xxhash.xxh3_128()
            linted = linted_in_tests(installed_distributions(root))
            for path, entry in sorted(self.files.items()):
                if entry.category is Category.CONFIG:
                    try:
                        text = (root / path).read_text(encoding="utf-8", errors="surrogateescape")
                    except OSError:
                        text = f"unreadable:{entry.digest}"
                    seen = config_seen_by_tests(path, text, linted)
                    if seen or posixpath.basename(path) in _PYTEST_CONFIG_NAMES:
                        hasher.update(f"{path}\0{seen}\0".encode("utf-8", "surrogateescape"))
            if len(_test_config_digests) >= _TEST_CONFIG_DIGESTS_KEPT:
                del _test_config_digests[next(iter(_test_config_digests))]
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

    def to_document(self) -> tuple[dict[str, Any], GraphText]:
        """What the state file holds: everything but the graph, and the graph's text."""
        files = {}
        for path, entry in self.files.items():
            row: list[Any] = [entry.digest, entry.category.value]
            record = self.hash_records.get(path)
            if record is not None:
                st = record.stat
                row += [st.mtime_ns, st.size, st.inode, st.ctime_ns, record.hashed_at_ns]
            files[path] = row
        graph_text = self._text or GraphText.of(self.graph, self._stored_lines)
        header = {
            "schema": SCHEMA,
            "inputs_key": self.inputs_key,
            "files": files,
            "summary": self.summary.to_json(),
            "fingerprints": self.fingerprints,
        }
        return header, graph_text

    @classmethod
    def from_document(cls, header: Any, graph_text: GraphText) -> "ScoutState":
        if not isinstance(header, dict):
            raise CorruptState(f"expected a JSON object, found {type(header).__name__}")
        if header.get("schema") != SCHEMA:
            raise CorruptState(f"written by another doit-scout version (schema {header.get('schema')}, "
                               f"this one reads {SCHEMA})")
        try:
            files, records = {}, {}
            for path, row in header["files"].items():
                files[path] = FileEntry(row[0], _CATEGORIES[row[1]])
                if len(row) == 7:
                    records[path] = HashRecord(row[0], FileStat._make(row[2:6]), row[6])
            return cls(header["inputs_key"], files, records, graph_text, dict(header["fingerprints"]),
                       GraphSummary.from_json(header["summary"]))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise CorruptState(f"malformed state: {err!r}") from err


def graph_to_json(graph: ProjectGraph, *, with_imports: bool = True) -> dict[str, Any]:
    data = {
        "modules": graph.modules,
        "broken": graph.broken,
        "dynamic": graph.dynamic,
        "shadowed": list(graph.shadowed),
    }
    if with_imports:
        data.update(imports=_imports_json(graph.edges), names=_names_json(graph.names))
    return data


def _imports_json(edges: Sequence[ImportEdge]) -> dict[str, list[tuple[str, int, str]]]:
    """Edges by importer: a third of the size of a flat list, and as much faster to read."""
    imports: dict[str, list[tuple[str, int, str]]] = {}
    for importer, imported, line, kind in edges:
        imports.setdefault(importer, []).append((imported, line, kind))
    return imports


def _names_json(names: Mapping[str, ModuleNames]) -> dict[str, str]:
    """Each module's names as a JSON text of its own: loading the graph then decodes one short
    string per module instead of every module's nested facts (most of the graph), and an
    incremental scout writes the text of unchanged modules as it was read."""
    if isinstance(names, _NamesDecodedOnUse):
        return names.raw()
    if isinstance(names, NamesOverlay):
        found = {n: v for n, v in _names_json(names.previous).items() if n in names.kept}
        return {**found, **{node: _text_of(value) for node, value in names.changed.items()}}
    return {node: _text_of(value) for node, value in names.items()}


def _text_of(names: ModuleNames) -> str:
    return json.dumps(names.to_json(), separators=(",", ":"))


def graph_from_json(data: dict[str, Any]) -> ProjectGraph:
    """KeyError, TypeError or ValueError when `data` is not a graph."""
    edges = tuple(ImportEdge(importer, imported, line, kind)
                  for importer, targets in data["imports"].items() for imported, line, kind in targets)
    imported = {e.imported for e in edges}
    return ProjectGraph(
        modules=dict(data["modules"]),
        edges=edges,
        missing=frozenset(filter(is_missing, imported)),
        data=frozenset(filter(is_data, imported)),
        broken=dict(data["broken"]),
        dynamic={node: tuple(lines) for node, lines in data["dynamic"].items()},
        shadowed=tuple(data["shadowed"]),
        names=_NamesDecodedOnUse(dict(data["names"])),
    )


class _NamesDecodedOnUse(Mapping[str, ModuleNames]):
    """A module's names are read only when tests are fingerprinted anew: a run where nothing
    changed decodes none of them. A malformed entry reads as absent: that module then counts as a
    whole (analyzers.symbol_graph), which is safe."""

    def __init__(self, raw: dict[str, str]) -> None:
        self._raw = raw
        self._decoded: dict[str, ModuleNames] = {}
        self._malformed: set[str] = set()

    def __getitem__(self, node: str) -> ModuleNames:
        if node not in self._decoded:
            if node in self._malformed:
                raise KeyError(node)
            try:
                self._decoded[node] = ModuleNames.from_json(json.loads(self._raw[node]))
            except (TypeError, ValueError, AttributeError, IndexError) as err:
                self._malformed.add(node)  # asked again for each body of it: decoded once
                raise KeyError(node) from err
        return self._decoded[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def raw(self) -> dict[str, str]:
        return self._raw


def load_state(folder: Path) -> ScoutState | None:
    """The saved state, None when there is none; CorruptState when it cannot be used."""
    path = folder / STATE_FILE
    lines = read_checked(path)
    if lines is None:
        return None
    header = decoded_json(path, lines[0])
    if len(lines) < 2:  # the header first: a file of another version says so
        ScoutState.from_document(header, GraphText("", ()))
        raise CorruptState(f"{path}: no graph under the header")
    return ScoutState.from_document(header, GraphText(lines[1], lines[2:]))


def save_state(folder: Path, state: ScoutState) -> None:
    """The header, the graph, then a line per module: each written and read as it is."""
    header, graph = state.to_document()
    atomic_write_checked(folder / STATE_FILE, [json.dumps(header, separators=(",", ":")), graph.graph, *graph.lines])
