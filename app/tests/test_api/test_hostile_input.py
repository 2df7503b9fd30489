"""Hostile requests: each is refused with the error body, and nothing reaches the table or queue.

Through the ASGI app (TestClient) and, for the cases API Gateway can deliver, through the Lambda
handler (Mangum) with an HTTP API v2 event. Complements test_errors.py (statuses and codes on
the offline app) by checking, against moto, that a refused request stored nothing.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import anyio
import boto3
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message, Scope

from devstack.lambda_runtime import LambdaContext
from devstack.resources import StackResources
from gen_ai_on_aws.api.app import create_app
from gen_ai_on_aws.api.deps import get_jobs_repository
from gen_ai_on_aws.api.middleware import MAX_BODY_BYTES

EVENTS = Path(__file__).parents[1] / "events"
REGION = "us-east-1"
JSON = {"Content-Type": "application/json"}
ERROR_BODY_KEYS = {"error", "code", "request_id", "details"}
SUBMIT = "/extract-user-async"
VALID_JOB_ID = "0b6e7c1e-2f7a-4c1e-9a55-3f0e2d9f5b10"
DEPTH = 10_000
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


# --- helpers -------------------------------------------------------------------------------


def nested_array(depth: int) -> bytes:
    return b'{"text": ' + b"[" * depth + b"]" * depth + b"}"


def nested_object(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def assert_error_body(
    status: int, body: bytes | str, headers: Any, expected_status: int, code: str
) -> dict[str, Any]:
    """The DESIGN error body with the expected status and code, and the request id echoed."""
    assert status == expected_status, body
    parsed = json.loads(body)
    assert set(parsed) == ERROR_BODY_KEYS
    assert parsed["code"] == code
    assert parsed["error"]
    assert parsed["request_id"] == headers["x-request-id"]
    assert headers["content-type"] == "application/json"
    assert "Traceback" not in str(body)
    return dict(parsed)


def assert_refused(response: Any, status: int, code: str) -> dict[str, Any]:
    return assert_error_body(response.status_code, response.content, response.headers, status, code)


class Stack:
    """What the API wrote: items in the jobs table, messages on the queue."""

    def __init__(self, resources: StackResources) -> None:
        self.resources = resources
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)

    def jobs(self) -> int:
        return int(self.dynamodb.scan(TableName=self.resources.table_name)["Count"])

    def messages(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(count) for count in attributes.values())

    def assert_nothing_stored(self) -> None:
        assert (self.jobs(), self.messages()) == (0, 0)


class CountingRepository:
    """Stands in for the jobs repository: any call means the id reached DynamoDB."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_job(self, *, job_id: str, tenant: str, now: object) -> None:
        self.calls.append(job_id)


@pytest.fixture
def stack(api_env: StackResources) -> Stack:
    return Stack(api_env)


@pytest.fixture
def handler(api_env: StackResources) -> Handler:
    """`gen_ai_on_aws.main.handler`, imported fresh as in a cold start."""
    sys.modules.pop("gen_ai_on_aws.main", None)
    return importlib.import_module("gen_ai_on_aws.main").handler  # type: ignore[no-any-return]


@pytest.fixture
def counting_client(app: FastAPI) -> Iterator[tuple[TestClient, list[str]]]:
    repository = CountingRepository()
    app.dependency_overrides[get_jobs_repository] = lambda: repository
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, repository.calls


