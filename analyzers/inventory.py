"""The list of a project's files: what git knows of, or a walk where there is no git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from doit_scout.analyzers.globs import GlobSet
from doit_scout.analyzers.layout import parent_dirs

# Folders that never hold project inputs: VCS data, environments, caches and build output.
DEFAULT_EXCLUDED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".scout", "__pycache__", ".venv", "venv", ".env", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".eggs", "node_modules",
    "build", "dist", "site-packages", ".idea", ".vscode",
})
# Build output is excluded only at the project root: `pkg/build/` can be a subpackage.
ROOT_ONLY_EXCLUDED_DIRS = frozenset({"build", "dist"})


# doit's own dependency database, wherever a project keeps it.
DEFAULT_EXCLUDED_FILES = GlobSet.of([".doit.db", ".doit.db.*", "*.pyc"])


def is_excluded_dir(name: str, path: Path, *, at_root: bool = True) -> bool:
    if name in ROOT_ONLY_EXCLUDED_DIRS and not at_root:
        return False
    return (
        name in DEFAULT_EXCLUDED_DIRS
        or name.endswith(".egg-info")
        or (path / "pyvenv.cfg").is_file()  # a virtual environment under any name
    )


def in_excluded_dir(path: str) -> bool:
    """Whether a relative path lies in a folder that never holds project inputs (by name only)."""
    folders = path.split("/")[:-1]
    return any(
        (name in DEFAULT_EXCLUDED_DIRS and (i == 0 or name not in ROOT_ONLY_EXCLUDED_DIRS))
        or name.endswith(".egg-info")
        for i, name in enumerate(folders)
    )


def list_project_files(root: Path, exclude: GlobSet = GlobSet()) -> tuple[list[str], str]:
    """Sorted relative POSIX paths of the project's files, and how they were found ("git" or "walk").

    Inside a git work tree: tracked files plus untracked files git does not ignore (untracked ones
    inside default-excluded folders, such as an unignored virtual environment, are left out), plus
    git-ignored Python files inside package folders, which code can import all the same (the
    `_version.py` that setuptools_scm writes). Paths git lists may no longer exist on disk; the
    caller's hashing drops those.
    """
    git_files = _git_files(root)
    if git_files is None:
        files, how = _walk_files(root), "walk"
    else:
        files, how = git_files, "git"
    return sorted(
        p for p in files if not exclude.matches(p) and not DEFAULT_EXCLUDED_FILES.matches(p)
    ), how


def _git_files(root: Path) -> list[str] | None:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "-t", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, check=True, stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    files = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        # -t tags each path: "? " is untracked, every other tag is a path in git's index.
        tag, path = entry[:1], os.fsdecode(entry[2:])
        if tag != b"?" or not _in_excluded_dir(root, path):
            files.append(path)
    files += _ignored_package_modules(root, files)
    return list(dict.fromkeys(files))  # unmerged entries repeat in the index


def _ignored_package_modules(root: Path, listed: list[str]) -> list[str]:
    """Git-ignored .py files directly inside a folder that holds a listed __init__.py."""
    packages = {os.path.dirname(p) for p in listed if p.endswith("__init__.py")}
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"],
            cwd=root, capture_output=True, check=True, stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [
        path for path in map(os.fsdecode, out.split(b"\0"))
        if path.endswith(".py") and os.path.dirname(path) in packages and not _in_excluded_dir(root, path)
    ]


def _in_excluded_dir(root: Path, path: str) -> bool:
    return any(
        is_excluded_dir(os.path.basename(d), root / d, at_root="/" not in d) for d in parent_dirs(path)[:-1]
    )


def _walk_files(root: Path) -> list[str]:
    files: list[str] = []
    # followlinks=False: a symlinked folder is not entered, so symlink loops cannot trap the walk.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=None):
        here = Path(dirpath)
        at_root = here == root
        dirnames[:] = sorted(d for d in dirnames if not is_excluded_dir(d, here / d, at_root=at_root))
        rel = here.relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        files.extend(prefix + f for f in filenames)
    return files
