"""The example client, over real HTTP against the app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import uvicorn
from fastapi import FastAPI

from devstack.resources import StackResources
from gen_ai_on_aws.examples.client import call_api, main, submit_and_wait

JASON = "Jason is 25 years old"


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    """The app on an ephemeral port; moto's patching is process-wide, so it serves moto."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def finish_job(table_name: str, job_id: str, result: dict[str, Any]) -> None:
    """Play the worker's part: mark the job succeeded."""
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=table_name,
        Key={"job_id": {"S": job_id}},
        UpdateExpression="SET #status = :succeeded, #result = :result",
        ExpressionAttributeNames={"#status": "status", "#result": "result"},
        ExpressionAttributeValues={
            ":succeeded": {"S": "succeeded"},
            ":result": {"S": json.dumps(result)},
        },
    )


def test_call_api_returns_json_for_success_and_errors(base_url: str) -> None:
    assert call_api("GET", f"{base_url}/health")[0] == 200
    status, body = call_api("GET", f"{base_url}/jobs/not-a-uuid")
    assert (status, body["code"]) == (422, "validation_error")


def test_call_api_refuses_non_http_urls() -> None:
    with pytest.raises(ValueError, match="not an HTTP URL"):
        call_api("GET", "file:///etc/passwd")


def test_submit_and_wait_returns_the_finished_job(base_url: str, api_env: StackResources) -> None:
    # GIVEN a worker that finishes the job as soon as it is queued
    def worker() -> None:
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        while not (items := dynamodb.scan(TableName=api_env.table_name)["Items"]):
            time.sleep(0.05)
        finish_job(api_env.table_name, items[0]["job_id"]["S"], {"name": "Jason", "age": 25})

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()

    # WHEN the example submits and polls
    job = submit_and_wait(base_url, JASON, api_key=None, timeout=10, interval=0.1)

    # THEN it returns the finished job with its result
    thread.join(5)
    assert job["status"] == "succeeded"
    assert job["result"] == {"name": "Jason", "age": 25}


def test_submit_and_wait_gives_up_at_the_timeout(base_url: str) -> None:
    job = submit_and_wait(base_url, JASON, api_key=None, timeout=0, interval=0)

    assert job["status"] == "queued"


def test_submit_and_wait_returns_the_error_of_a_refused_submission(base_url: str) -> None:
    assert submit_and_wait(base_url, " ", api_key="any")["code"] == "validation_error"


def test_main_prints_the_synchronous_result(
    base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--sync", "--base-url", base_url, JASON])

    assert json.loads(capsys.readouterr().out) == {"name": "Jason", "age": 25, "email": None}


def test_main_prints_the_job_when_asynchronous(
    base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--base-url", base_url, "--timeout", "0", JASON])

    assert json.loads(capsys.readouterr().out)["status"] == "queued"
