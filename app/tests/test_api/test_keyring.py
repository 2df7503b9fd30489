"""Warm instances follow the secret: a key added with `admin keys --apply` works at once, a
removed one stops within API_KEYS_REFRESH_SECONDS, and a bad re-read keeps the keys in force."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from devstack.resources import StackResources
from devstack.testing import ManualClock
from gen_ai_contracts.api_keys import hashed_entry
from gen_ai_on_aws.api import keyring
from gen_ai_on_aws.api.app import create_app
from gen_ai_on_aws.config import get_settings
from gen_ai_on_aws.services.aws import create_secrets_client

SECRET = "gen-ai-on-aws/keyring-test"
OLD, NEW = "old-key-0123456789", "new-key-0123456789"


class SecretReads:
    """Counts GetSecretValue calls made by the API's keyring."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **_: Any) -> None:
        self.count += 1


def secrets_manager() -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1")


def put_api_keys(value: Any) -> None:
    secrets_manager().put_secret_value(
        SecretId=SECRET, SecretString=json.dumps({"LLM_API_KEY": "sk-x", "API_KEYS": value})
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    manual = ManualClock(start=1000.0)
    monkeypatch.setattr(keyring, "now", manual)
    return manual


@pytest.fixture
def reads() -> SecretReads:
    return SecretReads()


@pytest.fixture
def secret_client(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch, clock: ManualClock, reads: SecretReads
) -> Iterator[TestClient]:
    """The API with its keys in the secret (none in the environment), like a stack."""
    monkeypatch.delenv("ALLOW_ANONYMOUS")
    secrets_manager().create_secret(
        Name=SECRET, SecretString=json.dumps({"API_KEYS": json.dumps({"acme": [OLD]})})
    )
    monkeypatch.setenv("APP_SECRET_ID", SECRET)
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        create_secrets_client(get_settings().aws_region).meta.events.register(
            "before-call.secrets-manager.GetSecretValue", reads
        )
        yield client


def status(client: TestClient, key: str) -> int:
    return client.get("/tasks", headers={"X-API-Key": key}).status_code


def test_a_key_added_to_the_secret_works_at_once_and_misses_reread_at_most_every_30_s(
    secret_client: TestClient, clock: ManualClock, reads: SecretReads
) -> None:
    # GIVEN the key acme had at the cold start works without re-reading the secret
    assert status(secret_client, OLD) == 200
    assert reads.count == 0

    # WHEN a new key is added to the secret 31 s later (as `admin keys create --apply` does)
    clock.now += 31
    put_api_keys(json.dumps({"acme": [OLD, hashed_entry(NEW)]}))

    # THEN its first request re-reads the secret and passes; more unknown keys within 30 s
    # cost no read, and after 30 s one more
    assert status(secret_client, NEW) == 200
    assert reads.count == 1
    for _ in range(5):
        assert status(secret_client, "wrong-key-0123456789") == 401
    assert reads.count == 1
    clock.now += 30
    assert status(secret_client, "wrong-key-0123456789") == 401
    assert reads.count == 2


def test_a_removed_key_stops_working_after_the_refresh_interval(
    secret_client: TestClient, clock: ManualClock, reads: SecretReads
) -> None:
    put_api_keys({"acme": [hashed_entry(NEW)]})  # OLD revoked (the secret as a nested object)

    clock.now += 299
    assert status(secret_client, OLD) == 200  # still within API_KEYS_REFRESH_SECONDS
    assert reads.count == 0
    clock.now += 1
    assert status(secret_client, OLD) == 401
    assert status(secret_client, NEW) == 200
    assert reads.count == 1


@pytest.mark.parametrize("broken", ["unreadable", "malformed"])
def test_a_failed_reread_keeps_the_keys_in_force_and_logs_no_key(
    secret_client: TestClient,
    clock: ManualClock,
    captured_logs: Any,
    broken: str,
) -> None:
    if broken == "unreadable":
        secrets_manager().delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    else:
        put_api_keys(json.dumps({"Acme Corp": [NEW]}))

    clock.now += 300
    assert status(secret_client, OLD) == 200

    expected = {
        "unreadable": "API keys not refreshed: secret unreadable",
        "malformed": "API keys not refreshed: API_KEYS is invalid",
    }[broken]
    assert len(captured_logs.with_message(expected)) == 1
    assert NEW not in captured_logs.text
    assert OLD not in captured_logs.text


def test_a_fail_closed_instance_serves_once_the_first_key_is_added(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    # GIVEN a fresh stack: an empty secret, no keys, so 503 auth_not_configured
    monkeypatch.delenv("ALLOW_ANONYMOUS")
    secrets_manager().create_secret(Name=SECRET, SecretString="{}")
    monkeypatch.setenv("APP_SECRET_ID", SECRET)
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        assert client.get("/tasks").json()["code"] == "auth_not_configured"

        # WHEN the owner adds the first key
        put_api_keys(json.dumps({"acme": [hashed_entry(NEW)]}))
        clock.now += 30

        # THEN the warm instance serves it, and requires it
        assert status(client, NEW) == 200
        assert client.get("/tasks").status_code == 401


def test_keys_from_the_environment_are_never_reread(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch, clock: ManualClock, reads: SecretReads
) -> None:
    secrets_manager().create_secret(Name=SECRET, SecretString=json.dumps({"API_KEYS": NEW}))
    monkeypatch.setenv("APP_SECRET_ID", SECRET)
    monkeypatch.setenv("API_KEYS", OLD)  # the environment wins over the secret
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        create_secrets_client(get_settings().aws_region).meta.events.register(
            "before-call.secrets-manager.GetSecretValue", reads
        )
        clock.now += 3600
        assert status(client, NEW) == 401
        assert status(client, OLD) == 200

    assert reads.count == 0


def test_a_failed_periodic_reread_waits_30_s_before_the_next(
    secret_client: TestClient, clock: ManualClock, reads: SecretReads
) -> None:
    secrets_manager().delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    clock.now += 300

    assert [status(secret_client, OLD) for _ in range(5)] == [200] * 5
    assert reads.count == 1
    clock.now += 30
    assert status(secret_client, OLD) == 200
    assert reads.count == 2


def test_a_binary_secret_keeps_the_keys_and_is_not_a_500(
    secret_client: TestClient, clock: ManualClock, captured_logs: Any
) -> None:
    secrets_manager().put_secret_value(SecretId=SECRET, SecretBinary=b"\x00\x01 not json")
    clock.now += 300

    assert status(secret_client, OLD) == 200
    [line] = captured_logs.with_message("API keys not refreshed: unusable secret")
    assert line["reason"] == "ValueError"


@pytest.mark.parametrize("emptied", [None, "", []])
def test_removing_every_key_closes_the_api_even_with_allow_anonymous(
    secret_client: TestClient, clock: ManualClock, reconfigure: Any, emptied: Any
) -> None:
    # GIVEN an instance started with keys and ALLOW_ANONYMOUS=true (ignored while keys exist)
    reconfigure(ALLOW_ANONYMOUS="true")
    keyring.keyring_for.cache_clear()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        assert client.get("/tasks").status_code == 401

        # WHEN every key is removed from the secret (the last one revoked)
        put_api_keys(emptied)
        clock.now += 300

        # THEN the API fails closed: a revocation never opens it
        assert status(client, OLD) == 503
        assert client.get("/tasks").json()["code"] == "auth_not_configured"


def test_concurrent_requests_with_unknown_keys_make_one_read(
    secret_client: TestClient, clock: ManualClock, reads: SecretReads
) -> None:
    clock.now += 31
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: status(secret_client, f"unknown-key-{n:08d}"), range(16)))

    assert answers == [401] * 16
    assert reads.count == 1
