"""Name-level facts of one module, found with `ast`: what runs when it is imported, what it defines,
what each definition refers to by name, and which names its imports bind.

- The **interface** is the module with every function and method body left out: module-level code,
  class bodies, signatures, decorators and defaults. It is what a type checker reads of a module.
- The **skeleton** is what importing the module runs: the interface less the *plain* functions,
  whose definition only binds a name (no decorator; defaults that are constants; annotations that
  are not evaluated or name builtins; not named for pytest to find by itself, not used by
  module-level code). A change to the skeleton reaches every importer; adding, removing or
  changing a plain function reaches only code that refers to it (a name an importer imports that
  no longer exists is part of the importer's own skeleton: analyzers.symbol_graph).
- Each **definition** (a top-level function, or a class with all its methods) has a digest of its
  code and the names its code refers to: bare names and dotted chains rooted at a name
  (`pkg.mod.func`). A change inside a body reaches only code that can refer to it by name.
- **Bindings** are the names import statements bind, anywhere in the module (a function-level import
  binds its name for that function's code).
- Each definition also has a **frame** digest: its code with every function and method body left
  out, docstring and all: what code that names it without running it can see (signatures,
  defaults, decorators, class bodies and class docstrings). The **bodies** are the
  digests of each function and method body (less its docstring) by qualified name (`func`,
  `Class.method`): what a test that was seen running that code depends on; the **docs** are the
  digests of their docstrings, what a test that was seen reading `__doc__` depends on
  (doit_scout.executed).
- **Opaque** lists why module-level code makes the module's names unknowable (`globals()`, `exec`,
  an edit of `sys.modules` at import time): such a module counts as a whole. A definition whose
  own code does so is `opaque`: it counts as referring to its whole module.
- A module-level `__getattr__` (**module_getattr**) answers the names the module does not bind: a
  reference to such a name reaches it, not the whole module.

Digests leave out line numbers and comments: moving code or editing a comment changes nothing."""

from __future__ import annotations

import ast
import builtins
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, cast

import xxhash

from doit_scout.analyzers.import_effects import import_effects_of
from doit_scout.analyzers.literals import literals_digest
from doit_scout.analyzers.state_writes import state_writers

# Calls whose use makes a module's names reachable in ways no reference shows.
_OPAQUE_CALLS = frozenset({"globals", "vars", "exec", "eval", "locals", "__import__"})
_SYS_MODULES_EDITS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"})


