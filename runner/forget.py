"""`doit forget` for doit-scout's tasks: the next run of a forgotten task ignores every cache."""

from __future__ import annotations

from pathlib import Path

from doit_scout.project_state import CorruptState, read_state_json, state_dir, write_state_json

FORGOTTEN_FILE = "forgotten.json"


def forget_task(project_root: Path, task: str) -> None:
    """Until it next completes, `task` reuses nothing: not this checkout's state, not the shared
    cache (which it still fills, and which other checkouts keep using)."""
    folder = state_dir(project_root)
    forgotten = _forgotten(folder)
    forgotten.add(task)
    write_state_json(folder / FORGOTTEN_FILE, sorted(forgotten))


def is_forgotten(project_root: Path, task: str) -> bool:
    return task in _forgotten(project_root / ".scout")


def remember(project_root: Path, task: str) -> None:
    """The forgotten task ran: its fresh records count again."""
    folder = state_dir(project_root)
    forgotten = _forgotten(folder)
    if task in forgotten:
        forgotten.discard(task)
        write_state_json(folder / FORGOTTEN_FILE, sorted(forgotten))


def _forgotten(folder: Path) -> set[str]:
    try:
        data = read_state_json(folder / FORGOTTEN_FILE)
    except CorruptState:
        return {"scout", "test"}  # cannot tell what was forgotten: forgetting too much is safe
    return {t for t in data if isinstance(t, str)} if isinstance(data, list) else set()
