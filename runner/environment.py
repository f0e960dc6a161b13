"""What the Python environment doit runs in contributes to the Scout phase."""

from __future__ import annotations

import importlib.util
import os
import sys
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
    for entry in sys.path:
        if Path(entry or ".").resolve().is_relative_to(root):
            continue
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
