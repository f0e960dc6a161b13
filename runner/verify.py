"""`doit scout --verify`: the incremental Scout state must equal one built from scratch."""

from __future__ import annotations

from doit_scout.analyzers.data_deps import DATA_PREFIX
from doit_scout.scout_state import ScoutState


def files_that_differ(incremental: ScoutState, scratch: ScoutState) -> list[str]:
    """The project files whose facts (digest, category, module, imports, fingerprint...) differ."""
    paths_of = {**scratch.graph.modules, **incremental.graph.modules}

    def path(node: str) -> str:
        if node.startswith(DATA_PREFIX):
            return node.removeprefix(DATA_PREFIX)
        return paths_of.get(node, node)

    differing = set()
    a, b = incremental.facts(), scratch.facts()
    for key in ("files",):
        differing |= {p for p in a[key].keys() | b[key].keys() if a[key].get(p) != b[key].get(p)}
    for key in ("modules", "broken", "dynamic", "fingerprints"):
        differing |= {path(n) for n in a[key].keys() | b[key].keys() if a[key].get(n) != b[key].get(n)}
    for key in ("missing", "data", "shadowed"):
        differing |= {path(n) for n in set(a[key]) ^ set(b[key])}
    differing |= {path(edge.importer) for edge in set(a["edges"]) ^ set(b["edges"])}
    return sorted(differing)
