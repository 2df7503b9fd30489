"""classify_llm_error with litellm's own exception types (those the fake LLM cannot produce)."""

from __future__ import annotations

import pytest
from instructor.core import IncompleteOutputException
from litellm import exceptions as litellm_errors

from gen_ai_on_aws.services.errors import (
    ExtractionFailedError,
    LlmRateLimitedError,
    LlmRejectedError,
    LlmUnavailableError,
    ServiceError,
)
from gen_ai_on_aws.services.llm_errors import classify_llm_error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            litellm_errors.AuthenticationError(
                "bad key sk-123", llm_provider="openai", model="gpt-4o-mini"
            ),
            LlmRejectedError,
        ),
        (
            litellm_errors.NotFoundError(
                "no such model", llm_provider="openai", model="gpt-4o-mini"
            ),
            LlmRejectedError,
        ),
        (
            litellm_errors.BadRequestError(
                "context too long", llm_provider="openai", model="gpt-4o-mini"
            ),
            LlmRejectedError,
        ),
        (
            litellm_errors.ServiceUnavailableError(
                "overloaded", llm_provider="openai", model="gpt-4o-mini"
            ),
            LlmUnavailableError,
        ),
        (
            litellm_errors.BadGatewayError(
                "bad gateway", llm_provider="openai", model="gpt-4o-mini"
            ),
            LlmUnavailableError,
        ),
        (
            litellm_errors.Timeout("slow", llm_provider="openai", model="gpt-4o-mini"),
            LlmUnavailableError,
        ),
        (
            litellm_errors.APIConnectionError(
                "refused", llm_provider="openai", model="gpt-4o-mini"
            ),
            LlmUnavailableError,
        ),
        (
            litellm_errors.RateLimitError("slow down", llm_provider="openai", model="gpt-4o-mini"),
            LlmRateLimitedError,
        ),
        (TimeoutError(), LlmUnavailableError),
        (IncompleteOutputException(), ExtractionFailedError),
    ],
    ids=lambda value: type(value).__name__,
)
def test_classifies_provider_and_output_failures(
    error: BaseException, expected: type[ServiceError]
) -> None:
    classified = classify_llm_error(error)

    assert type(classified) is expected
    assert "sk-123" not in str(classified)


def test_rate_limit_without_retry_after_header_has_none() -> None:
    classified = classify_llm_error(
        litellm_errors.RateLimitError("slow down", llm_provider="openai", model="gpt-4o-mini")
    )

    assert isinstance(classified, LlmRateLimitedError)
    assert classified.retry_after is None


def test_errors_unrelated_to_the_llm_are_left_alone() -> None:
    assert classify_llm_error(KeyError("a bug")) is None
