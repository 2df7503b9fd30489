"""Structured LLM calls: instructor on top of litellm's async API, bounded in time and retries.

Provider errors are not retried in-process (``num_retries=0``): an outage surfaces to SQS, which
retries with backoff and a DLQ. instructor retries only invalid output (``LLM_MAX_RETRIES``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import instructor
import litellm
from instructor.core.hooks import HookName, Hooks
from pydantic import BaseModel

from worker.config import Settings
from worker.errors import ErrorCode, JobError, RetryableJobError
from worker.services.failures import classify
from worker.services.metrics import JobMetrics
from worker.services.tracing import JobTrace

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

OutputT = TypeVar("OutputT", bound=BaseModel)

# Caps runaway generations (small local models); a User fits in a few dozen tokens.
MAX_OUTPUT_TOKENS = 1024

# litellm prints help banners to stdout on every error.
litellm.suppress_debug_info = True


def verbatim_messages(
    messages: list[dict[str, str]], context: dict[str, Any]
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Messages and context for instructor's ``create(..., context=...)``, sent as written.

    Given a context, instructor renders every message as a Jinja2 template with it, so text
    such as "{{ 7*7 }}" would reach the model as "49" (template injection). Each content becomes
    a template variable instead, rendered verbatim; instructor then only dedents it (removes
    indentation common to all its lines), which cannot remove a name or an email.
    """
    variables = dict(context)
    templated = []
    for index, message in enumerate(messages):
        name = f"_verbatim_message_{index}"
        variables[name] = message["content"]
        templated.append({**message, "content": f"{{{{ {name} }}}}"})
    return templated, variables


@dataclass
class TokenUsage:
    """Tokens summed over every response of one call, validation retries included."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, response: Any) -> None:
        usage = getattr(response, "usage", None)
        self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)


class LlmGateway:
    """One instructor client per process (litellm caches HTTP clients per event loop)."""

    def __init__(self, settings: Settings, client: instructor.AsyncInstructor | None = None):
        self._settings = settings
        self._client: instructor.AsyncInstructor = client or instructor.from_litellm(
            litellm.acompletion, mode=settings.instructor_mode, async_client=True
        )

    @property
    def model(self) -> str:
        return self._settings.llm_model

    async def structured(
        self,
        *,
        messages: list[dict[str, str]],
        response_model: type[OutputT],
        timeout_seconds: float,
        usage: TokenUsage,
        context: dict[str, Any] | None = None,
    ) -> OutputT:
        """One validated object; ``usage`` is filled even when the call fails.

        ``context`` is the validation context handed to the output model's validators (e.g.
        the source text that extracted values must come from)."""
        hooks = Hooks()
        hooks.on(HookName.COMPLETION_RESPONSE, usage.add)
        api_key = self._settings.llm_api_key
        if context is not None:
            messages, context = verbatim_messages(messages, context)
        output = await self._client.create(
            response_model=response_model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            context=context,
            max_retries=self._settings.llm_max_retries,
            hooks=hooks,
            model=self._settings.llm_model,
            timeout=timeout_seconds,
            num_retries=0,
            max_tokens=MAX_OUTPUT_TOKENS,
            api_base=self._settings.llm_api_base,
            api_key=api_key.get_secret_value() if api_key else None,
            # litellm 1.106 routes calls with ``tools`` through its MCP gateway, which needs
            # the optional ``mcp`` package; we never use MCP tools, so skip that path.
            _skip_mcp_handler=True,
        )
        return cast(OutputT, output)


@dataclass
class JobLlm:
    """The LLM as one job sees it: each call bounded by the job's deadline, traced, measured."""

    gateway: LlmGateway
    deadline: float  # time.monotonic() value
    timeout_seconds: float
    trace: JobTrace
    metrics: JobMetrics
    clock: Callable[[], float] = field(default=time.monotonic)

    async def structured(
        self,
        *,
        messages: list[dict[str, str]],
        response_model: type[OutputT],
        context: dict[str, Any] | None = None,
    ) -> OutputT:
        usage = TokenUsage()
        generation = self.trace.start_generation(model=self.gateway.model)
        started = self.clock()
        timeout = self._timeout()
        error_code: str | None = None
        try:
            return await self.gateway.structured(
                messages=messages,
                response_model=response_model,
                timeout_seconds=timeout,
                usage=usage,
                context=context,
            )
        except Exception as exc:
            error = self._classify(exc, deadline_bound=timeout < self.timeout_seconds)
            error_code = error.code
            raise error from exc
        finally:
            tokens = {"prompt_tokens": usage.prompt_tokens}
            tokens["completion_tokens"] = usage.completion_tokens
            generation.end(**tokens, error_code=error_code)
            self.metrics.llm_call(latency_seconds=self.clock() - started, **tokens)

    @staticmethod
    def _classify(exc: Exception, *, deadline_bound: bool) -> JobError:
        """A timeout the deadline imposed is the invocation's limit, not the provider's fault."""
        error = classify(exc)
        if deadline_bound and error.code is ErrorCode.PROVIDER_TIMEOUT:
            message = "the LLM call was cut short by the invocation's deadline"
            return RetryableJobError(ErrorCode.DEADLINE_EXCEEDED, message)
        return error

    def _timeout(self) -> float:
        """LLM_TIMEOUT_SECONDS, shortened so the call ends before the invocation's deadline."""
        return max(min(self.timeout_seconds, self.deadline - self.clock()), 0.01)