@dataclass(frozen=True)
class Definition:
    digest: str
    refs: tuple[str, ...]
    opaque: bool = False  # its code can reach any name of its module (`globals()[name]`)
    # What importing the module hands the definition to, which may keep it (a registry, a route
    # table, a command group) for code that never names it to call later: the decorators of it
    # and, for a class, of its methods; a class's bases (their `__init_subclass__`, their
    # metaclass); and whether the class itself has a metaclass, class keywords or an
    # `__init_subclass__` of its own. "?" stands for an expression that is no dotted name.
    decorators: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()
    subclass_hook: bool = False
    frame: str = ""  # the digest of its code less its function bodies; a constant's is its digest
    # A function of it may answer from a memo without running (`_memoized`): its code and what
    # it calls count as a whole.
    memoized: bool = False
    # The imports its function bodies run (`def pager(): from ._impl import Pager`): running them
    # runs what importing those modules runs, which importing this definition's module does not.
    imports: tuple["Binding", ...] = ()

    def to_json(self) -> list[Any]:
        return [self.digest, list(self.refs), self.opaque, list(self.decorators), list(self.bases), self.subclass_hook,
                self.frame, self.memoized, [[b.module, b.level, b.name] for b in self.imports]]

    @classmethod
    def from_json(cls, data: list[Any]) -> "Definition":
        digest, refs, opaque, decorators, bases, subclass_hook, frame, memoized, imports = data
        return cls(digest, tuple(refs), bool(opaque), tuple(decorators), tuple(bases), bool(subclass_hook), str(frame),
                   bool(memoized), tuple(Binding(m, level, name) for m, level, name in imports))


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
    interface: str
    skeleton_refs: tuple[str, ...]
    definitions: Mapping[str, Definition]
    bindings: Mapping[str, tuple[Binding, ...]]
    stars: tuple[Binding, ...]  # `from m import *`: names this module does not bind may come from m
    opaque: tuple[str, ...]
    module_getattr: bool
    variables: tuple[str, ...]  # names module-level code binds by assignment: the skeleton holds them
    exports: tuple[str, ...] | None = None  # a literal `__all__`; None when computed or absent
    bodies: Mapping[str, str] = field(default_factory=dict)  # qualified name -> body digest
    writers: frozenset[str] = frozenset()  # the bodies that may leave state (analyzers.state_writes)
    import_effects: bool = False  # importing it may change other modules' state (analyzers.import_effects)
    literals: str = ""  # its constants, docstrings left out (analyzers.literals)
    docs: Mapping[str, str] = field(default_factory=dict)  # qualified name -> its docstring's digest

    def to_json(self) -> dict[str, Any]:
        return {
            "skeleton": self.skeleton,
            "interface": self.interface,
            "skeleton_refs": list(self.skeleton_refs),
            "definitions": {n: d.to_json() for n, d in self.definitions.items()},
            "bindings": {n: [[b.module, b.level, b.name] for b in bs] for n, bs in self.bindings.items()},
            "stars": [[b.module, b.level] for b in self.stars],
            "opaque": list(self.opaque),
            "module_getattr": self.module_getattr,
            "variables": list(self.variables),
            "exports": None if self.exports is None else list(self.exports),
            "bodies": dict(self.bodies),
            "writers": sorted(self.writers),
            "import_effects": self.import_effects,
            "literals": self.literals,
            "docs": dict(self.docs),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ModuleSymbols":
        return cls(
            skeleton=str(data["skeleton"]),
            interface=str(data["interface"]),
            skeleton_refs=tuple(data["skeleton_refs"]),
            definitions={n: Definition.from_json(d) for n, d in data["definitions"].items()},
            bindings={n: tuple(Binding(m, level, name) for m, level, name in bs) for n, bs in data["bindings"].items()},
            stars=tuple(Binding(m, level, None) for m, level in data["stars"]),
            opaque=tuple(data["opaque"]),
            module_getattr=bool(data["module_getattr"]),
            variables=tuple(data["variables"]),
            exports=None if data["exports"] is None else tuple(data["exports"]),
            bodies={str(k): str(v) for k, v in data["bodies"].items()},
            writers=frozenset(str(w) for w in data["writers"]),
            import_effects=bool(data["import_effects"]),
            literals=str(data["literals"]),
            docs={str(k): str(v) for k, v in data["docs"].items()},
        )


def module_symbols(tree: ast.Module, is_type_checking: Callable[[ast.expr], bool]) -> ModuleSymbols:
    """The facts of a parsed module; `is_type_checking` is its `type_checking_test`. Leaves the
    tree's function bodies emptied (it is done with)."""
    literals = literals_digest(tree)
    found: dict[str, list[ast.AST]] = {}
    for stmt in _module_level(tree.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.setdefault(stmt.name, []).append(stmt)
    definitions = {name: _definition(name, nodes) for name, nodes in found.items()}
    bindings, stars = _bindings(tree)
    variables = _assigned_at_module_level(tree)
    module_getattr = "__getattr__" in variables or "__getattr__" in found or "__getattr__" in bindings
    constants = _constants(tree, set(found) | set(bindings))
    variables = tuple(v for v in variables if v not in constants)
    functions = list(_functions(tree.body, ""))
    # A function a memo serves leaves its answer behind it, whatever its body writes.
    writers = state_writers(functions) | {qualname for qualname, f in functions if not _calls_its_body(f)}
    effects = import_effects_of(tree)
    bodies, docs = _bodies_and_docstrings(tree)
    definitions = {name: replace(d, frame=_digest(found[name])) for name, d in definitions.items()}
    definitions.update({name: Definition(_digest([stmt]), (), frame=_digest([stmt])) for name, stmt in constants.items()})
    _strip_bodies(tree)
    interface = _digest([tree])
    _skip_type_checking_blocks(tree.body, is_type_checking)
    lazy = _lazy_annotations(tree)
    skeleton_refs = _refs([s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))],
                          import_time=True, lazy_annotations=lazy)
    if not any(isinstance(n, ast.Name) and n.id == "__all__" and isinstance(n.ctx, ast.Load) for n in ast.walk(tree)):
        skeleton_refs = tuple(r for r in skeleton_refs if r != "__all__")  # assigning it is no use of it
    opaque = _opaque_uses(tree.body)
    tree.body = [stmt for stmt in tree.body if stmt not in constants.values()]
    bound_here = set(found) | set(variables) | set(bindings) | set(constants)
    # Where module-level code uses a function, or the name is bound twice, the order matters.
    keep = {ref.partition(".")[0] for ref in skeleton_refs} | set(variables) | set(bindings) \
        | {name for name, nodes in found.items() if len(nodes) > 1}
    _drop_plain_functions(tree.body, _plain_function_test(lazy, keep, bound_here))
    exports = _literal_exports(tree)
    if exports is not None:  # star imports resolve through it, and `mod.__all__` reaches it (symbol_graph)
        tree.body = [stmt for stmt in tree.body if not _binds_all(stmt)]
    return ModuleSymbols(_digest([tree]), interface, skeleton_refs, definitions, bindings, stars, opaque,
                         module_getattr, variables, exports, bodies, writers, effects, literals, docs)


