from todo.errors import UnknownTask
from todo.models import Task
from todo.priorities import Priority


class TaskStore:
    def __init__(self) -> None:
        self._tasks: dict[int, Task] = {}
        self._next_id = 1

    def add(self, title: str, priority: Priority = Priority.NORMAL, **fields) -> Task:
        task = Task(self._next_id, title, priority, **fields)
        self._tasks[task.id] = task
        self._next_id += 1
        return task

    def get(self, task_id: int) -> Task:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise UnknownTask(task_id) from None

    def all(self) -> list[Task]:
        return list(self._tasks.values())
