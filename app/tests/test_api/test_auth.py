"""X-API-Key: every route but /health and the docs needs a configured key; with none the API
fails closed (503 `auth_not_configured`) unless ALLOW_ANONYMOUS=true opens it."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from devstack.resources import StackResources
from gen_ai_contracts.api_keys import hashed_entry
from gen_ai_contracts.settings import ConfigurationError
from gen_ai_on_aws.api.app import create_app

OPEN_PATHS = {"/health"}
KEYS = ("first-key-0123456789", "second-key-9876543210")
OPEN_MODE_WARNING = "ALLOW_ANONYMOUS=true and no API_KEYS: every endpoint is open to anyone"
CLOSED_MODE_WARNING = "API_KEYS is not configured: every endpoint but /health answers 503"


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


def test_a_hashed_key_authenticates_and_its_entry_is_not_a_key(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN API_KEYS holding only the SHA-256 of a key, for tenant acme
    monkeypatch.setenv("API_KEYS", f'{{"acme": ["{hashed_entry(KEYS[0])}"]}}')
    app = create_app()

    with TestClient(app, raise_server_exceptions=False) as client:
        # THEN the key itself is accepted everywhere; the entry (or the bare digest) is not
        for method, path in api_requests(app):
            assert send(client, method, path, KEYS[0]).status_code != 401, (method, path)
        for wrong in (hashed_entry(KEYS[0]), hashed_entry(KEYS[0]).removeprefix("sha256:")):
            assert send(client, "GET", "/tasks", wrong).status_code == 401


@pytest.fixture
def closed_app(api_env: StackResources, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """A fresh deploy: no API_KEYS, ALLOW_ANONYMOUS not set."""
    monkeypatch.delenv("ALLOW_ANONYMOUS")
    return create_app()


@pytest.mark.parametrize("key", [None, KEYS[0]])
def test_without_keys_every_guarded_route_fails_closed_and_touches_nothing(
    closed_app: FastAPI, key: str | None, stored: Any, api_env: StackResources
) -> None:
    with TestClient(closed_app, raise_server_exceptions=False) as client:
        for method, path in api_requests(closed_app):
            response = send(client, method, path, key)

            assert response.status_code == 503, (method, path)
            body = response.json()
            assert body["code"] == "auth_not_configured"
            assert "API_KEYS" in body["error"]
            assert "ALLOW_ANONYMOUS" in body["error"]
            assert "Retry-After" not in response.headers  # retrying will not help
        for path in ("/health", "/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 200

    assert stored.items() == []  # nothing stored ...
    assert stored.messages(api_env.queue_url) == []  # ... and nothing enqueued


@pytest.mark.parametrize("value", ["false", "0", "no"])
def test_allow_anonymous_must_be_true_to_open_the_api(
    closed_app: FastAPI, reconfigure: Any, value: str
) -> None:
    reconfigure(ALLOW_ANONYMOUS=value)
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        assert client.get("/tasks").json()["code"] == "auth_not_configured"


def test_allow_anonymous_opens_every_route_to_tenant_default(
    app: FastAPI, client: TestClient
) -> None:
    for method, path in api_requests(app):
        response = send(client, method, path, None)
        assert response.status_code not in (401, 503), (method, path, response.json())


def test_allow_anonymous_is_ignored_when_keys_are_configured(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    monkeypatch.setenv("API_KEYS", KEYS[0])
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        assert client.get("/tasks").status_code == 401
        assert client.get("/tasks", headers={"X-API-Key": KEYS[0]}).status_code == 200

    assert captured_logs.with_message("ALLOW_ANONYMOUS is ignored: API_KEYS is configured")


@pytest.mark.parametrize(
    ("allow", "keys", "expected"),
    [
        ("true", None, OPEN_MODE_WARNING),
        (None, None, CLOSED_MODE_WARNING),
        (None, ",".join(KEYS), "API keys required"),
    ],
)
def test_the_auth_mode_is_logged_once_at_start_up(
    api_env: StackResources,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs: Any,
    allow: str | None,
    keys: str | None,
    expected: str,
) -> None:
    for name, value in (("ALLOW_ANONYMOUS", allow), ("API_KEYS", keys)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with TestClient(create_app()) as client:
        client.get("/health")
        client.get("/health")

    modes = [OPEN_MODE_WARNING, CLOSED_MODE_WARNING, "API keys required"]
    logged = {mode: len(captured_logs.with_message(mode)) for mode in modes}
    assert logged == {mode: int(mode == expected) for mode in modes}
    assert KEYS[0] not in captured_logs.text


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('{"Acme Corp": ["%s"]}', "tenant name 1 (9 characters) must be 1 to 64"),
        ('{"acme": ["%s"], "beta": ["%s"]}', "already listed for tenant 'acme'"),
        ('{"acme": "%s"}', "tenant 'acme' must map to a JSON list"),
        ('{"acme": ["%s"]', "API_KEYS is not valid JSON"),
    ],
)
def test_a_malformed_api_keys_fails_the_cold_start_naming_the_problem_never_the_key(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("API_KEYS", value.replace("%s", KEYS[0]))

    with pytest.raises(ConfigurationError) as raised:
        create_app()

    assert problem in str(raised.value)
    assert "API_KEYS" in str(raised.value)
    # Nowhere in what a failed Lambda init prints: the message, the chained errors, the trace
    trace = "".join(traceback.format_exception(raised.value))
    assert KEYS[0] not in trace
