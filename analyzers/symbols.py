"""Name-level facts of one module, found with `ast`: what runs when it is imported, what it defines,
what each definition refers to by name, and which names its imports bind.

- The **skeleton** is the module with every function and method body left out: module-level code,
  class bodies, signatures, decorators and defaults. It is what importing the module runs, so a
  change to it reaches every importer.
- Each **definition** (a top-level function, or a class with all its methods) has a digest of its
  code and the names its code refers to: bare names and dotted chains rooted at a name
  (`pkg.mod.func`). A change inside a body reaches only code that can refer to it by name.
- **Bindings** are the names import statements bind, anywhere in the module (a function-level import
  binds its name for that function's code).
- **Opaque** lists why module-level code makes the module's names unknowable (`globals()`, `exec`,
  `sys.modules` at import time): such a module counts as a whole. A definition whose own code uses
  them (`is_opaque_ref`) counts as referring to its whole module.
- A module-level `__getattr__` (**module_getattr**) answers the names the module does not bind: a
  reference to such a name reaches it, not the whole module.

Digests leave out line numbers and comments: moving code or editing a comment changes nothing."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

import xxhash

# Calls and names whose use makes a module's names reachable in ways no reference shows.
_OPAQUE_CALLS = frozenset({"globals", "vars", "exec", "eval", "locals", "__import__"})


def is_opaque_ref(ref: str) -> bool:
    """A reference through which code can reach any name of its module (`globals()[name]`)."""
    return ref in _OPAQUE_CALLS or ref == "sys.modules" or ref.startswith("sys.modules.")


@dataclass(frozen=True)
class Definition:
    digest: str
    refs: tuple[str, ...]


@dataclass(frozen=True)
class Binding:
    """`from <module> import <name>` (level dots before module), or `import <module>` (name None):
    the local name refers to that attribute or submodule, or to the module itself."""

    module: str
    level: int
    name: str | None


@dataclass(frozen=True)
class ModuleSymbols:
    skeleton: str
    skeleton_refs: tuple[str, ...]
    definitions: Mapping[str, Definition]
    bindings: Mapping[str, tuple[Binding, ...]]
    stars: tuple[Binding, ...]  # `from m import *`: names this module does not bind may come from m
    opaque: tuple[str, ...]
    module_getattr: bool
    variables: tuple[str, ...]  # names module-level code binds by assignment: the skeleton holds them

    def to_json(self) -> dict[str, Any]:
        return {
            "skeleton": self.skeleton,
            "skeleton_refs": list(self.skeleton_refs),
            "definitions": {n: [d.digest, list(d.refs)] for n, d in self.definitions.items()},
            "bindings": {n: [[b.module, b.level, b.name] for b in bs] for n, bs in self.bindings.items()},
            "stars": [[b.module, b.level] for b in self.stars],
            "opaque": list(self.opaque),
            "module_getattr": self.module_getattr,
            "variables": list(self.variables),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ModuleSymbols":
        return cls(
            skeleton=str(data["skeleton"]),
            skeleton_refs=tuple(data["skeleton_refs"]),
            definitions={n: Definition(d, tuple(refs)) for n, (d, refs) in data["definitions"].items()},
            bindings={n: tuple(Binding(m, level, name) for m, level, name in bs) for n, bs in data["bindings"].items()},
            stars=tuple(Binding(m, level, None) for m, level in data["stars"]),
            opaque=tuple(data["opaque"]),
            module_getattr=bool(data["module_getattr"]),
            variables=tuple(data["variables"]),
        )


def module_symbols(tree: ast.Module) -> ModuleSymbols:
    """The facts of a parsed module. Leaves the tree's function bodies emptied (it is done with)."""
    found: dict[str, list[ast.AST]] = {}
    for stmt in _module_level(tree.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.setdefault(stmt.name, []).append(stmt)
    definitions = {name: Definition(_digest(nodes), _refs(nodes)) for name, nodes in found.items()}
    bindings, stars = _bindings(tree)
    variables = _assigned_at_module_level(tree)
    module_getattr = "__getattr__" in variables or "__getattr__" in found or "__getattr__" in bindings
    _strip_bodies(tree)
    skeleton_refs = _refs([s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))])
    opaque = tuple(sorted(f"{ref}()" if ref in _OPAQUE_CALLS else ref for ref in skeleton_refs if is_opaque_ref(ref)))
    return ModuleSymbols(_digest([tree]), skeleton_refs, definitions, bindings, stars, opaque, module_getattr,
                         variables)


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at module level, inside `if`/`try`/`with`/`for` blocks too."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
            yield from _module_level(stmt.body)
            yield from _module_level(getattr(stmt, "orelse", []))
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            yield from _module_level(stmt.body)
            for handler in stmt.handlers:
                yield from _module_level(handler.body)
            yield from _module_level(stmt.orelse)
            yield from _module_level(stmt.finalbody)
        elif type(stmt).__name__ == "Match":
            for case in stmt.cases:  # type: ignore[attr-defined]
                yield from _module_level(case.body)


