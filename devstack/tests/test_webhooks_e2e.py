"""Signed webhooks through the devstack over real HTTP: submit with a `callback_url`, the worker
finishes the job, the delivery function POSTs the event to a receiver on 127.0.0.1.

The devstack runs as a subprocess against the fake LLM of this test process, with a known
signing secret (as a user sets WEBHOOK_SIGNING_SECRET to keep one across restarts) and short
retry delays.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from devstack.e2e_support import DevstackProcess, StackPorts, wait_for_jobs
from devstack.fake_llm import FakeLLMServer
from devstack.stack import new_webhook_secret
from devstack.webhook_receiver import ReceivedWebhook, WebhookReceiver
from gen_ai_contracts.webhooks import webhook_id

pytestmark = pytest.mark.e2e

SECRET = new_webhook_secret()
STACK_ENV = {
    "WEBHOOK_SIGNING_SECRET": SECRET,
    "WEBHOOK_RETRY_BASE_SECONDS": "1",
    "WEBHOOK_RETRY_CAP_SECONDS": "2",
}


@dataclass(frozen=True)
class WebhookStack:
    process: DevstackProcess
    api_url: str


@pytest.fixture(scope="module")
def stack(
    start_module_devstack: Callable[..., DevstackProcess], fake_llm_server: FakeLLMServer
) -> WebhookStack:
    ports = StackPorts()
    process = start_module_devstack(
        [*ports.args(), f"--llm-api-base={fake_llm_server.base_url}", "--batching-window=0.2"],
        env=STACK_ENV,
    )
    return WebhookStack(process, ports.api_url)


@pytest.fixture(autouse=True)
def default_llm(fake_llm: FakeLLMServer) -> FakeLLMServer:
    """The session's fake LLM back to its defaults (other modules script faults on it)."""
    return fake_llm


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


def submit_with_callback(http: httpx.Client, api_url: str, text: str, url: str) -> str:
    response = http.post(f"{api_url}/extract-user-async", json={"text": text, "callback_url": url})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def verified(request: ReceivedWebhook) -> dict[str, Any]:
    return dict(Webhook(SECRET).verify(request.body, request.headers))


def wait_for_callback(
    http: httpx.Client, api_url: str, job_id: str, status: str, timeout: float = 30.0
) -> dict[str, Any]:
    """GET the job until its `callback.status` is `status`; its body then."""
    deadline = time.monotonic() + timeout
    while True:
        job = dict(http.get(f"{api_url}/jobs/{job_id}").raise_for_status().json())
        if (job.get("callback") or {}).get("status") == status:
            return job
        assert time.monotonic() < deadline, f"callback still {job.get('callback')}"
        time.sleep(0.2)


def test_a_finished_job_calls_back_once_with_a_valid_signature(
    stack: WebhookStack, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    # GIVEN a job submitted with a callback_url to a receiver on 127.0.0.1
    job_id = submit_with_callback(http, stack.api_url, "Jason is 25 years old", receiver.url)
    # WHEN it finishes
    [request] = receiver.wait_for(1)
    # THEN one signed job.succeeded event arrives, carrying the job as GET shows it
    body = verified(request)
    assert body["type"] == "job.succeeded"
    assert body["data"]["job_id"] == job_id
    assert body["data"]["result"] == {"name": "Jason", "age": 25, "email": None}
    assert request.headers["webhook-id"] == webhook_id(job_id, "job.succeeded")
    # AND GET /jobs shows it delivered, and no second request follows
    job = wait_for_callback(http, stack.api_url, job_id, "delivered")
    assert job["callback"] == {"status": "delivered", "attempts": 1, "last_status_code": 200}
    assert "callback_url" not in job
    time.sleep(1.0)
    assert len(receiver.requests) == 1


def test_a_failed_job_calls_back_with_job_failed(
    stack: WebhookStack, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    job_id = submit_with_callback(http, stack.api_url, "Nobody here !invalid", receiver.url)
    [request] = receiver.wait_for(1)
    body = verified(request)
    assert (body["type"], body["data"]["job_id"]) == ("job.failed", job_id)
    assert body["data"]["error"]["code"] == "extraction_failed"


def test_the_generic_endpoint_takes_a_callback_url_too(
    stack: WebhookStack, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    body = {
        "task": "complete",
        "input": {"prompt": "Say hi"},
        "callback_url": receiver.url_for("/hooks/complete"),
    }
    response = http.post(f"{stack.api_url}/jobs", json=body)
    assert response.status_code == 202, response.text
    [request] = receiver.wait_for(1)
    assert request.path == "/hooks/complete"
    assert verified(request)["data"]["task"] == "complete"


def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_webhook_id(
    stack: WebhookStack, http: httpx.Client
) -> None:
    with WebhookReceiver(statuses=[500, 500]) as receiver:
        job_id = submit_with_callback(http, stack.api_url, "Ann is 30 years old", receiver.url)
        requests = receiver.wait_for(3, timeout=30)
        job = wait_for_callback(http, stack.api_url, job_id, "delivered")
    assert {request.headers["webhook-id"] for request in requests} == {
        webhook_id(job_id, "job.succeeded")
    }
    assert all(verified(request)["type"] == "job.succeeded" for request in requests)
    assert job["callback"] == {"status": "delivered", "attempts": 3, "last_status_code": 200}


def test_a_worker_killed_mid_delivery_loses_no_event(
    start_devstack: Callable[..., DevstackProcess], fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    # GIVEN the API and emulated AWS in one process, the worker and delivery in another, with
    # short timeouts so an unanswered batch comes back quickly (as in AWS, visibility > timeout)
    ports = StackPorts()
    timing = ["--function-timeout=8", "--visibility-timeout=10", "--batching-window=0.2"]
    base = [*ports.args(), f"--llm-api-base={fake_llm.base_url}", *timing]
    start_devstack([*base, "--no-worker"], env=STACK_ENV)
    worker_args = [*base, "--attach", "--no-api"]
    with WebhookReceiver(delays=[3.0]) as receiver:
        # a receiver that takes 3 s over the first request
        job_id = submit_with_callback(http, ports.api_url, "Bob is 41 years old", receiver.url)
        first = start_devstack(worker_args, env=STACK_ENV)
        # WHEN the worker process is killed (SIGKILL) while that request is in flight
        receiver.wait_for(1)
        first.stop(kill=True)
        wait_for_jobs(http, ports.api_url, [job_id])
        assert (http.get(f"{ports.api_url}/jobs/{job_id}").json()["callback"] or {}).get(
            "status"
        ) == "pending"
        # THEN a new worker delivers the event again once its visibility ends
        start_devstack(worker_args, env=STACK_ENV)
        requests = receiver.wait_for(2, timeout=40)
        job = wait_for_callback(http, ports.api_url, job_id, "delivered")
    assert [request.headers["webhook-id"] for request in requests] == [
        webhook_id(job_id, "job.succeeded")
    ] * 2
    assert job["callback"]["status"] == "delivered"
