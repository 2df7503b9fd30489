"""Tenants: API_KEYS maps keys to named tenants; a job belongs to the tenant that submitted it.

Every job message carries its tenant as its SQS `MessageGroupId` (which turns on fair queues on
a standard queue in AWS; moto only stores and returns it), in its envelope (`tenant`) and on its
record, never in a response. Another tenant's job is answered exactly like an unknown one, and
Idempotency-Keys live in the tenant's namespace.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from devstack.resources import StackResources
from gen_ai_contracts.api_keys import hashed_entry
from gen_ai_on_aws.api.app import create_app

EXTRACT = {"task": "extract_user", "input": {"text": "Jason is 25 years old"}}
# Tenant acme has two keys (rotation: the old and the new one), given in plaintext and hashed;
# tenant beta has one.
ACME_OLD, ACME_NEW, BETA = (
    "acme-old-key-0123456789",
    "acme-new-key-0123456789",
    "beta-key-9876543210",
)
API_KEYS = json.dumps({"acme": [ACME_OLD, hashed_entry(ACME_NEW)], "beta": [hashed_entry(BETA)]})


def as_(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def received(queue_url: str) -> list[dict[str, Any]]:
    """Every visible message with its system attributes (MessageGroupId among them)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", []):
        messages += [dict(message) for message in batch]
    return messages


def group_by_job(queue_url: str) -> dict[str, tuple[str, str]]:
    """job_id -> (MessageGroupId, the envelope's tenant)."""
    return {
        json.loads(message["Body"])["job_id"]: (
            message["Attributes"]["MessageGroupId"],
            json.loads(message["Body"])["tenant"],
        )
        for message in received(queue_url)
    }


