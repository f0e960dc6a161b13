"""The graph test fingerprints are computed over: the import graph refined to names.

Nodes and what each one's content is:

- a module node (`pkg.mod`): its import-time skeleton (analyzers.symbols), and the names its
  imports bind from project modules that do not exist (a plain function is not part of its
  module's skeleton, but importing it by name fails once it is gone). Its successors are what
  it imports (as in the import graph: importing runs those modules' skeletons), the definitions
  its module-level code refers to (a decorator, a default, a registry, a call at import time),
  and the definitions importing it hands to code that may keep them (`kept`: decorated by
  anything but the standard library's decorators, or a class whose bases or metaclass run code
  for it), since a registry, a route table or a command group calls them with no name to follow;
- a definition node (`pkg.mod:func`): the digest of its code; its successors are the definitions
  its names resolve to, through any chain of imports and re-exports;
- a whole-module node (`pkg.mod#*`): the module used as an object (`getattr(mod, name)`, a module
  passed around): every definition in it, and every name it binds;
- data, folder, missing and session nodes as in the import graph.

A module counts as a **whole** (its code less the function bodies, and all its definitions; its
bytes when it has no names, as it could not be parsed) when it is a conftest.py (pytest uses its
names without references: fixtures, hooks), when it has no names, when its module-level code is
opaque (`globals()`, `exec`, `sys.modules`), or when it is reached in a way that names do not
show (`import_module`, `pytest_plugins`, an observed import). A definition whose code is opaque reaches its whole module. A module-level `__getattr__`
is part of what importing its module runs (the import system asks modules for `__path__`), and a
name the module does not bind reaches it; a lazy-loading package (its `__getattr__` imports
submodules by computed names) used as a whole reaches every submodule as a whole. So a change
inside a function body reaches only the tests whose code can refer to that function; an
import-time change reaches every importer. A test unit's fingerprint takes its own module's whole
node (pytest runs every test in it).
"""

from __future__ import annotations

import builtins
from typing import Collection, Mapping

from doit_scout.analyzers.fingerprints import compute_fingerprints
from doit_scout.analyzers.graph import ProjectGraph
from doit_scout.analyzers.symbols import Definition
from doit_scout.analyzers.targets import LITERALS_PREFIX

WHOLE_SUFFIX = "#*"
_BUILTINS = frozenset(dir(builtins))
# Outside decorators and bases that return what they get and keep no reference to it: the standard
# library's (functools, contextlib, abc, typing, enum, dataclasses) and attrs'. Any other one that is
# no project name (a framework's route or command decorator, a model base class) may keep it.
_INERT_DECORATORS = frozenset({
    "setter", "getter", "deleter", "abstractmethod", "abstractproperty", "cached_property", "lru_cache", "cache",
    "wraps", "contextmanager", "asynccontextmanager", "overload", "override", "final", "dataclass",
    "total_ordering", "runtime_checkable", "unique", "dataclass_transform", "deprecated", "singledispatch",
    "singledispatchmethod", "no_type_check", "s", "attrs", "define", "frozen", "mutable",
})
_INERT_BASES = frozenset({"ABC", "Generic", "Protocol", "NamedTuple", "TypedDict", "Enum", "IntEnum", "StrEnum",
                          "Flag", "IntFlag"})
# Edges by which a module is reached without a name that can be followed.
_UNNAMED_EDGE_KINDS = frozenset({"dynamic", "plugin", "observed"})


def definition_node(module: str, name: str) -> str:
    return f"{module}:{name}"


def whole_node(module: str) -> str:
    return module + WHOLE_SUFFIX


def exports_node(module: str) -> str:
    """A module's `__all__`: what `from module import *` binds."""
    return f"{module}:__all__"


