"""The pytest options and paths a user passes after `--` (`doit test -- -k slow -x tests/api`).

They go to pytest as they are. Options that only narrow the run or change what it prints leave
fingerprints and records alone: only what completed is recorded, as for any run. Any other option
could change an outcome (`-W`, `-p`, `-o`, `--runxfail`, a plugin's own option): a run with one
still runs, and records nothing green, so that a later plain `doit` never skips a test on the word
of a run that was not the project's own configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Options that select which tests run, or only change output, debugging or parallelism.
_NARROWING_OR_OUTPUT = frozenset({
    "-k", "-m", "-x", "--exitfirst", "--maxfail", "--lf", "--last-failed", "--ff", "--failed-first",
    "--nf", "--new-first", "--sw", "--stepwise", "--stepwise-skip", "--deselect", "--ignore",
    "--ignore-glob", "-v", "--verbose", "-q", "--quiet", "-s", "--capture", "-l", "--showlocals",
    "--tb", "-r", "--durations", "--durations-min", "--color", "--code-highlight", "--pdb", "--trace",
    "--pdbcls", "-n", "--numprocesses", "--maxprocesses", "--dist", "--full-trace", "--no-header",
    "--no-summary", "-vv", "-vvv", "-qq", "--setup-show", "--show-capture", "--instafail",
})
# Of those, the ones that take a value as the next argument when not given with `=`.
_TAKES_VALUE = frozenset({
    "-k", "-m", "--maxfail", "--deselect", "--ignore", "--ignore-glob", "--capture", "--tb", "-r",
    "--durations", "--durations-min", "--color", "--code-highlight", "--pdbcls", "-n", "--numprocesses",
    "--maxprocesses", "--dist", "--show-capture",
})
_NARROWS_COLLECTION = frozenset({"--ignore", "--ignore-glob", "--deselect", "--lf", "--last-failed", "--sw",
                                 "--stepwise", "--stepwise-skip"})
_DESELECTS = frozenset({"-k", "-m", "--deselect", "--lf", "--last-failed", "--sw", "--stepwise",
                        "--stepwise-skip"})
# Options that need the terminal: pytest reads from it, so it cannot run with its input closed
# or spread over xdist workers.
_INTERACTIVE = frozenset({"--pdb", "--trace", "--pdbcls"})


@dataclass(frozen=True)
class PassThrough:
    """`args` go to pytest as given (paths made relative to the project root); `paths` are the
    files and folders among them; `unvetted` are options that could change an outcome."""

    args: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    unvetted: tuple[str, ...] = ()
    interactive: bool = False
    node_files: tuple[str, ...] = ()  # files given as node ids (`tests/test_x.py::test_a`)
    other_words: tuple[str, ...] = ()  # neither options nor existing paths: values, or paths pytest rejects

    @property
    def may_record_green(self) -> bool:
        return not self.unvetted

    def narrows_collection(self) -> bool:
        """pytest may not collect every file it was not told to hide: what it does not collect
        may still be a test."""
        return bool(self.paths or self.other_words) or any(_name(a) in _NARROWS_COLLECTION for a in self.args)

    def deselects(self) -> bool:
        """Options of the command line take items out: a file they touch is not complete."""
        return any(_name(a) in _DESELECTS for a in self.args) or bool(self.node_files)


def _name(arg: str) -> str:
    return arg.split("=", 1)[0] if arg.startswith("--") else arg[:2] if arg.startswith("-") else arg


def absolute_paths(args: list[str], cwd: Path) -> list[str]:
    """Existing paths as absolute ones, before doit moves to the project root (`cd tests; doit test
    -- test_x.py`). Only those count as paths later: any other word may be an option's value."""
    out = []
    expects_value = False
    for arg in args:
        if not expects_value and not arg.startswith("-") and (cwd / arg.split("::")[0]).exists():
            path, sep, rest = arg.partition("::")
            arg = os.path.abspath(cwd / path) + sep + rest
        expects_value = arg in _TAKES_VALUE
        out.append(arg)
    return out


def pass_through(args: list[str], root: Path) -> PassThrough:
    """ValueError names a path outside the project."""
    out: list[str] = []
    paths: list[str] = []
    unvetted: list[str] = []
    node_files: list[str] = []
    other_words: list[str] = []
    expects_value = False
    for arg in args:
        if expects_value:
            expects_value = False
        elif arg.startswith("-"):
            name = _name(arg)
            if name not in _NARROWING_OR_OUTPUT:
                unvetted.append(arg)
            expects_value = name in _TAKES_VALUE and "=" not in arg and not (len(arg) > 2 and not arg.startswith("--"))
        elif os.path.isabs(arg.split("::")[0]):
            path, sep, rest = arg.partition("::")
            relative = Path(path).resolve().relative_to(root) if Path(path).resolve().is_relative_to(root) else None
            if relative is None:
                raise ValueError(f"{path} is outside the project ({root}): pass paths inside it")
            arg = relative.as_posix() + sep + rest
            paths.append(relative.as_posix())
            if sep:
                node_files.append(relative.as_posix())
        else:
            other_words.append(arg)  # a value of an option, or a path that does not exist (pytest says so)
        out.append(arg)
    return PassThrough(tuple(out), tuple(paths), tuple(unvetted), any(_name(a) in _INTERACTIVE for a in out),
                       tuple(node_files), tuple(other_words))

