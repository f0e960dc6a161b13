"""One line instead of doit's traceback for a pyproject.toml that is not valid TOML.

doit parses the pyproject.toml of the working folder in `DoitMain.__init__`, before it loads any
plugin: no `doit.COMMAND` class of ours, no dodo.py and no loader has run when the parser raises,
and `doit.__main__` does not catch it. The one thing that runs earlier in that process is the
interpreter's start-up, so doit-scout's wheel installs `doit_scout-toml-guard.pth`, which imports
this module: it only sets `sys.excepthook`. The hook acts on one exception alone, a TOML decoding
error raised inside doit's own configuration loading, and hands every other one to the hook that
was there before. It costs nothing until a process dies of an uncaught exception.

Keep this module's imports at the standard library's `sys`: every Python process of the environment
imports it at start-up.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself costs milliseconds at every start-up; mypy reads this as True
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Callable

    ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]

# doit's own exit status for an error before any task runs (a bad dodo.py, a bad command line).
CONFIG_ERROR_STATUS = 3



def invalid_toml(path: str, text: str, err: BaseException) -> str:
    """One line that names the file, the line (quoted) and what the parser could not read."""
    message = str(err)
    what, line, column = _where(message)
    if line is None:
        return f"{path} is not valid TOML: {message}. Fix the file and run again."
    lines = text.splitlines()
    quoted = f" ({lines[line - 1].strip()!r})" if 0 < line <= len(lines) else ""
    return f"{path}:{line}:{column}: not valid TOML: {what} in line {line}{quoted}. Fix that line and run again."


def _where(message: str) -> tuple[str, int | None, int | None]:
    """tomllib and tomli end a message with "(at line L, column C)"."""
    what, sep, where = message.rpartition(" (at line ")
    line, _, column = where.rstrip(")").partition(", column ")
    if not sep or not (line.isdigit() and column.isdigit()):
        return message, None, None
    return what, int(line), int(column)


def _raised_by_doits_config_loading(err: BaseException, tb: TracebackType | None) -> bool:
    if not type(err).__name__ == "TOMLDecodeError":
        return False
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "load_config_toml" and code.co_filename.replace("\\", "/").endswith("doit/doit_cmd.py"):
            return True
        tb = tb.tb_next
    return False


def _config_file_of(tb: TracebackType | None) -> str:
    """The file doit was reading: `filename` in the frame of its load_config_toml."""
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "load_config_toml":
            return str(tb.tb_frame.f_locals.get("filename", "pyproject.toml"))
        tb = tb.tb_next
    return "pyproject.toml"


class _Hook:
    """sys.excepthook: our one line for doit's TOML error, the previous hook for anything else."""

    def __init__(self, previous: ExceptHook) -> None:
        self.previous = previous

    def __call__(self, kind: type[BaseException], err: BaseException, tb: TracebackType | None) -> object:
        if not _raised_by_doits_config_loading(err, tb):
            return self.previous(kind, err, tb)
        import os

        path = os.path.abspath(_config_file_of(tb))
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            text = ""
        sys.stdout.flush()
        print(f"ERROR: {invalid_toml(path, text, err)}", file=sys.stderr, flush=True)
        # An excepthook cannot choose the exit status (Python exits with 1 after it); the process
        # is ending anyway and no task has started, so it ends here with doit's status for errors
        # before any task runs.
        os._exit(CONFIG_ERROR_STATUS)


def install() -> None:
    if not isinstance(sys.excepthook, _Hook):
        sys.excepthook = _Hook(sys.excepthook)
