"""Request ids and the body size limit."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Scope

from gen_ai_on_aws.api.middleware import MAX_BODY_BYTES, BodySizeLimitMiddleware, choose_request_id
from gen_ai_on_aws.logs import logger

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def test_sane_request_id_is_echoed(offline_client: TestClient) -> None:
    response = offline_client.get("/health", headers={"X-Request-ID": "abc-123_DEF.456:789"})

    assert response.headers["X-Request-ID"] == "abc-123_DEF.456:789"


@pytest.mark.parametrize(
    "unsafe", ["x" * 129, "has space", "tab\there", "caf\u00e9", "quote\"and'<script>"]
)
def test_unsafe_request_id_is_replaced(offline_client: TestClient, unsafe: str) -> None:
    response = offline_client.get("/health", headers={"X-Request-ID": unsafe.encode("utf-8")})

    request_id = response.headers["X-Request-ID"]
    assert request_id != unsafe
    assert GENERATED_ID.match(request_id)


@pytest.mark.parametrize(
    ("headers", "event", "context", "expected"),
    [
        (
            [(b"x-request-id", b"from-header")],
            {"requestContext": {"requestId": "apigw"}},
            None,
            "from-header",
        ),
        (
            [(b"x-request-id", b"bad\n")],
            {"requestContext": {"requestId": "apigw="}},
            None,
            "apigw=",
        ),
        ([], {"requestContext": {}}, SimpleNamespace(aws_request_id="lambda-id"), "lambda-id"),
    ],
)
def test_request_id_falls_back_from_header_to_api_gateway_to_lambda(
    headers: list[tuple[bytes, bytes]], event: dict[str, Any], context: Any, expected: str
) -> None:
    scope = {"type": "http", "headers": headers, "aws.event": event, "aws.context": context}

    assert choose_request_id(scope) == expected


def test_a_missing_request_id_is_generated_per_request(offline_client: TestClient) -> None:
    first = offline_client.get("/health").headers["X-Request-ID"]
    second = offline_client.get("/health").headers["X-Request-ID"]

    assert GENERATED_ID.match(first)
    assert first != second


def test_request_id_is_on_every_log_line_of_the_request_and_cleared_after(
    client: TestClient, captured_logs: Any
) -> None:
    response = client.post(
        "/extract-user-async", json={"text": "Jason is 25"}, headers={"X-Request-ID": "req-77"}
    )
    logger.info("after the request")

    [queued] = captured_logs.with_message("job queued")
    [handled] = captured_logs.with_message("request handled")
    [after] = captured_logs.with_message("after the request")
    assert queued["request_id"] == handled["request_id"] == "req-77"
    assert queued["job_id"] == response.json()["job_id"]
    assert (handled["method"], handled["path"], handled["status"]) == (
        "POST",
        "/extract-user-async",
        202,
    )
    assert "request_id" not in after


def test_non_numeric_content_length_falls_back_to_the_streaming_limit(
    offline_client: TestClient,
) -> None:
    response = offline_client.get("/health", headers={"Content-Length": "lots"})

    assert response.status_code == 200


async def test_declared_oversized_body_is_refused_without_reading_it() -> None:
    # GIVEN a request declaring a body over the limit, whose body must never be read
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/extract-user",
        "headers": [(b"content-length", str(MAX_BODY_BYTES + 1).encode())],
        "state": {"request_id": "req-1"},
    }

    # WHEN the middleware sees it
    await BodySizeLimitMiddleware(app)(scope, receive, send)

    # THEN it answers 413 at once
    assert sent[0]["status"] == 413
    assert (b"x-request-id", b"req-1") in sent[0]["headers"]


async def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await BodySizeLimitMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    assert seen == ["lifespan"]


pytestmark = pytest.mark.anyio
