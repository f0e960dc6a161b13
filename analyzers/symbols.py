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
  an edit of `sys.modules` at import time): such a module counts as a whole. A definition whose
  own code does so is `opaque`: it counts as referring to its whole module.
- A module-level `__getattr__` (**module_getattr**) answers the names the module does not bind: a
  reference to such a name reaches it, not the whole module.

Digests leave out line numbers and comments: moving code or editing a comment changes nothing."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

import xxhash

# Calls whose use makes a module's names reachable in ways no reference shows.
_OPAQUE_CALLS = frozenset({"globals", "vars", "exec", "eval", "locals", "__import__"})
_SYS_MODULES_EDITS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"})


@dataclass(frozen=True)
class Definition:
    digest: str
    refs: tuple[str, ...]
    opaque: bool = False  # its code can reach any name of its module (`globals()[name]`)


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
            "definitions": {n: [d.digest, list(d.refs), d.opaque] for n, d in self.definitions.items()},
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
            definitions={n: Definition(d, tuple(refs), opaque) for n, (d, refs, opaque) in data["definitions"].items()},
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
    definitions = {name: Definition(_digest(nodes), _refs(nodes), bool(_opaque_uses(nodes))) for name, nodes in found.items()}
    bindings, stars = _bindings(tree)
    variables = _assigned_at_module_level(tree)
    module_getattr = "__getattr__" in variables or "__getattr__" in found or "__getattr__" in bindings
    _strip_bodies(tree)
    skeleton_refs = _refs([s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))])
    opaque = _opaque_uses(tree.body)
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


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _refs(nodes: Iterable[ast.AST]) -> tuple[str, ...]:
    """Every name and dotted chain rooted at a name that the code mentions (the longest chain
    only: `a.b.c` stands for `a` and `a.b` too), leaving out the local variables and parameters of
    the functions, lambdas and comprehensions it contains: they name nothing of any module."""
    found: set[str] = set()
    stack: list[tuple[ast.AST, frozenset[str]]] = [(node, frozenset()) for node in nodes]
    while stack:
        node, local = stack.pop()
        if isinstance(node, ast.Attribute):
            chain = _chain(node)
            if chain is not None:
                if chain.partition(".")[0] not in local:
                    found.add(chain)
                continue
        elif isinstance(node, ast.Name):
            if node.id not in local:
                found.add(node.id)
            continue
        elif isinstance(node, _FUNCTIONS):
            # Decorators, defaults and annotations run in the enclosing scope; the body in its own.
            outer = [*getattr(node, "decorator_list", ()), *node.args.defaults,
                     *(d for d in node.args.kw_defaults if d is not None), *_annotations(node)]
            stack.extend((child, local) for child in outer)
            body = node.body if isinstance(node.body, list) else [node.body]
            inner = local | _parameters(node.args) | _assigned_in(body)
            stack.extend((child, inner) for child in body)
            continue
        elif isinstance(node, _COMPREHENSIONS):
            first, *rest = node.generators
            stack.append((first.iter, local))  # evaluated in the enclosing scope
            inner = local | {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
            parts = [*first.ifs, *(p for g in rest for p in (g.iter, *g.ifs))]
            parts += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            stack.extend((child, inner) for child in parts)
            continue
        stack.extend((child, local) for child in ast.iter_child_nodes(node))
    return tuple(sorted(found))


def _annotations(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Lambda):
        return []
    args = node.args  # type: ignore[attr-defined]
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, *(a for a in (args.vararg, args.kwarg) if a)]
    return [a.annotation for a in every if a.annotation is not None] + ([node.returns] if node.returns else [])  # type: ignore[attr-defined]


def _parameters(args: ast.arguments) -> frozenset[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, *(a for a in (args.vararg, args.kwarg) if a)]
    return frozenset(a.arg for a in every)


def _assigned_in(body: list[ast.stmt]) -> frozenset[str]:
    """The names a function body binds by assignment in its own scope (not in nested functions,
    classes or comprehensions), less those it declares global. Names it imports are left out: an
    import's binding is what a reference resolves through."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack.extend([*node.decorator_list, *getattr(node, "bases", ())])
            continue
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        if not isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
            stack.extend(ast.iter_child_nodes(node))
    return frozenset(bound - declared_global)


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


def _opaque_uses(nodes: Iterable[ast.AST]) -> tuple[str, ...]:
    """Why this code can reach names no reference shows: `globals()`, `exec` and the like, or an
    edit of `sys.modules` (reading it, as funcy's `__all__` does, is no reason)."""
    reasons: set[str] = set()
    for node in (n for top in nodes for n in ast.walk(top)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _OPAQUE_CALLS \
                and not (node.func.id == "vars" and node.args):  # vars(obj) reads obj, not this module
            reasons.add(f"{node.func.id}()")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                and isinstance(node.value, ast.Attribute) and _chain(node.value) == "sys.modules":
            reasons.add("sys.modules edit")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _SYS_MODULES_EDITS and _chain(node.func) == f"sys.modules.{node.func.attr}":
            reasons.add("sys.modules edit")
    return tuple(sorted(reasons))


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
                {n: [d.digest, list(d.refs), d.opaque] for n, d in self.definitions.items()},
                {n: [list(t) for t in targets] for n, targets in self.bindings.items()},
                list(self.stars), list(self.opaque), self.module_getattr, list(self.variables)]

    @classmethod
    def from_json(cls, data: list[Any]) -> "ModuleNames":
        skeleton, refs, definitions, bindings, stars, opaque, module_getattr, variables = data
        return cls(
            str(skeleton), tuple(refs),
            {n: Definition(d, tuple(r), opaque) for n, (d, r, opaque) in definitions.items()},
            {n: tuple((node, attr) for node, attr in targets) for n, targets in bindings.items()},
            tuple(stars), tuple(opaque), bool(module_getattr), tuple(variables),
        )
