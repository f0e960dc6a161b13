"""Child processes a test starts, as the `subprocess.Popen` audit event names them: which program
runs, and whether it is one that runs no project code (git) or reads only the files its arguments
name (the system's text tools)."""

from __future__ import annotations

import functools
import os
import shutil
from typing import Any

realpath = functools.lru_cache(maxsize=8192)(os.path.realpath)

# Programs a child process may run that read no project config file and run no project code:
# versioneer and setuptools_scm ask git for a version at import; ctypes.util.find_library asks
# ldconfig for the system's libraries (trio does at import, which Hypothesis's plugin imports).
NO_PYTHON_PROGRAMS = frozenset({"git", "git.exe", "ldconfig"})
# Text tools that read only the files their arguments name (a pager a CLI library's tests start,
# `sed -i` an editor's test runs), when they are the system's own: a test's own script named `cat`
# may run anything. What they read is the argument files, each an input.
_TEXT_TOOLS = frozenset({"cat", "less", "more", "head", "tail", "sed", "sort", "wc", "tr", "cut", "uniq", "tee",
                         "echo", "printf", "true", "false"})
_SYSTEM_BIN = ("/usr/bin/", "/bin/")


def child_program(args: tuple) -> str | None:
    """The program a `subprocess.Popen` audit event starts (its arguments: executable, args, cwd,
    env; with shell=True the program is the shell)."""
    executable, argv = args[0], args[1]
    program = executable if executable else (
        argv if isinstance(argv, (str, bytes, os.PathLike)) else next(iter(argv or ()), None))
    if not isinstance(program, (str, bytes, os.PathLike)):
        return None
    words = os.fsdecode(program).split() if isinstance(argv, (str, bytes)) and not executable else [os.fsdecode(program)]
    return words[0] if words else None


def reads_only_its_arguments(program: str | None, env: Any) -> bool:
    if program is None or os.path.basename(program) not in _TEXT_TOOLS:
        return False
    path = program if os.sep in program else shutil.which(program, path=(env or os.environ).get("PATH"))
    return path is not None and realpath(path).startswith(_SYSTEM_BIN)


def runs_no_python(event: str, args: tuple) -> bool:
    if event != "subprocess.Popen":
        return False
    program = child_program(args)
    return program is not None and (os.path.basename(program) in NO_PYTHON_PROGRAMS
                                    or reads_only_its_arguments(program, args[3]))
