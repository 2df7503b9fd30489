"""Exception handlers: every failure, expected or not, becomes the error body."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gen_ai_on_aws.api.errors import (
    SERVICE_ERRORS,
    ApiError,
    error_detail,
    error_response,
    http_error,
    request_id_of,
)
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.models.errors import ErrorDetail
from gen_ai_on_aws.services.errors import ServiceError


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        status_code=exc.status_code,
        code=exc.code,
        message=exc.message,
        request_id=request_id_of(request),
        details=exc.details,
        headers=exc.headers,
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return http_error(exc.status_code, request_id_of(request), headers=exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return http_error(400, request_id_of(request))
    return http_error(422, request_id_of(request), details=[error_detail(e) for e in errors])


async def _on_service_error(request: Request, exc: Exception) -> JSONResponse:
    status_code, code, message = next(
        spec for error_type, spec in SERVICE_ERRORS.items() if isinstance(exc, error_type)
    )
    logger.warning("dependency failed", extra={"code": code, "reason": str(exc)})
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": retry_after} if retry_after else None
    job_id = getattr(exc, "job_id", None)
    details = [ErrorDetail(field="job_id", message=job_id, type="job_id")] if job_id else None
    return error_response(
        status_code=status_code,
        code=code,
        message=message,
        request_id=request_id_of(request),
        headers=headers,
        details=details,
    )


async def _on_unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
    return http_error(500, request_id_of(request))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ServiceError, _on_service_error)
    app.add_exception_handler(Exception, _on_unhandled_error)
