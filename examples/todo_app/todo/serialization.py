import json

from todo.dates import parse_due
from todo.models import Task
from todo.priorities import Priority


def to_dict(task: Task) -> dict:
    return {
        "id": task.id, "title": task.title, "priority": task.priority.name.lower(),
        "due": task.due.isoformat() if task.due else None, "done": task.done,
        "tags": sorted(task.tags),
    }


def from_dict(data: dict) -> Task:
    return Task(
        data["id"], data["title"], Priority.parse(data["priority"]),
        parse_due(data["due"]) if data["due"] else None, data["done"], set(data["tags"]),
    )


def dumps(tasks: list[Task]) -> str:
    return json.dumps([to_dict(t) for t in tasks], indent=2)


def loads(text: str) -> list[Task]:
    return [from_dict(d) for d in json.loads(text)]
