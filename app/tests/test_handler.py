"""The Lambda handler (Mangum) fed API Gateway HTTP API v2, REST API v1 and Function URL events.

Sample events under `events/` follow AWS's documented payloads; the builders below only change
method, path, headers and body.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.resources import StackResources
from gen_ai_contracts.settings import ConfigurationError

EVENTS = Path(__file__).parent / "events"
JASON = "Jason is 25 years old"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class FakeLambdaContext:
    """The attributes Lambda's context object has and Powertools reads."""

    function_name: str = "gen-ai-on-aws-api"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:gen-ai-on-aws-api"
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/gen-ai-on-aws-api"
    log_stream_name: str = "2026/11/23/[$LATEST]abcdef"

    @property
    def function_memory_size(self) -> int:
        return self.memory_limit_in_mb

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def http_api_event(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    name: str = "apigw_http_api_v2.json",
    base64_body: bool = False,
) -> dict[str, Any]:
    """An HTTP API (payload v2) or Function URL event; both use the same v2 format."""
    event = copy.deepcopy(load_event(name))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"] = {**event["headers"], **{k.lower(): v for k, v in (headers or {}).items()}}
    if body is not None:
        raw = json.dumps(body)
        event["headers"]["content-type"] = "application/json"
        event["headers"]["content-length"] = str(len(raw.encode()))
        event["body"] = base64.b64encode(raw.encode()).decode() if base64_body else raw
        event["isBase64Encoded"] = base64_body
    return event


