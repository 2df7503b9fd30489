"""The one LLM client both Lambdas use: instructor (structured) and litellm (text) calls.

Imported only where an LLM is called (the worker, the API's synchronous endpoint on first use):
importing litellm costs seconds of CPU, which no other route should pay. Costs come from
litellm's bundled price map (never fetched at run time).
"""

import functools
import textwrap
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import instructor
import litellm
from instructor.core.hooks import HookName, Hooks
from instructor.v2.core.response_model import prepare_response_model
from instructor.v2.core.templating import handle_templating  # type: ignore[attr-defined]
from pydantic import BaseModel

from gen_ai_contracts.jobs import TokenUsage
from gen_ai_contracts.settings import SharedSettings
from gen_ai_contracts.tasks.base import Messages, TextAnswer

OutputT = TypeVar("OutputT", bound=BaseModel)

# litellm prints help banners to stdout on every error.
litellm.suppress_debug_info = True


def verbatim_messages(
    messages: Messages, context: dict[str, Any]
) -> tuple[Messages, dict[str, Any]]:
    """Messages and context for instructor's `create(..., context=...)`, sent as written.

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


class ValidationContext(dict[str, Any]):
    """A validation context instructor does not template messages with.

    instructor renders messages as Jinja2 templates only when `context` is truthy, building a
    sandboxed environment and compiling a template per message (CPU on every call). This dict
    is falsy, so messages go as written, while validators still receive its items.
    """

    def __bool__(self) -> bool:
        return False


def _templating_skips_validation_context() -> bool:
    """Whether this instructor leaves messages alone given a `ValidationContext`; if a future
    version templates them anyway, `structured` falls back to `verbatim_messages`."""
    probe = {"messages": [{"role": "user", "content": "{{ 7*7 }}"}]}
    try:
        templated = handle_templating(
            probe, mode=instructor.Mode.TOOLS, context=ValidationContext(probe=True)
        )
    except Exception:
        return False
    return bool(templated["messages"][0]["content"] == "{{ 7*7 }}")


_SKIPS_TEMPLATING = _templating_skips_validation_context()


def untemplated_messages(messages: Messages) -> Messages:
    """What instructor's templating made of `verbatim_messages`: each content dedented
    (indentation common to all its lines removed), nothing else changed."""
    return [
        {**message, "content": textwrap.dedent(content)}
        if isinstance(content := message.get("content"), str)
        else message
        for message in messages
    ]


@functools.cache
def prepared_response_model(response_model: type[OutputT]) -> type[OutputT]:
    """instructor's wrapper class for `response_model`, built once per class: instructor
    otherwise creates a new pydantic model (and its validator) on every call. Handed a
    prepared class, instructor uses it as it is."""
    return cast(type[OutputT], prepare_response_model(response_model))


def cost_usd(model: str, usage: TokenUsage) -> float | None:
    """Price of `usage` on `model` from litellm's bundled map; None when the model is unpriced."""
    return _cost_usd(model, usage.prompt_tokens, usage.completion_tokens)


@functools.lru_cache(maxsize=4096)
def _cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Memoised on the exact token counts (tiered prices stay exact): the bundled price map
    never changes at run time, and each look-up walks it several times, raising for an
    unpriced model on every call."""
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # litellm raises a bare Exception for models missing from the map
        return None
    return float(prompt_cost) + float(completion_cost)


@dataclass
class UsageMeter:
    """Tokens of every response one call received (validation re-asks included)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    responses: int = field(default=0)

    def add(self, response: Any) -> None:
        usage = getattr(response, "usage", None)
        self.responses += 1
        self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens
        )


class LlmClient:
    """Calls one model at a time; time bounds, fallbacks and error mapping are the caller's.

    One instructor client per mode per process (litellm caches HTTP clients per event loop).
    """

    def __init__(self, settings: SharedSettings) -> None:
        self._settings = settings
        mode = instructor.Mode[settings.instructor_mode_name]
        self._instructor = instructor.from_litellm(
            litellm.acompletion, mode=mode, async_client=True
        )

    def _provider_arguments(self) -> dict[str, Any]:
        api_key = self._settings.llm_api_key
        return {
            "api_base": self._settings.llm_api_base,
            "api_key": api_key.get_secret_value() if api_key else None,
        }

    async def structured(
        self,
        *,
        model: str,
        messages: Messages,
        response_model: type[OutputT],
        timeout_seconds: float,
        max_tokens: int,
        meter: UsageMeter,
        context: dict[str, Any] | None = None,
        num_retries: int = 0,
    ) -> OutputT:
        """One validated object; `meter` is filled even when the call fails. `context` is the
        validation context handed to the output model's validators (grounding)."""
        hooks = Hooks()
        hooks.on(HookName.COMPLETION_RESPONSE, meter.add)
        if context is not None and _SKIPS_TEMPLATING:
            messages, context = untemplated_messages(messages), ValidationContext(context)
        elif context is not None:
            messages, context = verbatim_messages(messages, context)
        output = await self._instructor.create(
            response_model=prepared_response_model(response_model),
            messages=cast(Any, messages),
            context=context,
            max_retries=self._settings.llm_max_retries,
            hooks=hooks,
            model=model,
            timeout=timeout_seconds,
            num_retries=num_retries,
            max_tokens=max_tokens,
            # litellm 1.106 routes calls with `tools` through its MCP gateway, which needs the
            # optional `mcp` package; we never use MCP tools, so skip that path.
            _skip_mcp_handler=True,
            **self._provider_arguments(),
        )
        return cast(OutputT, output)

    async def text(
        self,
        *,
        model: str,
        messages: Messages,
        timeout_seconds: float,
        max_tokens: int,
        temperature: float | None,
        meter: UsageMeter,
        num_retries: int = 0,
    ) -> TextAnswer:
        """One plain-text completion."""
        optional = {"temperature": temperature} if temperature is not None else {}
        response = await litellm.acompletion(
            model=model,
            messages=messages,
            timeout=timeout_seconds,
            num_retries=num_retries,
            max_tokens=max_tokens,
            **optional,
            **self._provider_arguments(),
        )
        meter.add(response)
        choice = response.choices[0]
        return TextAnswer(
            text=choice.message.content or "", finish_reason=getattr(choice, "finish_reason", None)
        )
