"""The imports a Python file declares, found with `ast` (project code is never imported)."""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from doit_scout.analyzers.symbols import ModuleSymbols, module_symbols, type_checking_test

# Bump when the parse result for the same bytes would differ: cached results are keyed by it.
PARSER_VERSION = 25

# A file larger than this is not parsed: its imports count as unknown, like a syntax error.
MAX_PARSE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ImportRecord:
    """One import as written. `module` is "" in `from . import x`; `names` is empty for
    `import a.b`. Flags say where and how it is imported."""

    module: str
    names: tuple[str, ...] = ()
    level: int = 0
    line: int = 0
    type_checking: bool = False
    in_function: bool = False
    dynamic: bool = False
    pytest_plugin: bool = False
    # `module` is a dotted attribute chain on an imported name (`pkg.sub.f` after `import pkg`):
    # it depends on the deepest project module the chain names, whoever imported it first.
    attribute: bool = False

    def to_json(self) -> list[Any]:
        flags = (
            self.type_checking | self.in_function << 1 | self.dynamic << 2 | self.pytest_plugin << 3
            | self.attribute << 4
        )
        return [self.module, list(self.names), self.level, self.line, flags]

    @classmethod
    def from_json(cls, data: list[Any]) -> "ImportRecord":
        module, names, level, line, flags = data
        return cls(
            module, tuple(names), level, line,
            type_checking=bool(flags & 1), in_function=bool(flags & 2),
            dynamic=bool(flags & 4), pytest_plugin=bool(flags & 8), attribute=bool(flags & 16),
        )


@dataclass(frozen=True)
class ParseResult:
    """What parsing found. With `error` set, the imports are unknown (not: there are none)."""

    imports: tuple[ImportRecord, ...] = ()
    error: str | None = None
    # Lines of `import_module(...)`/`__import__(...)` calls whose target is not a literal.
    unresolved_dynamic: tuple[int, ...] = ()
    symbols: ModuleSymbols | None = None  # None when it could not be parsed

    def to_json(self) -> dict[str, Any]:
        return {
            "imports": [i.to_json() for i in self.imports],
            "error": self.error,
            "unresolved_dynamic": list(self.unresolved_dynamic),
            "symbols": self.symbols.to_json() if self.symbols is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ParseResult":
        return cls(
            tuple(ImportRecord.from_json(i) for i in data["imports"]),
            data["error"],
            tuple(data["unresolved_dynamic"]),
            ModuleSymbols.from_json(data["symbols"]) if data.get("symbols") is not None else None,
        )


def parse_imports(source: bytes) -> ParseResult:
    if len(source) > MAX_PARSE_BYTES:
        return ParseResult(error=f"not parsed: {len(source)} bytes is over the {MAX_PARSE_BYTES} limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like are not ours to report
            tree = ast.parse(source)
    except SyntaxError as err:
        return ParseResult(error=f"syntax error at line {err.lineno}: {err.msg}")
    except (ValueError, UnicodeDecodeError) as err:  # null bytes, undecodable source
        return ParseResult(error=f"cannot decode: {err}")
    is_type_checking = type_checking_test(tree)
    collector = _ImportCollector(b"import_module" in source or b"__import__" in source, is_type_checking)
    collector.visit(tree)
    imports = [*collector.imports, *_attribute_chains(tree, collector.imports)]
    symbols = module_symbols(tree, is_type_checking)  # last: it empties the tree's function bodies
    return ParseResult(tuple(imports), None, tuple(collector.unresolved_dynamic), symbols)


def _attribute_chains(tree: ast.Module, imports: list[ImportRecord]) -> list[ImportRecord]:
    """Dotted chains used on names that absolute imports bind (`import a.b` binds `a`, `import
    a.b as c` binds `c`, `from a import b` binds `b`), expanded to full names, once each."""
    bound: dict[str, str] = {}
    for record in imports:
        if record.level or record.dynamic or record.pytest_plugin or not record.module:
            continue
        if record.names:
            bound.update((name, f"{record.module}.{name}") for name in record.names if name != "*")
        else:
            bound.setdefault(record.module.partition(".")[0], record.module.partition(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
    if not bound:
        return []
    chains: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            parts: list[str] = []
            current: ast.expr = node
            while isinstance(current, ast.Attribute):
                parts.append(current.attr)
                current = current.value
            if isinstance(current, ast.Name) and current.id in bound:
                chains.setdefault(".".join([bound[current.id], *reversed(parts)]), node.lineno)
    # The longest chain holds its prefixes: keep those no other chain extends.
    longest = [c for c in chains if not any(o.startswith(c + ".") for o in chains)]
    return [ImportRecord(chain, (), 0, chains[chain], attribute=True) for chain in sorted(longest)]


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, look_for_calls: bool, is_type_checking: Callable[[ast.expr], bool]) -> None:
        self.imports: list[ImportRecord] = []
        self.is_type_checking = is_type_checking
        self.unresolved_dynamic: list[int] = []
        self.look_for_calls = look_for_calls
        self.function_depth = 0
        self.type_checking_depth = 0

    def _add(self, module: str, names: tuple[str, ...], level: int, line: int, **flags: bool) -> None:
        self.imports.append(ImportRecord(
            module, names, level, line,
            type_checking=self.type_checking_depth > 0, in_function=self.function_depth > 0, **flags,
        ))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, (), 0, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._add(node.module or "", tuple(a.name for a in node.names), node.level, node.lineno)

    def _visit_function(self, node: ast.AST) -> None:
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _visit_function

    def visit_If(self, node: ast.If) -> None:
        if self.is_type_checking(node.test):
            self.type_checking_depth += 1
            for stmt in node.body:
                self.visit(stmt)
            self.type_checking_depth -= 1
            for stmt in node.orelse:
                self.visit(stmt)
        else:
            self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if self.function_depth == 0 and any(
            isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets
        ):
            for name in _string_literals(node.value):
                self._add(name, (), 0, node.lineno, pytest_plugin=True)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if self.look_for_calls and _call_name(node.func) in ("import_module", "__import__"):
            target = node.args[0] if node.args else None
            if isinstance(target, ast.Constant) and isinstance(target.value, str):
                name = target.value
                level = len(name) - len(name.lstrip("."))
                self._add(name[level:], (), level, node.lineno, dynamic=True)
            else:
                self.unresolved_dynamic.append(node.lineno)
        self.generic_visit(node)


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _string_literals(value: ast.expr) -> list[str]:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, (ast.List, ast.Tuple)):
        return [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []
