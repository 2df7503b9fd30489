"""The one LLM client both Lambdas use: instructor (structured) and litellm (text) calls.

Imported only where an LLM is called (the worker, the API's synchronous endpoint on first use):
importing litellm costs seconds of CPU, which no other route should pay. Costs come from
litellm's bundled price map (never fetched at run time).
"""

from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import instructor
import litellm
from instructor.core.hooks import HookName, Hooks
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


def cost_usd(model: str, usage: TokenUsage) -> float | None:
    """Price of `usage` on `model` from litellm's bundled map; None when the model is unpriced."""
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
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
        if context is not None:
            messages, context = verbatim_messages(messages, context)
        output = await self._instructor.create(
            response_model=response_model,
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
