"""What a task is, what it may ask of the LLM, and the text rules every task input shares."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel

InputT = TypeVar("InputT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)

Messages = list[dict[str, str]]

# SQS accepts #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a body. JSON escapes the
# control characters and pydantic refuses lone surrogates, so U+FFFE and U+FFFF are the two that
# would pass validation and then be refused by SendMessage (InvalidMessageContents).
_NOT_SENDABLE = ("\ufffe", "\uffff")


def _sendable_text(text: str) -> str:
    """Refuse what no LLM call can use or SQS cannot carry, naming the position."""
    if "\x00" in text:
        raise ValueError(f"must not contain NUL characters (position {text.index(chr(0))})")
    for character in _NOT_SENDABLE:
        if character in text:
            position = text.index(character)
            raise ValueError(
                f"must not contain U+{ord(character):04X} (position {position}): "
                "it is not a valid character in a queue message"
            )
    return text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


# Every free-text field of a task input: sendable by construction, and not blank.
SendableText = Annotated[str, AfterValidator(_sendable_text)]
PromptText = Annotated[SendableText, AfterValidator(_not_blank)]


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
