"""Synchronous user extraction: the `extract_user` task's prompt through the shared LLM client,
bounded in time and retries, every failure classified.

Imports litellm (through `gen_ai_contracts.llm`): import this module only where it is used.
"""

import asyncio
from functools import lru_cache

from gen_ai_contracts.llm import LlmClient, UsageMeter
from gen_ai_contracts.tasks.extract_user import (
    MAX_OUTPUT_TOKENS,
    ExtractUserRequest,
    User,
    build_messages,
    grounding_context,
)
from gen_ai_on_aws.config import Settings
from gen_ai_on_aws.services.llm_errors import classify_llm_error

# litellm retries transient provider errors (429, 5xx, timeouts) this many times; it applies the
# count both in the OpenAI SDK and in its own wrapper, so one call makes at most 3 attempts.
PROVIDER_RETRIES = 1


@lru_cache(maxsize=4)
def llm_client(settings: Settings) -> LlmClient:
    """One client per settings (one per process outside tests)."""
    return LlmClient(settings)


async def extract_user(*, request: ExtractUserRequest, settings: Settings) -> User:
    """Extract a `User` from the request's text; raise a `ServiceError` saying why it cannot."""
    try:
        # The deadline bounds every attempt and retry together, inside API Gateway's 29 s.
        async with asyncio.timeout(settings.extract_deadline_seconds):
            return await llm_client(settings).structured(
                model=settings.llm_model,
                messages=build_messages(request),
                response_model=User,
                timeout_seconds=settings.llm_timeout_seconds,
                max_tokens=MAX_OUTPUT_TOKENS,
                meter=UsageMeter(),
                # The context reaches User's validators: values must come from the text.
                context=grounding_context(request.text),
                num_retries=PROVIDER_RETRIES,
            )
    except Exception as exc:
        error = classify_llm_error(exc)
        if error is None:
            raise
        raise error from exc
