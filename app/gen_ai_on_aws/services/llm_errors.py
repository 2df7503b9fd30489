"""Turn instructor and litellm failures into the API's service errors.

instructor wraps a provider error in `InstructorRetryException` with the original as
`__cause__`, so the cause decides. Messages here are fixed strings: provider messages can quote
keys or prompts and must never reach a client or a log line.

Imports litellm and instructor: only the synchronous extraction (imported on first use) uses it.
"""

import re

from instructor.core import IncompleteOutputException, InstructorRetryException
from litellm.exceptions import APIConnectionError, RateLimitError, Timeout

from gen_ai_on_aws.services.errors import (
    ExtractionFailedError,
    LlmRateLimitedError,
    LlmRejectedError,
    LlmUnavailableError,
    ServiceError,
)

_RETRY_AFTER = re.compile(r"^\d{1,6}$")


def classify_llm_error(exc: BaseException) -> ServiceError | None:
    """The service error for `exc`, or None when it is not an LLM failure (a bug: 500)."""
    if isinstance(exc, TimeoutError):
        return LlmUnavailableError("the model did not answer within the deadline")
    cause = exc.__cause__ if isinstance(exc, InstructorRetryException) else exc
    provider_error = _classify_provider_error(cause)
    if provider_error is not None:
        return provider_error
    if isinstance(exc, InstructorRetryException | IncompleteOutputException):
        return ExtractionFailedError("the model's output never validated")
    return None


def _classify_provider_error(error: BaseException | None) -> ServiceError | None:
    if isinstance(error, RateLimitError):
        return LlmRateLimitedError("the provider is rate limiting", retry_after=_retry_after(error))
    if isinstance(error, Timeout | APIConnectionError):
        return LlmUnavailableError("the provider timed out or could not be reached")
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and status >= 500:
        return LlmUnavailableError(f"the provider failed with HTTP {status}")
    if isinstance(status, int) and status >= 400:
        return LlmRejectedError(f"the provider rejected the request with HTTP {status}")
    return None


def _retry_after(error: BaseException) -> str | None:
    """The provider's Retry-After in seconds, if it sent a plain number."""
    headers = getattr(error, "litellm_response_headers", None) or {}
    value = str(headers.get("retry-after", "")).strip()
    return value if _RETRY_AFTER.match(value) else None
