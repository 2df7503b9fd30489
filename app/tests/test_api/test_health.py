"""GET /health."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gen_ai_on_aws import __version__
from gen_ai_on_aws.api.deps import get_dynamodb_client, get_sqs_client


def fail_if_called() -> None:
    raise AssertionError("the health check must not touch AWS")


def test_health_returns_ok_and_the_version(offline_client: TestClient) -> None:
    response = offline_client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_health_makes_no_aws_call(offline_app: FastAPI, offline_client: TestClient) -> None:
    # AWS is unreachable in offline tests, and any client request fails the test.
    offline_app.dependency_overrides[get_sqs_client] = fail_if_called
    offline_app.dependency_overrides[get_dynamodb_client] = fail_if_called

    assert offline_client.get("/health").status_code == 200
