"""What the Python environment doit runs in contributes to the Scout phase."""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Sequence

import xxhash

from doit_scout.analyzers.layout import ProjectLayout
from doit_scout.config import ScoutConfig


def inputs_key_of(root: Path, layout: ProjectLayout, config: ScoutConfig) -> str:
    """What import resolution depends on besides the files: layout, categories, environment.
    A change here re-resolves every import (the mtimes of sys.path folders outside the project
    stand for installs and uninstalls)."""
    hasher = xxhash.xxh3_128()
    hasher.update(repr((
        layout, sorted(config.categories.items()), sorted(config.test.data.items()), sys.version,
        sys.executable,
    )).encode("utf-8", "surrogateescape"))
    for entry in environment_paths(root):
        try:
            hasher.update(f"{entry}:{os.stat(entry).st_mtime_ns}".encode("utf-8", "surrogateescape"))
        except OSError:
            hasher.update(entry.encode("utf-8", "surrogateescape"))
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


# The rules by which a run's records are made: records made by other rules are not found (bump
# when what a record holds changes, as when what ran before a test stopped counting whole).
RECORD_RULES = 3


def environment_key(root: Path, pytest_args: Sequence[str], env_names: Sequence[str]) -> str:
    """What test outcomes depend on besides the project's files: the interpreter, the platform,
    every installed distribution and its version, pytest arguments and declared variables."""
    hasher = xxhash.xxh3_128()
    hasher.update(repr((
        RECORD_RULES, sys.implementation.name, sys.version, platform.platform(), installed_distributions(root),
        list(pytest_args),
        sorted((name, os.environ.get(name)) for name in env_names),
    )).encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


def installed_distributions(root: Path) -> list[str]:
    """Names and versions of installed distributions, from their metadata folders' names
    (`name-1.2.dist-info`): reading each one's METADATA would cost a hundred times more."""
    found: set[str] = set()
    for entry in environment_paths(root):
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found.update(n for n in names if n.endswith((".dist-info", ".egg-info")))
    return sorted(found)


class ProgramMissing(Exception):
    """A command's program (or `python -m` module) is not installed."""


# A command starting with one of these runs with the interpreter doit runs in, as the tests do.
PYTHON_NAMES = frozenset({"python", "python3", f"python3.{sys.version_info.minor}"})


def runnable(command: Sequence[str]) -> list[str]:
    return [sys.executable, *command[1:]] if command[0] in PYTHON_NAMES else list(command)


@functools.lru_cache(maxsize=None)
def tool_identity(command: tuple[str, ...]) -> str:
    """What a command's verdict depends on besides its inputs: the installed distribution and
    version of its program (or of its `python -m` module), else the program's own bytes.
    ProgramMissing when there is no such program."""
    argv = runnable(command)
    if argv[0] == sys.executable and not (len(argv) > 2 and argv[1] == "-m"):
        return f"python {sys.version}"  # a script: its file is among the step's inputs
    if argv[0] == sys.executable:
        top = argv[2].split(".")[0]
        if importlib.util.find_spec(top) is None:
            raise ProgramMissing(f"the module {argv[2]!r} is not installed in {sys.executable}")
        return _distribution_providing(top, (f"{top}/", f"{top}.py,")) or _module_distributions(top)
    found = shutil.which(argv[0])
    if found is None:
        raise ProgramMissing(f"the program {argv[0]!r} is not installed (not found on PATH)")
    program = Path(found).name
    return (_distribution_providing(program, _script_paths(program)) or _distribution_of(program)
            or xxhash.xxh3_128_hexdigest(Path(found).read_bytes()))


def _script_paths(program: str) -> tuple[str, ...]:
    """How a distribution's file list (RECORD) names a script or binary it installed."""
    return (f"/bin/{program},", f"\\Scripts\\{program}.exe,", f"/Scripts/{program}.exe,")


def _distribution_providing(name: str, markers: tuple[str, ...]) -> str | None:
    """The distribution called `name`, if it installed a file its RECORD names with one of
    `markers`: the common case (ruff, mypy), found without scanning every distribution."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    record = dist.read_text("RECORD") or ""  # the file list, read as text: parsing it costs 10x
    return f"{dist.metadata['Name']} {dist.version}" if any(m in record for m in markers) else None


def _module_distributions(top: str) -> str:
    dists = sorted(set(importlib.metadata.packages_distributions().get(top, ())))
    return "; ".join(f"{d} {importlib.metadata.version(d)}" for d in dists) or f"python {sys.version}"


def _distribution_of(program: str) -> str | None:
    """The installed distribution that provides the script `program`: by its entry points, or
    (for binaries such as ruff's) by the files it installed."""
    distributions = list(importlib.metadata.distributions())
    for dist in distributions:
        if any(ep.name == program and ep.group in ("console_scripts", "gui_scripts") for ep in dist.entry_points):
            return f"{dist.metadata['Name']} {dist.version}"
    for dist in distributions:
        record = dist.read_text("RECORD") or ""
        if any(path in record for path in _script_paths(program)):
            return f"{dist.metadata['Name']} {dist.version}"
    return None
