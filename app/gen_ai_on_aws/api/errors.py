"""The one JSON error body: codes and messages per status, and the helpers that build it."""

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from gen_ai_on_aws.models.errors import ErrorBody, ErrorDetail
from gen_ai_on_aws.services import errors as service_errors

# status -> (code, message) for errors raised by the framework or by our guards.
_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_json", "The request body is not valid JSON."),
    401: ("unauthorized", "Missing or invalid X-API-Key header."),
    404: ("not_found", "No endpoint matches this path."),
    405: ("method_not_allowed", "This endpoint does not support the method."),
    409: ("conflict", "The request conflicts with the job's state or with an Idempotency-Key."),
    413: (
        "payload_too_large",
        "The request body is larger than the limit (320 KiB; 4 MiB for POST /jobs/batch).",
    ),
    415: ("unsupported_media_type", "Send the body as JSON with Content-Type: application/json."),
    422: ("validation_error", "The request is invalid; see details."),
    429: (
        "rate_limited",
        "Rate limited (your tenant's TENANT_RPM_LIMIT, or the LLM provider); retry after"
        " Retry-After seconds.",
    ),
    500: ("internal_error", "Internal error; quote the request_id when reporting it."),
    502: (
        "llm_rejected",
        "The LLM provider rejected the request (a server-side configuration problem).",
    ),
    503: (
        "service_unavailable",
        "A dependency is unavailable; retry later. `auth_not_configured`: the API has no keys"
        " yet and serves nothing but /health until one is added.",
    ),
}

SERVICE_ERRORS: dict[type[service_errors.ServiceError], tuple[int, str, str]] = {
    service_errors.QueueUnavailableError: (
        503,
        "queue_unavailable",
        "The job queue is unavailable; no job was created. Retry later.",
    ),
    service_errors.EnqueueUncertainError: (
        503,
        "enqueue_uncertain",
        "The job queue did not confirm the job and the job store is unavailable, so the job "
        "may run: GET /jobs/{job_id} (job_id in details) before submitting it again.",
    ),
    service_errors.MessageRejectedError: (
        422,
        "message_rejected",
        "The job queue refused the job's message (characters SQS cannot carry); no job was "
        "created. Change the input.",
    ),
    service_errors.StoreUnavailableError: (
        503,
        "store_unavailable",
        "The job store is unavailable. Retry later.",
    ),
    service_errors.ExtractionFailedError: (
        422,
        "extraction_failed",
        "No valid person could be extracted from the text.",
    ),
    service_errors.LlmRateLimitedError: (
        429,
        "rate_limited",
        "The LLM provider is rate limiting; retry after Retry-After seconds.",
    ),
    service_errors.LlmUnavailableError: (
        503,
        "llm_unavailable",
        "The LLM provider failed or timed out. Retry later.",
    ),
    service_errors.LlmRejectedError: (502, *_HTTP_ERRORS[502]),
}


class ApiError(Exception):
    """Raised by routes and guards for an error with a specific code."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        details: list[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def error_detail(error: Mapping[str, Any], *, prefix: tuple[str, ...] = ()) -> ErrorDetail:
    """One pydantic validation error without its `input` (which may be the PII we must not
    echo); `loc` starts with where it was found (`body`, `path`, ...), then the field path."""
    location, *path = [*prefix, *(str(part) for part in error.get("loc", ()))] or [""]
    return ErrorDetail(
        field=".".join(path) or None,
        location=location or None,
        message=error["msg"],
        type=error["type"],
    )


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_response(
    *,
    status_code: int,
    code: str,
    message: str,
    request_id: str | None,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error body; sets X-Request-ID itself because the 500 handler runs outside our
    middleware."""
    body = ErrorBody(error=message, code=code, request_id=request_id, details=details)
    all_headers = {**(headers or {}), **({"X-Request-ID": request_id} if request_id else {})}
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=all_headers)


def http_error(status_code: int, request_id: str | None, **kwargs: Any) -> JSONResponse:
    """The standard body for `status_code`, from `_HTTP_ERRORS`."""
    code, message = _HTTP_ERRORS.get(status_code) or (
        ("bad_request", "The request cannot be served.") if status_code < 500 else _HTTP_ERRORS[500]
    )
    return error_response(
        status_code=status_code, code=code, message=message, request_id=request_id, **kwargs
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route, so its schema lists every error it can answer."""
    return {
        status: {"model": ErrorBody, "description": _HTTP_ERRORS[status][1]} for status in statuses
    }
