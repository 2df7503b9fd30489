"""What every task module provides, and what it may ask of the LLM."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

OutputT = TypeVar("OutputT", bound=BaseModel)


class StructuredLlm(Protocol):
    """A validated structured answer from the LLM (implemented by services.llm.JobLlm);
    ``context`` is the validation context handed to ``response_model``'s validators."""

    async def structured(
        self,
        *,
        messages: list[dict[str, str]],
        response_model: type[OutputT],
        context: dict[str, Any] | None = None,
    ) -> OutputT: ...


@dataclass(frozen=True)
class Task:
    """A task: its request model validates the payload, ``run`` produces the output model."""

    name: str
    request_model: type[BaseModel]
    run: Callable[[Any, StructuredLlm], Awaitable[BaseModel]]
