"""TENANT_RPM_LIMIT: a tenant over its requests per minute gets 429 `rate_limited` with
Retry-After, counted fleet-wide in the LLM state table; other tenants are unaffected."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from devstack.resources import StackResources
from gen_ai_on_aws.api import tenant_rate
from gen_ai_on_aws.api.app import create_app

ACME, BETA = "acme-key-0123456789", "beta-key-9876543210"
LIMIT = 5
EXTRACT = {"task": "extract_user", "input": {"text": "Jason is 25 years old"}}


@pytest.fixture
def limited_client(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("API_KEYS", json.dumps({"acme": [ACME], "beta": [BETA]}))
    monkeypatch.setenv("TENANT_RPM_LIMIT", str(LIMIT))
    monkeypatch.setenv("LLM_STATE_TABLE_NAME", api_env.state_table_name)
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def test_concurrent_requests_over_the_limit_get_429_and_other_tenants_are_unaffected(
    limited_client: TestClient, stored: Any
) -> None:
    # WHEN acme sends three times its limit of submissions at once, then beta sends its limit
    def submit(key: str) -> Any:
        return limited_client.post("/jobs", json=EXTRACT, headers={"X-API-Key": key})

    with ThreadPoolExecutor(max_workers=8) as pool:
        acme = list(pool.map(submit, [ACME] * (3 * LIMIT)))
    beta = [submit(BETA) for _ in range(LIMIT)]

    # THEN exactly the limit of acme's were accepted; the rest are 429 with a Retry-After of
    # about one request's interval (60 s / 5), and created nothing; beta's all passed
    assert Counter(response.status_code for response in acme) == {202: LIMIT, 429: 2 * LIMIT}
    refused = [response for response in acme if response.status_code == 429]
    assert {response.json()["code"] for response in refused} == {"rate_limited"}
    assert all(1 <= int(response.headers["Retry-After"]) <= 12 for response in refused)
    assert [response.status_code for response in beta] == [202] * LIMIT
    assert len(stored.jobs()) == 2 * LIMIT


def test_every_guarded_request_counts_and_health_does_not(limited_client: TestClient) -> None:
    headers = {"X-API-Key": ACME}
    for _ in range(3 * LIMIT):
        assert limited_client.get("/health").status_code == 200
    answers = [limited_client.get("/tasks", headers=headers).status_code for _ in range(LIMIT + 1)]

    assert answers == [200] * LIMIT + [429]


def test_the_limit_is_shared_by_every_api_instance(
    limited_client: TestClient, api_env: StackResources
) -> None:
    # GIVEN acme used its limit on this instance
    headers = {"X-API-Key": ACME}
    for _ in range(LIMIT):
        assert limited_client.get("/tasks", headers=headers).status_code == 200

    # WHEN another instance (a new cold start: fresh limiter) serves acme
    tenant_rate.reset()
    with TestClient(create_app(), raise_server_exceptions=False) as other_instance:
        answer = other_instance.get("/tasks", headers=headers)

    # THEN it knows, from the table
    assert answer.status_code == 429
    state = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=api_env.state_table_name, Key={"pk": {"S": "tenant-rpm#acme"}}
    )
    assert "Item" in state


def test_an_unreachable_state_table_serves_the_request(
    limited_client: TestClient, reconfigure: Any, captured_logs: Any
) -> None:
    reconfigure(LLM_STATE_TABLE_NAME="no-such-table")
    tenant_rate.reset()

    answer = limited_client.get("/tasks", headers={"X-API-Key": ACME})

    assert answer.status_code == 200
    [warning] = captured_logs.with_message(
        "tenant rate limit not checked: the state table is unavailable"
    )
    assert warning["tenant"] == "acme"
    assert ACME not in captured_logs.text


def test_a_limit_without_the_state_table_fails_the_cold_start(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANT_RPM_LIMIT", "60")
    with pytest.raises(Exception, match="LLM_STATE_TABLE_NAME"):
        create_app()
