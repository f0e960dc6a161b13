"""Which test files a set of changed graph nodes can affect."""

from __future__ import annotations

import posixpath
from typing import Collection, Mapping

from analyzers.data_deps import DATA_PREFIX
from analyzers.graph import ProjectGraph
from analyzers.unit_graph import DIR_PREFIX


def affected_tests(graph: ProjectGraph, test_paths: Collection[str], changed: Collection[str]) -> set[str]:
    """Test files (paths) that are, or import directly or not, one of the `changed` nodes."""
    return affected_units(graph, {p: (n,) for n, p in graph.modules.items() if p in test_paths}, changed)


def affected_units(
    graph: ProjectGraph, unit_inputs: Mapping[str, Collection[str]], changed: Collection[str],
) -> set[str]:
    """Units (path -> its input nodes) with an input that is, or depends directly or not on, one
    of the `changed` nodes."""
    importers: dict[str, list[str]] = {}
    for edge in graph.edges:
        importers.setdefault(edge.imported, []).append(edge.importer)
    reached, stack = set(), [n for n in changed]
    while stack:
        node = stack.pop()
        if node not in reached:
            reached.add(node)
            stack.extend(importers.get(node, ()))
    return {path for path, nodes in unit_inputs.items() if not reached.isdisjoint(nodes)}


def nodes_of(graph: ProjectGraph, paths: Collection[str]) -> set[str]:
    """The graph nodes (modules and data files) that stand for `paths`, and the folders holding
    them that code was seen to list (a file added or removed there changes the listing)."""
    wanted = set(paths)
    nodes = {node for node, path in graph.modules.items() if path in wanted}
    nodes |= {node for node in graph.data if node.removeprefix(DATA_PREFIX) in wanted}
    folders = {DIR_PREFIX + (posixpath.dirname(p) or ".") for p in wanted}
    return nodes | {edge.imported for edge in graph.edges if edge.imported in folders}
