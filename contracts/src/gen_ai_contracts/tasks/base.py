"""What a task is, what it may ask of the LLM, and the text rules every task input shares."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel

InputT = TypeVar("InputT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)

Messages = list[dict[str, str]]

# SQS accepts #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a body. JSON escapes the
# other control characters, so what would still be refused by SendMessage
# (InvalidMessageContents) is U+FFFE, U+FFFF and lone surrogates (which UTF-8 cannot encode).
# NUL is refused too: no LLM call can use it.
_UNUSABLE = re.compile("[\x00\ud800-\udfff\ufffe\uffff]")


def _sendable_text(text: str) -> str:
    """Refuse what no LLM call can use or SQS cannot carry, naming the position."""
    found = _UNUSABLE.search(text)
    if found is None:
        return text
    character, position = found.group(), found.start()
    if character == "\x00":
        raise ValueError(f"must not contain NUL characters (position {position})")
    raise ValueError(
        f"must not contain U+{ord(character):04X} (position {position}): "
        "it is not a character a queue message can carry"
    )


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


# Every free-text field of a task input is typed
#   Annotated[str, StringConstraints(min_length=..., max_length=...), Sendable, NotBlank]
# so pydantic's own length errors come first, then what SQS or the model could not use.
Sendable = AfterValidator(_sendable_text)
NotBlank = AfterValidator(_not_blank)


@dataclass(frozen=True)
class TextAnswer:
    """A plain-text completion and why the model stopped (`stop`, `length`, ...)."""

    text: str
    finish_reason: str | None


class TaskLlm(Protocol):
    """What a task may ask of the LLM; the worker's implementation bounds, traces and meters
    every call, and falls back to other models on retryable provider errors."""

    async def structured(
        self,
        *,
        messages: Messages,
        response_model: type[OutputT],
        max_tokens: int,
        context: dict[str, Any] | None = None,
    ) -> OutputT: ...

    async def text(
        self, *, messages: Messages, max_tokens: int, temperature: float | None
    ) -> TextAnswer: ...


@dataclass(frozen=True)
class Task(Generic[InputT, ResultT]):
    """A task: the API validates `input_model` at submit, the worker calls `run`."""

    name: str
    description: str
    input_model: type[InputT]
    result_model: type[ResultT]
    build_messages: Callable[[InputT], Messages]
    run: Callable[[InputT, TaskLlm], Awaitable[ResultT]]
