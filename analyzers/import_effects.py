"""Whether importing a test module may change state that other test files read.

Collection imports every test module in the process that then runs them all: what a test
module's module-level code does to other modules (`m.registry['x'] = 1`, `m.register(handler)`,
`@m.route` on a test) every file's tests see, and none of their records names the module that
did it. A test module with such code counts for every test file (analyzers.unit_graph); most test modules import, define and assign their own
names only, and count for no other file.

The rule, on module-level code and class bodies (what runs at import), function bodies left out:
an effect is an assignment, augmented assignment or `del` whose target is an attribute or an item
of an object the module did not make (`m.b = ...`, `m.registry[k] = ...`), a call made as a
statement on such an object (`m.register(x)`, `random.seed(1)`), a decorator, base or
class keyword (`metaclass=`) that is not pytest's or a known one (`functools`, `dataclass`,
Hypothesis's `given`, attrs' `attr.s`...), and any call of `setattr`, `delattr`, `exec` or `eval`. A name
bound by assignment (`app = make_app()`) is the module's own: the code the call runs is import-time
code, which counts for every test file already. Source that does not parse counts as an effect."""

from __future__ import annotations

import ast

# Decorators and calls that hand a definition to no registry another file could read.
_SAFE_ROOTS = frozenset({
    "pytest", "functools", "dataclasses", "contextlib", "typing", "abc", "unittest", "mock", "enum",
    "staticmethod", "classmethod", "property", "dataclass", "contextmanager", "asynccontextmanager", "wraps",
    "lru_cache", "cache", "cached_property", "total_ordering", "patch", "overload", "abstractmethod", "unique",
    "skip", "skipIf", "skipUnless", "expectedFailure", "parametrize", "fixture",
})
# Decorators that wrap a test or build a class and register it nowhere (Hypothesis's, attrs'); as
# statements, their calls may well change state (`settings.register_profile(...)`).
_SAFE_DECORATOR_ROOTS = _SAFE_ROOTS | {"hypothesis", "given", "settings", "example", "seed", "reproduce_failure",
                                       "composite", "st", "strategies", "attr", "attrs", "define", "frozen",
                                       "mutable"}
_WRITING_BUILTINS = frozenset({"setattr", "delattr", "exec", "eval"})


def has_import_effects(source: str | bytes) -> bool:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return True
    return import_effects_of(tree)


def import_effects_of(tree: ast.Module) -> bool:
    """has_import_effects of a parsed module (its function bodies still in place or not: the rule
    does not look into them)."""
    own = {name for node in tree.body for name in _bound(node)}
    return any(_effect(node, own) for node in tree.body)


def _bound(node: ast.stmt) -> list[str]:
    """The names module-level code binds to objects of its own (not by import)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = list(node.targets) if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    names: list[str] = []
    while targets:
        target = targets.pop()
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            targets += target.elts
        elif isinstance(target, ast.Starred):
            targets.append(target.value)
    return names


def _effect(node: ast.stmt, own: set[str]) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass, ast.Global, ast.Nonlocal)):
        return False
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return any(_foreign(d, own) for d in node.decorator_list) or _writes(node.args)
    if isinstance(node, ast.ClassDef):
        outside = [*node.decorator_list, *(k.value for k in node.keywords)]  # a base: its __init_subclass__ is trusted
        return any(_foreign(e, own) for e in outside) or any(_effect(s, own) for s in node.body)
    if isinstance(node, ast.Expr):
        if isinstance(node.value, ast.Constant):
            return False  # a docstring
        safe = isinstance(node.value, ast.Call) and (_root(node.value.func) in _SAFE_ROOTS | own)
        return not safe or _writes(node.value)  # `ALLOWED.add(x)` changes the module's own set
    if isinstance(node, ast.Assign):
        return any(not _own(t, own) for t in node.targets) or _writes(node.value)
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        return not _own(node.target, own) or (node.value is not None and _writes(node.value))
    if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
        children = [getattr(node, name, []) for name in ("body", "orelse", "finalbody")]
        children += [h.body for h in getattr(node, "handlers", [])]
        head = [getattr(node, "test", None), getattr(node, "iter", None),
                *(i.context_expr for i in getattr(node, "items", []))]
        return any(_writes(e) for e in head if e is not None) or any(_effect(s, own) for block in children for s in block)
    return True  # del, raise, assert, match...: not worth telling apart


def _own(target: ast.expr, own: set[str]) -> bool:
    """A name of the module's own namespace, an item or attribute of an object of its own (`CASES['a'] =`)."""
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_own(e, own) for e in target.elts)
    if isinstance(target, ast.Starred):
        return _own(target.value, own)
    return _root(target) in own if isinstance(target, (ast.Attribute, ast.Subscript)) else False


def _foreign(expr: ast.expr, own: set[str]) -> bool:
    """A decorator or keyword that may hand the definition to code other than pytest's."""
    root = _root(expr.func if isinstance(expr, ast.Call) else expr)
    if root in _SAFE_DECORATOR_ROOTS or root in own:  # `needs_x = pytest.mark.skipif(...)`, then `@needs_x`
        return _writes(expr)
    return True


def _writes(tree: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in _WRITING_BUILTINS
               for n in ast.walk(tree))


def _root(expr: ast.expr) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Call, ast.Subscript)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None