def _digest(nodes: Iterable[ast.AST]) -> str:
    hasher = xxhash.xxh3_128()
    for node in nodes:
        hasher.update(ast.dump(node, annotate_fields=False, include_attributes=False).encode())
    return hasher.hexdigest()


def _refs(nodes: Iterable[ast.AST]) -> tuple[str, ...]:
    """Every name and dotted chain rooted at a name that the code mentions (the longest chain
    only: `a.b.c` stands for `a` and `a.b` too)."""
    found: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Attribute):
            chain = _chain(node)
            if chain is not None:
                found.add(chain)
                continue
        elif isinstance(node, ast.Name):
            found.add(node.id)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return tuple(sorted(found))


def _chain(node: ast.Attribute) -> str | None:
    parts = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    return ".".join([current.id, *reversed(parts)])


def _bindings(tree: ast.Module) -> tuple[dict[str, tuple[Binding, ...]], tuple[Binding, ...]]:
    bindings: dict[str, list[Binding]] = {}
    stars: list[Binding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bindings.setdefault(alias.asname, []).append(Binding(alias.name, 0, None))
                else:
                    top = alias.name.partition(".")[0]
                    bindings.setdefault(top, []).append(Binding(top, 0, None))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    stars.append(Binding(node.module or "", node.level, None))
                else:
                    bindings.setdefault(alias.asname or alias.name, []).append(
                        Binding(node.module or "", node.level, alias.name))
    unique = {name: tuple(dict.fromkeys(found)) for name, found in bindings.items()}
    return unique, tuple(dict.fromkeys(stars))


def _assigned_at_module_level(tree: ast.Module) -> tuple[str, ...]:
    """Names module-level code binds by assignment, `for` or `with` (`__getattr__ =
    _make_getattr(__name__)` among them)."""
    found: set[str] = set()
    for stmt in _module_level(tree.body):
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            targets = [stmt.target]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in stmt.items if item.optional_vars is not None]
        else:
            continue
        found |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return tuple(sorted(found))


def _strip_bodies(tree: ast.Module) -> None:
    """What importing runs: function and method bodies are left out (decorators, signatures,
    defaults and class bodies stay)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.body = [ast.Pass()]


@dataclass(frozen=True)
class ModuleNames:
    """A module's symbols with its imports resolved against the project: a binding refers to a
    project module node and an attribute of it (None: the module itself); names that come from
    outside the project are left out. A node may be a namespace package, which has no file."""

    skeleton: str
    skeleton_refs: tuple[str, ...]
    definitions: Mapping[str, Definition]
    bindings: Mapping[str, tuple[tuple[str, str | None], ...]]
    stars: tuple[str, ...]
    opaque: tuple[str, ...]
    module_getattr: bool
    variables: tuple[str, ...]

    def to_json(self) -> list[Any]:
        return [self.skeleton, list(self.skeleton_refs),
                {n: [d.digest, list(d.refs)] for n, d in self.definitions.items()},
                {n: [list(t) for t in targets] for n, targets in self.bindings.items()},
                list(self.stars), list(self.opaque), self.module_getattr, list(self.variables)]

    @classmethod
    def from_json(cls, data: list[Any]) -> "ModuleNames":
        skeleton, refs, definitions, bindings, stars, opaque, module_getattr, variables = data
        return cls(
            str(skeleton), tuple(refs),
            {n: Definition(d, tuple(r)) for n, (d, r) in definitions.items()},
            {n: tuple((node, attr) for node, attr in targets) for n, targets in bindings.items()},
            tuple(stars), tuple(opaque), bool(module_getattr), tuple(variables),
        )
