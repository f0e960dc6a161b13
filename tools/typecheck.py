"""Type-check doit-scout under the import name it is installed as: `python tools/typecheck.py [FILE ...]`.

The repository keeps its code in runner/ and analyzers/, which setuptools installs as `doit_scout`
and `doit_scout.analyzers` (`[tool.setuptools] package-dir` in pyproject.toml), and the code imports
itself by that name. mypy finds modules by folder name only and cannot follow the editable
install's import hook, so `mypy runner analyzers` checks `runner.config` while its imports name
`doit_scout.config`, which it cannot find: every type that crosses a module boundary is Any. This
script lays the installed layout out as symbolic links (in .mypy_cache, which mypy keeps out of
git and doit-scout's inventory leaves out), runs mypy there with pyproject.toml's configuration,
and prints its report with the repository's own paths. With no FILE, the whole package.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
TREE = REPO / ".mypy_cache" / "doit_scout-layout"


def package_dirs() -> dict[str, str]:
    """Repository folder -> the folder it is installed as, from setuptools' own configuration."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    return {folder: package.replace(".", "/") for package, folder in setuptools["package-dir"].items()}


def lay_out(tree: Path, dirs: dict[str, str]) -> None:
    """Links to every .py file of each folder, in the installed layout; stale links go (the tree
    persists, so mypy's incremental cache stays valid)."""
    wanted: set[Path] = set()
    for folder, package in dirs.items():
        for source in sorted((REPO / folder).glob("*.py")):
            link = tree / package / source.name
            wanted.add(link)
            if link.is_symlink() and Path(os.readlink(link)) == source:
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(source)
    for link in tree.rglob("*.py"):
        if link not in wanted:
            link.unlink()


def in_tree(arg: str, dirs: dict[str, str]) -> str:
    """A repository file's path in the layout; anything else as it is (options, tests/ files)."""
    path = Path(arg).resolve()
    for folder, package in dirs.items():
        if path.parent == REPO / folder:
            return f"{package}/{path.name}"
    return str(path) if path.exists() else arg


def in_repository(line: str, dirs: dict[str, str]) -> str:
    for folder, package in sorted(dirs.items(), key=lambda item: -len(item[1])):  # doit_scout/analyzers first
        if line.startswith(f"{package}/"):
            return folder + line[len(package):]
    return line


def main(args: list[str]) -> int:
    dirs = package_dirs()
    lay_out(TREE, dirs)
    targets = [in_tree(a, dirs) for a in args] or ["-p", "doit_scout"]
    command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
               "--cache-dir", str(REPO / ".mypy_cache"), *targets]
    result = subprocess.run(command, cwd=TREE, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        print(in_repository(line, dirs))
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
