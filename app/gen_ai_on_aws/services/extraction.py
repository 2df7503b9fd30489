"""Synchronous user extraction: instructor over litellm, bounded in time and retries."""

import asyncio
from functools import lru_cache
from typing import Any

import instructor
import litellm

from gen_ai_on_aws.config import Settings
from gen_ai_on_aws.models.user import User, grounding_context
from gen_ai_on_aws.services.llm_errors import classify_llm_error

# Few-shot examples sit inside the system message: small models (SmolLM2-135M) follow them far
# better than instructions alone, and the user message stays exactly the text to read.
SYSTEM_PROMPT = """\
Extract the person described in the text as JSON with the fields name, age and email.
Use the name as written, the age in whole years, and the email exactly as written in the text.
Never invent an email: when the text has none, email is null.
Answer with the JSON object only.

Text: Maria is 31 years old and her email is maria@example.com
JSON: {"name": "Maria", "age": 31, "email": "maria@example.com"}

Text: Tom turned 45 last week.
JSON: {"name": "Tom", "age": 45, "email": null}

Text: Priya is 52 years old.
JSON: {"name": "Priya", "age": 52, "email": null}"""

# litellm retries transient provider errors (429, 5xx, timeouts) this many times; it applies the
# count both in the OpenAI SDK and in its own wrapper, so one call makes at most 3 attempts.
PROVIDER_RETRIES = 1
# Caps runaway generations (small local models), as the worker does; a User is a few dozen tokens.
MAX_OUTPUT_TOKENS = 1024


def resolve_mode(settings: Settings) -> instructor.Mode:
    """LLM_MODE if set; else JSON_SCHEMA for self-hosted servers (grammar-constrained output
    works with small models) and TOOLS for hosted providers."""
    if settings.llm_mode is not None:
        return instructor.Mode[settings.llm_mode]
    return instructor.Mode.JSON_SCHEMA if settings.llm_api_base else instructor.Mode.TOOLS


@lru_cache(maxsize=8)
def _instructor_client(mode: instructor.Mode) -> instructor.AsyncInstructor:
    litellm.suppress_debug_info = True  # litellm prints help banners to stdout on every error
    return instructor.from_litellm(litellm.acompletion, mode=mode, async_client=True)


def build_messages(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]


def verbatim_messages(
    messages: list[dict[str, str]], context: dict[str, Any]
) -> tuple[list[dict[str, str]], dict[str, Any]]:
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


async def extract_user(*, text: str, settings: Settings) -> User:
    """Extract a `User` from `text`; raise a `ServiceError` saying why when it cannot."""
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    # The context reaches User's validators: values must come from the text (grounding).
    messages, context = verbatim_messages(build_messages(text), grounding_context(text))
    try:
        # The deadline bounds every attempt and retry together, inside API Gateway's 29 s.
        async with asyncio.timeout(settings.extract_deadline_seconds):
            return await _instructor_client(resolve_mode(settings)).chat.completions.create(
                model=settings.llm_model,
                response_model=User,
                messages=messages,  # type: ignore[arg-type]
                context=context,
                max_retries=settings.llm_max_retries,
                timeout=settings.llm_timeout_seconds,
                api_base=settings.llm_api_base,
                api_key=api_key,
                num_retries=PROVIDER_RETRIES,
                max_tokens=MAX_OUTPUT_TOKENS,
                _skip_mcp_handler=True,  # skips litellm's MCP gateway, which needs `mcp`
            )
    except Exception as exc:
        error = classify_llm_error(exc)
        if error is None:
            raise
        raise error from exc
