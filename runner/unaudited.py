"""Reads of project files that raise no `open` audit event, for the pytest plugin's observed inputs.

- `os.stat` and `os.lstat` raise no audit event (CPython 3.10 to 3.12 at least), and through them
  `os.path.exists`, `isfile`, `isdir`, `getsize`, `getmtime` and pathlib's `stat`, `exists`,
  `is_file`: while the plugin records, both are wrapped to name the path first. The import system
  calls `posix.stat` itself, so what importing probes is not seen here (its `open` is).
- `sqlite3.connect` raises its own audit event, naming the database, which sqlite opens in C.
- An `open` of Python source outside the import system reads it as text: its bytes are what the
  reader sees, comments included, where the module's fingerprint leaves them out.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from doit_scout.analyzers.targets import BODY_SEPARATOR
from doit_scout.tracing import code_unit, read_by_pytest

_PATH_TYPES = (str, bytes, os.PathLike)
# pytest's own code, which stats the project's files while it collects: no test's input (the
# collection key covers what collecting depends on).
_PYTEST_CODE = (f"{os.sep}_pytest{os.sep}", f"{os.sep}pluggy{os.sep}")
# Readers of a module's source that take its constants and nothing else of it: Hypothesis draws
# generated values partly from the constants of every project module loaded (analyzers.literals).
# What they stat on the way is no input: what they read is.
_LITERAL_READERS = (os.path.join("hypothesis", "internal", "constants_ast.py"),)


class UnauditedReads:
    """Which project path a stat or a database names, and which project code did it, cheaply:
    pytest and project code stat the same paths over and over."""

    def __init__(self, project_path: Callable[[str], str | None], code_path: Callable[[str], str | None]) -> None:
        self._project_path = functools.lru_cache(maxsize=8192)(
            lambda name, cwd: project_path(os.path.join(cwd, name)))
        self._code_path = code_path
        self._kinds: dict[str, str | bool] = {}  # co_filename -> its project path, or whether it is pytest's

    def read(self, path: Any) -> tuple[str, str] | None:
        """(the project path, `path` or `path::qualname` of the innermost project code on the
        stack), None when either is not the project's or pytest's own code (or a literal
        reader's) did it."""
        name = os.fsdecode(path)
        rel = self._project_path(name, "" if os.path.isabs(name) else os.getcwd())
        if rel is None or rel == ".":
            return None
        frame = sys._getframe(1)
        while frame is not None:
            code = self._kinds.get(frame.f_code.co_filename)
            if code is None:
                code = self._kind(frame.f_code.co_filename)
            if code is True:
                return None
            if code is not False:
                unit = code_unit(getattr(frame.f_code, "co_qualname", "<3.10>"))
                return rel, code if unit is None else f"{code}{BODY_SEPARATOR}{unit}"  # type: ignore[return-value]
            frame = frame.f_back  # type: ignore[assignment]
        return None

    def _kind(self, filename: str) -> str | bool:
        code = self._code_path(filename)
        kind = code if code is not None else any(part in filename for part in _PYTEST_CODE) \
            or filename.endswith(_LITERAL_READERS)
        self._kinds[filename] = kind
        return kind


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


def read_as_text(path: Any, frame: Any) -> bool:
    """Whether an `open` of `path` by the code of `frame` reads Python source as text (not to run it)."""
    return isinstance(path, (str, bytes, os.PathLike)) and os.fsdecode(path).endswith(".py") \
        and not _imported(frame) and not read_by_pytest(frame)


def reads_only_literals(frame: Any) -> bool:
    """Whether the code of `frame` (or of its callers) that opens a module's source takes only
    its constants."""
    for _ in range(6):  # the reader opens through pathlib
        if frame is None:
            return False
        if frame.f_code.co_filename.endswith(_LITERAL_READERS):
            return True
        frame = frame.f_back
    return False


def _imported(frame: Any) -> bool:
    """Whether a file is opened by the import system (a module's source, to run it)."""
    for _ in range(6):  # pytest's assertion rewriter reads a test module through pathlib
        if frame is None:
            return False
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False