def http_api_event(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """AWS's documented HTTP API (payload v2) event, with this request's method, path, body;
    the body is base64-encoded, as API Gateway sends bodies that are not valid text."""
    event = copy.deepcopy(json.loads((EVENTS / "apigw_http_api_v2.json").read_text()))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"].pop("content-length")
    event["headers"].update({name.lower(): value for name, value in (headers or {}).items()})
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return dict(event)


def asgi_post(
    app: FastAPI, body: bytes, *, content_length: bytes, chunk_size: int = 65_536
) -> tuple[int, dict[str, str], bytes]:
    """POST `body` to SUBMIT at the ASGI level, declaring any Content-Length (HTTP clients
    always send the true one); return status, headers and body of the answer."""
    chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def serve() -> None:
        await app(scope, receive, send)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": SUBMIT,
        "raw_path": SUBMIT.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", content_length)],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    anyio.run(serve)
    start = next(message for message in sent if message["type"] == "http.response.start")
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, answer


def invoke(handler: Handler, event: dict[str, Any]) -> dict[str, Any]:
    response = handler(event, LambdaContext(function_name="gen-ai-on-aws-api"))
    return dict(response)


def assert_handler_refused(response: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body)
    return assert_error_body(response["statusCode"], body, response["headers"], status, code)


# --- the positive control: the helpers do see a stored job ---------------------------------


def test_a_valid_submission_is_stored_so_the_nothing_stored_check_can_fail(
    client: TestClient, stack: Stack
) -> None:
    response = client.post(SUBMIT, json={"text": "Jason is 25 years old"})

    assert response.status_code == 202
    assert (stack.jobs(), stack.messages()) == (1, 1)


# --- bodies ----------------------------------------------------------------------------------


def test_body_over_the_limit_with_content_length_is_413_and_stores_nothing(
    client: TestClient, stack: Stack
) -> None:
    body = json.dumps({"text": "x" * MAX_BODY_BYTES}).encode()

    response = client.post(SUBMIT, content=body, headers=JSON)

    assert_refused(response, 413, "payload_too_large")
    stack.assert_nothing_stored()


def test_chunked_body_over_the_limit_is_413_and_stores_nothing(
    client: TestClient, stack: Stack
) -> None:
    # GIVEN a body streamed in chunks, with no Content-Length to refuse it up front
    chunks = iter([b'{"text": "', *([b"x" * 65_536] * (MAX_BODY_BYTES // 65_536 + 1)), b'"}'])

    # WHEN it is submitted
    response = client.post(SUBMIT, content=chunks, headers=JSON)

    # THEN the limit applies while it streams
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_refused(response, 413, "payload_too_large")
    stack.assert_nothing_stored()


def test_content_length_understating_the_body_is_refused_while_streaming(
    app: FastAPI, stack: Stack
) -> None:
    # GIVEN a client that declares 10 bytes and then streams more than the limit
    body = json.dumps({"text": "x" * MAX_BODY_BYTES}).encode()

    # WHEN the app receives it
    status, headers, answer = asgi_post(app, body, content_length=b"10")

    # THEN the streamed bytes are counted, not the declared length
    assert_error_body(status, answer, headers, 413, "payload_too_large")
    stack.assert_nothing_stored()


@pytest.mark.parametrize("declared", [b"-1", b"1e9", b"0x10", b" 12 ", b"", b"lots"])
def test_unparseable_content_length_is_ignored_and_the_body_still_read(
    app: FastAPI, stack: Stack, declared: bytes
) -> None:
    status, _, answer = asgi_post(app, b'{"text": "Jason is 25"}', content_length=declared)

    assert status == 202, answer
    assert (stack.jobs(), stack.messages()) == (1, 1)


@pytest.mark.parametrize(
    "body",
    [nested_array(DEPTH), nested_object(DEPTH), b"[" * 100_000],
    ids=["array-10000-deep", "object-10000-deep", "unclosed-100000-deep"],
)
def test_deeply_nested_json_is_400_quickly_and_stores_nothing(
    client: TestClient, stack: Stack, body: bytes
) -> None:
    started = time.monotonic()

    response = client.post(SUBMIT, content=body, headers=JSON)

    assert_refused(response, 400, "invalid_json")
    assert time.monotonic() - started < 5
    stack.assert_nothing_stored()


def test_nesting_the_parser_accepts_is_a_validation_error_naming_text(
    client: TestClient, stack: Stack
) -> None:
    response = client.post(SUBMIT, content=nested_array(500), headers=JSON)

    body = assert_refused(response, 422, "validation_error")
    assert [(d["field"], d["type"]) for d in body["details"]] == [("text", "string_type")]
    stack.assert_nothing_stored()


@pytest.mark.parametrize(
    "body",
    [
        b'{"text": "\xff\xfe Jason is 25"}',
        b'{"text": "Jason \xc3\x28 is 25"}',  # a truncated two-byte sequence
        b'{"text": "Jason\x00 is 25"}',  # a raw NUL: a control character JSON forbids
        b'{"text": ' + b"9" * 5_000 + b"}",  # past Python's int-parsing digit limit
    ],
    ids=["invalid-start-bytes", "truncated-sequence", "raw-nul", "huge-int"],
)
def test_undecodable_body_is_400_invalid_json_and_stores_nothing(
    client: TestClient, stack: Stack, body: bytes
) -> None:
    response = client.post(SUBMIT, content=body, headers=JSON)

    assert_refused(response, 400, "invalid_json")
    stack.assert_nothing_stored()


@pytest.mark.parametrize(
    ("body", "field", "error_type"),
    [
        ({"text": "Jason\u0000 is 25"}, "text", "value_error"),
        ({"text": "\u0000"}, "text", "value_error"),
        ({"text": "Jason is 25", "admin": True}, "admin", "extra_forbidden"),
        ({"text": "Jason is 25", "__proto__": {"x": 1}}, "__proto__", "extra_forbidden"),
        ({"Text": "Jason is 25"}, "Text", "extra_forbidden"),
        ({"text": ["Jason is 25"]}, "text", "string_type"),
        ({"text": 25}, "text", "string_type"),
        ({"text": None}, "text", "string_type"),
        ({"text": " \t\n\u00a0"}, "text", "value_error"),
    ],
    ids=[
        "escaped-nul",
        "only-nul",
        "unknown-field",
        "proto-field",
        "wrong-case-field",
        "list",
        "number",
        "null",
        "blank",
    ],
)
def test_invalid_text_or_unknown_fields_are_422_naming_the_field(
    client: TestClient, stack: Stack, body: dict[str, Any], field: str, error_type: str
) -> None:
    response = client.post(SUBMIT, json=body)

    details = assert_refused(response, 422, "validation_error")["details"]
    assert (field, "body", error_type) in {(d["field"], d["location"], d["type"]) for d in details}
    stack.assert_nothing_stored()


@pytest.mark.parametrize(
    "surrogate",
    [b"\\ud800", b"\xed\xa0\x80"],
    ids=["escaped", "utf8-encoded"],
)
def test_lone_surrogate_is_422_and_the_text_is_not_echoed(
    client: TestClient, stack: Stack, surrogate: bytes
) -> None:
    # json.loads decodes bytes with surrogatepass, so both forms reach validation
    body = b'{"text": "Secretive Sam ' + surrogate + b' is 25"}'

    response = client.post(SUBMIT, content=body, headers=JSON)

    assert_refused(response, 422, "validation_error")
    assert "Secretive" not in response.text
    stack.assert_nothing_stored()


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "json"],
)
def test_json_body_under_a_wrong_content_type_is_415_and_stores_nothing(
    client: TestClient, stack: Stack, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = client.post(SUBMIT, content=b'{"text": "Jason is 25"}', headers=headers)

    assert_refused(response, 415, "unsupported_media_type")
    stack.assert_nothing_stored()


# --- headers -------------------------------------------------------------------------------


HUGE = "a" * 65_536


@pytest.mark.parametrize("name", ["X-Request-ID", "X-Anything", "User-Agent", "Accept"])
def test_64_kib_header_values_do_not_break_a_submission(
    client: TestClient, stack: Stack, captured_logs: Any, name: str
) -> None:
    response = client.post(SUBMIT, json={"text": "Jason is 25"}, headers={name: HUGE})

    assert response.status_code == 202
    assert len(response.headers["X-Request-ID"]) <= 128
    assert HUGE not in captured_logs.text
    assert (stack.jobs(), stack.messages()) == (1, 1)


def test_64_kib_content_type_is_415(client: TestClient, stack: Stack) -> None:
    response = client.post(
        SUBMIT, content=b'{"text": "Jason is 25"}', headers={"Content-Type": HUGE}
    )

    assert_refused(response, 415, "unsupported_media_type")
    stack.assert_nothing_stored()


def test_64_kib_api_key_is_401(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch, stack: Stack
) -> None:
    monkeypatch.setenv("API_KEYS", "the-one-real-key-0123456789")
    with TestClient(create_app(), raise_server_exceptions=False) as keyed:
        response = keyed.post(SUBMIT, json={"text": "Jason is 25"}, headers={"X-API-Key": HUGE})

    assert_refused(response, 401, "unauthorized")
    stack.assert_nothing_stored()


def test_thousands_of_headers_do_not_break_a_submission(client: TestClient, stack: Stack) -> None:
    headers = {f"X-Filler-{i}": "v" * 64 for i in range(2_000)}

    response = client.post(SUBMIT, json={"text": "Jason is 25"}, headers=headers)

    assert response.status_code == 202
    assert (stack.jobs(), stack.messages()) == (1, 1)


# --- job ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "job_id",
    [
        VALID_JOB_ID.upper(),
        VALID_JOB_ID.replace("-", ""),
        "{" + VALID_JOB_ID + "}",
        "urn:uuid:" + VALID_JOB_ID,
        VALID_JOB_ID + "%0A",
        VALID_JOB_ID + "%00",
        " " + VALID_JOB_ID,
        "0b6e7c1e-2f7a-1c1e-9a55-3f0e2d9f5b10",  # version 1, not 4
        "x" * 10_000,
        "caf\u00e9",
        "\u0660" * 8 + "-2f7a-4c1e-9a55-3f0e2d9f5b10",  # Arabic-Indic digits
        "%2e%2e",
        "null",
        "' OR '1'='1",
    ],
    ids=[
        "uppercase",
        "no-dashes",
        "braces",
        "urn",
        "trailing-newline",
        "trailing-nul",
        "leading-space",
        "uuid-v1",
        "10000-chars",
        "unicode",
        "unicode-digits",
        "encoded-dot-dot",
        "null",
        "sql-ish",
    ],
)
def test_malformed_job_id_is_422_before_any_dynamodb_call(
    counting_client: tuple[TestClient, list[str]], job_id: str
) -> None:
    client, repository_calls = counting_client

    response = client.get(f"/jobs/{job_id}")

    details = assert_refused(response, 422, "validation_error")["details"]
    assert [(d["field"], d["location"]) for d in details] == [("job_id", "path")]
    assert job_id not in response.text
    assert repository_calls == []


@pytest.mark.parametrize(
    "path",
    [
        "/jobs/..%2F..%2Fetc%2Fpasswd",
        "/jobs/%2e%2e%2fhealth",
        f"/jobs/{VALID_JOB_ID}/..%2F..%2Fhealth",
        f"/jobs/{VALID_JOB_ID}/result",
        "/jobs/..",
    ],
)
def test_traversal_like_paths_match_no_route(
    counting_client: tuple[TestClient, list[str]], path: str
) -> None:
    client, repository_calls = counting_client

    response = client.get(path)

    assert_refused(response, 404, "not_found")
    assert repository_calls == []


@pytest.mark.parametrize("path", ["/jobs", "/jobs/"])
def test_reading_the_jobs_collection_is_405_without_a_lookup(
    counting_client: tuple[TestClient, list[str]], path: str
) -> None:
    # The collection only takes submissions (`/jobs/` is redirected to it).
    client, repository_calls = counting_client

    response = client.get(path)

    assert_refused(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"
    assert repository_calls == []


def test_well_formed_unknown_job_id_is_404_after_one_lookup(
    counting_client: tuple[TestClient, list[str]],
) -> None:
    # The control for the two tests above: a canonical id does reach the repository.
    client, repository_calls = counting_client

    response = client.get(f"/jobs/{VALID_JOB_ID}")

    assert_refused(response, 404, "job_not_found")
    assert repository_calls == [VALID_JOB_ID]


# --- through the Lambda handler (API Gateway HTTP API v2 events) ----------------------------


def test_handler_refuses_a_body_over_the_limit_without_content_length(
    handler: Handler, stack: Stack
) -> None:
    body = json.dumps({"text": "x" * MAX_BODY_BYTES}).encode()
    event = http_api_event("POST", SUBMIT, body, JSON)

    response = invoke(handler, event)

    assert "content-length" not in event["headers"]
    assert_handler_refused(response, 413, "payload_too_large")
    stack.assert_nothing_stored()


def test_handler_refuses_a_body_over_the_limit_by_its_content_length(
    handler: Handler, stack: Stack
) -> None:
    body = json.dumps({"text": "x" * MAX_BODY_BYTES}).encode()
    event = http_api_event("POST", SUBMIT, body, {**JSON, "Content-Length": str(len(body))})

    assert_handler_refused(invoke(handler, event), 413, "payload_too_large")
    stack.assert_nothing_stored()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (nested_array(DEPTH), 400, "invalid_json"),
        (b'{"text": "\xff\xfe Jason is 25"}', 400, "invalid_json"),
        (b'{"text": "Jason\\u0000 is 25"}', 422, "validation_error"),
        (b'{"text": "Jason is 25", "admin": true}', 422, "validation_error"),
    ],
    ids=["nested-10000", "invalid-utf8", "nul", "unknown-field"],
)
def test_handler_refuses_hostile_bodies_and_stores_nothing(
    handler: Handler, stack: Stack, body: bytes, status: int, code: str
) -> None:
    event = http_api_event("POST", SUBMIT, body, JSON)

    assert_handler_refused(invoke(handler, event), status, code)
    stack.assert_nothing_stored()


def test_handler_refuses_a_wrong_content_type(handler: Handler, stack: Stack) -> None:
    event = http_api_event("POST", SUBMIT, b'{"text": "Jason is 25"}', {"Content-Type": "text/xml"})

    assert_handler_refused(invoke(handler, event), 415, "unsupported_media_type")
    stack.assert_nothing_stored()


def test_handler_survives_a_64_kib_header(handler: Handler, stack: Stack) -> None:
    body = json.dumps({"text": "Jason is 25"}).encode()
    event = http_api_event("POST", SUBMIT, body, {**JSON, "X-Request-ID": HUGE, "X-Big": HUGE})

    response = invoke(handler, event)

    assert response["statusCode"] == 202
    assert response["headers"]["x-request-id"] == event["requestContext"]["requestId"]
    assert (stack.jobs(), stack.messages()) == (1, 1)


@pytest.mark.parametrize(
    "job_id",
    [VALID_JOB_ID.upper(), "x" * 10_000, "caf\u00e9", "%2e%2e"],
    ids=["uppercase", "10000-chars", "unicode", "encoded-dot-dot"],
)
def test_handler_refuses_malformed_job_ids(handler: Handler, job_id: str) -> None:
    response = invoke(handler, http_api_event("GET", f"/jobs/{job_id}"))

    details = assert_handler_refused(response, 422, "validation_error")["details"]
    assert [d["field"] for d in details] == ["job_id"]


def test_handler_answers_404_for_an_unknown_canonical_job_id(handler: Handler) -> None:
    response = invoke(handler, http_api_event("GET", f"/jobs/{uuid4()}"))

    assert_handler_refused(response, 404, "job_not_found")
