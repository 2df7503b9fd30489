"""Priority lanes: `priority` on every submission (and batch item) picks the job's queue, is
stored on the record and shown by GET /jobs/{id}; an invalid one is refused before any AWS call."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devstack.resources import StackResources
from gen_ai_on_aws.api.deps import get_dynamodb_client, get_sqs_client

EXTRACT = {"task": "extract_user", "input": {"text": "Jason is 25 years old"}}
PRIORITIES = ("high", "normal", "low")


class ExplodingAws:
    """Stands in for a boto3 client when a test must prove AWS is never called."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"AWS must not be called ({name})")


@pytest.fixture
def lanes(api_env: StackResources, reconfigure: Callable[..., None]) -> dict[str, str]:
    """The stack's three lane queues configured (QUEUE_URL_HIGH / QUEUE_URL_LOW): URL by lane."""
    reconfigure(QUEUE_URL_HIGH=api_env.queue_url_high, QUEUE_URL_LOW=api_env.queue_url_low)
    return {
        "high": api_env.queue_url_high,
        "normal": api_env.queue_url,
        "low": api_env.queue_url_low,
    }


def job_ids_by_lane(stored: Any, lanes: dict[str, str]) -> dict[str, set[str]]:
    return {
        lane: {message["job_id"] for message in stored.messages(url)} for lane, url in lanes.items()
    }


# --- single submissions ------------------------------------------------------------------


@pytest.mark.parametrize("priority", PRIORITIES)
def test_a_job_is_queued_in_its_lane_and_shows_its_priority(
    client: TestClient, stored: Any, lanes: dict[str, str], priority: str
) -> None:
    response = client.post("/jobs", json={**EXTRACT, "priority": priority})

    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    expected = {lane: ({job_id} if lane == priority else set()) for lane in lanes}
    assert job_ids_by_lane(stored, lanes) == expected
    assert stored.job(job_id)["priority"] == priority
    assert client.get(f"/jobs/{job_id}").json()["priority"] == priority


def test_the_default_priority_is_normal(
    client: TestClient, stored: Any, lanes: dict[str, str]
) -> None:
    job_id = client.post("/jobs", json=EXTRACT).json()["job_id"]

    [message] = stored.messages(lanes["normal"])
    assert (message["job_id"], message["priority"]) == (job_id, "normal")
    assert client.get(f"/jobs/{job_id}").json()["priority"] == "normal"


@pytest.mark.parametrize("priority", PRIORITIES)
def test_extract_user_async_takes_a_priority(
    client: TestClient, stored: Any, lanes: dict[str, str], priority: str
) -> None:
    response = client.post(
        "/extract-user-async", json={"text": "Jason is 25 years old", "priority": priority}
    )

    assert response.status_code == 202, response.text
    [message] = stored.messages(lanes[priority])
    assert message["job_id"] == response.json()["job_id"]
    # The lane is not part of the task's input.
    assert message["payload"] == {"text": "Jason is 25 years old"}


@pytest.mark.parametrize("priority", PRIORITIES)
def test_without_lane_queues_every_priority_goes_to_the_queue(
    client: TestClient, stored: Any, api_env: StackResources, priority: str
) -> None:
    # GIVEN only QUEUE_URL (a stack without lanes)
    job_id = client.post("/jobs", json={**EXTRACT, "priority": priority}).json()["job_id"]

    [message] = stored.messages(api_env.queue_url)
    assert (message["job_id"], message["priority"]) == (job_id, priority)
    assert stored.message_count(api_env.queue_url_high) == 0
    assert stored.message_count(api_env.queue_url_low) == 0


@pytest.mark.parametrize("path", ["/jobs", "/extract-user-async"])
@pytest.mark.parametrize("priority", ["urgent", "HIGH", "", None, 1, ["high"]])
def test_an_invalid_priority_is_422_naming_the_field_before_any_aws_call(
    client: TestClient, path: str, priority: Any
) -> None:
    overrides = client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[get_sqs_client] = overrides[get_dynamodb_client] = ExplodingAws
    body = EXTRACT if path == "/jobs" else {"text": "Jason is 25 years old"}

    response = client.post(path, json={**body, "priority": priority})

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert [(d["field"], d["location"]) for d in response.json()["details"]] == [
        ("priority", "body")
    ]


# --- batches -----------------------------------------------------------------------------