@pytest.fixture
def keyed_client(api_env: StackResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("API_KEYS", API_KEYS)
    app: FastAPI = create_app()
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_an_open_api_has_one_tenant_default(
    client: TestClient, stored: Any, api_env: StackResources
) -> None:
    single = client.post("/jobs", json=EXTRACT).json()["job_id"]
    batch = client.post("/jobs/batch", json={"jobs": [EXTRACT, EXTRACT]}).json()["results"]
    extract = client.post("/extract-user-async", json={"text": "Jo is 3"}).json()["job_id"]

    job_ids = {single, extract, *(result["job_id"] for result in batch)}
    assert group_by_job(api_env.queue_url) == dict.fromkeys(job_ids, ("default", "default"))
    assert {stored.job(job_id)["tenant"] for job_id in job_ids} == {"default"}


def test_a_list_of_keys_is_one_tenant_default(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch, stored: Any
) -> None:
    monkeypatch.setenv("API_KEYS", f"{ACME_OLD},{BETA}")
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        first = client.post("/jobs", json=EXTRACT, headers=as_(ACME_OLD)).json()["job_id"]
        # Both keys are tenant default: each sees (and may cancel) the other's job
        assert client.get(f"/jobs/{first}", headers=as_(BETA)).status_code == 200

    assert group_by_job(api_env.queue_url) == {first: ("default", "default")}
    assert stored.job(first)["tenant"] == "default"


def test_each_tenant_named_in_api_keys_groups_its_jobs_messages_and_records(
    keyed_client: TestClient, stored: Any, api_env: StackResources
) -> None:
    # WHEN each key submits one job and one batch
    ids: dict[str, set[str]] = {}
    for key in (ACME_OLD, ACME_NEW, BETA):
        single = keyed_client.post("/jobs", json=EXTRACT, headers=as_(key))
        batch = keyed_client.post(
            "/jobs/batch", json={"jobs": [EXTRACT], "priority": "normal"}, headers=as_(key)
        )
        assert (single.status_code, batch.status_code) == (202, 202)
        ids[key] = {single.json()["job_id"], batch.json()["results"][0]["job_id"]}

    # THEN the messages' group, the envelope and the record carry the key's tenant
    groups = group_by_job(api_env.queue_url)
    for key, tenant in ((ACME_OLD, "acme"), (ACME_NEW, "acme"), (BETA, "beta")):
        assert {groups[job_id] for job_id in ids[key]} == {(tenant, tenant)}
        assert {stored.job(job_id)["tenant"] for job_id in ids[key]} == {tenant}


def test_another_tenants_job_is_answered_exactly_like_an_unknown_one(
    keyed_client: TestClient, stored: Any
) -> None:
    # GIVEN a queued job of tenant acme
    job_id = keyed_client.post("/jobs", json=EXTRACT, headers=as_(ACME_OLD)).json()["job_id"]
    unknown = str(uuid.uuid4())

    # WHEN tenant beta reads and cancels it, and an unknown id
    answers = {
        (action, target): request(target)
        for target in (job_id, unknown)
        for action, request in (
            ("get", lambda target: keyed_client.get(f"/jobs/{target}", headers=as_(BETA))),
            (
                "cancel",
                lambda target: keyed_client.post(f"/jobs/{target}/cancel", headers=as_(BETA)),
            ),
        )
    }

    # THEN each is 404 job_not_found with the same body (but the request id) and headers
    for response in answers.values():
        assert response.status_code == 404
    for action in ("get", "cancel"):
        theirs, nobodys = answers[(action, job_id)], answers[(action, unknown)]
        assert _without_request_id(theirs.json()) == _without_request_id(nobodys.json())
        assert sorted(theirs.headers.keys()) == sorted(nobodys.headers.keys())
        assert "acme" not in theirs.text
    # AND the job was not touched: still queued, and acme still sees and may cancel it
    assert stored.job(job_id)["status"] == "queued"
    assert keyed_client.get(f"/jobs/{job_id}", headers=as_(ACME_OLD)).json()["status"] == "queued"
    cancelled = keyed_client.post(f"/jobs/{job_id}/cancel", headers=as_(ACME_NEW))
    assert cancelled.json()["status"] == "cancelled"


def test_a_rotated_key_sees_the_same_jobs_as_the_old_one(keyed_client: TestClient) -> None:
    job_id = keyed_client.post("/jobs", json=EXTRACT, headers=as_(ACME_OLD)).json()["job_id"]

    with_new = keyed_client.get(f"/jobs/{job_id}", headers=as_(ACME_NEW))

    assert with_new.status_code == 200
    assert with_new.json()["job_id"] == job_id


def test_idempotency_keys_live_in_the_tenants_namespace(
    keyed_client: TestClient, stored: Any
) -> None:
    # WHEN acme's two keys and beta send the same Idempotency-Key and body
    key = {"Idempotency-Key": "order-42"}
    acme_old = keyed_client.post("/jobs", json=EXTRACT, headers={**as_(ACME_OLD), **key})
    acme_new = keyed_client.post("/jobs", json=EXTRACT, headers={**as_(ACME_NEW), **key})
    beta = keyed_client.post("/jobs", json=EXTRACT, headers={**as_(BETA), **key})

    # THEN acme's second request replays acme's job; beta gets a job of its own
    assert acme_new.headers.get("Idempotent-Replayed") == "true"
    assert acme_new.json()["job_id"] == acme_old.json()["job_id"]
    assert "Idempotent-Replayed" not in beta.headers
    assert beta.json()["job_id"] != acme_old.json()["job_id"]
    assert len(stored.jobs()) == 2


def test_the_tenant_is_never_the_key_nor_shown(
    keyed_client: TestClient, stored: Any, api_env: StackResources
) -> None:
    job_id = keyed_client.post("/jobs", json=EXTRACT, headers=as_(ACME_OLD)).json()["job_id"]

    messages = received(api_env.queue_url)
    shown = keyed_client.get(f"/jobs/{job_id}", headers=as_(ACME_OLD)).json()

    for key in (ACME_OLD, ACME_NEW, BETA):
        assert key not in json.dumps(messages)
        assert key not in json.dumps(stored.items(), default=str)
    assert "tenant" not in shown
    assert "acme" not in json.dumps(shown)


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "request_id"}


def test_the_tenant_is_logged_with_the_job(
    client: TestClient, captured_logs: Any, api_env: StackResources
) -> None:
    job_id = client.post("/jobs", json={**EXTRACT, "priority": "low"}).json()["job_id"]

    [line] = captured_logs.with_message("job queued")
    assert (line["job_id"], line["tenant"], line["priority"]) == (job_id, "default", "low")
