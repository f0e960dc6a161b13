from datetime import date

from todo.filters import open_tasks, overdue
from todo.models import Task
from todo.priorities import Priority
from todo.textutil import plural


def summary(tasks: list[Task], today: date) -> str:
    pending = open_tasks(tasks)
    urgent = [t for t in pending if t.priority is Priority.HIGH]
    late = overdue(tasks, today)
    return f"{len(pending)} open, {len(urgent)} urgent, {len(late)} overdue ({plural(len(tasks), 'task')})"
