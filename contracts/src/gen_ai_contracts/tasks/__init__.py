"""The task registry, keyed by the envelope's `task`: adding a task is one module here."""

from typing import Any

from gen_ai_contracts.tasks import complete, extract_user
from gen_ai_contracts.tasks.base import NotBlank, Sendable, Task, TaskLlm, TextAnswer

TASKS: dict[str, Task[Any, Any]] = {task.name: task for task in (extract_user.TASK, complete.TASK)}


def get_task(name: str) -> Task[Any, Any] | None:
    return TASKS.get(name)


__all__ = ["TASKS", "NotBlank", "Sendable", "Task", "TaskLlm", "TextAnswer", "get_task"]
