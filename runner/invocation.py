"""What the command line asked of this doit run beyond doit's own options, and what its tasks
concluded that decides the exit status. One per process: doit runs every task in this process."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Invocation:
    """`pytest_args` come after `--` (`doit test -- -k slow -x`); `named_tasks` are the tasks the
    command line named (none: the default tasks); `verbose` is doit's `-v 2` or more.

    The tasks and the reporter fill in the rest: `pytest_status` is the exit status of the run's
    pytest session (None when pytest did not run); `failed_steps` the build steps that failed;
    `other_errors` whether anything else went wrong in doit (a task's exception, a task of the
    project's own); `interrupted` whether Ctrl-C ended the run."""

    pytest_args: tuple[str, ...] = ()
    named_tasks: tuple[str, ...] = ()
    verbose: bool = False
    pytest_status: int | None = None
    failed_steps: list[str] = field(default_factory=list)
    other_errors: bool = False
    interrupted: bool = False


_current = Invocation()


def current() -> Invocation:
    return _current


def begin(invocation: Invocation) -> Invocation:
    """Start a run with what its command line asked (a command calls this before doit loads tasks)."""
    global _current
    _current = invocation
    return invocation