def _bodies_and_docstrings(tree: ast.Module) -> tuple[dict[str, str], dict[str, str]]:
    """The body digest of every function and method by the qualified name Python gives its code
    (`Class.method`; functions nested in a body are part of that body), less its docstring, and
    the digest of each docstring: a test that runs the code does not read it, and one that reads
    `f.__doc__` runs none of it (doit_scout.tracing sees both). Each is left as `pass`. A name
    defined twice (a property's getter and setter, an `if`/`else` pair) has one digest over all
    its bodies. A function whose decorator may answer a call without running its body
    (`lru_cache`, a project's `memoize`: a test that reuses another test's result ran no frame
    of it) keeps its body in its definition's frame."""
    found: dict[str, list[ast.AST]] = {}
    docstrings: dict[str, list[ast.AST]] = {}
    for qualname, function in _functions(tree.body, ""):
        docstring = function.body[:1] if _is_docstring(function.body[0]) else []
        found.setdefault(qualname, []).append(ast.Module(body=function.body[len(docstring):], type_ignores=[]))
        docstrings.setdefault(qualname, []).extend(docstring)
        if _calls_its_body(function):
            function.body = [ast.Pass()]
    return ({qualname: _digest(bodies) for qualname, bodies in found.items()},
            {qualname: _digest(nodes) for qualname, nodes in docstrings.items() if nodes})


# A decorator whose name has one of these may answer a call without running the function's body
# in a Python frame of its own: a memo (functools' lru_cache, cache and cached_property,
# cachetools' cached, a project's memoize, pyramid's reify, a lazy property, run-once guards) or a
# compiler (numba's jit, torch.jit.script). Any other decorator (a hook marker such as
# marshmallow's post_load, click's command, a wrapper) is taken to run the body when the function
# is called, where the trace sees it; the tests that ran a body that another test's memo serves
# are covered by what ran before them in the process (doit_scout.executed). A decorator with no
# name (`@handlers[0]`) may be anything.
_NOT_CALLING_MARKS = ("cache", "memo", "lazy", "reify", "once", "jit", "vectorize", "compile", "script")


