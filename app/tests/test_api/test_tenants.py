"""Tenant fairness: every job message carries a stable, non-secret tenant id as its SQS
`MessageGroupId` (which turns on fair queues on a standard queue in AWS; moto only stores and
returns it), in its envelope (`tenant`) and on its record, never in a response."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from devstack.resources import StackResources
from gen_ai_on_aws.api.app import create_app

EXTRACT = {"task": "extract_user", "input": {"text": "Jason is 25 years old"}}
KEYS = ("tenant-a-key-0123456789", "tenant-b-key-9876543210")


def fingerprint(key: str) -> str:
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]


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
    monkeypatch.setenv("API_KEYS", ",".join(KEYS))
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


def test_each_api_key_is_its_own_tenant_named_by_a_fingerprint(
    keyed_client: TestClient, stored: Any, api_env: StackResources
) -> None:
    # WHEN two keys submit, one job each and one batch each
    ids: dict[str, set[str]] = {}
    for key in KEYS:
        headers = {"X-API-Key": key}
        single = keyed_client.post("/jobs", json=EXTRACT, headers=headers)
        batch = keyed_client.post(
            "/jobs/batch", json={"jobs": [EXTRACT], "priority": "normal"}, headers=headers
        )
        assert (single.status_code, batch.status_code) == (202, 202)
        ids[key] = {single.json()["job_id"], batch.json()["results"][0]["job_id"]}

    # THEN each key's messages share one group, the key's fingerprint, also in the envelope
    # and the record, and the same key always maps to the same group
    groups = group_by_job(api_env.queue_url)
    for key, job_ids in ids.items():
        tenant = fingerprint(key)
        assert {groups[job_id] for job_id in job_ids} == {(tenant, tenant)}
        assert {stored.job(job_id)["tenant"] for job_id in job_ids} == {tenant}
    assert fingerprint(KEYS[0]) != fingerprint(KEYS[1])


def test_the_tenant_is_never_the_key_nor_shown(
    keyed_client: TestClient, stored: Any, api_env: StackResources
) -> None:
    headers = {"X-API-Key": KEYS[0]}
    job_id = keyed_client.post("/jobs", json=EXTRACT, headers=headers).json()["job_id"]

    messages = received(api_env.queue_url)
    shown = keyed_client.get(f"/jobs/{job_id}", headers=headers).json()

    assert KEYS[0] not in json.dumps(messages)
    assert KEYS[0] not in json.dumps(stored.items(), default=str)
    assert "tenant" not in shown
    assert fingerprint(KEYS[0]) not in json.dumps(shown)


def test_the_tenant_is_logged_with_the_job(
    client: TestClient, captured_logs: Any, api_env: StackResources
) -> None:
    job_id = client.post("/jobs", json={**EXTRACT, "priority": "low"}).json()["job_id"]

    [line] = captured_logs.with_message("job queued")
    assert (line["job_id"], line["tenant"], line["priority"]) == (job_id, "default", "low")
