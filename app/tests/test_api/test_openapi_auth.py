"""The OpenAPI document states the auth mode the API is in, and an external fuzzer's auth
checks (schemathesis: `ignored_auth`, `missing_required_header`) pass in both modes."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import ignored_auth, missing_required_header

from devstack.resources import StackResources
from gen_ai_on_aws.api.app import create_app

API_KEY = "auth-mode-key-0123456789abcdef"
OPEN_ROUTES = {"/health"}
FEW = settings(
    max_examples=5,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _document(monkeypatch: pytest.MonkeyPatch, keys: str | None) -> dict[str, Any]:
    if keys is not None:
        monkeypatch.setenv("API_KEYS", keys)
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_an_open_api_documents_no_key(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _document(monkeypatch, keys=None)
    assert all("security" not in operation for _, _, operation in _operations(document))
    assert "securitySchemes" not in document.get("components", {})


def test_with_keys_every_guarded_operation_requires_one(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _document(monkeypatch, keys=API_KEY)
    schemes = document["components"]["securitySchemes"]
    [(name, scheme)] = schemes.items()
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    for path, method, operation in _operations(document):
        expected = None if path in OPEN_ROUTES else [{name: []}]
        assert operation.get("security") == expected, (method, path)


@pytest.mark.parametrize("keys", [None, API_KEY], ids=["open", "keys"])
def test_schemathesis_auth_checks_pass_in_either_mode(
    api_env: StackResources, monkeypatch: pytest.MonkeyPatch, keys: str | None
) -> None:
    # GIVEN the app in one auth mode, and the schema it publishes in that mode
    if keys is not None:
        monkeypatch.setenv("API_KEYS", keys)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    assert operations

    # WHEN requests are generated from it (the fuzzer knows no key: any it sends is invented),
    # THEN its auth checks find nothing: with keys the API refuses a request without a valid
    # one (auth not ignored); open, no header is documented as required that is not
    for operation in operations:

        @FEW
        @given(case=operation.as_strategy())
        def send(case: Case[Any]) -> None:
            case.call_and_validate(checks=[ignored_auth, missing_required_header])

        send()
