"""Which modules read which data files: the non-Python inputs of packages and tests."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from typing import Collection, Iterable, Mapping, Sequence

from doit_scout.analyzers.globs import GlobSet
from doit_scout.analyzers.layout import is_below, parent_dirs
from doit_scout.analyzers.modules import ModuleFile

DATA_PREFIX = "data:"


def data_node(path: str) -> str:
    return DATA_PREFIX + path


def is_data(node: str) -> bool:
    return node.startswith(DATA_PREFIX)


def data_inputs(
    modules: Iterable[ModuleFile],
    data_paths: Collection[str],
    *,
    test_paths: Collection[str],
    test_dirs: Sequence[str],
    rules: Sequence[tuple[GlobSet, GlobSet]] = (),
) -> dict[str, list[str]]:
    """Map a module node to the data nodes it reads:

    - a data file inside a package folder is an input of that package (its `__init__` module, which
      everything in or importing the package runs);
    - a data file inside a test folder is an input of the test files of the nearest folder above it
      that holds test files, and of those below that folder;
    - each rule (data globs, test globs) makes matching files inputs of matching test files.
    """
    modules = list(modules)
    packages = {posixpath.dirname(m.path): m.node for m in modules if m.is_package}
    tests = {m.path: m.node for m in modules if m.path in test_paths}
    test_folders = {posixpath.dirname(p) for p in tests}
    inputs: dict[str, set[str]] = defaultdict(set)
    for path in data_paths:
        node = data_node(path)
        folders = parent_dirs(path)
        package = next((packages[d] for d in folders if d in packages), None)
        if package is not None:
            inputs[package].add(node)
        test_dir = next((t for t in test_dirs if is_below(path, t)), None)
        if test_dir is not None:
            owner = next((d for d in folders if d in test_folders and is_below(d, test_dir)), test_dir)
            for test_path, test_node in tests.items():
                if is_below(test_path, owner):
                    inputs[test_node].add(node)
        for data_globs, test_globs in rules:
            if data_globs.matches(path):
                for test_path, test_node in tests.items():
                    if test_globs.matches(test_path):
                        inputs[test_node].add(node)
    return {importer: sorted(nodes) for importer, nodes in inputs.items()}


def rules_from_config(mapping: Mapping[str, Sequence[str]]) -> list[tuple[GlobSet, GlobSet]]:
    return [(GlobSet.of([data]), GlobSet.of(tests)) for data, tests in sorted(mapping.items())]
