"""Retries: 429, 503, connection failures and a key still in progress; bounded; Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from gen_ai_jobs import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    InternalServerError,
    RateLimitError,
    UnprocessableEntityError,
)
from gen_ai_jobs.errors import parse_retry_after

from .fake_api import FakeApi


def test_a_429_is_retried_after_the_seconds_retry_after_says(api: FakeApi, client: Client) -> None:
    api.fail_next(status=429, code="rate_limited", headers={"Retry-After": "2"})

    created = client.submit(task="complete", input={"prompt": "a"})

    assert created.status == "queued"
    assert api.sleeps == [2.0]
    assert len(api.posts("/jobs")) == 2


def test_every_retry_sends_the_same_idempotency_key_and_body(api: FakeApi, client: Client) -> None:
    api.fail_next(times=2, status=503, code="queue_unavailable", headers={"Retry-After": "1"})

    client.submit(task="complete", input={"prompt": "a"})

    posts = api.posts("/jobs")
    assert len(posts) == 3
    assert len({request.headers["idempotency-key"] for request in posts}) == 1
    assert len({request.content for request in posts}) == 1


def test_a_503_without_retry_after_backs_off_exponentially_with_jitter(
    api: FakeApi, client: Client
) -> None:
    api.fail_next(times=3, status=503, code="store_unavailable")

    client.submit(task="complete", input={"prompt": "a"})

    assert len(api.sleeps) == 3
    for sleep, base in zip(api.sleeps, [0.5, 1.0, 2.0], strict=True):
        assert base <= sleep <= base + 0.5


def test_retries_are_bounded_then_the_last_error_is_raised(api: FakeApi) -> None:
    api.fail_next(times=10, status=503, code="queue_unavailable", headers={"Retry-After": "1"})

    with api.client(max_retries=2) as client, pytest.raises(InternalServerError) as raised:
        client.submit(task="complete", input={"prompt": "a"})

    assert raised.value.code == "queue_unavailable"
    assert len(api.requests) == 3
    assert api.sleeps == [1.0, 1.0]


def test_an_api_without_keys_is_an_authentication_error_at_once_not_retried(
    api: FakeApi, client: Client
) -> None:
    api.fail_next(times=5, status=503, code="auth_not_configured")

    with pytest.raises(AuthenticationError) as raised:
        client.submit(task="complete", input={"prompt": "a"})

    assert (raised.value.status_code, raised.value.code) == (503, "auth_not_configured")
    assert len(api.requests) == 1
    assert api.sleeps == []


def test_max_retries_zero_sends_once(api: FakeApi) -> None:
    api.fail_next(status=429, code="rate_limited", headers={"Retry-After": "1"})

    with api.client(max_retries=0) as client, pytest.raises(RateLimitError) as raised:
        client.get("job-1")

    assert raised.value.retry_after == 1.0
    assert len(api.requests) == 1


def test_a_huge_retry_after_is_capped_at_a_minute(api: FakeApi, client: Client) -> None:
    api.fail_next(status=429, code="rate_limited", headers={"Retry-After": "86400"})

    client.submit(task="complete", input={"prompt": "a"})

    assert api.sleeps == [60.0]


def test_an_idempotent_request_still_in_progress_is_retried(api: FakeApi, client: Client) -> None:
    api.fail_next(status=409, code="idempotency_key_in_progress", headers={"Retry-After": "1"})

    client.submit(task="complete", input={"prompt": "a"}, idempotency_key="k-1")

    assert api.sleeps == [1.0]


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "invalid_idempotency_key", BadRequestError),
        (409, "idempotency_key_reused", ConflictError),
        (422, "unknown_task", UnprocessableEntityError),
        (500, "internal_error", InternalServerError),
    ],
)
def test_other_errors_are_raised_at_once(
    api: FakeApi, client: Client, status: int, code: str, error: type[Exception]
) -> None:
    api.fail_next(status=status, code=code, headers={"Retry-After": "1"})

    with pytest.raises(error):
        client.submit(task="complete", input={"prompt": "a"})

    assert len(api.requests) == 1
    assert api.sleeps == []


def test_a_connection_failure_is_retried_and_can_recover(api: FakeApi, client: Client) -> None:
    request = httpx.Request("GET", "http://api.test")
    api.fail_next(exception=httpx.ConnectError("refused", request=request))
    api.fail_next(exception=httpx.ReadTimeout("timed out", request=request))

    created = client.submit(task="complete", input={"prompt": "a"})

    assert created.status == "queued"
    assert len(api.sleeps) == 2


def test_a_connection_failure_that_lasts_raises_a_connection_error(api: FakeApi) -> None:
    request = httpx.Request("GET", "http://api.test")
    api.fail_next(times=5, exception=httpx.ConnectError("refused", request=request))

    with api.client(max_retries=1) as client, pytest.raises(APIConnectionError):
        client.get("job-1")

    assert len(api.requests) == 2


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("3", 3.0), ("1.5", 1.5), ("-4", 0.0), ("soon", None)],
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=30)

    seconds = parse_retry_after(format_datetime(later, usegmt=True))

    assert seconds is not None
    assert 28 <= seconds <= 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
