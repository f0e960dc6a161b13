"""Which module each Python file is, and under which sys.path entry Python finds it."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Collection, Iterable, Sequence

from doit_scout.analyzers.layout import is_below, parent_dirs


@dataclass(frozen=True)
class ModuleFile:
    """`node` is the module's unique name in the import graph; `importable` the name Python imports
    it by from `root`, the sys.path entry it is found under ("" is the project root)."""

    path: str
    node: str
    importable: str
    root: str
    is_package: bool

    @property
    def package(self) -> str:
        """The package relative imports in this module start from."""
        return self.importable if self.is_package else self.importable.rpartition(".")[0]


def locate_modules(
    py_paths: Iterable[str], source_roots: Sequence[str], pytest_imported: Collection[str] = (),
) -> dict[str, ModuleFile]:
    """Map each .py path to its module. Files pytest imports itself (`pytest_imported`: test files
    and conftest.py) follow its rootdir-less ("prepend") rule: a file's sys.path entry is the first
    folder upward without an __init__.py. Other files are found as Python finds them: a folder
    without __init__.py inside a package is a namespace subpackage of it. Inside an explicit
    source root such as src/, folders without __init__.py are namespace packages of that root."""
    py_paths = sorted(py_paths)
    package_dirs = {p.rpartition("/")[0] for p in py_paths if p.endswith("/__init__.py")}
    explicit_roots = sorted((r for r in source_roots if r), key=len, reverse=True)
    modules: dict[str, ModuleFile] = {}
    roots: dict[tuple[str, bool], str] = {}  # the sys.path entry depends only on the folder and the rule
    for path in py_paths:
        if not path.endswith(".py"):
            continue
        key = (path.rpartition("/")[0], path in pytest_imported)
        root = roots.get(key)
        if root is None:
            root = roots[key] = _sys_path_entry(path, key[1], package_dirs, explicit_roots)
        rel = path[len(root) + 1 :] if root else path
        stem = rel[: -len(".py")]
        is_package = stem == "__init__" or stem.endswith("/__init__")
        if is_package:
            stem = stem[: -len("__init__")].rstrip("/")
        importable = stem.replace("/", ".")
        if not importable:  # an __init__.py directly in a root has no module name
            continue
        prefix = "" if root == "" or root in source_roots else root.replace("/", ".") + "."
        modules[path] = ModuleFile(path, prefix + importable, importable, root, is_package)
    return modules


def _sys_path_entry(path: str, imported_by_pytest: bool, package_dirs: set[str], explicit_roots: list[str]) -> str:
    if imported_by_pytest:
        basedir = next(d for d in parent_dirs(path) if d not in package_dirs)
    else:
        basedir = next(d for d in parent_dirs(path) if d not in package_dirs and (
            d == "" or posixpath.dirname(d) not in package_dirs))
    return next((r for r in explicit_roots if is_below(basedir, r)), basedir)
