"""Reads of project files that raise no `open` audit event, for the pytest plugin's observed inputs.

- `os.stat` and `os.lstat` raise no audit event (CPython 3.10 to 3.13), and through them
  `os.path.exists`, `isfile`, `isdir`, `getsize`, `getmtime` and pathlib's `stat`, `exists`,
  `is_file`: while the plugin records, both are wrapped to name the path first. The import system
  calls `posix.stat` itself, so what importing probes is not seen here (its `open` is).
- `sqlite3.connect` raises its own audit event, naming the database, which sqlite opens in C.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

_PATH_TYPES = (str, bytes, os.PathLike)


def watch_stat(observe: Callable[[Any], None]) -> None:
    """Make `os.stat` and `os.lstat` call `observe(path)` first (a path, not a file descriptor nor
    a path relative to `dir_fd`), for the rest of the process."""
    for name in ("stat", "lstat"):
        original = getattr(os, name)
        if getattr(original, "__wrapped__", None) is not None:
            continue  # watched already

        @functools.wraps(original)
        def watched(path: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            if isinstance(path, _PATH_TYPES) and kwargs.get("dir_fd") is None and not args:
                observe(path)
            return __original(path, *args, **kwargs)

        setattr(os, name, watched)
        # Code asks `os.stat in os.supports_dir_fd` before passing dir_fd or follow_symlinks.
        for support in (os.supports_dir_fd, os.supports_fd, os.supports_follow_symlinks, os.supports_effective_ids):
            if original in support:
                support.add(watched)


def sqlite_database(args: tuple) -> str | None:
    """The file a `sqlite3.connect` audit event (its argument: the database) opens, None for an
    in-memory one."""
    database = args[0] if args else None
    if not isinstance(database, _PATH_TYPES):
        return None
    name = os.fsdecode(database)
    if name.startswith("file:"):  # a URI (uri=True): the path, without its query
        name = unquote(urlsplit(name).path)
    return None if name in ("", ":memory:") else name
