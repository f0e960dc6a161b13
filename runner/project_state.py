"""The `.scout/` folder in the project root: doit-scout's per-checkout state."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

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
    atomic_write_bytes(path, text.encode("utf-8", "surrogateescape"))


def atomic_write_bytes(path: Path, *chunks: bytes) -> None:
    """Write to a temporary file beside `path` and rename it over: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Plain JSON, for files that people and other programs read (last-run.json); state that
    decisions read goes through write_state_json, with a checksum."""
    atomic_write_text(path, json.dumps(data, separators=(",", ":")))


def write_state_json(path: Path, data: Any) -> None:
    """Per-checkout state: its JSON on one line under its digest (atomic_write_checked), so that
    a flipped byte that keeps the JSON valid is caught by read_state_json."""
    atomic_write_checked(path, [json.dumps(data, separators=(",", ":"))])


def atomic_write_checked(path: Path, lines: Sequence[str]) -> None:
    """Lines of text (none holding a newline: JSON texts) under a first line with their digest: a
    flipped bit that keeps the JSON valid (an import edge moved to another module) is caught on
    reading. Separate lines let a large part be read and written as it is, never escaped."""
    body = "\n".join(lines).encode("utf-8", "surrogateescape")
    atomic_write_bytes(path, f"{xxhash.xxh3_128_hexdigest(body)}\n".encode("utf-8", "surrogateescape"), body)


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


def _read_text(path: Path) -> str | None:
    try:
        # surrogateescape: file names that are not UTF-8 are written as their bytes (os.fsencode)
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise CorruptState(f"{path}: {err}") from err


def read_json(path: Path) -> Any | None:
    """The JSON in `path`, None when it does not exist; CorruptState when it cannot be read."""
    text = _read_text(path)
    return None if text is None else decoded_json(path, text)


def read_checked(path: Path) -> list[str] | None:
    """The lines that `atomic_write_checked` wrote, None when there is no file; CorruptState when
    they cannot be read or do not match their digest."""
    text = _read_text(path)
    if text is None:
        return None
    digest, _, body = text.partition("\n")
    if xxhash.xxh3_128_hexdigest(body.encode("utf-8", "surrogateescape")) != digest:
        raise CorruptState(f"{path}: the content does not match its checksum")
    return body.split("\n")


def read_state_json(path: Path) -> Any | None:
    """What write_state_json wrote, None when there is no file; CorruptState when it cannot be
    read, does not match its digest, or was written without one (by an earlier version)."""
    lines = read_checked(path)
    if lines is None:
        return None
    if len(lines) != 1:
        raise CorruptState(f"{path}: not one line of JSON under its checksum")
    return decoded_json(path, lines[0])


def decoded_json(path: Path, text: str) -> Any:
    """`text`, read from `path`, decoded; CorruptState when it is no JSON."""
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


WARNINGS_SHOWN_FILE = "warnings-shown.json"


def remember_warnings(project_root: Path, topic: str, warnings: Sequence[str]) -> frozenset[str]:
    """Which of `warnings` the last run printed already; `warnings` become the ones printed.

    Warnings that say the same on every run (an optional dependency that is not installed, a
    test-data .py file that does not parse on purpose) are worth printing when what they say
    changes, not on every run. Digests keep the file small; a warning that goes away and comes
    back is new again."""
    path = state_dir(project_root) / WARNINGS_SHOWN_FILE
    try:
        data = read_state_json(path)
    except CorruptState:
        data = None
    topics = data if isinstance(data, dict) else {}
    before = topics.get(topic)
    before = set(before) if isinstance(before, list) else set()
    digests = {w: xxhash.xxh3_64_hexdigest(w.encode("utf-8", "surrogateescape")) for w in warnings}
    now = sorted(set(digests.values()))
    if now != sorted(before):
        write_state_json(path, {**topics, topic: now})
    return frozenset(w for w, digest in digests.items() if digest in before)
