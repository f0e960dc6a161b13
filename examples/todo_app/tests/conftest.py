from datetime import date

import pytest

from todo.priorities import Priority
from todo.store import TaskStore


@pytest.fixture
def store() -> TaskStore:
    s = TaskStore()
    s.add("write report", Priority.HIGH, due=date(2026, 1, 10))
    s.add("water plants", Priority.LOW, tags={"home"})
    s.add("file taxes", Priority.HIGH, due=date(2026, 4, 15))
    return s
