"""Turn any exception raised while running a job into a JobError (retryable or terminal).

Classified by litellm's exception types and HTTP status, never by message text. instructor
wraps provider errors in InstructorRetryException with the original as ``__cause__``.
"""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from time import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from litellm.exceptions import APIConnectionError, Timeout
from pydantic import ValidationError

from worker.errors import DeferJobError, ErrorCode, JobError, RetryableJobError, TerminalJobError

_RETRYABLE_STATUS = frozenset({408})
# How long a job deferred by a 429 waits when the provider did not say (no Retry-After).
RATE_LIMIT_WAIT_SECONDS = 5.0


def classify(exc: BaseException) -> JobError:
    """The job error for ``exc``; unknown errors are retryable so the job's budget bounds them.
    A 429 defers the job (throttling is not failure) instead of spending an attempt."""
    if isinstance(exc, JobError):
        return exc
    if isinstance(exc, InstructorRetryException):
        return _classify_instructor(exc)
    if isinstance(exc, IncompleteOutputException):
        return TerminalJobError(ErrorCode.EXTRACTION_FAILED, "the model's output was cut off")
    if isinstance(exc, TimeoutError | Timeout):
        return RetryableJobError(ErrorCode.PROVIDER_TIMEOUT, "the LLM call timed out")
    if isinstance(exc, ClientError | BotoCoreError):
        return RetryableJobError(ErrorCode.AWS_UNAVAILABLE, _aws_message(exc))
    if isinstance(exc, APIConnectionError):
        return RetryableJobError(ErrorCode.PROVIDER_UNAVAILABLE, "the LLM provider is unreachable")
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        return RetryableJobError(ErrorCode.INTERNAL_ERROR, type(exc).__name__)
    return _classify_status(exc, status)


def _classify_instructor(exc: InstructorRetryException) -> JobError:
    cause = exc.__cause__
    if isinstance(cause, ValidationError | json.JSONDecodeError) or cause is None:
        return TerminalJobError(ErrorCode.EXTRACTION_FAILED, _validation_message(exc, cause))
    return classify(cause)


def _classify_status(exc: BaseException, status: int) -> JobError:
    if status == 429:
        retry_after = retry_after_seconds(exc)
        return DeferJobError(
            ErrorCode.PROVIDER_RATE_LIMITED,
            "the LLM provider is rate limiting",
            retry_after=RATE_LIMIT_WAIT_SECONDS if retry_after is None else retry_after,
        )
    if status in _RETRYABLE_STATUS or status >= 500:
        return RetryableJobError(ErrorCode.PROVIDER_UNAVAILABLE, f"LLM provider HTTP {status}")
    # A fixed message: provider texts can quote the prompt or keys and are never passed on.
    message = f"the LLM provider rejected the request with HTTP {status}"
    return TerminalJobError(ErrorCode.PROVIDER_REJECTED, message)


def _validation_message(exc: InstructorRetryException, cause: BaseException | None) -> str:
    """Which fields failed, never their values (they hold the person's data)."""
    attempts = f"after {exc.n_attempts} attempt(s)"
    if isinstance(cause, ValidationError):
        fields = sorted({".".join(map(str, e["loc"])) or "<root>" for e in cause.errors()})
        return f"the model's output failed validation {attempts}: {', '.join(fields)}"
    return f"the model's output was not valid JSON {attempts}"


def _aws_message(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        return f"AWS error {exc.response.get('Error', {}).get('Code', 'unknown')}"
    return f"AWS error {type(exc).__name__}"


def retry_after_seconds(exc: BaseException) -> float | None:
    """The provider's Retry-After (``retry-after-ms``, seconds or HTTP date), if it sent one."""
    headers = _response_headers(exc)
    if headers is None:
        return None
    if (millis := headers.get("retry-after-ms")) is not None:
        return _non_negative(millis, scale=1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _non_negative(value)
    if seconds is None:
        try:
            seconds = max(parsedate_to_datetime(value).timestamp() - time(), 0.0)
        except (TypeError, ValueError):
            return None
    return seconds


def _response_headers(exc: BaseException) -> Any:
    """litellm keeps the provider's headers on the exception; the OpenAI SDK on ``response``."""
    headers = getattr(exc, "litellm_response_headers", None)
    if headers:
        return headers
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None)


def _non_negative(value: str, *, scale: float = 1.0) -> float | None:
    try:
        return max(float(value) / scale, 0.0)
    except ValueError:
        return None
