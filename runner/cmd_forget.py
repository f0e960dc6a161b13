"""`doit forget`, replacing doit's own through the doit.COMMAND entry point."""

from __future__ import annotations

from pathlib import Path

from doit.cmd_forget import Forget as DoitForget

from doit_scout.cmd_run import SeeksProject
from doit_scout.config import load_config_for_doit
from doit_scout.forget import forget_task

SCOUT_TASKS = ("scout", "test")


class Forget(SeeksProject, DoitForget):
    """doit's forget, plus: the next run of a forgotten doit-scout task ignores every record and
    cache (and records fresh ones); with no task named and no default tasks, it forgets all tasks
    where doit's own crashes."""

    name = "forget"
    doc_purpose = "forget tasks: their next run redoes everything, ignoring doit-scout's records and caches"

    def _execute(self, forget_sub, forget_disable_default, forget_all):
        if not self.sel_tasks and not forget_disable_default:
            forget_all = True  # doit iterates over None here when no default tasks are set
        result = super()._execute(forget_sub, forget_disable_default, forget_all)
        root = Path.cwd()  # doit has moved to the dodo.py folder: the project root
        steps = [step.task for step in load_config_for_doit(root).steps]
        ours = (*SCOUT_TASKS, *steps)
        named = self.sel_tasks or ()
        # `doit forget build` forgets every step, as doit forgets a group's subtasks.
        forgotten = ours if forget_all else [*named, *(steps if "build" in named else ())]
        for task in forgotten:
            if task in ours:
                forget_task(root, task)
        return result
