class TodoError(Exception):
    """Base class of this package's errors."""


class UnknownTask(TodoError):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"no task with id {task_id}")
        self.task_id = task_id


class InvalidDate(TodoError):
    pass