class SymbolGraph:
    """`contents` and `successors` of every node, for analyzers.fingerprints."""

    def __init__(self, graph: ProjectGraph, contents: Mapping[str, str], whole: Collection[str]) -> None:
        """`contents` is each import-graph node's own content (a module's: path and digest);
        `whole` the modules that count as a whole besides those the graph itself shows."""
        self.graph = graph
        self.modules = graph.modules
        self.names = graph.names
        self._packages = {node.rpartition(".")[0] for node in graph.modules}  # namespace packages too
        self._resolved: dict[tuple[str, str], frozenset[str]] = {}
        # A lazy-loading package (its `__getattr__` imports submodules by computed names): what it
        # answers for a name it does not bind may be any of its submodules.
        self._lazy: dict[str, set[str]] = {}
        for edge in graph.edges:
            if edge.kind == "getattr":
                self._lazy.setdefault(edge.importer, set()).add(edge.imported)
        self.contents: dict[str, str] = {}
        # A definition's content less its function bodies, for fingerprints whose tests' runs say
        # which bodies they ran (doit_scout.executed); and the definitions whose code may leave
        # state behind for code that never runs it.
        self.frames: dict[str, str] = {}
        # The definitions with a body that may leave state behind (analyzers.state_writes), and
        # those that are functions: state is kept in modules, classes and module-level objects.
        self.writers: set[str] = set()
        self.functions: set[str] = set()
        self.successors: dict[str, set[str]] = {}
        # Per module, the definitions importing it hands to code that may keep them: part of what
        # importing it runs, as if its module-level code named them.
        self.kept: dict[str, set[str]] = {}
        self.whole = self._whole(whole)
        # What a module imports in function bodies or for typing's TYPE_CHECKING only, importing
        # it does not run: the function imports are inputs of the definitions that run them.
        at_import = graph.successors(at_import=True)
        for node, targets in graph.successors().items():
            names = self.names.get(node)
            if node not in self.modules or names is None:
                self.contents[node] = contents[node]
                self.successors[node] = set(targets)
                if node in self.modules:
                    self._add_whole(node, names)
                continue
            refs = self._resolve_all(node, names.skeleton_refs)
            if node in self.whole:
                # All its definitions count (the whole node reaches them) and its code less their
                # bodies: a comment is no code, and a body counts for the tests that ran it.
                self.contents[node] = f"{self.modules[node]}:interface:{names.interface}{self._missing_imports(names)}"
                refs.add(whole_node(node))
            else:
                self.contents[node] = f"{self.modules[node]}:skeleton:{names.skeleton}{self._missing_imports(names)}"
            # A computed `__all__` decides what a star import binds in ways names do not show.
            refs |= {exports_node(star) for star in names.stars if self._computed_exports(star)}
            if "__getattr__" in names.definitions:
                # Importing runs it: `from m import x` asks m for `__path__`, and tools ask modules
                # for dunders they do not bind (click's deprecation __getattr__ warned on any name).
                refs.add(definition_node(node, "__getattr__"))
            self.successors[node] = at_import[node] | refs
            self.writers |= {definition_node(node, qualname.partition(".")[0]) for qualname in names.writers}
            self.functions |= {definition_node(node, name) for name in names.definitions if name in names.bodies}
            for name, definition in names.definitions.items():
                self.contents[definition_node(node, name)] = definition.digest
                self.frames[definition_node(node, name)] = definition.frame
                if definition.memoized:  # its memo is state another test reads without running it
                    self.writers.add(definition_node(node, name))
                found = self._resolve_all(node, definition.refs)
                found |= {m for m in names.function_imports.get(name, ()) if m in self.modules}
                if definition.opaque:
                    found.add(whole_node(node))
                self.successors[definition_node(node, name)] = found
            self.kept[node] = {definition_node(node, name) for name, definition in names.definitions.items()
                               if self._kept_at_import(node, definition)}
            self.successors[node] |= self.kept[node]
            self._add_whole(node, names)
            if "__all__" in names.variables:
                self._add_exports(node, names, targets)

    def _kept_at_import(self, module: str, definition: Definition) -> bool:
        """Whether importing `module` hands `definition` to code that may keep it and call it later
        with no name to follow: a decorator (`@app.route`, `@register`, `@cli.command()`), or a
        base class's `__init_subclass__` or metaclass (a plugin registry). The standard library's
        decorators and bases and the class builders' keep nothing."""
        if any(not self._inert(module, name, _INERT_DECORATORS) for name in definition.decorators):
            return True
        return self._hooked(module, definition, set())

    def _hooked(self, module: str, definition: Definition, seen: set[str]) -> bool:
        """Whether code runs for this class when it is defined: its own metaclass, class keywords or
        `__init_subclass__`, or those of a base, however far up; an outside base may have them."""
        if definition.subclass_hook:
            return True
        for base in definition.bases:
            targets = self.resolve(module, base) if base != "?" else frozenset({"?"})
            if not targets and self._inert(module, base, _INERT_BASES):
                continue
            for target in targets or {"?"}:
                owner = self.module_of_definition(target)
                if owner is None:  # an outside class, a module attribute, an expression: unknown
                    return True
                if target not in seen:
                    seen.add(target)
                    if self._hooked(owner, self.names[owner].definitions[target.rpartition(":")[2]], seen):
                        return True
        return False

    def _inert(self, module: str, name: str, inert: frozenset[str]) -> bool:
        """A name from outside the project that keeps nothing: a builtin (`property`, `object`,
        `Exception`), or one of `inert` from the standard library or a class builder."""
        if name == "?" or self.resolve(module, name):
            return False
        names = self.names[module]
        if name in _BUILTINS and name not in names.variables and name not in names.definitions:
            return True
        return name.rpartition(".")[2] in inert

    def _add_exports(self, module: str, names, imported: Collection[str]) -> None:
        """A literal `__all__` is its names; a computed one (funcy's, from its submodules' through
        `sys.modules`) depends on the module's code and on the `__all__` of what it imports."""
        node = exports_node(module)
        if names.exports is not None:
            self.contents[node] = "exports:" + ",".join(names.exports)
            self.successors[node] = set()
        else:
            self.contents[node] = "computed"
            self.successors[node] = {module} | {exports_node(m) for m in imported if m != module and m in self.names
                                                and "__all__" in self.names[m].variables}

    def _computed_exports(self, module: str) -> bool:
        names = self.names.get(module)
        return names is not None and names.exports is None and "__all__" in names.variables

    def add_read_in_body(self, definition: str, contents: Mapping[str, str], targets: Collection[str]) -> None:
        """What a function body of `definition` was seen to read (`targets`, with the `contents`
        of those that are new nodes): an input of the code that reaches the definition by name."""
        for target in targets:
            if target not in self.contents:
                self.contents[target] = contents[target]
                self.successors[target] = set()
        self.successors[definition] |= set(targets)

    def frame_contents(self) -> dict[str, str]:
        """`contents` with each definition's frame for its content. A memoized function keeps its
        body in its frame (analyzers.symbols), and its memo is state (a writer): a test served
        from the memo runs none of the code that computed the answer, and what the test that
        filled it ran counts for it (doit_scout.executed)."""
        return self._with_writers({**self.contents, **self.frames})

    def fingerprint_successors(self) -> dict[str, set[str]]:
        """`successors`, and from each name to the writers that name it (`written_by`): what a
        test reads may be what an earlier test's call of such a writer left, with what that
        writer computed (a module-level dict a function fills), though the test names neither."""
        found = {node: set(targets) for node, targets in self.successors.items()}
        for target, writers in self.written_by().items():
            found.setdefault(target, set()).update(writers)
        return found

    def written_by(self) -> dict[str, set[str]]:
        """Name -> the definitions with a body that may leave state behind that name it."""
        found: dict[str, set[str]] = {}
        for writer in self.writers:
            for target in self.written_targets(writer):
                found.setdefault(target, set()).add(writer)
        return found

    def written_targets(self, writer: str) -> set[str]:
        """What a writer names that can hold state another test reads: classes and module-level
        objects (a `global` it assigns is one); not the functions it calls, whose own bodies the
        trace sees, nor the modules it takes names from."""
        return {t for t in self.successors.get(writer, ())
                if t != writer and t not in self.functions and t not in self.modules and not t.endswith(WHOLE_SUFFIX)}

    def _with_writers(self, contents: dict[str, str]) -> dict[str, str]:
        """Which definitions may write through a name is part of that name's frame: a body turning
        into a writer runs the tests that read what it names, and their runs learn what ran
        before them (doit_scout.executed), as fingerprint_successors does for the static ones."""
        for target, writers in self.written_by().items():
            if target in contents:
                contents[target] += "|written by " + ",".join(sorted(writers))
        return contents

    def named_contents(self) -> dict[str, str]:
        """The contents of module and definition nodes: what a later run compares to say which
        names changed."""
        return {n: c for n, c in self.contents.items()
                if n in self.modules or self.module_of_definition(n) or n.startswith(LITERALS_PREFIX)}

    def module_of_definition(self, node: str) -> str | None:
        module, colon, name = node.rpartition(":")
        return module if colon and module in self.names and name in self.names[module].definitions else None

    def path_to(self, sources: Collection[str], targets: Collection[str]) -> list[str] | None:
        """The shortest chain of nodes from one of `sources` to one of `targets`, if any."""
        wanted = set(targets)
        parents: dict[str, str | None] = {s: None for s in sources}
        queue = list(sources)
        for node in queue:
            if node in wanted:
                chain = [node]
                while parents[chain[-1]] is not None:
                    chain.append(parents[chain[-1]])  # type: ignore[arg-type]
                return chain[::-1]
            for successor in sorted(self.successors.get(node, ())):
                if successor not in parents:
                    parents[successor] = node
                    queue.append(successor)
        return None

    def reference_between(self, source: str, target: str) -> str | None:
        """The name in `source`'s code that resolves to `target`, for explanations."""
        module = source.removesuffix(WHOLE_SUFFIX) if source.endswith(WHOLE_SUFFIX) else (
            self.module_of_definition(source) or source)
        names = self.names.get(module)
        if names is None:
            return None
        if source == module:
            refs = names.skeleton_refs
        elif source.endswith(WHOLE_SUFFIX):
            refs = tuple(names.bindings)
        else:
            refs = names.definitions[source.rpartition(":")[2]].refs
        return next((ref for ref in refs if target in self.resolve(module, ref)), None)

    def reexporter(self, module: str, ref: str, target: str) -> str | None:
        """The module through which `ref`, in `module`'s code, reaches `target` when that is not
        where `target` is defined: the package that re-exports it (`seaborn.relplot` -> seaborn)."""
        names = self.names.get(module)
        if names is None:
            return None
        head, _, rest = ref.partition(".")
        owner = self.module_of_definition(target) or target.removesuffix(WHOLE_SUFFIX)
        for bound, attribute in names.bindings.get(head, ()):
            via, parts = bound, [*([attribute] if attribute else []), *(rest.split(".") if rest else [])]
            while len(parts) > 1 and f"{via}.{parts[0]}" in self.modules:  # `pkg.sub.f` is pkg.sub's own
                via, parts = f"{via}.{parts[0]}", parts[1:]
            if parts and via != owner and via in self.modules:
                return via
        return None

    def _missing_imports(self, names) -> str:
        """The project names this module's imports bind that no longer exist: plain functions are
        not in their module's skeleton, yet `from m import f` fails when `f` is gone."""
        missing = sorted(f"{target}.{attribute}" for bound in names.bindings.values() for target, attribute in bound
                         if attribute is not None and target in self.modules
                         and not self._name(target, attribute, "", set()))
        return f":missing:{','.join(missing)}" if missing else ""

    def _whole(self, extra: Collection[str]) -> set[str]:
        whole = {m for m in extra if m in self.modules}
        whole |= {e.imported for e in self.graph.edges if e.kind in _UNNAMED_EDGE_KINDS and e.imported in self.modules}
        whole |= {m for m in self.modules if m not in self.names or self.names[m].opaque}
        return whole

    def _add_whole(self, module: str, names) -> None:
        node = whole_node(module)
        self.contents[node] = "whole"
        targets = {module}
        if names is not None:
            targets |= {definition_node(module, name) for name in names.definitions}
            for bound in names.bindings.values():  # `from m import fixture`: used by its name alone
                for target, attribute in bound:
                    if attribute is not None:
                        targets |= self._name(target, attribute, "", set())
            targets |= {whole_node(star) for star in names.stars if star in self.modules}
            if "__all__" in names.variables:
                targets.add(exports_node(module))
        targets |= {whole_node(child) for child in self._lazy.get(module, ())}
        self.successors[node] = targets

    def _resolve_all(self, module: str, refs) -> set[str]:
        found: set[str] = set()
        for ref in refs:
            found |= self.resolve(module, ref)
        return found

    def resolve(self, module: str, ref: str) -> frozenset[str]:
        """The nodes a dotted reference in `module`'s code can mean: definitions, or a whole module
        when the module itself is used. Empty for local, builtin and outside names, and for
        module-level variables (the skeleton holds them)."""
        key = (module, ref)
        if key not in self._resolved:
            self._resolved[key] = frozenset()  # a cycle of re-exports resolves to what was found
            head, _, rest = ref.partition(".")
            self._resolved[key] = frozenset(self._name(module, head, rest, set(), own_code=True))
        return self._resolved[key]

    def _name(self, module: str, name: str, rest: str, seen: set[tuple[str, str, str]], own_code: bool = False) -> set[str]:
        """What `name` (then `.rest`) means as an attribute of `module`, or, `own_code`, as a bare
        name in the module's own code: there a module's `__getattr__` is never asked, and a name
        nothing binds is a builtin."""
        if (module, name, rest) in seen:
            return set()
        seen.add((module, name, rest))
        names = self.names.get(module)
        found: set[str] = set()
        if names is None or name == "__dict__":  # `mod.__dict__` is every name it binds
            if module in self.modules:
                return {whole_node(module)}
        elif name == "__all__" and name in names.variables:
            return {exports_node(module)}
        else:
            if name in names.definitions:
                found.add(definition_node(module, name))
            elif name in names.variables:
                found.add(module)
            for target, attribute in names.bindings.get(name, ()):
                found |= self._attribute(target, rest, seen) if attribute is None else self._name(target, attribute, rest, seen)
        if not found:
            child = f"{module}.{name}"
            if child in self.modules or child in self._packages:
                found = self._attribute(child, rest, seen)
        if not found and names is not None:
            for star in names.stars:
                exports = self.names[star].exports if star in self.names else None
                if exports is None or name in exports:  # a literal `__all__` is what `*` binds
                    found |= self._name(star, name, rest, seen)
            if not found and (names.opaque or (module in self._lazy and not own_code)):
                found.add(whole_node(module))
            elif not found and names.module_getattr and not own_code:
                found.add(module)
                if "__getattr__" in names.definitions:
                    found.add(definition_node(module, "__getattr__"))
        return found

    def _attribute(self, module: str, rest: str, seen: set[tuple[str, str, str]]) -> set[str]:
        """`module.rest`; the module object itself when `rest` is empty."""
        if not rest:
            return {whole_node(module)} if module in self.modules else set()
        head, _, tail = rest.partition(".")
        return self._name(module, head, tail, seen)


def interface_fingerprints(graph: ProjectGraph, contents: Mapping[str, str]) -> dict[str, str]:
    """Each module's import closure, fingerprinted by interfaces (signatures, class bodies,
    module-level code) instead of bytes: what a type checker of a module reads of the modules it
    imports. A body-only change in an imported module leaves it as it was."""
    interfaces = {node: f"{graph.modules[node]}:interface:{names.interface}" if node in graph.modules else content
                  for node, content in contents.items() for names in [graph.names.get(node)] if names is not None}
    return compute_fingerprints({**contents, **interfaces}, graph.successors())
