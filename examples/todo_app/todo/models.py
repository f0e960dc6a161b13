from dataclasses import dataclass, field
from datetime import date

from todo.priorities import Priority


@dataclass
class Task:
    id: int
    title: str
    priority: Priority = Priority.NORMAL
    due: date | None = None
    done: bool = False
    tags: set[str] = field(default_factory=set)

    def complete(self) -> None:
        self.done = True
