"""doit's own task database (`.scout/doit-deps.sqlite`, doit's sqlite3 backend) on a disk that refuses
writes: full, failing, or under a file size limit. doit lets sqlite3's error out as a traceback (or,
when it opens the file, calls it "a bad format or corrupted" and says to delete it); our commands turn
it into one line naming the disk and the fix.

Nothing is lost on such a run: sqlite rolls back what it could not write, our own state files are
written whole or not at all (project_state.atomic_write_bytes), and the shared cache leaves itself
aside on a write error. What the run did not record runs again next time.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from doit.dependency import DatabaseException

try:
    import resource
except ImportError:  # Windows: no file size limits to name
    resource = None  # type: ignore[assignment]

_DOIT_DEPENDENCY_MODULE = str(Path("doit") / "dependency.py")


@dataclass(frozen=True)
class DatabaseFailure:
    error: sqlite3.Error
    path: Path  # the database file, absolute


def database_failure(err: BaseException) -> DatabaseFailure | None:
    """What failed when `err` came from doit's dependency database, else None (any other error
    keeps its traceback: it is a bug to see)."""
    if isinstance(err, DatabaseException) and isinstance(err.__context__, sqlite3.OperationalError):
        error: sqlite3.Error = err.__context__  # failed on opening: not "a bad format", whatever doit says
    elif isinstance(err, sqlite3.OperationalError):
        error = err
    else:
        return None
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or not tb.tb_frame.f_code.co_filename.endswith(_DOIT_DEPENDENCY_MODULE):
        return None
    backend = tb.tb_frame.f_locals.get("self")  # doit's SqliteDB, which knows its file
    return DatabaseFailure(error, Path(str(getattr(backend, "name", ".scout/doit-deps.sqlite"))).absolute())


def failure_line(failure: DatabaseFailure) -> str:
    """One line: what could not be written, where, why, and what to do."""
    folder = failure.path.parent
    try:
        free = f"{_size(shutil.disk_usage(folder).free)} free"
    except OSError:
        free = "free space unknown"
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0] if resource is not None else None
    why, fix = f"the disk that holds {folder} ({free})", "free space there"
    if resource is not None and limit != resource.RLIM_INFINITY:
        why += f", or this process's file size limit of {limit} bytes (ulimit -f)"
        fix += " (or raise the limit)"
    return (f"doit-scout: cannot write doit's task database {failure.path} ({failure.error}): {why}. Fix: "
            f"{fix} and run doit again; nothing recorded was lost, and what this run did not record runs again")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
