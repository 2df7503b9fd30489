"""X-API-Key: every route but /health and the docs needs a configured key; none = open."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr

from devstack.resources import StackResources
from gen_ai_on_aws.api.app import create_app
from gen_ai_on_aws.api.auth import matches_any_key

OPEN_PATHS = {"/health"}
KEYS = ("first-key-0123456789", "second-key-9876543210")
OPEN_MODE_WARNING = "API_KEYS is not configured: every endpoint is open to anyone"


def api_requests(app: FastAPI) -> list[tuple[str, str]]:
    """(method, concrete path) for every API route, so a new route cannot escape the test.

    FastAPI 0.165 keeps included routers lazily in `app.routes`; `iter_route_contexts` yields
    each effective route with its full path."""
    requests: list[tuple[str, str]] = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.path not in OPEN_PATHS:
            path = str(route.path).replace("{job_id}", str(uuid4()))
            requests.extend((method, path) for method in sorted(route.methods or ()))
    return requests


def send(client: TestClient, method: str, path: str, key: str | None) -> Any:
    headers = {"X-API-Key": key} if key is not None else {}
    return client.request(method, path, json={"text": "Jason is 25 years old"}, headers=headers)


@pytest.fixture
def keyed_app(api_env: StackResources, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("API_KEYS", ",".join(KEYS))
    return create_app()


@pytest.fixture
def keyed_client(keyed_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(keyed_app, raise_server_exceptions=False) as client:
        yield client


def test_every_api_route_is_enumerated(keyed_app: FastAPI) -> None:
    enumerated = {(method, path.split("/")[1]) for method, path in api_requests(keyed_app)}
    documented = {
        (method.upper(), path.split("/")[1])
        for path, operations in keyed_app.openapi()["paths"].items()
        for method in operations
        if path not in OPEN_PATHS
    }

    assert enumerated == documented
    assert {resource for _, resource in enumerated} == {
        "extract-user",
        "extract-user-async",
        "jobs",
        "tasks",
    }


@pytest.mark.parametrize("key", [None, "", "wrong-key", KEYS[0][:-1], KEYS[0] + "x"])
def test_protected_routes_refuse_a_missing_or_wrong_key(
    keyed_app: FastAPI, keyed_client: TestClient, key: str | None
) -> None:
    for method, path in api_requests(keyed_app):
        response = send(keyed_client, method, path, key)

        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "unauthorized"
        assert response.headers["X-Request-ID"] == response.json()["request_id"]


@pytest.mark.parametrize("key", KEYS)
def test_protected_routes_accept_any_configured_key(
    keyed_app: FastAPI, keyed_client: TestClient, key: str
) -> None:
    for method, path in api_requests(keyed_app):
        assert send(keyed_client, method, path, key).status_code != 401, (method, path)


@pytest.mark.parametrize("path", ["/health", "/docs", "/redoc", "/openapi.json"])
def test_health_and_docs_stay_open(keyed_client: TestClient, path: str) -> None:
    assert keyed_client.get(path).status_code == 200


def test_without_configured_keys_every_route_is_open(app: FastAPI, client: TestClient) -> None:
    for method, path in api_requests(app):
        assert send(client, method, path, None).status_code != 401, (method, path)


def test_open_mode_is_logged_once_at_start_up(api_env: StackResources, captured_logs: Any) -> None:
    with TestClient(create_app()) as client:
        client.get("/health")
        client.get("/health")

    assert len(captured_logs.with_message(OPEN_MODE_WARNING)) == 1


def test_configured_keys_do_not_log_the_open_mode_warning(
    keyed_app: FastAPI, captured_logs: Any
) -> None:
    create_app()

    assert captured_logs.with_message(OPEN_MODE_WARNING) == []


def test_matches_any_key_accepts_only_exact_configured_keys() -> None:
    keys = [SecretStr(key) for key in KEYS]

    assert matches_any_key(KEYS[1], keys)
    assert not matches_any_key("nope", keys)
    assert not matches_any_key("", keys)
    assert not matches_any_key(KEYS[1], [])
