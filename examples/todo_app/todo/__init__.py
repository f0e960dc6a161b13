"""A tiny to-do list library."""

from todo.models import Task
from todo.store import TaskStore

__all__ = ["Task", "TaskStore"]