def rest_api_event(
    method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A REST API (v1) proxy event on stage `prod`."""
    event = copy.deepcopy(load_event("apigw_rest_api_v1.json"))
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    event["requestContext"]["path"] = f"/prod{path}"
    extra = dict(headers or {})
    if body is not None:
        event["body"] = json.dumps(body)
        extra["Content-Type"] = "application/json"
    event["headers"].update(extra)
    event["multiValueHeaders"].update({key: [value] for key, value in extra.items()})
    return event


@pytest.fixture
def handler(api_env: StackResources) -> Handler:
    """`gen_ai_on_aws.main.handler`, imported fresh as in a cold start."""
    sys.modules.pop("gen_ai_on_aws.main", None)
    return importlib.import_module("gen_ai_on_aws.main").handler  # type: ignore[no-any-return]


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@pytest.mark.parametrize("name", ["apigw_http_api_v2.json", "function_url.json"])
def test_v2_events_get_health(handler: Handler, name: str) -> None:
    event = http_api_event("GET", "/health", name=name)

    response = handler(event, FakeLambdaContext())

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert response_json(response)["status"] == "ok"
    # No X-Request-ID header: the id is API Gateway's, so logs and access logs match.
    assert response["headers"]["x-request-id"] == event["requestContext"]["requestId"]


def test_rest_v1_event_gets_health(handler: Handler) -> None:
    event = rest_api_event("GET", "/health")

    response = handler(event, FakeLambdaContext())

    assert response["statusCode"] == 200
    assert response_json(response)["status"] == "ok"
    assert response["headers"]["x-request-id"] == "77375676-xmpl-4b79-853a-f982474efe18"


def test_http_api_submission_returns_202_with_a_public_status_url(handler: Handler) -> None:
    event = http_api_event("POST", "/extract-user-async", {"text": JASON})

    response = handler(event, FakeLambdaContext())

    assert response["statusCode"] == 202
    body = response_json(response)
    expected = f"https://r3pmxmplak.execute-api.us-east-1.amazonaws.com/jobs/{body['job_id']}"
    assert body["status_url"] == expected
    assert response["headers"]["location"] == expected


def test_under_lambda_a_key_is_held_no_longer_than_the_invocation(
    handler: Handler, api_env: StackResources
) -> None:
    # GIVEN an invocation with 30 s left, submitting with an Idempotency-Key
    event = http_api_event(
        "POST", "/extract-user-async", {"text": JASON}, {"Idempotency-Key": "lambda-1"}
    )
    started_ms = time.time() * 1000

    first = handler(event, FakeLambdaContext())
    retry = handler(event, FakeLambdaContext())

    # THEN the retry replays the first answer
    assert response_json(retry) == response_json(first)
    assert retry["headers"]["idempotent-replayed"] == "true"
    # AND while it ran, the key was held until the invocation's end at the latest
    [record] = [
        item
        for item in boto3.client("dynamodb", region_name="us-east-1").scan(
            TableName=api_env.table_name
        )["Items"]
        if item["job_id"]["S"].startswith("idempotency#")
    ]
    lease_ms = int(record["idempotency_lease_expires_ms"]["N"])
    assert started_ms + 29_000 <= lease_ms <= time.time() * 1000 + 30_000


def test_http_api_job_can_be_polled_after_submission(handler: Handler) -> None:
    submitted = handler(
        http_api_event("POST", "/extract-user-async", {"text": JASON}), FakeLambdaContext()
    )
    job_id = response_json(submitted)["job_id"]

    response = handler(http_api_event("GET", f"/jobs/{job_id}"), FakeLambdaContext())

    assert response["statusCode"] == 200
    assert response_json(response)["status"] == "queued"


def test_base64_encoded_body_is_decoded(handler: Handler) -> None:
    event = http_api_event("POST", "/extract-user-async", {"text": JASON}, base64_body=True)

    assert handler(event, FakeLambdaContext())["statusCode"] == 202


def test_rest_v1_status_url_keeps_the_stage_prefix(handler: Handler) -> None:
    event = rest_api_event("POST", "/extract-user-async", {"text": JASON})

    response = handler(event, FakeLambdaContext())

    assert response["statusCode"] == 202
    job_id = response_json(response)["job_id"]
    expected = f"https://1234567890.execute-api.us-east-1.amazonaws.com/prod/jobs/{job_id}"
    assert response_json(response)["status_url"] == expected


def test_rest_v1_without_a_stage_in_the_path_has_no_prefix(handler: Handler) -> None:
    # e.g. behind a custom domain whose base path mapping hides the stage
    event = rest_api_event("POST", "/extract-user-async", {"text": JASON})
    event["requestContext"]["path"] = event["path"]

    response = handler(event, FakeLambdaContext())

    job_id = response_json(response)["job_id"]
    expected = f"https://1234567890.execute-api.us-east-1.amazonaws.com/jobs/{job_id}"
    assert response_json(response)["status_url"] == expected


def test_function_url_runs_the_synchronous_extraction(handler: Handler) -> None:
    event = http_api_event("POST", "/extract-user", {"text": JASON}, name="function_url.json")

    response = handler(event, FakeLambdaContext())

    assert response["statusCode"] == 200
    assert response_json(response) == {"name": "Jason", "age": 25, "email": None}


def test_caller_request_id_wins_over_api_gateway_id(handler: Handler) -> None:
    event = http_api_event("GET", "/health", headers={"X-Request-ID": "client-chosen-id"})

    response = handler(event, FakeLambdaContext())

    assert response["headers"]["x-request-id"] == "client-chosen-id"


@pytest.mark.parametrize("build", [http_api_event, rest_api_event])
def test_errors_through_the_handler_are_json_with_request_id(
    handler: Handler, build: Callable[..., dict[str, Any]]
) -> None:
    response = handler(build("GET", "/no-such-route"), FakeLambdaContext())

    assert response["statusCode"] == 404
    body = response_json(response)
    assert body["code"] == "not_found"
    assert body["request_id"] == response["headers"]["x-request-id"]


def test_log_lines_carry_lambda_context_and_request_id(
    handler: Handler, captured_logs: Any
) -> None:
    context = FakeLambdaContext()
    event = http_api_event("GET", "/health")

    handler(event, context)

    [line] = captured_logs.with_message("request handled")
    assert line["function_request_id"] == context.aws_request_id
    assert line["request_id"] == event["requestContext"]["requestId"]
    assert line["cold_start"] in (True, False)


def test_cold_start_without_required_setting_fails_naming_it(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUEUE_URL")
    sys.modules.pop("gen_ai_on_aws.main", None)

    with pytest.raises(ConfigurationError, match="QUEUE_URL"):
        importlib.import_module("gen_ai_on_aws.main")


def test_the_event_body_is_not_logged_even_when_event_logging_is_enabled(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    sys.modules.pop("gen_ai_on_aws.main", None)
    handler = importlib.import_module("gen_ai_on_aws.main").handler
    event = http_api_event("POST", "/extract-user-async", {"text": "Quillon is 47 years old"})

    assert handler(event, FakeLambdaContext())["statusCode"] == 202
    assert "Quillon" not in captured_logs.text
