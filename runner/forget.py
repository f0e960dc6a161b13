"""`doit forget` for doit-scout's tasks: the next run of a forgotten task ignores every cache."""

from __future__ import annotations

from pathlib import Path

from runner.project_state import CorruptState, atomic_write_json, read_json, state_dir

FORGOTTEN_FILE = "forgotten.json"
# What forgetting the scout task throws away: its state (the stat cache) and the parse cache.
SCOUT_CACHES = ("state.json", "parse-cache.sqlite")


def forget_task(project_root: Path, task: str) -> None:
    folder = state_dir(project_root)
    if task == "scout":
        for name in SCOUT_CACHES:
            (folder / name).unlink(missing_ok=True)
        return
    forgotten = _forgotten(folder)
    forgotten.add(task)
    atomic_write_json(folder / FORGOTTEN_FILE, sorted(forgotten))


def is_forgotten(project_root: Path, task: str) -> bool:
    return task in _forgotten(project_root / ".scout")


def remember(project_root: Path, task: str) -> None:
    """The forgotten task ran: its fresh records count again."""
    folder = state_dir(project_root)
    forgotten = _forgotten(folder)
    if task in forgotten:
        forgotten.discard(task)
        atomic_write_json(folder / FORGOTTEN_FILE, sorted(forgotten))


def _forgotten(folder: Path) -> set[str]:
    try:
        data = read_json(folder / FORGOTTEN_FILE)
    except CorruptState:
        return {"test"}  # cannot tell what was forgotten: forgetting too much is the safe side
    return {t for t in data if isinstance(t, str)} if isinstance(data, list) else set()
