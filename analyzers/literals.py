"""The literals of a module: what a reader that takes a module's constants from its source, and
nothing else of it, depends on.

Hypothesis's pytest plugin reads the source of every project module loaded (at collection, and
again when a test loads new ones) and draws its generated values partly from the constants it
finds there (`hypothesis.internal.constants_ast`): so a module's constants are an input of every
test in that process, but its comments, docstrings and the rest of its code are not. The digest
here covers every constant of the module but the strings that stand alone as a statement
(docstrings), which Hypothesis leaves out too; that is more than Hypothesis takes (it also skips
the parts of f-strings), never less."""

from __future__ import annotations

import ast

import xxhash


def literals_digest(tree: ast.Module) -> str:
    """A digest of the constants in `tree`, in the order they appear, docstrings left out."""
    hasher = xxhash.xxh3_128()
    for constant in _constants(tree):
        hasher.update(f"{type(constant.value).__name__}:{constant.value!r}\0".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


def _constants(tree: ast.AST) -> list[ast.Constant]:
    nodes = list(ast.walk(tree))  # one walk: a statement comes before the constant it holds
    standalone = {id(node.value) for node in nodes
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}
    return [node for node in nodes if isinstance(node, ast.Constant) and id(node) not in standalone]
