"""The project's import graph: imports resolved against the project's modules, plus the
dependencies Python and pytest add on their own (parent packages, conftest.py chains)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable, Iterator, Mapping, NamedTuple, Sequence

import grimp

from doit_scout.analyzers.data_deps import DATA_PREFIX, is_data
from doit_scout.analyzers.imports import ImportRecord, ParseResult
from doit_scout.analyzers.layout import parent_dirs
from doit_scout.analyzers.modules import ModuleFile
from doit_scout.analyzers.path_graph import PathImportGraph
from doit_scout.analyzers.symbols import Binding, ModuleNames, ModuleSymbols

MISSING_PREFIX = "missing:"
# What importing the importer does not run: imports in function bodies, and for type checkers only
# (typing's TYPE_CHECKING), and what a function body was seen to read.
NOT_AT_IMPORT_EDGE_KINDS = frozenset({"function", "type_checking", "body"})


class ImportEdge(NamedTuple):
    """`importer` depends on `imported`. `kind` says why: import, type_checking, function, dynamic,
    plugin (pytest_plugins), parent (importing a.b runs a/__init__.py), conftest, or data; in a
    unit graph, observed (running code read it) or body (a function body of it did).
    A named tuple: projects have tens of thousands of edges, loaded on every run."""

    importer: str
    imported: str
    line: int = 0
    kind: str = "import"


@dataclass(frozen=True)
class ProjectGraph:
    """`modules` maps graph node to file path. A missing node (`missing:<name>`) stands for an
    import that resolves to no file; a data node (`data:<path>`) for a data file that modules read;
    `broken` maps a module that could not be parsed to the reason; `dynamic` maps a module to the
    lines of its `import_module(...)`/`__import__(...)` calls whose target is not a literal (the
    graph cannot follow them)."""

    modules: Mapping[str, str]
    edges: tuple[ImportEdge, ...]
    missing: frozenset[str] = frozenset()
    data: frozenset[str] = frozenset()
    broken: Mapping[str, str] = field(default_factory=dict)
    dynamic: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # Files whose module name another file already has (the first path in sorted order wins).
    shadowed: tuple[str, ...] = ()
    # The name-level facts of each module that parsed, its imports resolved (analyzers.symbols).
    names: Mapping[str, ModuleNames] = field(default_factory=dict)

    def nodes(self) -> tuple[str, ...]:
        return (*self.modules, *self.missing, *self.data)

    def successors(self, at_import: bool = False) -> dict[str, set[str]]:
        """With `at_import`, only the edges that importing the importer follows."""
        out: dict[str, set[str]] = {node: set() for node in self.nodes()}
        for importer, imported, _, kind in self.edges:
            if not (at_import and kind in NOT_AT_IMPORT_EDGE_KINDS):
                out.setdefault(importer, set()).add(imported)
            if imported not in out:  # observed folders and the session node
                out[imported] = set()
        return out

    def to_import_graph(self) -> grimp.ImportGraph:
        graph = PathImportGraph()  # a data file's name need not be UTF-8
        for node in self.nodes():
            graph.add_module(node)
        for edge in self.edges:
            graph.add_import(
                importer=edge.importer, imported=edge.imported,
                line_number=edge.line, line_contents=f"<{edge.kind}>",
            )
        return graph


def is_missing(node: str) -> bool:
    return node.startswith(MISSING_PREFIX)


def node_contents(graph: ProjectGraph, digests: Mapping[str, str]) -> dict[str, str]:
    """What each node's own content is for its fingerprint: a module's path, bytes, and whether it
    parsed; a data file's bytes; a missing module's absence."""
    contents = {}
    for node, path in graph.modules.items():
        error = graph.broken.get(node)
        contents[node] = f"{path}:{digests[path]}" + (f":broken:{error}" if error else "")
    for node in graph.missing:
        contents[node] = "missing"
    for node in graph.data:
        contents[node] = digests[node.removeprefix(DATA_PREFIX)]
    return contents


def build_project_graph(
    modules: Iterable[ModuleFile],
    parses: Mapping[str, ParseResult],
    *,
    source_roots: Collection[str],
    test_paths: Collection[str],
    is_external: Callable[[str], bool],
    data_inputs: Mapping[str, Sequence[str]] = {},
    previous: ProjectGraph | None = None,
) -> ProjectGraph:
    """`parses` maps path to parse result; `is_external(top_level_name)` says whether a name that
    is no project module is provided by the standard library or an installed distribution;
    `data_inputs` maps a module node to the data nodes it reads.

    With `previous`, a graph of exactly the same module files under the same layout, `parses`
    need only hold the modules whose content changed: the others keep their previous edges."""
    resolver = _Resolver(modules, source_roots, is_external)
    kept_edges: dict[str, list[ImportEdge]] = defaultdict(list)
    if previous is not None:
        for edge in previous.edges:
            kept_edges[edge.importer].append(edge)
    conftests = {m.path.rpartition("/")[0]: m.node for m in resolver.modules if m.path.endswith("conftest.py")}

    edges: list[ImportEdge] = []
    broken: dict[str, str] = {}
    dynamic: dict[str, tuple[int, ...]] = {}
    names: dict[str, ModuleNames] = {}
    kept_names: set[str] = set()
    for module in resolver.modules:
        parsed = parses.get(module.path)
        if parsed is None and previous is not None:
            edges.extend(kept_edges[module.node])
            kept_names.add(module.node)  # whether it has names is asked when they are used
            if module.node in previous.broken:
                broken[module.node] = previous.broken[module.node]
            if module.node in previous.dynamic:
                dynamic[module.node] = previous.dynamic[module.node]
            continue
        assert parsed is not None, f"no parse result for {module.path}"
        if parsed.error:
            broken[module.node] = parsed.error
        if parsed.symbols is not None:
            names[module.node] = resolver.resolve_names(module, parsed.symbols)
        if parsed.unresolved_dynamic:
            dynamic[module.node] = parsed.unresolved_dynamic
        structural = []
        parent = resolver.parent_of(module)
        if parent:
            structural.append((parent, "parent"))
        if module.path in test_paths:
            structural.extend(
                (conftests[folder], "conftest") for folder in parent_dirs(module.path)
                if folder in conftests and conftests[folder] != module.node
            )
        structural.extend((node, "data") for node in data_inputs.get(module.node, ()))
        if parsed.symbols is not None and parsed.symbols.module_getattr and parsed.unresolved_dynamic \
                and module.is_package:  # a lazy loader: `__getattr__` imports a submodule by computed name
            structural.extend((node, "getattr") for node in resolver.children_of(module))
        edges.extend(_edges_of(module, parsed, resolver, structural))

    imported = {e.imported for e in edges}
    return ProjectGraph(
        modules={m.node: m.path for m in resolver.modules},
        edges=tuple(sorted(edges)),
        missing=frozenset(filter(is_missing, imported)),
        data=frozenset(filter(is_data, imported)),
        broken=broken,
        dynamic=dynamic,
        shadowed=resolver.shadowed,
        names=NamesOverlay(previous.names, names, kept_names) if previous is not None else names,
    )


class NamesOverlay(Mapping[str, ModuleNames]):
    """The names of a graph built on a previous one: those of the modules parsed again over the
    previous graph's, which are neither copied nor decoded (work in proportion to the change)."""

    previous: Mapping[str, ModuleNames]
    changed: dict[str, ModuleNames]
    kept: set[str]

    def __init__(self, previous: Mapping[str, ModuleNames], changed: dict[str, ModuleNames], kept: set[str]) -> None:
        if isinstance(previous, NamesOverlay):  # one level, however many runs a process makes (`doit watch`)
            carried = {node: previous.changed[node] for node in kept & previous.changed.keys()}
            changed = {**carried, **changed}
            kept = (kept - carried.keys()) & previous.kept
            previous = previous.previous
        self.previous = previous
        self.changed = changed
        self.kept = kept  # nodes whose names, if they have any, are the previous graph's

    def __getitem__(self, node: str) -> ModuleNames:
        if node in self.changed:
            return self.changed[node]
        if node in self.kept:
            return self.previous[node]
        raise KeyError(node)

    def __iter__(self) -> Iterator[str]:
        yield from self.changed
        yield from (node for node in self.kept if node not in self.changed and node in self.previous)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _edges_of(
    module: ModuleFile, parsed: ParseResult, resolver: "_Resolver", structural: list[tuple[str, str]]
) -> list[ImportEdge]:
    """One edge per imported node: the first line that imports it at import time, or else the first
    line at all (structural edges have line 0)."""
    edges: dict[str, ImportEdge] = {}
    for target, kind in structural:
        edges.setdefault(target, ImportEdge(module.node, target, 0, kind))
    # A module imported both at module level and in a function body is imported when the module is.
    for record in sorted(parsed.imports, key=lambda r: r.in_function or r.type_checking):
        for target in resolver.resolve(module, record):
            edges.setdefault(target, ImportEdge(module.node, target, record.line, _kind_of(record)))
    return list(edges.values())


def _kind_of(record: ImportRecord) -> str:
    if record.attribute:
        return "attribute"
    if record.pytest_plugin:
        return "plugin"
    if record.dynamic:
        return "dynamic"
    if record.type_checking:
        return "type_checking"
    if record.in_function:
        return "function"
    return "import"


class _Resolver:
    def __init__(
        self, modules: Iterable[ModuleFile], source_roots: Collection[str],
        is_external: Callable[[str], bool],
    ) -> None:
        self.by_root: dict[str, dict[str, str]] = defaultdict(dict)
        # The top-level names importable from each root, namespace packages (no file) included.
        self.top_levels: dict[str, set[str]] = defaultdict(set)
        self.modules: list[ModuleFile] = []
        shadowed, nodes = [], set()
        for module in sorted(modules, key=lambda m: m.path):
            if module.node in nodes:
                shadowed.append(module.path)
                continue
            nodes.add(module.node)
            self.modules.append(module)
            self.by_root[module.root][module.importable] = module.node
            self.top_levels[module.root].add(module.importable.partition(".")[0])
        self.shadowed = tuple(shadowed)
        self.source_roots = tuple(source_roots)
        self.is_external = is_external

    def parent_of(self, module: ModuleFile) -> str | None:
        name = module.importable
        while "." in name:
            name = name.rpartition(".")[0]
            if name in self.by_root[module.root]:
                return self.by_root[module.root][name]
        return None

    def children_of(self, package: ModuleFile) -> list[str]:
        """The modules and packages directly inside `package`."""
        prefix = package.importable + "."
        return [node for name, node in self.by_root[package.root].items()
                if name.startswith(prefix) and "." not in name[len(prefix):]]

    def resolve(self, module: ModuleFile, record: ImportRecord) -> list[str]:
        """The graph nodes an import makes `module` depend on (missing nodes included)."""
        if record.attribute:
            return self._resolve_attribute(module, record.module)
        if record.level:
            base = self._relative_base(module, record.level)
            if base is None:  # above the top-level package: fails at run time
                written = [record.module] if record.module else record.names
                return [MISSING_PREFIX + "." * record.level + name for name in written]
            name = f"{base}.{record.module}" if record.module else base
            roots: tuple[str, ...] = (module.root,)
        else:
            name = record.module
            top = name.partition(".")[0]
            roots = tuple(r for r in dict.fromkeys((module.root, *self.source_roots)) if top in self.top_levels[r])
            if not roots:
                return [] if self.is_external(top) else [MISSING_PREFIX + name]
        root = roots[0]
        targets = self._resolve_in(root, name)
        if targets and not is_missing(targets[0]):
            for imported_name in record.names:
                sub = self.by_root[root].get(f"{name}.{imported_name}")
                if sub:
                    targets.append(sub)
        return targets

    def resolve_names(self, module: ModuleFile, symbols: ModuleSymbols) -> ModuleNames:
        bindings = {}
        for name, found in symbols.bindings.items():
            targets = tuple(t for t in (self._binding_target(module, b) for b in found) if t is not None)
            if targets:
                bindings[name] = targets
        stars = tuple(t[0] for t in (self._binding_target(module, b) for b in symbols.stars) if t is not None)
        function_imports = {}
        for name, definition in symbols.definitions.items():
            nodes = tuple(dict.fromkeys(t[0] for t in (self._binding_target(module, b) for b in definition.imports)
                                        if t is not None))
            if nodes:
                function_imports[name] = nodes
        return ModuleNames(symbols.skeleton, symbols.interface, symbols.skeleton_refs, symbols.definitions, bindings, stars,
                           symbols.opaque, symbols.module_getattr, symbols.variables, symbols.exports, symbols.bodies,
                           function_imports, symbols.writers, symbols.import_effects, symbols.literals,
                           symbols.docs)

    def _binding_target(self, module: ModuleFile, binding: Binding) -> tuple[str, str | None] | None:
        """The project module (node; a namespace package has none of its own) and attribute an
        import binds; None for a name from outside the project."""
        root: str | None
        if binding.level:
            base = self._relative_base(module, binding.level)
            if base is None:
                return None
            name = f"{base}.{binding.module}" if binding.module else base
            root = module.root
        else:
            name = binding.module
            top = name.partition(".")[0]
            root = next((r for r in dict.fromkeys((module.root, *self.source_roots))
                         if top in self.top_levels[r]), None)
            if root is None:
                return None
        known = self.by_root[root]
        if binding.name is not None and f"{name}.{binding.name}" in known:
            return known[f"{name}.{binding.name}"], None
        node = known.get(name) or self._node_name(root, name)
        return node, binding.name

    def _node_name(self, root: str, importable: str) -> str:
        """The node a module of that name under `root` would have (a namespace package has none)."""
        prefix = "" if root == "" or root in self.source_roots else root.replace("/", ".") + "."
        return prefix + importable

    def _resolve_attribute(self, module: ModuleFile, chain: str) -> list[str]:
        """The deepest project module an attribute chain names below its first part, if any: an
        attribute is no missing module."""
        top = chain.partition(".")[0]
        for root in dict.fromkeys((module.root, *self.source_roots)):
            if top not in self.top_levels[root]:
                continue
            name = chain
            while "." in name:
                found = self.by_root[root].get(name)
                if found:
                    return [found]
                name = name.rpartition(".")[0]
            return []
        return []

    def _resolve_in(self, root: str, name: str) -> list[str]:
        found = self.by_root[root].get(name)
        if found:
            return [found]
        # A submodule that does not exist: depend on it as missing, and on the deepest package
        # that does exist (its __init__ runs before the import fails).
        targets = [MISSING_PREFIX + name]
        prefix = name
        while "." in prefix:
            prefix = prefix.rpartition(".")[0]
            if prefix in self.by_root[root]:
                targets.append(self.by_root[root][prefix])
                break
        return targets

    @staticmethod
    def _relative_base(module: ModuleFile, level: int) -> str | None:
        parts = module.package.split(".") if module.package else []
        keep = len(parts) - (level - 1)
        return ".".join(parts[:keep]) if keep > 0 else None
