"""`Client`: requests it sends, answers it parses, errors it raises (without the API key)."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import ValidationError

from gen_ai_jobs import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    AuthenticationError,
    Client,
    ConflictError,
    InternalServerError,
    Job,
    NotFoundError,
    Priority,
    UnprocessableEntityError,
    WaitTimeout,
)

from .fake_api import API_KEY, BASE_URL, FakeApi


def test_submit_posts_the_job_and_returns_its_id(api: FakeApi, client: Client) -> None:
    created = client.submit(task="extract_user", input={"text": "Ada is 36"}, model="openai/x")

    assert created.status == "queued"
    assert created.status_url == f"{BASE_URL}/jobs/{created.job_id}"
    request = api.posts("/jobs")[0]
    assert json.loads(request.content) == {
        "task": "extract_user",
        "input": {"text": "Ada is 36"},
        "model": "openai/x",
    }
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("gen-ai-jobs/")
    assert "x-api-key" not in request.headers


def test_submit_without_a_key_sends_a_fresh_idempotency_key_each_call(
    api: FakeApi, client: Client
) -> None:
    first = client.submit(task="complete", input={"prompt": "a"})
    second = client.submit(task="complete", input={"prompt": "a"})

    keys = [request.headers["idempotency-key"] for request in api.posts("/jobs")]
    assert keys[0] != keys[1]
    assert all(key.startswith("gen-ai-jobs-") for key in keys)
    assert first.job_id != second.job_id


def test_submit_with_the_same_key_twice_returns_the_same_job(client: Client) -> None:
    first = client.submit(task="complete", input={"prompt": "a"}, idempotency_key="order-1")
    again = client.submit(task="complete", input={"prompt": "a"}, idempotency_key="order-1")

    assert again.job_id == first.job_id


def test_the_same_key_with_another_body_is_a_conflict_and_not_retried(
    api: FakeApi, client: Client
) -> None:
    client.submit(task="complete", input={"prompt": "a"}, idempotency_key="order-1")

    with pytest.raises(ConflictError) as raised:
        client.submit(task="complete", input={"prompt": "b"}, idempotency_key="order-1")

    assert raised.value.code == "idempotency_key_reused"
    assert len(api.posts("/jobs")) == 2


def test_the_api_key_is_sent_as_x_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi(api_key=API_KEY)
    monkeypatch.setenv("GEN_AI_API_KEY", API_KEY)

    with api.client() as client:
        client.submit(task="complete", input={"prompt": "a"})

    assert api.requests[0].headers["x-api-key"] == API_KEY


def test_base_url_comes_from_the_environment_else_the_devstack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Client().base_url == "http://127.0.0.1:8000"
    monkeypatch.setenv("GEN_AI_API_URL", "https://jobs.example.com/")
    assert Client().base_url == "https://jobs.example.com"


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://host", "http://", "not a url"])
def test_a_base_url_that_is_not_http_is_refused_at_construction(url: str) -> None:
    with pytest.raises(ValueError, match="base_url must be an http"):
        Client(base_url=url)


def test_repr_never_shows_the_key() -> None:
    assert API_KEY not in repr(Client(api_key=API_KEY))


def test_get_parses_the_job(api: FakeApi, client: Client) -> None:
    created = client.submit(task="complete", input={"prompt": "a"})

    job = client.get(created.job_id)

    assert isinstance(job, Job)
    assert job.status == "succeeded"
    assert job.finished
    assert job.result == {"echo": {"prompt": "a"}}
    assert job.usage is not None
    assert job.usage.completion_tokens == 5


def test_a_new_field_of_the_api_is_kept_not_refused(api: FakeApi, client: Client) -> None:
    created = client.submit(task="complete", input={"prompt": "a"})
    api.jobs[created.job_id].update(queue_position=3, status="paused")

    job = client.get(created.job_id)

    assert job.status == "paused"
    assert not job.finished
    assert job.model_extra == {"queue_position": 3}


@pytest.mark.parametrize("priority", ["high", "normal", "low"])
def test_submit_sends_the_priority_and_the_job_shows_it(
    api: FakeApi, client: Client, priority: Priority
) -> None:
    created = client.submit(task="complete", input={"prompt": "a"}, priority=priority)

    assert json.loads(api.posts("/jobs")[0].content)["priority"] == priority
    assert client.get(created.job_id).priority == priority


def test_submit_without_a_priority_leaves_it_to_the_api(api: FakeApi, client: Client) -> None:
    created = client.submit(task="complete", input={"prompt": "a"})

    assert "priority" not in json.loads(api.posts("/jobs")[0].content)
    assert client.get(created.job_id).priority == "normal"


def test_an_invalid_priority_is_refused_before_anything_is_sent(
    api: FakeApi, client: Client
) -> None:
    with pytest.raises(ValidationError, match="priority"):
        client.submit(task="complete", input={"prompt": "a"}, priority="urgent")  # type: ignore[arg-type]

    assert api.requests == []


def test_a_deferred_job_shows_its_last_error(api: FakeApi) -> None:
    with api.client() as client:
        api.polls_until_done = 5
        created = client.submit(task="complete", input={"prompt": "a"})
        last_error = {"code": "provider_unavailable", "message": "circuit open"}
        api.jobs[created.job_id].update(attempts=0, last_error=last_error)

        job = client.get(created.job_id)

    assert job.status == "running"
    assert job.last_error is not None
    assert (job.last_error.code, job.attempts) == ("provider_unavailable", 0)


def test_get_quotes_the_id_into_one_path_segment(api: FakeApi, client: Client) -> None:
    with pytest.raises(NotFoundError) as raised:
        client.get("../health")

    assert api.requests[0].url.raw_path == b"/jobs/..%2Fhealth"
    assert raised.value.code == "job_not_found"
    with pytest.raises(ValueError, match="job_id"):
        client.get("")


def test_cancel_a_queued_job(api: FakeApi, client: Client) -> None:
    created = client.submit(task="complete", input={"prompt": "a"})

    job = client.cancel(created.job_id)

    assert job.status == "cancelled"
    assert api.requests[-1].url.path == f"/jobs/{created.job_id}/cancel"


def test_cancel_a_finished_job_is_a_conflict_with_its_status(client: Client) -> None:
    created = client.submit(task="complete", input={"prompt": "a"})
    client.wait(created.job_id)

    with pytest.raises(ConflictError) as raised:
        client.cancel(created.job_id)

    assert raised.value.code == "job_not_cancellable"
    assert raised.value.details == {"status": "succeeded"}
    assert raised.value.request_id == "req-123"


def test_wait_polls_with_a_growing_interval_until_finished(api: FakeApi, client: Client) -> None:
    api.polls_until_done = 5
    created = client.submit(task="complete", input={"prompt": "a"})

    job = client.wait(created.job_id, poll_interval=1.0)

    assert job.status == "succeeded"
    assert api.sleeps == [1.0, 1.5, 2.25, 3.375]


def test_wait_interval_stops_growing_at_five_seconds(api: FakeApi, client: Client) -> None:
    api.polls_until_done = 9
    created = client.submit(task="complete", input={"prompt": "a"})

    client.wait(created.job_id, poll_interval=2.0)

    assert max(api.sleeps) == 5.0


def test_wait_gives_up_after_the_timeout_with_the_last_state(api: FakeApi) -> None:
    api.polls_until_done = 10**6
    with api.client(sleep=lambda _: None) as client:
        created = client.submit(task="complete", input={"prompt": "a"})

        with pytest.raises(WaitTimeout) as raised:
            client.wait(created.job_id, timeout=0.01, poll_interval=0.001)

    assert raised.value.job_id == created.job_id
    assert raised.value.job.status == "running"
    assert "still running after 0.01 s" in str(raised.value)


def test_a_wrong_key_is_an_authentication_error_that_says_what_to_fix() -> None:
    api = FakeApi(api_key=API_KEY)
    with api.client(api_key="sk-wrong-key") as client, pytest.raises(AuthenticationError) as raised:
        client.get("job-1")

    error = raised.value
    assert (error.status_code, error.code, error.request_id) == (401, "unauthorized", "req-123")
    assert "GEN_AI_API_KEY" in str(error)
    assert "sk-wrong-key" not in str(error)


def test_a_validation_error_carries_the_api_details(client: Client) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        client.submit(task="complete", input={"prompt": "!reject"})

    assert raised.value.code == "validation_error"
    assert str(raised.value).startswith("422 validation_error: The request is invalid")


def test_the_key_never_appears_in_an_error_even_if_the_server_echoes_it() -> None:
    def echo_key(request: httpx.Request) -> httpx.Response:
        message = f"key {request.headers['x-api-key']} is revoked"
        return httpx.Response(403, json={"error": message, "code": "forbidden"})

    http = httpx.Client(transport=httpx.MockTransport(echo_key))
    client = Client(base_url=BASE_URL, api_key=API_KEY, http_client=http)
    with pytest.raises(APIError) as raised:
        client.get("job-1")

    assert type(raised.value) is APIError
    assert API_KEY not in str(raised.value)
    assert API_KEY not in raised.value.message
    assert "key *** is revoked" in str(raised.value)


def test_a_non_json_error_page_becomes_an_error_with_the_status(api: FakeApi) -> None:
    api.fail_next(status=502, body=b"<html>Bad Gateway</html>")
    with api.client() as client, pytest.raises(InternalServerError) as raised:
        client.get("job-1")

    assert raised.value.code == "http_502"
    assert raised.value.message == "Bad Gateway"


@pytest.mark.parametrize("body", [b"<html>ok</html>", b'{"job_id": 1}', b"[]"])
def test_a_success_answer_of_another_shape_is_a_clear_error(api: FakeApi, body: bytes) -> None:
    api.fail_next(status=200, body=body)

    with api.client() as client, pytest.raises(APIResponseValidationError) as raised:
        client.get("job-1")

    assert str(raised.value).startswith("unexpected 200 answer to GET /jobs/job-1: not a Job")
    assert "html" not in str(raised.value)


def test_connection_refused_is_a_clear_connection_error_without_the_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    url = "http://user:hunter2@127.0.0.1:9"
    sleeps: list[float] = []
    client = Client(base_url=url, api_key=API_KEY, http_client=http, sleep=sleeps.append)

    with pytest.raises(APIConnectionError) as raised:
        client.get("job-1")

    message = str(raised.value)
    assert "could not reach the API at http://127.0.0.1:9" in message
    assert "Connection refused" in message
    assert API_KEY not in message
    assert "hunter2" not in message
    assert len(sleeps) == 3  # retried, then raised


def test_the_client_closes_only_the_http_client_it_made(api: FakeApi) -> None:
    http = httpx.Client(transport=httpx.MockTransport(api.handle))
    with Client(base_url=BASE_URL, http_client=http):
        pass
    assert not http.is_closed

    with Client(base_url=BASE_URL) as own:
        inner = own._transport._http
    assert inner.is_closed
