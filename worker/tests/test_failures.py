"""Failure classification: litellm/instructor/AWS exceptions -> retryable or terminal codes."""

from __future__ import annotations

import json
from email.utils import formatdate
from time import time

import httpx
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from litellm.exceptions import (
    APIConnectionError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from pydantic import ValidationError

from gen_ai_contracts.tasks.extract_user import User
from worker.errors import DeferJobError, ErrorCode, TerminalJobError
from worker.services.failures import RATE_LIMIT_WAIT_SECONDS, classify, retry_after_seconds


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", "http://llm/v1/chat/completions")
    return httpx.Response(status, headers=headers or {}, request=request)


def _rate_limited(headers: dict[str, str]) -> RateLimitError:
    return RateLimitError("slow down", "openai", "m", response=_response(429, headers))


def _wrapped(cause: BaseException) -> InstructorRetryException:
    """What instructor raises: its own exception with the provider's as ``__cause__``."""
    try:
        raise InstructorRetryException("failed", n_attempts=1, total_usage=0) from cause
    except InstructorRetryException as exc:
        return exc


def _validation_error() -> ValidationError:
    try:
        User.model_validate({"name": "", "age": -1})
    except ValidationError as exc:
        return exc
    raise AssertionError("User accepted an invalid person")


def test_rate_limit_inside_instructor_defers_the_job_with_retry_after() -> None:
    error = classify(_wrapped(_rate_limited({"retry-after": "7"})))
    assert isinstance(error, DeferJobError)
    assert (error.code, error.retry_after, error.counts_as_attempt) == (
        ErrorCode.PROVIDER_RATE_LIMITED,
        7.0,
        False,
    )


def test_rate_limit_without_retry_after_waits_a_default() -> None:
    error = classify(_rate_limited({}))
    assert isinstance(error, DeferJobError)
    assert error.retry_after == RATE_LIMIT_WAIT_SECONDS


def test_provider_failures_count_as_attempts() -> None:
    error = classify(ServiceUnavailableError("down", "openai", "m"))
    assert (error.retryable, error.counts_as_attempt) == (True, True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(_rate_limited(headers)) == expected


def test_retry_after_as_http_date() -> None:
    seconds = retry_after_seconds(_rate_limited({"retry-after": formatdate(time() + 60)}))
    assert seconds is not None
    assert 55 <= seconds <= 61


def test_no_response_means_no_retry_after() -> None:
    assert retry_after_seconds(RuntimeError("no response at all")) is None


def test_litellm_headers_are_preferred() -> None:
    error = _rate_limited({})
    error.litellm_response_headers = httpx.Headers({"retry-after": "4"})  # type: ignore[attr-defined]
    assert retry_after_seconds(error) == 4.0


@pytest.mark.parametrize(
    ("exc", "code", "retryable"),
    [
        (ServiceUnavailableError("down", "openai", "m"), ErrorCode.PROVIDER_UNAVAILABLE, True),
        (APIConnectionError("refused", "openai", "m"), ErrorCode.PROVIDER_UNAVAILABLE, True),
        (TimeoutError(), ErrorCode.PROVIDER_TIMEOUT, True),
        (BadRequestError("no", "m", "openai"), ErrorCode.PROVIDER_REJECTED, False),
        (NotFoundError("no model", "m", "openai"), ErrorCode.PROVIDER_REJECTED, False),
        (
            ClientError({"Error": {"Code": "ThrottlingException"}}, "X"),
            ErrorCode.AWS_UNAVAILABLE,
            True,
        ),
        (ConnectTimeoutError(endpoint_url="http://ddb"), ErrorCode.AWS_UNAVAILABLE, True),
        (IncompleteOutputException(), ErrorCode.EXTRACTION_FAILED, False),
        (RuntimeError("bug"), ErrorCode.INTERNAL_ERROR, True),
    ],
)
def test_classification(exc: BaseException, code: ErrorCode, retryable: bool) -> None:
    error = classify(_wrapped(exc))
    assert (error.code, error.retryable) == (code, retryable)


def test_invalid_output_names_the_fields_but_never_their_values() -> None:
    error = classify(_wrapped(_validation_error()))
    assert isinstance(error, TerminalJobError)
    assert error.code is ErrorCode.EXTRACTION_FAILED
    assert "name" in error.message
    assert "age" in error.message
    assert "-1" not in error.message


def test_unparseable_output_is_extraction_failed() -> None:
    error = classify(_wrapped(json.JSONDecodeError("bad", "{", 0)))
    assert error.code is ErrorCode.EXTRACTION_FAILED
    assert "not valid JSON" in error.message


def test_provider_status_without_a_known_type() -> None:
    class ProviderError(Exception):
        def __init__(self, status_code: int) -> None:
            super().__init__(f"HTTP {status_code}")
            self.status_code = status_code

    assert classify(ProviderError(408)).retryable
    assert classify(ProviderError(502)).code is ErrorCode.PROVIDER_UNAVAILABLE
    assert classify(ProviderError(401)).code is ErrorCode.PROVIDER_REJECTED


def test_job_errors_pass_through() -> None:
    error = TerminalJobError(ErrorCode.UNKNOWN_TASK, "nope")
    assert classify(error) is error
