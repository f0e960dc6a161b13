"""Which test files a set of changed graph nodes can affect."""

from __future__ import annotations

import posixpath
from typing import Collection, Mapping

from doit_scout.analyzers.data_deps import DATA_PREFIX
from doit_scout.analyzers.graph import ProjectGraph
from doit_scout.analyzers.symbol_graph import SymbolGraph
from doit_scout.analyzers.targets import DIR_PREFIX, LITERALS_PREFIX


def affected_units(
    successors: Mapping[str, Collection[str]], unit_inputs: Mapping[str, Collection[str]], changed: Collection[str],
) -> set[str]:
    """Units (path -> its input nodes) with an input that is, or depends directly or not on, one
    of the `changed` nodes of a graph (node -> the nodes it depends on)."""
    importers: dict[str, list[str]] = {}
    for node, targets in successors.items():
        for target in targets:
            importers.setdefault(target, []).append(node)
    reached, stack = set(), [n for n in changed]
    while stack:
        node = stack.pop()
        if node not in reached:
            reached.add(node)
            stack.extend(importers.get(node, ()))
    return {path for path, nodes in unit_inputs.items() if not reached.isdisjoint(nodes)}


def changed_names(before: SymbolGraph, after: SymbolGraph) -> set[str]:
    """Module and definition nodes of `after` that are new, or whose content or named dependencies
    differ from `before`; and those of `before` that are gone (whole-module nodes stand for them)."""
    old, new = before.named_contents(), after.named_contents()

    def named_successors(symbols: SymbolGraph, node: str, named: Mapping[str, str]) -> set[str]:
        return {t for t in symbols.successors.get(node, ()) if t in named}

    changed = {n for n, content in new.items() if old.get(n) != content
               or named_successors(after, n, new) != named_successors(before, n, old)}
    return changed | {n for n in old if n not in new}


def nodes_of(graph: ProjectGraph, paths: Collection[str], added_or_removed: Collection[str]) -> set[str]:
    """The graph nodes (modules, data files, literals) that stand for the changed `paths`, and the folders
    code was seen to list that hold one of `added_or_removed` (a listing holds names: a file
    edited in place leaves it as it was)."""
    wanted = set(paths)
    nodes = {node for node, path in graph.modules.items() if path in wanted}
    nodes |= {node for node in graph.data if node.removeprefix(DATA_PREFIX) in wanted}
    folders = {DIR_PREFIX + (posixpath.dirname(p) or ".") for p in added_or_removed}
    # a module whose constants a reader took (analyzers.literals) stands for the edited file too
    read = folders | {LITERALS_PREFIX + p for p in wanted}
    return nodes | {edge.imported for edge in graph.edges if edge.imported in read}
