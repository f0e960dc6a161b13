"""What the Python environment doit runs in contributes to the Scout phase."""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from typing import Sequence
from pathlib import Path

import xxhash

from analyzers.layout import ProjectLayout
from runner.config import ScoutConfig


def inputs_key_of(root: Path, layout: ProjectLayout, config: ScoutConfig) -> str:
    """What import resolution depends on besides the files: layout, categories, environment.
    A change here re-resolves every import (the mtimes of sys.path folders outside the project
    stand for installs and uninstalls)."""
    hasher = xxhash.xxh3_128()
    hasher.update(repr((
        layout, sorted(config.categories.items()), sorted(config.test.data.items()), sys.version,
        sys.executable,
    )).encode())
    for entry in environment_paths(root):
        try:
            hasher.update(f"{entry}:{os.stat(entry).st_mtime_ns}".encode())
        except OSError:
            hasher.update(entry.encode())
    return hasher.hexdigest()


def is_external(top_level: str) -> bool:
    """Whether a top-level name that is no project module comes from outside the project."""
    if top_level in sys.stdlib_module_names or top_level in sys.builtin_module_names:
        return True
    try:
        return importlib.util.find_spec(top_level) is not None
    except (ImportError, ValueError):
        return False


def environment_paths(root: Path) -> list[str]:
    """sys.path without the entries inside the project (doit puts the project root there): two
    clones of a project share an environment."""
    return [e for e in sys.path if not Path(e or ".").resolve().is_relative_to(root)]


def environment_key(root: Path, pytest_args: Sequence[str], env_names: Sequence[str]) -> str:
    """What test outcomes depend on besides the project's files: the interpreter, the platform,
    every installed distribution and its version, pytest arguments and declared variables."""
    hasher = xxhash.xxh3_128()
    hasher.update(repr((
        sys.implementation.name, sys.version, platform.platform(), installed_distributions(root),
        list(pytest_args),
        sorted((name, os.environ.get(name)) for name in env_names),
    )).encode())
    return hasher.hexdigest()


def installed_distributions(root: Path) -> list[str]:
    """Names and versions of installed distributions, from their metadata folders' names
    (`name-1.2.dist-info`): reading each one's METADATA would cost a hundred times more."""
    found = set()
    for entry in environment_paths(root):
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found.update(n for n in names if n.endswith((".dist-info", ".egg-info")))
    return sorted(found)