def test_batch_items_go_to_their_lanes_with_the_batch_priority_as_default(
    client: TestClient, stored: Any, lanes: dict[str, str]
) -> None:
    batch = {
        "priority": "low",
        "jobs": [
            EXTRACT,
            {**EXTRACT, "priority": "high"},
            {**EXTRACT, "priority": "normal"},
            EXTRACT,
        ],
    }

    response = client.post("/jobs/batch", json=batch)

    assert response.status_code == 202, response.text
    ids = [result["job_id"] for result in response.json()["results"]]
    assert job_ids_by_lane(stored, lanes) == {
        "high": {ids[1]},
        "normal": {ids[2]},
        "low": {ids[0], ids[3]},
    }
    assert [stored.job(job_id)["priority"] for job_id in ids] == ["low", "high", "normal", "low"]


def test_a_batch_without_priorities_is_normal(
    client: TestClient, stored: Any, lanes: dict[str, str]
) -> None:
    response = client.post("/jobs/batch", json={"jobs": [EXTRACT, EXTRACT]})

    assert response.status_code == 202
    assert len(stored.messages(lanes["normal"])) == 2


def test_a_mixed_batch_sends_one_message_batch_per_lane_and_ten(
    client: TestClient, stored: Any, lanes: dict[str, str], patch_aws: Callable[..., None]
) -> None:
    # GIVEN 25 items, interleaved: 15 high, 5 normal, 5 low
    calls: list[tuple[str, set[str]]] = []

    def record(real: Callable[..., Any], **kwargs: Any) -> Any:
        priorities = {json.loads(entry["MessageBody"])["priority"] for entry in kwargs["Entries"]}
        calls.append((kwargs["QueueUrl"], priorities))
        return real(**kwargs)

    patch_aws(sqs={"send_message_batch": record})
    order = ["high", "normal", "high", "low", "high"] * 5

    response = client.post(
        "/jobs/batch", json={"jobs": [{**EXTRACT, "priority": lane} for lane in order]}
    )

    # THEN every call goes to one lane's queue with that lane's jobs only, high first,
    # 10 at most per call; and the results stay in input order
    assert response.status_code == 202
    assert calls == [
        (lanes["high"], {"high"}),
        (lanes["high"], {"high"}),
        (lanes["normal"], {"normal"}),
        (lanes["low"], {"low"}),
    ]
    results = response.json()["results"]
    assert [result["index"] for result in results] == list(range(25))
    by_lane = job_ids_by_lane(stored, lanes)
    for lane, result in zip(order, results, strict=True):
        assert result["job_id"] in by_lane[lane]


def test_a_batch_item_with_an_invalid_priority_is_refused_by_index(
    client: TestClient, stored: Any, lanes: dict[str, str]
) -> None:
    batch = {"jobs": [EXTRACT, {**EXTRACT, "priority": "urgent"}, {**EXTRACT, "priority": None}]}

    response = client.post("/jobs/batch", json=batch)

    assert response.status_code == 207
    results = response.json()["results"]
    assert "job_id" in results[0]
    for refused in results[1:]:
        assert refused["error"]["code"] == "validation_error"
        assert [d["field"] for d in refused["error"]["details"]] == ["priority"]
    assert stored.message_count(lanes["normal"]) == 1


def test_an_invalid_batch_priority_is_422_and_stores_nothing(
    client: TestClient, stored: Any
) -> None:
    response = client.post("/jobs/batch", json={"priority": "asap", "jobs": [EXTRACT]})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert [d["field"] for d in response.json()["details"]] == ["priority"]
    assert stored.items() == []


# --- idempotency -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/jobs", EXTRACT),
        ("/extract-user-async", {"text": "Jason is 25 years old"}),
        ("/jobs/batch", {"jobs": [EXTRACT]}),
    ],
    ids=["jobs", "extract-user-async", "batch"],
)
def test_the_same_key_with_another_priority_is_refused(
    client: TestClient, stored: Any, path: str, body: dict[str, Any]
) -> None:
    headers = {"Idempotency-Key": "lane-1"}
    first = client.post(path, json={**body, "priority": "low"}, headers=headers)

    retry = client.post(path, json={**body, "priority": "high"}, headers=headers)

    assert first.status_code == 202
    assert retry.status_code == 409
    assert retry.json()["code"] == "idempotency_key_reused"
    assert len(stored.jobs()) == 1


def test_an_omitted_priority_replays_an_explicit_normal(client: TestClient, stored: Any) -> None:
    headers = {"Idempotency-Key": "lane-2"}
    first = client.post("/jobs", json={**EXTRACT, "priority": "normal"}, headers=headers)

    retry = client.post("/jobs", json=EXTRACT, headers=headers)

    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert len(stored.jobs()) == 1
