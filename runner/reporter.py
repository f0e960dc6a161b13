"""doit's console reporter, without doit's internals after a doit-scout task fails: the task has
already said what failed (`Python Task failed: '<bound method ...>' returned False` says nothing
more), and a task that did not run says which build step it waited for."""

from __future__ import annotations

from typing import Any

from doit.exceptions import BaseFail, TaskFailed, UnmetDependency
from doit.reporter import ConsoleReporter

from doit_scout import invocation


def is_ours(task_name: str) -> bool:
    return task_name in ("scout", "build", "test") or task_name.startswith("build:")


class ScoutReporter(ConsoleReporter):
    desc = "doit's console output; doit-scout's tasks report their own failures"

    def add_failure(self, task: Any, fail: BaseFail) -> None:
        run = invocation.current()
        if not is_ours(task.name):
            run.other_errors = run.other_errors or not isinstance(fail, TaskFailed)
            super().add_failure(task, fail)
        elif isinstance(fail, UnmetDependency):
            waited_for = str(fail.message or "").split()
            if not all(is_ours(name) for name in waited_for):
                run.other_errors = True
            if task.actions:  # a group (`build`) runs nothing of its own
                self.write(f"✗ {task.name} did not run: it waits for {', '.join(waited_for)}, which did not succeed\n")
        elif isinstance(fail, TaskFailed):  # its action returned False after saying why
            if task.name.startswith("build:"):
                run.failed_steps.append(task.name)
        else:  # an exception in doit-scout itself: doit's traceback is what a bug report needs
            run.other_errors = True
            super().add_failure(task, fail)
