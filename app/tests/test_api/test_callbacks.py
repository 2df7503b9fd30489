"""`callback_url` at submit: checked by the SSRF guard, stored on the record with a pending
webhook state, shown as `callback` by GET /jobs/{id}, never echoed, queued or logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

HOOK = "https://hooks.example.com/jobs?token=s3cr3t-token"
TEXT = "Jason is 25 years old"


def submit(client: TestClient, path: str, callback_url: str | None) -> Any:
    if path == "/extract-user-async":
        return client.post(path, json={"text": TEXT, "callback_url": callback_url})
    if path == "/jobs/batch":
        job = {"task": "extract_user", "input": {"text": TEXT}, "callback_url": callback_url}
        return client.post(path, json={"jobs": [job]})
    return client.post(
        path, json={"task": "extract_user", "input": {"text": TEXT}, "callback_url": callback_url}
    )


def job_id_of(response: Any) -> str:
    body = response.json()
    return str(body["results"][0]["job_id"] if "results" in body else body["job_id"])


PATHS = ["/jobs", "/extract-user-async", "/jobs/batch"]


@pytest.mark.parametrize("path", PATHS)
def test_the_callback_is_stored_with_the_job_and_shown_without_its_url(
    client: TestClient, stored: Any, callbacks_queue_url: str, captured_logs: Any, path: str
) -> None:
    # WHEN a job is submitted with a callback_url
    response = submit(client, path, HOOK)

    # THEN the record holds the URL and a pending webhook, written with the job
    assert response.status_code == 202, response.text
    job_id = job_id_of(response)
    record = stored.job(job_id)
    assert record["callback_url"] == HOOK
    assert record["callback"] == {"status": "pending", "attempts": 0}
    # AND GET shows the webhook's state, never the URL; neither does the queue message or a log
    shown = client.get(f"/jobs/{job_id}").json()
    assert shown["callback"] == {"status": "pending", "attempts": 0, "last_status_code": None}
    [message] = stored.messages()
    for text in (str(shown), str(message), captured_logs.text, response.text):
        assert "s3cr3t" not in text
        assert "hooks.example.com" not in text
    assert message["payload"] == {"text": TEXT}
    # AND nothing is announced yet: events are queued when the job finishes
    assert stored.message_count(callbacks_queue_url) == 0


@pytest.mark.parametrize("path", PATHS)
def test_a_job_without_a_callback_has_none(client: TestClient, stored: Any, path: str) -> None:
    job_id = job_id_of(submit(client, path, None))

    assert "callback_url" not in stored.job(job_id)
    assert client.get(f"/jobs/{job_id}").json()["callback"] is None


@pytest.mark.parametrize(
    "target",
    [
        "http://hooks.example.com",  # not https
        "https://127.0.0.1",
        "https://localhost",
        "https://169.254.169.254",  # cloud metadata
        "https://10.0.0.7",
        "https://[::1]",
        "https://[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "https://2130706433",  # 127.0.0.1 as one number
        "https://0x7f.1",
        "ftp://hooks.example.com",
        "not a url",
    ],
)
@pytest.mark.parametrize("path", PATHS)
def test_a_refused_callback_url_is_422_without_echoing_it(
    client: TestClient,
    stored: Any,
    callbacks_queue_url: str,
    captured_logs: Any,
    path: str,
    target: str,
) -> None:
    response = submit(client, path, f"{target}/hook?token=s3cr3t-token")

    if path == "/jobs/batch":  # refused by index, in a 207
        assert response.status_code == 207
        error = response.json()["results"][0]["error"]
    else:
        assert response.status_code == 422
        error = response.json()
    assert error["code"] == "invalid_callback_url"
    assert error["details"][0]["field"] == "callback_url"
    assert "s3cr3t" not in response.text
    assert "s3cr3t" not in captured_logs.text
    assert stored.items() == []


def test_private_targets_are_allowed_when_the_deployment_says_so(
    client: TestClient, stored: Any, callbacks_queue_url: str, reconfigure: Callable[..., None]
) -> None:
    # The devstack's receivers live on 127.0.0.1.
    reconfigure(WEBHOOK_ALLOW_PRIVATE_TARGETS="true")

    response = submit(client, "/jobs", "http://127.0.0.1:8123/hook")

    assert response.status_code == 202
    assert stored.job(job_id_of(response))["callback_url"] == "http://127.0.0.1:8123/hook"


@pytest.mark.parametrize("path", PATHS)
def test_a_callback_without_a_callbacks_queue_is_422_callbacks_not_configured(
    client: TestClient, stored: Any, path: str
) -> None:
    response = submit(client, path, HOOK)

    error = response.json()["results"][0]["error"] if path == "/jobs/batch" else response.json()
    assert error["code"] == "callbacks_not_configured"
    assert error["details"][0]["field"] == "callback_url"
    assert stored.items() == []


def test_extract_user_async_still_refuses_unknown_fields(client: TestClient) -> None:
    response = client.post("/extract-user-async", json={"text": TEXT, "colour": "blue"})

    assert response.status_code == 422
    assert response.json()["details"][0]["type"] == "extra_forbidden"
