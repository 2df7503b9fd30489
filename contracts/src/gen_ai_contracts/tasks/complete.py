"""Task `complete`: free-form generation, a prompt (and optional system message) in, text out."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gen_ai_contracts.tasks.base import Messages, NotBlank, Sendable, Task, TaskLlm

MAX_PROMPT_CHARS = 20_000
MAX_SYSTEM_CHARS = 4_000
MAX_TOKENS_LIMIT = 4_096


class CompleteRequest(BaseModel):
    """A prompt for free-form generation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"prompt": "Write a haiku about queues."}]},
    )

    prompt: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_PROMPT_CHARS),
        Sendable,
        NotBlank,
        Field(description=f"The user message: 1 to {MAX_PROMPT_CHARS:,} characters, not blank."),
    ]
    system: Annotated[
        Annotated[str, StringConstraints(max_length=MAX_SYSTEM_CHARS), Sendable] | None,
        Field(description=f"An optional system message, up to {MAX_SYSTEM_CHARS:,} characters."),
    ] = None
    max_tokens: Annotated[
        int, Field(ge=1, le=MAX_TOKENS_LIMIT, description="Upper bound on generated tokens.")
    ] = 512
    temperature: Annotated[
        float | None, Field(ge=0, le=2, description="Sampling temperature; null = provider's.")
    ] = None


class Completion(BaseModel):
    """The generated text and why generation stopped (`stop`, `length`, ...)."""

    text: str
    finish_reason: str | None = None


def build_messages(request: CompleteRequest) -> Messages:
    system = [{"role": "system", "content": request.system}] if request.system else []
    return [*system, {"role": "user", "content": request.prompt}]


async def run(request: CompleteRequest, llm: TaskLlm) -> Completion:
    answer = await llm.text(
        messages=build_messages(request),
        max_tokens=request.max_tokens,
        temperature=request.temperature,
    )
    return Completion(text=answer.text, finish_reason=answer.finish_reason)


TASK: Task[CompleteRequest, Completion] = Task(
    name="complete",
    description="Free-form generation: a prompt (and optional system message) in, text out.",
    input_model=CompleteRequest,
    result_model=Completion,
    build_messages=build_messages,
    run=run,
)
