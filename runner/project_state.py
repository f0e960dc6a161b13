"""The `.scout/` folder in the project root: doit-scout's per-checkout state."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import xxhash
from filelock import FileLock, Timeout

STATE_DIR = ".scout"


def state_dir(project_root: Path) -> Path:
    """The `.scout/` folder, created with a .gitignore that keeps all of it out of git."""
    folder = project_root / STATE_DIR
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        atomic_write_text(ignore, "# doit-scout's state: never commit it\n*\n")
    return folder


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file beside `path` and rename it over: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any, *, checksum: bool = False) -> None:
    """With `checksum`, a first line holds the digest of the JSON text that follows: a flipped bit
    that keeps the JSON valid (an import edge moved to another module) is caught on reading."""
    text = json.dumps(data, separators=(",", ":"))
    atomic_write_text(path, f"{xxhash.xxh3_128_hexdigest(text.encode())}\n{text}" if checksum else text)


_RUN_LOCK_FILE = "run.lock"
_held_run_locks: dict[Path, FileLock] = {}


def hold_checkout(project_root: Path) -> None:
    """One run at a time per checkout, held until this process ends: two runs at once would run the
    project's own tools over the same folders (mypy's cache, coverage files, build output) and turn
    their races into failures. Another run waits, as a second `git commit` or `bazel build` does."""
    root = project_root.resolve()
    if root in _held_run_locks:
        return
    lock = FileLock(state_dir(root) / _RUN_LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print("doit-scout: another doit run in this checkout is in progress; waiting for it to end", flush=True)
        lock.acquire()
    _held_run_locks[root] = lock


class CorruptState(Exception):
    """A state file exists but cannot be used; the caller rebuilds it."""


def read_json(path: Path, *, checksum: bool = False) -> Any | None:
    """The JSON in `path` (written with the same `checksum`), None when it does not exist;
    CorruptState when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise CorruptState(f"{path}: {err}") from err
    if checksum:
        digest, _, text = text.partition("\n")
        if xxhash.xxh3_128_hexdigest(text.encode()) != digest:
            raise CorruptState(f"{path}: the content does not match its checksum")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CorruptState(f"{path}: {err}") from err


LAST_RUN_FILE = "last-run.json"


def last_run(project_root: Path) -> dict[str, Any]:
    """`.scout/last-run.json`, the report of the last run for machines ({} when unreadable)."""
    try:
        data = read_json(state_dir(project_root) / LAST_RUN_FILE)
    except CorruptState:
        return {}
    return data if isinstance(data, dict) else {}


def update_last_run(project_root: Path, sections: dict[str, Any]) -> None:
    """Replace some top-level sections of the last run's report, keeping the others."""
    atomic_write_json(state_dir(project_root) / LAST_RUN_FILE, {**last_run(project_root), **sections})
