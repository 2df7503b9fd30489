"""POST /jobs: any task of the registry, its input checked by the task's own model, the model
checked against the allow-list; every refusal happens before any AWS call."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from fastapi.testclient import TestClient

from devstack.resources import StackResources
from gen_ai_contracts.queue import JOB_ID_PATTERN, QueueMessage
from gen_ai_contracts.tasks import TASKS
from gen_ai_contracts.tasks.complete import MAX_PROMPT_CHARS, MAX_SYSTEM_CHARS
from gen_ai_on_aws.api.deps import get_dynamodb_client, get_sqs_client
from gen_ai_on_aws.api.middleware import MAX_BODY_BYTES

JSON = {"Content-Type": "application/json"}
COMPLETE = {"task": "complete", "input": {"prompt": "Write a haiku about queues."}}
EXTRACT = {"task": "extract_user", "input": {"text": "Jason is 25 years old"}}


class ExplodingAws:
    """Stands in for a boto3 client when a test must prove AWS is never called."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"AWS must not be called ({name})")


@pytest.fixture
def offline_aws(client: TestClient) -> TestClient:
    """The client with both AWS clients replaced: any call fails the test."""
    overrides = client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[get_sqs_client] = overrides[get_dynamodb_client] = ExplodingAws
    return client


def queued_bodies(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def refusal(response: Any, code: str) -> list[tuple[str | None, str | None, str]]:
    """(field, location, type) of each detail of a 422 with `code`."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return [(d["field"], d["location"], d["type"]) for d in body["details"]]


# --- accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "payload"),
    [
        (
            COMPLETE,
            {"prompt": "Write a haiku about queues.", "system": None, "max_tokens": 512}
            | {"temperature": None},
        ),
        (EXTRACT, {"text": "Jason is 25 years old"}),
    ],
    ids=["complete", "extract_user"],
)
def test_each_task_is_queued_with_its_validated_input(
    client: TestClient, api_env: StackResources, job: dict[str, Any], payload: dict[str, Any]
) -> None:
    # WHEN a job is submitted for the task, without a model
    response = client.post("/jobs", json=job, headers={"X-Request-ID": "req-7"})

    # THEN 202 exactly like /extract-user-async, and the message carries the task's input with
    # its defaults filled in (the worker gets what the API validated)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"job_id", "status", "status_url"}
    assert re.match(JOB_ID_PATTERN, body["job_id"])
    assert body["status"] == "queued"
    assert body["status_url"] == f"http://testserver/jobs/{body['job_id']}"
    assert response.headers["Location"] == body["status_url"]
    [message] = queued_bodies(api_env.queue_url)
    assert QueueMessage.model_validate(message).job_id == body["job_id"]
    assert (message["task"], message["payload"], message["model"]) == (job["task"], payload, None)
    assert message["request_id"] == "req-7"


def test_the_chosen_model_travels_in_the_message(
    client: TestClient, api_env: StackResources
) -> None:
    response = client.post("/jobs", json={**COMPLETE, "model": "openai/fake-model"})

    assert response.status_code == 202
    [message] = queued_bodies(api_env.queue_url)
    assert message["model"] == "openai/fake-model"


def test_the_status_url_serves_the_queued_job_with_its_task(client: TestClient) -> None:
    status_url = client.post("/jobs", json=COMPLETE).json()["status_url"]

    job = client.get(status_url).json()

    assert (job["status"], job["task"], job["model"], job["usage"]) == (
        "queued",
        "complete",
        None,
        None,
    )


def test_every_registered_task_is_accepted(client: TestClient) -> None:
    # A task added to the registry is served without touching the API.
    examples = {
        name: task.input_model.model_json_schema()["examples"][0] for name, task in TASKS.items()
    }

    for name, example in examples.items():
        assert client.post("/jobs", json={"task": name, "input": example}).status_code == 202, name


# --- refused before any AWS call --------------------------------------------------------


@pytest.mark.parametrize("task", ["summarise", "", "Complete", "complete ", "x" * 10_000])
def test_unknown_task_is_422_unknown_task_listing_the_known_ones(
    offline_aws: TestClient, task: str
) -> None:
    response = offline_aws.post("/jobs", json={"task": task, "input": {"prompt": "hi"}})

    assert refusal(response, "unknown_task") == [("task", "body", "unknown_task")]
    assert response.json()["error"] == "Unknown task. Known tasks: complete, extract_user."


def test_an_unknown_task_name_is_logged_escaped_and_truncated(
    offline_aws: TestClient, captured_logs: Any
) -> None:
    task = 'evil\n{"level": "ERROR"}\x1b[31m' + "x" * 500

    offline_aws.post("/jobs", json={"task": task, "input": {}})

    [line] = captured_logs.with_message("unknown task refused")
    assert line["task"].startswith("'evil\\n{")
    assert "\n" not in line["task"]
    assert "\x1b" not in line["task"]
    assert len(line["task"]) < 100
    assert "x" * 100 not in captured_logs.text


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ({"task": "complete", "input": {}}, [("input.prompt", "body", "missing")]),
        (
            {"task": "complete", "input": {"prompt": "  "}},
            [("input.prompt", "body", "value_error")],
        ),
        (
            {"task": "complete", "input": {"prompt": "hi", "max_tokens": 0, "top_p": 1}},
            [
                ("input.max_tokens", "body", "greater_than_equal"),
                ("input.top_p", "body", "extra_forbidden"),
            ],
        ),
        (
            {"task": "complete", "input": {"prompt": "hi", "temperature": 2.5}},
            [("input.temperature", "body", "less_than_equal")],
        ),
        (
            {"task": "extract_user", "input": {"prompt": "hi"}},
            [
                ("input.text", "body", "missing"),
                ("input.prompt", "body", "extra_forbidden"),
            ],
        ),
    ],
    ids=["missing", "blank", "range-and-extra", "temperature", "other-task-input"],
)
def test_invalid_input_is_422_naming_input_fields(
    offline_aws: TestClient, job: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    response = offline_aws.post("/jobs", json=job)

    assert sorted(refusal(response, "validation_error")) == sorted(expected)


@pytest.mark.parametrize(
    ("field", "length"), [("prompt", MAX_PROMPT_CHARS + 1), ("system", MAX_SYSTEM_CHARS + 1)]
)
def test_over_long_input_text_is_422_naming_the_field(
    offline_aws: TestClient, field: str, length: int
) -> None:
    job = {"task": "complete", "input": {"prompt": "hi", field: "a" * length}}

    [(name, location, error_type)] = refusal(
        offline_aws.post("/jobs", json=job), "validation_error"
    )

    assert (name, location, error_type.endswith("too_long")) == (f"input.{field}", "body", True)


def test_invalid_input_is_never_echoed(offline_aws: TestClient) -> None:
    job = {
        "task": "complete",
        "input": {"prompt": "Secretive Sam\x00", "system": "Hidden Hal" * 500},
    }

    response = offline_aws.post("/jobs", json=job)

    assert response.status_code == 422
    assert "Secretive" not in response.text
    assert "Hidden" not in response.text


@pytest.mark.parametrize(
    ("job", "field", "error_type"),
    [
        ({**COMPLETE, "colour": "blue"}, "colour", "extra_forbidden"),
        ({"input": COMPLETE["input"]}, "task", "missing"),
        ({"task": "complete"}, "input", "missing"),
        ({"task": "complete", "input": "Write a haiku"}, "input", "dict_type"),
        ({**COMPLETE, "model": ""}, "model", "string_too_short"),
        ({**COMPLETE, "model": 4}, "model", "string_type"),
    ],
    ids=["extra", "no-task", "no-input", "input-not-object", "empty-model", "model-not-string"],
)
def test_malformed_submission_is_422_naming_the_field(
    offline_aws: TestClient, job: dict[str, Any], field: str, error_type: str
) -> None:
    details = refusal(offline_aws.post("/jobs", json=job), "validation_error")

    assert (field, "body", error_type) in details


def test_a_model_outside_the_allow_list_is_422_model_not_allowed(offline_aws: TestClient) -> None:
    response = offline_aws.post("/jobs", json={**COMPLETE, "model": "openai/gpt-5-pro"})

    assert refusal(response, "model_not_allowed") == [("model", "body", "model_not_allowed")]
    assert response.json()["error"] == "Model not allowed. Allowed models: openai/fake-model."


def test_the_default_allow_list_is_the_model_and_its_fallbacks(
    api_env: StackResources, reconfigure: Callable[..., None], client: TestClient
) -> None:
    # GIVEN fallbacks and no explicit allow-list
    reconfigure(LLM_FALLBACK_MODELS="openai/second,openai/third")

    # THEN the model and each fallback may be named, nothing else
    for model in ("openai/fake-model", "openai/second", "openai/third"):
        assert client.post("/jobs", json={**COMPLETE, "model": model}).status_code == 202, model
    refused = client.post("/jobs", json={**COMPLETE, "model": "openai/fourth"})
    assert refused.json()["code"] == "model_not_allowed"
    assert "openai/fake-model, openai/second, openai/third" in refused.json()["error"]


def test_an_explicit_allow_list_replaces_the_default(
    api_env: StackResources, reconfigure: Callable[..., None], client: TestClient
) -> None:
    reconfigure(LLM_FALLBACK_MODELS="openai/second", LLM_ALLOWED_MODELS="openai/cheap, openai/big")

    assert client.post("/jobs", json={**COMPLETE, "model": "openai/big"}).status_code == 202
    for model in ("openai/fake-model", "openai/second"):
        response = client.post("/jobs", json={**COMPLETE, "model": model})
        assert response.json()["code"] == "model_not_allowed", model
    # No model named: the deployment's LLM_MODEL runs, whatever the allow-list says.
    assert client.post("/jobs", json=COMPLETE).status_code == 202


def test_a_refused_model_name_is_logged_escaped(
    offline_aws: TestClient, captured_logs: Any
) -> None:
    offline_aws.post("/jobs", json={**COMPLETE, "model": "evil\nmodel\x00"})

    [line] = captured_logs.with_message("model refused")
    assert line["model"] == repr("evil\nmodel\x00")


def test_non_json_content_type_is_415_before_any_aws_call(offline_aws: TestClient) -> None:
    response = offline_aws.post(
        "/jobs", content=json.dumps(COMPLETE).encode(), headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_oversized_body_is_413_before_any_aws_call(offline_aws: TestClient) -> None:
    body = json.dumps({"task": "complete", "input": {"prompt": "x" * MAX_BODY_BYTES}}).encode()

    response = offline_aws.post("/jobs", content=body, headers=JSON)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_largest_valid_complete_job_fits_under_the_body_limit(client: TestClient) -> None:
    # Each emoji is one character but 12 bytes as a JSON escape: the worst case per character.
    job = {
        "task": "complete",
        "input": {
            "prompt": "\U0001f600" * MAX_PROMPT_CHARS,
            "system": "\U0001f600" * MAX_SYSTEM_CHARS,
        },
        "model": "openai/fake-model",
    }
    body = json.dumps(job, ensure_ascii=True).encode()

    response = client.post("/jobs", content=body, headers=JSON)

    assert len(body) <= MAX_BODY_BYTES
    assert response.status_code == 202


def test_queue_failure_is_503_and_leaves_no_job(
    client: TestClient, api_env: StackResources
) -> None:
    boto3.client("sqs", region_name="us-east-1").delete_queue(QueueUrl=api_env.queue_url)

    response = client.post("/jobs", json=COMPLETE)

    assert response.status_code == 503
    assert response.json()["code"] == "queue_unavailable"
    table = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=api_env.table_name)
    assert table["Items"] == []


# --- an enqueue SQS did not confirm, or refused for its body -----------------------------------


def test_a_send_sqs_took_but_never_confirmed_answers_503_and_ends_the_job(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    # GIVEN SQS takes the message but every answer is lost (botocore's retries included)
    def sent_then_timed_out(real: Callable[..., Any], **kwargs: Any) -> Any:
        real(**kwargs)
        raise ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com/")

    patch_aws(sqs={"send_message": sent_then_timed_out})

    response = client.post("/jobs", json=COMPLETE)

    # THEN 503 (no job will run), and the job is ended so its message is never run
    assert response.status_code == 503
    assert response.json()["code"] == "queue_unavailable"
    [job] = stored.jobs()
    assert (job["status"], job["error"]["code"]) == ("failed", "not_queued")
    assert stored.message_count() == 1  # the message SQS did take; the worker acks it unrun


def test_an_unconfirmed_send_whose_job_cannot_be_ended_names_the_job(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    def timed_out(real: Callable[..., Any], **kwargs: Any) -> Any:
        raise ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com/")

    def store_down(real: Callable[..., Any], **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")

    patch_aws(sqs={"send_message": timed_out}, dynamodb={"update_item": store_down})

    response = client.post("/jobs", json=COMPLETE)

    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "enqueue_uncertain"
    [job] = stored.jobs()
    assert body["details"] == [
        {"field": "job_id", "location": None, "message": job["job_id"], "type": "job_id"}
    ]


def test_a_body_sqs_refuses_is_422_and_leaves_no_job(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    def invalid_contents(real: Callable[..., Any], **kwargs: Any) -> Any:
        error = {
            "Error": {"Code": "InvalidMessageContents", "Message": "Invalid characters"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        raise ClientError(error, "SendMessage")  # type: ignore[arg-type]

    patch_aws(sqs={"send_message": invalid_contents})

    response = client.post("/jobs", json=COMPLETE)

    assert response.status_code == 422
    assert response.json()["code"] == "message_rejected"
    assert stored.jobs() == []
