"""Where a project keeps its packages and tests, detected from its file list."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Iterable, Sequence

TEST_DIR_NAMES = ("tests", "test", "testing")


@dataclass(frozen=True)
class ProjectLayout:
    """source_roots are the folders Python imports project code from ("" is the project root);
    packages and test_dirs are folders relative to the project root."""

    source_roots: tuple[str, ...]
    packages: tuple[str, ...]
    test_dirs: tuple[str, ...]


def parent_dirs(path: str) -> list[str]:
    """The folders containing `path`, innermost first, ending with "" (the root)."""
    dirs = []
    end = path.rfind("/")
    while end != -1:
        dirs.append(path[:end])
        end = path.rfind("/", 0, end)
    dirs.append("")
    return dirs


def is_below(path: str, folder: str) -> bool:
    return folder == "" or path == folder or path.startswith(folder + "/")


def detect_layout(
    paths: Iterable[str],
    *,
    packages: Sequence[str] | None = None,
    test_dirs: Sequence[str] | None = None,
    source_roots: Sequence[str] | None = None,
) -> ProjectLayout:
    """Detect src and flat layouts, several packages, and test folders; explicit values win."""
    paths = list(paths)
    package_inits = {posixpath.dirname(p) for p in paths if p.endswith("/__init__.py")}
    folders = {d for f in {posixpath.dirname(p) for p in paths} for d in (f, *parent_dirs(f))}

    if source_roots is None:
        has_src = any(p.startswith("src/") and p.endswith(".py") for p in paths)
        source_roots = ("src", "") if has_src else ("",)
    roots = tuple(dict.fromkeys(source_roots))

    if test_dirs is None:
        top_level = [name for name in TEST_DIR_NAMES if name in folders]
        in_packages = sorted(
            d for d in folders if posixpath.basename(d) in TEST_DIR_NAMES and "/" in d
            and posixpath.dirname(d) in package_inits
        )
        test_dirs = (*top_level, *in_packages)

    if packages is None:
        found = []
        for root in roots:
            for init_dir in package_inits:
                if posixpath.dirname(init_dir) == root and posixpath.basename(init_dir) not in TEST_DIR_NAMES:
                    found.append(init_dir)
            if root:  # namespace packages are only recognised inside an explicit source root
                found.extend(
                    d for d in folders
                    if posixpath.dirname(d) == root and d not in package_inits and d != root
                    and any(p.startswith(d + "/") and p.endswith(".py") for p in paths)
                )
        packages = sorted(set(found))

    return ProjectLayout(source_roots=roots, packages=tuple(packages), test_dirs=tuple(test_dirs))
