"""Task registry keyed by the envelope's ``task``: adding a task is one module plus its tests."""

from __future__ import annotations

from worker.tasks import extract_user
from worker.tasks.base import StructuredLlm, Task

TASKS: dict[str, Task] = {task.name: task for task in (extract_user.TASK,)}


def get_task(name: str) -> Task | None:
    return TASKS.get(name)


__all__ = ["TASKS", "StructuredLlm", "Task", "get_task"]
