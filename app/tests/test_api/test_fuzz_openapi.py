"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis, in-process ASGI).

Every documented operation gets valid and invalid requests (bodies, path parameters, headers)
generated from the schema; the app runs as deployed: API keys on, moto behind it, the fake LLM
for `POST /extract-user`. Deterministic (derandomized Hypothesis, no example database), so CI
sees the same cases on every run.

The Hypothesis tests are built per operation inside the test, from `APIOperation.as_strategy`:
schemathesis' own pytest integration for fixture-built schemas
(`schemathesis.pytest.from_fixture`) uses `Item._nodeid`, which pytest 9.2 no longer has.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from devstack.resources import StackResources
from gen_ai_on_aws.api.app import create_app

Operation = APIOperation[Any, Any, Any, Any]
API_KEY = "fuzz-key-0123456789abcdef"
ERROR_BODY_KEYS = {"error", "code", "request_id", "details"}
EXAMPLES_PER_OPERATION = 50
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    # Generation and shrinking only: no example database to replay, no explain phase.
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    # Bodies up to 20,000 characters are valid, and the machine running CI may be slow.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)


@pytest.fixture
def fuzzed_app(api_env: StackResources, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("API_KEYS", API_KEY)
    return create_app()


@pytest.fixture
def api_schema(fuzzed_app: FastAPI) -> OpenApiSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


def assert_error_body_shape(case: Case[Any], response: schemathesis.Response) -> None:
    """Every error is the DESIGN body, carrying the request id it was answered under."""
    body = response.json()
    label = f"{case.method} {case.formatted_path} -> {response.status_code}"
    assert isinstance(body, dict), label
    assert set(body) == ERROR_BODY_KEYS, (label, body)
    assert isinstance(body["code"], str), (label, body)
    assert body["code"], (label, body)
    assert isinstance(body["error"], str), (label, body)
    assert body["error"], (label, body)
    assert body["details"] is None or isinstance(body["details"], list), (label, body)
    assert [body["request_id"]] == response.headers["x-request-id"], (label, body)


def has_inputs(operation: Operation) -> bool:
    return bool(operation.path_parameters or operation.query or operation.body)


def refused(response: schemathesis.Response) -> bool:
    """A 4xx, or a 207 of POST /jobs/batch (which answers item by item) refusing an item."""
    if response.status_code == 207:
        return any("error" in result for result in response.json()["results"])
    return 400 <= response.status_code < 500


def fuzz(operation: Operation, mode: GenerationMode) -> Counter[int]:
    """Send generated requests for one operation; count the statuses it answered."""
    statuses: Counter[int] = Counter()

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode, headers={"X-API-Key": API_KEY}))
    def send(case: Case[Any]) -> None:
        # THEN no 5xx, a documented status, and a content type and body matching the schema
        response = case.call_and_validate(checks=CHECKS)
        statuses[response.status_code] += 1
        if response.status_code >= 400:
            assert_error_body_shape(case, response)
        if mode is GenerationMode.NEGATIVE:
            # AND invalid input is refused, as a whole or item by item
            assert refused(response), (case.method, case.formatted_path, response.status_code)

    send()
    return statuses


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_generated_requests_get_no_5xx_and_answers_match_the_schema(
    api_schema: OpenApiSchema, mode: GenerationMode
) -> None:
    # GIVEN every operation of the schema (a new route is fuzzed without touching this test)
    operations = [
        result.ok() for result in api_schema.get_all_operations() if isinstance(result, Ok)
    ]
    assert len(operations) >= 4
    if mode is GenerationMode.NEGATIVE:
        # Nothing can be made invalid in a request that takes no input (GET /health).
        operations = [operation for operation in operations if has_inputs(operation)]
    started = time.monotonic()

    # WHEN requests generated from it, valid or deliberately invalid, are sent to the app
    statuses = {operation.label: fuzz(operation, mode) for operation in operations}

    counts = {label: dict(by_status) for label, by_status in statuses.items()}
    print(f"{mode}: statuses per operation {counts} in {time.monotonic() - started:.1f} s")
    assert all(statuses.values())
