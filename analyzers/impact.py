"""Which test files a set of changed graph nodes can affect."""

from __future__ import annotations

from typing import Collection

from analyzers.data_deps import DATA_PREFIX
from analyzers.graph import ProjectGraph


def affected_tests(graph: ProjectGraph, test_paths: Collection[str], changed: Collection[str]) -> set[str]:
    """Test files (paths) that are, or import directly or not, one of the `changed` nodes."""
    importers: dict[str, list[str]] = {}
    for edge in graph.edges:
        importers.setdefault(edge.imported, []).append(edge.importer)
    reached, stack = set(), [n for n in changed]
    while stack:
        node = stack.pop()
        if node not in reached:
            reached.add(node)
            stack.extend(importers.get(node, ()))
    return {path for node, path in graph.modules.items() if path in test_paths and node in reached}


def nodes_of(graph: ProjectGraph, paths: Collection[str]) -> set[str]:
    """The graph nodes (modules and data files) that stand for `paths`."""
    wanted = set(paths)
    nodes = {node for node, path in graph.modules.items() if path in wanted}
    return nodes | {node for node in graph.data if node.removeprefix(DATA_PREFIX) in wanted}
