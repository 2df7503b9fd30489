"""The exceptions this package raises: one base, the API's errors by status, and local failures.

Messages never contain the API key: it only travels in the `X-API-Key` header, and anything the
server sends back is redacted before it reaches a message (see `error_from_response`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class GenAiJobsError(Exception):
    """Base of every error raised by `gen_ai_jobs`."""


class APIConnectionError(GenAiJobsError):
    """The API could not be reached (refused, DNS, TLS, timeout), after the retries."""


class APIResponseValidationError(GenAiJobsError):
    """A 2xx answer that is not what this client expects (an incompatible API version?)."""


class WaitTimeout(GenAiJobsError):  # noqa: N818 - the public name, like httpx.ReadTimeout
    """A job was not finished when `wait(timeout=...)` ran out; `job` is its last seen state."""

    def __init__(self, message: str, *, job_id: str, job: Any = None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.job = job


class WebhookVerificationError(GenAiJobsError):
    """A webhook's signature, timestamp or body is not valid: answer it with 400, ignore it."""


class APIError(GenAiJobsError):
    """The API answered with an error status; `code` is its stable, machine-readable reason."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str,
        request_id: str | None = None,
        details: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.details = details
        self.retry_after = retry_after

    def __str__(self) -> str:
        request = f" (request_id {self.request_id})" if self.request_id else ""
        return f"{self.status_code} {self.code}: {self.message}{request}"


class BadRequestError(APIError):
    """400: malformed JSON or an invalid `Idempotency-Key`."""


class AuthenticationError(APIError):
    """401: the API key is missing or wrong (pass `api_key=` or set GEN_AI_API_KEY); or 503
    `auth_not_configured`: the API has no keys yet, so it serves nobody (not retried)."""


class NotFoundError(APIError):
    """404: no such job (or it expired), or no such endpoint."""


class ConflictError(APIError):
    """409: `job_not_cancellable`, `idempotency_key_reused` or `idempotency_key_in_progress`."""


class UnprocessableEntityError(APIError):
    """422: the request was refused before anything was queued (`details` says which field)."""


class RateLimitError(APIError):
    """429: too many requests; `retry_after` says when to try again."""


class InternalServerError(APIError):
    """5xx: the API or a dependency failed; 503s are retried before this is raised."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

# Codes whose class is not their status's: retrying or another key cannot help.
_BY_CODE: dict[str, type[APIError]] = {"auth_not_configured": AuthenticationError}

_HINTS = {401: " Check the API key (api_key=, --api-key or GEN_AI_API_KEY)."}


def error_from_response(response: httpx.Response, *, api_key: str | None) -> APIError:
    """The exception for an error response: the API's JSON body `{error, code, request_id,
    details}`, or the status line for anything else (a proxy's HTML page, say)."""
    body = _json_object(response)
    status = response.status_code
    code = str(body.get("code") or f"http_{status}")
    message = str(body.get("error") or response.reason_phrase or "error") + _HINTS.get(status, "")
    cls = (
        _BY_CODE.get(code)
        or _BY_STATUS.get(status)
        or (InternalServerError if status >= 500 else APIError)
    )
    return cls(
        redact(message, api_key),
        status_code=status,
        code=code,
        request_id=body.get("request_id") or response.headers.get("x-request-id"),
        details=body.get("details"),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds: delay-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
