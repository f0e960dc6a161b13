"""`doit forget` for doit-scout's tasks: the next run of a forgotten task ignores every cache.

The test task's forget is used up per test file: a record written since the forget counts, an
older one does not, and the forget is cleared once every test file has such a record. So the
shards of one selection (`--shard K/N`), each running its own part, together run every file once,
and a run that did not cover a file (`-k`, another shard, an interruption) leaves it forgotten."""

from __future__ import annotations

from pathlib import Path
from typing import Collection

from doit_scout.project_state import CorruptState, read_state_json, state_dir, write_state_json

FORGOTTEN_FILE = "forgotten.json"


def forget_task(project_root: Path, task: str) -> None:
    """Until it next completes, `task` reuses nothing: not this checkout's state, not the shared
    cache (which it still fills, and which other checkouts keep using)."""
    folder = state_dir(project_root)
    forgotten, fresh = _forgotten(folder)
    forgotten.add(task)
    fresh.pop(task, None)
    _write(folder, forgotten, fresh)


def is_forgotten(project_root: Path, task: str) -> bool:
    return task in _forgotten(project_root / ".scout")[0]


def fresh_since_forget(project_root: Path, task: str) -> frozenset[str] | None:
    """None when `task` is not forgotten; else the keys (test fingerprints) recorded since."""
    forgotten, fresh = _forgotten(project_root / ".scout")
    return frozenset(fresh.get(task, ())) if task in forgotten else None


def add_fresh(project_root: Path, task: str, keys: Collection[str]) -> None:
    """`keys` were recorded since `task` was forgotten: their records count again."""
    folder = state_dir(project_root)
    forgotten, fresh = _forgotten(folder)
    if task in forgotten and not set(keys) <= fresh.get(task, set()):
        fresh[task] = fresh.get(task, set()) | set(keys)
        _write(folder, forgotten, fresh)


def remember(project_root: Path, task: str) -> None:
    """The forgotten task ran: its fresh records count again."""
    folder = state_dir(project_root)
    forgotten, fresh = _forgotten(folder)
    if task in forgotten:
        forgotten.discard(task)
        fresh.pop(task, None)
        _write(folder, forgotten, fresh)


def _write(folder: Path, forgotten: set[str], fresh: dict[str, set[str]]) -> None:
    write_state_json(folder / FORGOTTEN_FILE, {"tasks": sorted(forgotten),
                                               "fresh": {t: sorted(keys) for t, keys in fresh.items()}})


def _forgotten(folder: Path) -> tuple[set[str], dict[str, set[str]]]:
    """The forgotten tasks, and what each recorded since. A plain list is the tasks alone (as
    written before a forget was used up per file)."""
    try:
        data = read_state_json(folder / FORGOTTEN_FILE)
    except CorruptState:
        return {"scout", "test"}, {}  # cannot tell what was forgotten: forgetting too much is safe
    if isinstance(data, list):
        return {t for t in data if isinstance(t, str)}, {}
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        return (set() if data is None else {"scout", "test"}), {}
    fresh = data.get("fresh")
    fresh = fresh if isinstance(fresh, dict) else {}
    return ({t for t in data["tasks"] if isinstance(t, str)},
            {t: {k for k in keys if isinstance(k, str)} for t, keys in fresh.items() if isinstance(keys, list)})
