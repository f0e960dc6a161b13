from datetime import date

from todo.dates import days_left
from todo.models import Task


def open_tasks(tasks: list[Task]) -> list[Task]:
    return [t for t in tasks if not t.done]


def overdue(tasks: list[Task], today: date) -> list[Task]:
    return [t for t in open_tasks(tasks) if t.due is not None and days_left(t.due, today) < 0]


def tagged(tasks: list[Task], tag: str) -> list[Task]:
    return [t for t in tasks if tag in t.tags]
