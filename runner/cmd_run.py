"""`doit` (and `doit run`), replacing doit's own through the doit.COMMAND entry point.

On top of doit's run: pytest options after `--` (`doit test -- -k slow -x`), the project found
from any subfolder (as git and pytest find theirs), an exit status that follows pytest's where the
tests decide, and Ctrl-C ending the run with one line.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from doit.cmd_run import Run as DoitRun
from doit.exceptions import InvalidDodoFile

from doit_scout import invocation
from doit_scout.doit_database import database_failure, failure_line
from doit_scout.pass_through import absolute_paths
from doit_scout.safe_output import make_output_safe

# pytest's exit statuses that the run's own status repeats (0 and 1 are doit's too).
_PYTEST_STATUSES = (2, 3, 4)
DATABASE_FAILED = 3  # doit's status for a run it could not carry out


class SeeksProject:
    """A command that loads dodo.py finds it from any subfolder of the project, as git and pytest
    find theirs: doit's seek_file changes nothing when dodo.py is in the working folder, and from a
    subfolder finds the project's and moves there."""

    opt_vals: dict

    def parse_execute(self, in_args: list[str]) -> int:
        self.opt_vals["seek_file"] = True
        make_output_safe()  # a file name that is not UTF-8 is printed, not a traceback
        try:
            return super().parse_execute(in_args)  # type: ignore[misc]
        except Exception as err:  # doit's database on a full disk: one line, not doit's traceback
            failure = database_failure(err)
            if failure is None:
                raise
            print(failure_line(failure), file=sys.stderr)
            return DATABASE_FAILED


class Run(SeeksProject, DoitRun):
    name = "run"
    doc_usage = "[TASK/TARGET...] [-- PYTEST-ARGS...]"

    def parse_execute(self, in_args: list[str]) -> int:
        doit_args, pytest_args = split_pass_through(in_args, sys.argv)
        # doit moves to the project root: paths for pytest are made absolute before.
        invocation.begin(invocation.Invocation(pytest_args=tuple(absolute_paths(pytest_args, Path.cwd()))))
        try:
            status = super().parse_execute(doit_args)
        except KeyboardInterrupt:
            invocation.current().interrupted = True
            status = 2
        return final_status(status, invocation.current())

    def execute(self, params: Any, args: Sequence[str]) -> int:
        run = invocation.current()
        run.named_tasks = tuple(a for a in args if not a.startswith("-"))
        run.verbose = (params.get("verbosity") or 0) >= 2
        return super().execute(params, args)


def split_pass_through(args: list[str], argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """doit's arguments, and pytest's after the first `--`. doit reads `name=value` words as its
    own variables before any command sees them (`-k 'a=b'` loses `a=b`), so pytest's are taken from
    the process's own command line when they are there."""
    if "--" not in args:
        return args, []
    cut = args.index("--")
    doit_args, pytest_args = args[:cut], args[cut + 1:]
    if "--" in argv:
        from_argv = list(argv[list(argv).index("--") + 1:])
        if _in_order(pytest_args, from_argv):
            pytest_args = from_argv
    return doit_args, pytest_args


def _in_order(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(any(word == other for other in it) for word in part)


def final_status(doit_status: int, run: invocation.Invocation) -> int:
    """pytest's status where the tests decided (2 interrupted, 3 internal error, 4 usage error);
    1 when the only errors are tasks that did not run because a build step failed; else doit's."""
    if run.interrupted:
        print("doit-scout: interrupted; nothing that did not finish was recorded green", file=sys.stderr)
        return 2
    if run.pytest_status in _PYTEST_STATUSES:
        return run.pytest_status
    if doit_status == 2 and run.failed_steps and not run.other_errors:
        return 1
    return doit_status


class _MovedTasks(importlib.abc.MetaPathFinder):
    """doit-scout's modules were once installed as top-level `runner` and `analyzers` packages.
    When a dodo.py still imports them and no such package exists, say what to write instead of
    `No module named 'runner'`. Last on sys.meta_path: a project's own `runner` always wins."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.split(".")[0] in ("runner", "analyzers") and _imported_by_a_dodo_file():
            raise MovedTasks(
                f"dodo.py imports {fullname!r}, where doit-scout's tasks were before it was installed as "
                "doit_scout: write `from doit_scout.dodo import *` in dodo.py")
        return None


class MovedTasks(InvalidDodoFile, ImportError):
    """doit reports an InvalidDodoFile in one line, without a traceback, and exits with 3."""


def _imported_by_a_dodo_file() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if os.path.basename(frame.f_code.co_filename) == "dodo.py":
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


if not any(isinstance(finder, _MovedTasks) for finder in sys.meta_path):
    sys.meta_path.append(_MovedTasks())