def _calls_its_body(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return all(_calling(_name_of(d)) for d in function.decorator_list)


def _calling(decorator: str) -> bool:
    last = decorator.rpartition(".")[2].lower()
    return decorator != "?" and not any(mark in last for mark in _NOT_CALLING_MARKS)


def _functions(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for stmt in _module_level(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + stmt.name, stmt
        elif isinstance(stmt, ast.ClassDef):
            yield from _functions(stmt.body, f"{prefix}{stmt.name}.")


def _definition(name: str, nodes: list[ast.AST]) -> Definition:
    classes = [n for n in nodes if isinstance(n, ast.ClassDef)]
    # A module's `__getattr__` that keeps what it answers (`globals()[name] = value`, toolz's
    # `__version__`) binds only names it answers: readers of those reach it anyway.
    return Definition(
        _digest(nodes), _refs(nodes), bool(_opaque_uses(nodes, global_writes=name == "__getattr__")),
        decorators=tuple(sorted({_name_of(d) for n in nodes for d in _import_time_decorators(n)})),
        bases=tuple(sorted({_name_of(b.value if isinstance(b, ast.Subscript) else b) for c in classes for b in c.bases})),
        subclass_hook=any(_has_subclass_hook(c) for c in classes),
        memoized=_memoized(nodes),
        imports=_imports_in_bodies(nodes),
    )


def _imports_in_bodies(nodes: list[ast.AST]) -> tuple[Binding, ...]:
    """The modules the import statements inside the definition's function bodies name: `import
    a.b` runs a.b (it binds `a`), `from .m import x` runs .m, or the submodule .m.x."""
    found: list[Binding] = []
    for function in (n for node in nodes for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        for stmt in (n for body in function.body for n in ast.walk(body)):
            if isinstance(stmt, ast.Import):
                found.extend(Binding(alias.name, 0, None) for alias in stmt.names)
            elif isinstance(stmt, ast.ImportFrom):
                found.extend(Binding(stmt.module or "", stmt.level, alias.name) for alias in stmt.names if alias.name != "*")
    return tuple(dict.fromkeys(found))


def _memoized(nodes: list[ast.AST]) -> bool:
    """Whether a function of the definition, or a method of its class, is behind a decorator that
    may answer without running it (_NOT_CALLING_MARKS: lru_cache, a project's
    memoize, a cache on disk): what its body and its callees computed may be served, in this
    process or a later one, to callers that never run them. (State left in a process, a singleton
    or a cache another test filled, is what the tests that ran before show: doit_scout.executed.)"""
    return any(not _calls_its_body(function) for node in nodes if isinstance(node, ast.stmt)
               for _, function in _functions([node], ""))


def _import_time_decorators(node: ast.AST) -> Iterator[ast.expr]:
    """The decorators a definition statement applies when it runs, its methods' (and nested
    classes') included for a class; not those inside function bodies, which run later."""
    yield from getattr(node, "decorator_list", ())
    if isinstance(node, ast.ClassDef):
        for stmt in _module_level(node.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from _import_time_decorators(stmt)


def _has_subclass_hook(node: ast.ClassDef) -> bool:
    """A metaclass other than ABCMeta, class keywords (for `__init_subclass__`), or an
    `__init_subclass__` of its own: code that runs for the class or its subclasses."""
    for keyword in node.keywords:
        if keyword.arg != "metaclass" or _name_of(keyword.value).rpartition(".")[2] != "ABCMeta":
            return True
    return any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == "__init_subclass__"
               for s in _module_level(node.body))


def _name_of(expr: ast.expr) -> str:
    """`a.b` for `a.b` or `@a.b(...)`; "?" for anything else (`@handlers[0]`)."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return _chain(expr) or "?"
    return "?"


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at module level, inside `if`/`try`/`with`/`for` blocks too."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
            yield from _module_level(stmt.body)
            yield from _module_level(getattr(stmt, "orelse", []))
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            tried = cast(ast.Try, stmt)  # TryStar (3.11+, `except*`) has Try's fields
            yield from _module_level(tried.body)
            for handler in tried.handlers:
                yield from _module_level(handler.body)
            yield from _module_level(tried.orelse)
            yield from _module_level(tried.finalbody)
        elif type(stmt).__name__ == "Match":
            for case in stmt.cases:  # type: ignore[attr-defined]
                yield from _module_level(case.body)


def _digest(nodes: Iterable[ast.AST]) -> str:
    hasher = xxhash.xxh3_128()
    for node in nodes:
        hasher.update(ast.dump(node, annotate_fields=False, include_attributes=False).encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _refs(nodes: Iterable[ast.AST], import_time: bool = False, lazy_annotations: bool = False) -> tuple[str, ...]:
    """Every name and dotted chain rooted at a name that the code mentions (the longest chain
    only: `a.b.c` stands for `a` and `a.b` too), leaving out the local variables and parameters of
    the functions, lambdas and comprehensions it contains: they name nothing of any module.

    `import_time`: only what running module-level code may call or read. Annotations Python does
    not evaluate (`lazy_annotations`) are left out. A class's bases stay: creating a class runs
    what its bases' metaclass takes from them (Enum's `_generate_next_value_`), whatever the
    base is named."""
    found: set[str] = set()
    stack: list[tuple[ast.AST, frozenset[str]]] = [(node, frozenset()) for node in nodes]
    while stack:
        node, local = stack.pop()
        if import_time and lazy_annotations and isinstance(node, ast.AnnAssign):
            stack.extend((child, local) for child in (node.target, node.value) if child is not None)
            continue
        if isinstance(node, ast.Attribute):
            chain = _chain(node)
            if chain is not None:
                if chain.partition(".")[0] not in local:
                    found.add(chain)
                continue
        elif isinstance(node, ast.Name):
            # Binding or deleting a name uses nothing it held (`del toolz` at the end of
            # toolz.curried is no use of the package); `x += 1` reads it (below).
            if node.id not in local and isinstance(node.ctx, ast.Load):
                found.add(node.id)
            continue
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id not in local:
            found.add(node.target.id)
        elif isinstance(node, _FUNCTIONS):
            # Decorators, defaults and annotations run in the enclosing scope; the body in its own.
            outer = [*getattr(node, "decorator_list", ()), *node.args.defaults,
                     *(d for d in node.args.kw_defaults if d is not None),
                     *(_annotations(node) if not (import_time and lazy_annotations) else ())]
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


def _assigned_in(body: Sequence[ast.AST]) -> frozenset[str]:
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


def _opaque_uses(nodes: Iterable[ast.AST], global_writes: bool = False) -> tuple[str, ...]:
    """Why this code can reach names no reference shows: `globals()`, `exec` and the like, or an
    edit of `sys.modules` (reading it, as funcy's `__all__` does, is no reason). `global_writes`:
    `globals()[key] = value` is no reason either."""
    reasons: set[str] = set()
    walked = [n for top in nodes for n in ast.walk(top)]
    writes = {id(n.value) for n in walked if global_writes and isinstance(n, ast.Subscript)
              and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Call)}
    for node in walked:
        if id(node) in writes:
            continue
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
    defaults and class bodies stay), and so are class docstrings: `Cls.__doc__` is read by code
    that names the class, whose definition holds it."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.body = [ast.Pass()]
        elif isinstance(node, ast.ClassDef) and _is_docstring(node.body[0]):
            node.body = node.body[1:] or [ast.Pass()]


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


# Module-level names that the import system or tools read by themselves: never a plain constant.
_SPECIAL_NAMES = frozenset({"__all__", "__path__", "__getattr__", "__dir__", "__spec__", "__loader__",
                            "__package__", "__name__", "__file__", "__builtins__", "__doc__"})


def _constants(tree: ast.Module, defined: set[str]) -> dict[str, ast.stmt]:
    """Module-level names bound once, to a value made of literals only (`__version__ = "1.2"`,
    `TIMEOUT = 60 * 5`, `MODES = ("r", "w")`), and never rebound, deleted or declared `global`
    anywhere: reading one is its only use, so it is a definition of its own, an input of the code
    that names it, not of every importer."""
    bound: dict[str, int] = {}
    for name in _bound_in_module_scope(tree.body):
        bound[name] = bound.get(name, 0) + 1
    declared_global = {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
    found = {}
    for stmt in tree.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else (
            stmt.target if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else None)
        if isinstance(target, ast.Name) and bound.get(target.id) == 1 and target.id not in declared_global \
                and target.id not in defined and target.id not in _SPECIAL_NAMES and _literal(stmt.value):  # type: ignore[attr-defined]
            found[target.id] = stmt
    return found


def _bound_in_module_scope(body: list[ast.stmt]) -> Iterator[str]:
    """Each binding or deletion of a name by module-level code (functions' and classes' own
    scopes left out; a comprehension's targets counted too, which only makes fewer constants)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                yield node.id
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            yield node.name
        elif isinstance(node, ast.MatchMapping) and node.rest:
            yield node.rest
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _literal(expr: ast.expr | None) -> bool:
    """A value evaluating which calls nothing: constants, and containers and operators of them."""
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        return all(_literal(e) for e in expr.elts)
    if isinstance(expr, ast.Dict):
        return all(k is not None and _literal(k) for k in expr.keys) and all(_literal(v) for v in expr.values)
    if isinstance(expr, ast.UnaryOp):
        return _literal(expr.operand)
    if isinstance(expr, ast.BinOp):
        return _literal(expr.left) and _literal(expr.right)
    return False


def _binds_all(stmt: ast.stmt) -> bool:
    """`__all__ = ...`, `__all__ += ...`, `__all__: list[str] = ...` or `__all__.extend(...)`."""
    if isinstance(stmt, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets)
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        return isinstance(stmt.target, ast.Name) and stmt.target.id == "__all__"
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
        and isinstance(stmt.value.func, ast.Attribute) and _chain(stmt.value.func) in ("__all__.extend", "__all__.append")


def _without_bodies(stmt: ast.stmt) -> ast.stmt:
    """A function statement's decorators, defaults and annotations: its body runs later, if ever."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ast.Module(body=[ast.Expr(e) for e in [*stmt.decorator_list, *stmt.args.defaults,
                                                       *(d for d in stmt.args.kw_defaults if d is not None)]],
                          type_ignores=[])  # type: ignore[return-value]
    return stmt


def _literal_exports(tree: ast.Module) -> tuple[str, ...] | None:
    """The names of a module's `__all__` when top-level statements spell them out as string
    constants (`=`, `+=`, `.extend`, `.append`); None when anything else binds or changes it."""
    names: list[str] = []
    seen = False
    for stmt in _module_level(tree.body):
        if not _binds_all(stmt):
            # Any other module-level use (`for name in __all__: ...`) makes it more than a list.
            if not isinstance(stmt, (ast.If, ast.Try, ast.For, ast.While, ast.With)) and any(
                    isinstance(n, ast.Name) and n.id == "__all__" for n in ast.walk(_without_bodies(stmt))):
                return None
            continue
        if stmt not in tree.body:
            return None  # bound inside a block: what it holds depends on the branch taken
        assert isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr))  # what _binds_all accepts
        value = stmt.value if not isinstance(stmt, ast.Expr) else (
            stmt.value.args[0] if len(stmt.value.args) == 1 else None)  # type: ignore[attr-defined]
        if isinstance(stmt, ast.Expr) and stmt.value.func.attr == "append":  # type: ignore[attr-defined]
            value = ast.List(elts=[value]) if value is not None else None
        if not isinstance(value, (ast.List, ast.Tuple)) or not all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts):
            return None
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            names = []
        elif not seen:
            return None
        seen = True
        names.extend(e.value for e in value.elts)  # type: ignore[attr-defined]
    return tuple(names) if seen else None


# Names pytest (or the import system) looks up in a module by themselves: a function so named is
# part of what importing the module provides, even when nothing refers to it.
_LOOKED_UP_PREFIXES = ("test", "setup", "teardown", "pytest_", "__")
# Generic builtins whose subscription at import time cannot fail (Python 3.9 and later).
_GENERIC_BUILTINS = frozenset({"list", "dict", "set", "frozenset", "tuple", "type"})
_BUILTINS = frozenset(dir(builtins))


def _lazy_annotations(tree: ast.Module) -> bool:
    """`from __future__ import annotations`: Python keeps annotations as strings, unevaluated."""
    return any(isinstance(s, ast.ImportFrom) and s.module == "__future__"
               and any(a.name == "annotations" for a in s.names) for s in tree.body)


def type_checking_test(tree: ast.Module) -> Callable[[ast.expr], bool]:
    """Whether an `if` test is typing's own flag, which only a type checker takes as true:
    `TYPE_CHECKING` bound by `from typing import TYPE_CHECKING`, or `t.TYPE_CHECKING` through
    `import typing as t`, where the module binds that name nowhere else. A project's own flag
    of that name (`TYPE_CHECKING = False`, a `global` rebinding it) may be true when the code runs."""
    bound: Counter[str] = Counter()
    flags: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = alias.asname or alias.name.partition(".")[0]
                bound[name] += 1
                if isinstance(node, ast.Import) and alias.name == "typing":
                    modules.add(name)
                elif isinstance(node, ast.ImportFrom) and (node.module, node.level, alias.name) == \
                        ("typing", 0, "TYPE_CHECKING"):
                    flags.add(name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound[node.id] += 1
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[node.name] += 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update({name: 2 for name in node.names})
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound[node.name] += 1
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound[node.rest] += 1
    flags = {name for name in flags if bound[name] == 1}
    modules = {name for name in modules if bound[name] == 1}

    def is_type_checking(test: ast.expr) -> bool:
        if isinstance(test, ast.Name):
            return test.id in flags
        return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING" \
            and isinstance(test.value, ast.Name) and test.value.id in modules

    return is_type_checking


def _skip_type_checking_blocks(body: list[ast.stmt], is_type_checking: Callable[[ast.expr], bool]) -> None:
    """Empties the blocks of typing's `if TYPE_CHECKING:`: importing never runs them. Their `else`
    runs and stays."""
    for stmt in body:
        if isinstance(stmt, ast.If) and is_type_checking(stmt.test):
            stmt.body = [ast.Pass()]


def _plain_function_test(lazy_annotations: bool, keep: set[str], bound: set[str]) -> Callable[[ast.stmt], bool]:
    """Whether a module-level function statement only binds its name when it runs: no decorator,
    defaults that are constants, annotations that Python does not evaluate (`lazy_annotations`)
    or that name builtins the module does not rebind, and a name neither pytest nor module-level
    code looks up (`keep`)."""
    shadowed = bound & _BUILTINS

    def builtin_annotation(node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return node.id in _BUILTINS and node.id not in shadowed
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in _GENERIC_BUILTINS and node.value.id not in shadowed:
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return all(builtin_annotation(p) for p in parts)
        return False

    def plain(stmt: ast.stmt) -> bool:
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) or stmt.decorator_list:
            return False
        if stmt.name in keep or stmt.name.startswith(_LOOKED_UP_PREFIXES):
            return False
        defaults = [*stmt.args.defaults, *(d for d in stmt.args.kw_defaults if d is not None)]
        return all(isinstance(d, ast.Constant) for d in defaults) and (
            lazy_annotations or all(builtin_annotation(a) for a in _annotations(stmt)))

    return plain


def _drop_plain_functions(body: list[ast.stmt], plain: Callable[[ast.stmt], bool]) -> None:
    """Leaves plain functions out of module-level code, inside `if`/`try`/`with`/`for` blocks too."""
    body[:] = [stmt for stmt in body if not plain(stmt)]
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for block in ("body", "orelse", "finalbody"):
            if isinstance(getattr(stmt, block, None), list):
                _drop_plain_functions(getattr(stmt, block), plain)
        for handler in getattr(stmt, "handlers", ()):
            _drop_plain_functions(handler.body, plain)
        for case in getattr(stmt, "cases", ()):
            _drop_plain_functions(case.body, plain)


@dataclass(frozen=True)
class ModuleNames:
    """A module's symbols with its imports resolved against the project: a binding refers to a
    project module node and an attribute of it (None: the module itself); names that come from
    outside the project are left out. A node may be a namespace package, which has no file."""

    skeleton: str
    interface: str
    skeleton_refs: tuple[str, ...]
    definitions: Mapping[str, Definition]
    bindings: Mapping[str, tuple[tuple[str, str | None], ...]]
    stars: tuple[str, ...]
    opaque: tuple[str, ...]
    module_getattr: bool
    variables: tuple[str, ...]
    exports: tuple[str, ...] | None
    bodies: Mapping[str, str]
    # Per definition, the project modules (nodes) the imports in its function bodies run.
    function_imports: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    writers: frozenset[str] = frozenset()  # the bodies that may leave state (analyzers.state_writes)
    import_effects: bool = False  # importing it may change other modules' state (analyzers.import_effects)
    literals: str = ""  # its constants, docstrings left out (analyzers.literals)
    docs: Mapping[str, str] = field(default_factory=dict)  # qualified name -> its docstring's digest

    def to_json(self) -> list[Any]:
        return [self.skeleton, self.interface, list(self.skeleton_refs),
                {n: d.to_json() for n, d in self.definitions.items()},
                {n: [list(t) for t in targets] for n, targets in self.bindings.items()},
                list(self.stars), list(self.opaque), self.module_getattr, list(self.variables),
                None if self.exports is None else list(self.exports), dict(self.bodies),
                {n: list(nodes) for n, nodes in self.function_imports.items()}, sorted(self.writers),
                self.import_effects, self.literals, dict(self.docs)]

    @classmethod
    def from_json(cls, data: list[Any]) -> "ModuleNames":
        (skeleton, interface, refs, definitions, bindings, stars, opaque, module_getattr, variables, exports, bodies,
         function_imports, writers, import_effects, literals, docs) = data
        return cls(
            str(skeleton), str(interface), tuple(refs),
            {n: Definition.from_json(d) for n, d in definitions.items()},
            {n: tuple((node, attr) for node, attr in targets) for n, targets in bindings.items()},
            tuple(stars), tuple(opaque), bool(module_getattr), tuple(variables),
            None if exports is None else tuple(exports), {str(k): str(v) for k, v in bodies.items()},
            {str(n): tuple(nodes) for n, nodes in function_imports.items()}, frozenset(str(w) for w in writers),
            bool(import_effects), str(literals), {str(k): str(v) for k, v in docs.items()},
        )
