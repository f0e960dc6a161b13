"""`--since REV`: the tests the difference between a git revision and the work tree can affect."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from doit_scout.analyzers.categories import Categorizer, Category
from doit_scout.analyzers.graph import ProjectGraph, build_project_graph
from doit_scout.analyzers.hashing import content_hash
from doit_scout.analyzers.impact import affected_units, changed_names, nodes_of
from doit_scout.analyzers.layout import detect_layout
from doit_scout.analyzers.modules import locate_modules
from doit_scout.analyzers.unit_graph import UnitGraph, build_unit_graph
from doit_scout.context import RunContext
from doit_scout.environment import is_external
from doit_scout.parsing import parse_modules
from doit_scout.scout import GRAPH_CATEGORIES
from doit_scout.scout_state import FileEntry, ScoutState


class RevisionError(Exception):
    """A revision that cannot be compared with, worded for the user."""


@dataclass(frozen=True)
class ChangesSince:
    revision: str
    base: str  # the merge base of the revision and HEAD
    changed: frozenset[str]  # paths relative to the project root, deleted ones included
    affected: frozenset[str]  # test file paths
    everything: bool  # a config file changed: every test is affected


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, args, result.stdout, result.stderr)
    return result.stdout.decode("utf-8", "surrogateescape")


def merge_base(root: Path, revision: str) -> str:
    try:
        _git(root, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.CalledProcessError):
        raise RevisionError(f"--since {revision}: {root} is not inside a git repository") from None
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").strip()
    except subprocess.CalledProcessError:
        raise RevisionError(f"--since {revision}: git knows no revision {revision!r} (try git fetch, "
                            "or check the branch name)") from None
    try:
        return _git(root, "merge-base", commit, "HEAD").strip()
    except subprocess.CalledProcessError:
        shallow = _git(root, "rev-parse", "--is-shallow-repository").strip() == "true"
        if shallow:
            raise RevisionError(
                f"--since {revision}: this clone is shallow and lacks the merge base of {revision} and "
                "HEAD; fetch more history (git fetch --unshallow, or fetch-depth: 0 in actions/checkout)"
            ) from None
        raise RevisionError(f"--since {revision}: {revision} and HEAD share no history") from None


def changes_since(context: RunContext, revision: str, state: ScoutState, units: UnitGraph) -> ChangesSince:
    """`units` are the test units over the graph with what running code was observed to read.
    Python code is compared name by name (analyzers.symbol_graph): a test is affected when its
    code can reach a definition or an import-time skeleton that differs; other files by path."""
    root = context.root
    base = merge_base(root, revision)
    diff = _git(root, "diff", "--name-only", "-z", "--no-renames", "--relative", base, "--", ".")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    changed = frozenset(p for p in (diff + untracked).split("\0") if p)
    tests = set(units.unit_nodes)
    everything = any(p in state.files and state.files[p].category is Category.CONFIG for p in changed)
    if everything:
        return ChangesSince(revision, base, changed, frozenset(tests), everything)
    old, old_digests, old_tests = graph_at(context, base)
    old_units = build_unit_graph(old, old_digests, old_tests, {}, digest_of=lambda path: "absent")
    names = changed_names(old_units.symbols, units.symbols)
    added_or_removed = {p for p in changed if (p in state.files) != (p in old_digests)}
    other = nodes_of(units.graph, changed, added_or_removed) - set(units.graph.modules)  # data files, listed folders
    affected = affected_units(units.symbols.successors, units.unit_inputs, names | other)
    # A deleted or renamed definition or module: the tests that reached it at the merge base.
    affected |= affected_units(old_units.symbols.successors, old_units.unit_inputs, names) & tests
    affected |= {p for p in changed if p in tests}
    return ChangesSince(revision, base, changed, frozenset(affected), everything)


def graph_at(context: RunContext, commit: str) -> tuple[ProjectGraph, dict[str, str], set[str]]:
    """The import graph of the project at `commit`, the digests of its Python files and its test
    files, from git's objects (nothing is checked out; parse results come from the shared cache by
    content)."""
    root, config = context.root, context.config
    listing = _git(root, "ls-tree", "-r", "-z", commit, "--", ".")
    blobs = {}
    for entry in listing.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        mode, kind, sha = meta.split()
        if kind == "blob":
            blobs[path] = sha
    layout = detect_layout(blobs, packages=config.packages, test_dirs=config.test_dirs,
                           source_roots=config.source_roots)
    categorizer = Categorizer.from_config(layout, config.categories)
    categories = {p: categorizer.categorize(p) for p in blobs if p.endswith(".py")}
    wanted = sorted(p for p, category in categories.items() if category in GRAPH_CATEGORIES)
    sources = _read_blobs(root, [blobs[p] for p in wanted])
    files = {p: FileEntry(content_hash(sources[blobs[p]]), categories[p]) for p in wanted}
    by_path = {p: sources[blobs[p]] for p in wanted}
    parses, _, _ = parse_modules(root, wanted, files, by_path, context.cache, config.parse_workers, [])
    test_paths = {p for p in wanted if files[p].category is Category.TEST}
    pytest_imported = test_paths | {p for p in wanted if files[p].category is Category.CONFTEST}
    graph = build_project_graph(
        locate_modules(wanted, layout.source_roots, pytest_imported).values(), parses, source_roots=layout.source_roots,
        test_paths=test_paths, is_external=lru_cache(maxsize=None)(is_external),
    )
    return graph, {p: f.digest for p, f in files.items()}, test_paths


def _read_blobs(root: Path, shas: list[str]) -> dict[str, bytes]:
    if not shas:
        return {}
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=root, input="\n".join(shas).encode("utf-8", "surrogateescape") + b"\n",
                         capture_output=True, check=True).stdout
    blobs, at = {}, 0
    while at < len(out):
        header_end = out.index(b"\n", at)
        sha, _, size = out[at:header_end].decode().split()
        start = header_end + 1
        blobs[sha] = out[start : start + int(size)]
        at = start + int(size) + 1
    return blobs
