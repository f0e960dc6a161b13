"""Merkle fingerprints over import closures.

A node's fingerprint changes exactly when the content of any node in its import closure changes,
or the closure's shape (which node imports which) does. Import cycles are condensed first: the
nodes of one strongly connected group share one fingerprint.
"""

from __future__ import annotations

from typing import Collection, Iterable, Iterator, Mapping

import xxhash


def compute_fingerprints(
    contents: Mapping[str, str], successors: Mapping[str, Collection[str]],
    nodes: Collection[str] | None = None,
) -> dict[str, str]:
    """`contents` maps each node to a digest of its own content; every successor is a node.
    `nodes`, when given, are the only nodes fingerprinted: an import closure (see `closure_of`)."""
    return _fingerprint_nodes(contents, successors, contents.keys() if nodes is None else nodes, {})


def update_fingerprints(
    previous: Mapping[str, str],
    contents: Mapping[str, str],
    successors: Mapping[str, Collection[str]],
    dirty: Iterable[str],
    nodes: Collection[str] | None = None,
) -> dict[str, str]:
    """Recompute only what a change reaches: `dirty` are nodes that are new, or whose content or
    direct imports changed; every other node keeps its previous fingerprint unless it imports,
    directly or not, a dirty node. Equal to `compute_fingerprints` on the same graph and `nodes`."""
    scope = contents.keys() if nodes is None else nodes
    importers: dict[str, list[str]] = {node: [] for node in scope}
    for node in scope:
        for target in successors.get(node, ()):
            importers[target].append(node)
    stale = set()
    stack = [n for n in dirty if n in importers]
    while stack:
        node = stack.pop()
        if node not in stale:
            stale.add(node)
            stack.extend(importers[node])
    kept = {n: fp for n, fp in previous.items() if n in importers and n not in stale}
    return {**kept, **_fingerprint_nodes(contents, successors, stale, kept)}


def closure_of(roots: Iterable[str], successors: Mapping[str, Collection[str]]) -> set[str]:
    """`roots` and every node they import, directly or not."""
    found: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(successors.get(node, ()))
    return found


def _fingerprint_nodes(
    contents: Mapping[str, str],
    successors: Mapping[str, Collection[str]],
    nodes: Iterable[str],
    known: Mapping[str, str],
) -> dict[str, str]:
    """Fingerprint `nodes`; successors outside them must be in `known`."""
    result: dict[str, str] = {}
    for group in _strongly_connected(nodes, successors, known):
        members = set(group)
        parts = []
        for node in sorted(group):
            parts.append(f"{node}\0{contents[node]}\0")
            for target in sorted(successors.get(node, ())):
                fp = "~" if target in members else (result.get(target) or known[target])
                parts.append(f"{target}\0{fp}\0")
            parts.append("\1")
        digest = xxhash.xxh3_128_hexdigest("".join(parts).encode("utf-8", "surrogateescape"))
        for node in group:
            result[node] = digest
    return result


def _strongly_connected(
    nodes: Iterable[str], successors: Mapping[str, Collection[str]], outside: Mapping[str, str]
) -> list[list[str]]:
    """Tarjan's algorithm, iterative; groups come out successors first. Nodes in `outside` are
    already done and are not entered."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    work: list[tuple[str, Iterator[str]]] = []

    def enter(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(sorted(successors.get(node, ())))))

    for start in sorted(nodes):
        if start in index:
            continue
        enter(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child in outside:
                    continue
                if child not in index:
                    enter(child)
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(group)
    return groups
