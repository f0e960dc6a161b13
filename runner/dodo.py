"""doit tasks of doit-scout. A project's dodo.py is one line: `from runner.dodo import *`."""

from __future__ import annotations

from pathlib import Path

from doit.exceptions import InvalidDodoFile

from runner.config import ConfigError, ScoutConfig, load_config
from runner.project_state import STATE_DIR, state_dir
from runner.report import print_scout_summary
from runner.scout import run_scout

__all__ = ["DOIT_CONFIG", "task_scout"]


def _doit_config() -> dict:
    # doit opens its dependency database before it creates tasks, so .scout/ must exist now.
    # sqlite3 is the backend that survives two doit processes at once (json and dbm lose writes).
    state_dir(Path.cwd())
    return {
        "default_tasks": ["scout"],
        "backend": "sqlite3",
        "dep_file": f"{STATE_DIR}/doit-deps.sqlite",
    }


DOIT_CONFIG = _doit_config()


def _project_config() -> tuple[Path, ScoutConfig]:
    # doit runs task creators with the dodo.py folder, the project root, as working directory.
    root = Path.cwd()
    try:
        return root, load_config(root)
    except ConfigError as err:
        raise InvalidDodoFile(str(err)) from None


def _scout(root: Path, config: ScoutConfig) -> None:
    print_scout_summary(run_scout(root, config))


def task_scout():
    """Inventory the project, hash its files and build its import graph."""
    root, config = _project_config()
    return {
        "actions": [(_scout, (root, config))],
        "verbosity": 2,
        "uptodate": [False],  # cheap by design: finding out what changed is its job
    }
