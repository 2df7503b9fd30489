"""Pure ASGI middleware: request ids and logging context, and the request body size limit.

Pure ASGI (not BaseHTTPMiddleware) so the request id's context variable is set in the same
context the route runs in, and so a too-large body is refused before it is read.
"""

import re
import time
from collections.abc import Mapping
from uuid import uuid4

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gen_ai_on_aws.api.errors import http_error
from gen_ai_on_aws.logs import bind_request_id, logger, unbind_request_id

# Above the largest valid request (a `complete` job: 24,000 characters of prompt and system
# message, each sent as a 12-byte escaped surrogate pair: about 282 KiB), far below Lambda's
# 6 MB payload limit. Validated inputs are much smaller as UTF-8, and always fit one SQS message.
MAX_BODY_BYTES = 320 * 1024

# POST /jobs/batch carries up to 100 such bodies, which no limit under Lambda's 6 MB request
# payload can hold at their largest. 4 MiB stays under it even if API Gateway base64-encodes the
# body (4/3 of it, plus the event's envelope); the queue side is safe whatever the limit, since
# SendMessageBatch calls are cut at 256 KiB. A larger batch is 413: split it.
MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024
BODY_LIMITS_BY_PATH = {"/jobs/batch": MAX_BATCH_BODY_BYTES}

# Echoed in a header and written to logs: bounded, and only the characters of UUIDs, base64
# ids (API Gateway's) and trace ids; anything else is replaced, never sanitised.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@;-]{1,128}")


def choose_request_id(scope: Scope) -> str:
    """The caller's X-Request-ID if sane, else API Gateway's request id, else a new one."""
    candidates = [
        Headers(scope=scope).get("x-request-id"),
        (scope.get("aws.event") or {}).get("requestContext", {}).get("requestId"),
        getattr(scope.get("aws.context"), "aws_request_id", None),
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and _SANE_REQUEST_ID.fullmatch(candidate):
            return candidate
    return uuid4().hex


class RequestContextMiddleware:
    """Give each request an id: in `request.state`, on every log line, on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = choose_request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets if the app raises before answering

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if "x-request-id" not in headers:
                    headers.append("X-Request-ID", request_id)
            await send(message)

        bind_request_id(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            _log_request(scope, status, started)
            unbind_request_id()


def _log_request(scope: Scope, status: int, started: float) -> None:
    """One access line per request: method, path and status only (no query, no body)."""
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    extra = {"method": scope["method"], "path": scope["path"], "status": status}
    logger.info("request handled", extra={**extra, "duration_ms": duration_ms})


class BodySizeLimitMiddleware:
    """413 for bodies over the limit (the path's own, else the default): at once from
    Content-Length, or while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = MAX_BODY_BYTES,
        limits_by_path: Mapping[str, int] = BODY_LIMITS_BY_PATH,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limits_by_path = dict(limits_by_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits_by_path.get(scope["path"], self.max_body_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = http_error(413, scope.get("state", {}).get("request_id"))
            await response(scope, receive, send)
            return
        await self.app(scope, _limited(receive, limit), send)


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            # An HTTPException: FastAPI re-raises it from body parsing (others become 400).
            raise HTTPException(status_code=413)
        return message

    return receive_within_limit


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.isdigit() else None
