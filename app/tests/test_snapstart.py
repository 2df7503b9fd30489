"""SnapStart: importing the API's handler registers an after-restore hook through
`snapshot_restore_py`; once it ran, settings and AWS clients are built again (new default
session: fresh credentials), randomness is re-seeded, and the API still answers.

Lambda's `snapshot_restore_py` exists only in its managed runtime: a fake module stands in.
"""

from __future__ import annotations

import copy
import importlib
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.lambda_runtime import LambdaContext
from devstack.resources import StackResources
from devstack.testing import FakeSnapStartRuntime
from gen_ai_contracts import snapstart
from gen_ai_on_aws.api import keyring, tenant_rate
from gen_ai_on_aws.config import get_settings
from gen_ai_on_aws.services.aws import (
    create_dynamodb_client,
    create_secrets_client,
    create_sqs_client,
)

EVENT = Path(__file__).parent / "events" / "apigw_http_api_v2.json"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> FakeSnapStartRuntime:
    fake = FakeSnapStartRuntime()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake.module())
    monkeypatch.setattr(snapstart, "_after_restore", [])
    return fake


@pytest.fixture
def handler(api_env: StackResources, hooks: FakeSnapStartRuntime) -> Iterator[Handler]:
    """`gen_ai_on_aws.main.handler`, imported fresh under the fake runtime (Lambda's init)."""
    sys.modules.pop("gen_ai_on_aws.main", None)
    state = random.getstate()
    yield importlib.import_module("gen_ai_on_aws.main").handler
    random.setstate(state)


def event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """An HTTP API (payload v2) event, as API Gateway sends it."""
    built: dict[str, Any] = copy.deepcopy(json.loads(EVENT.read_text()))
    built["rawPath"] = built["requestContext"]["http"]["path"] = path
    built["requestContext"]["http"]["method"] = method
    if body is not None:
        built["body"] = json.dumps(body)
        built["headers"] = {**built["headers"], "content-type": "application/json"}
        built["isBase64Encoded"] = False
    return built


def submit(handler: Handler) -> dict[str, Any]:
    response = handler(
        event("POST", "/extract-user-async", {"text": "Jason is 25 years old"}), LambdaContext()
    )
    assert response["statusCode"] == 202, response
    return dict(json.loads(response["body"]))


def test_import_registers_the_hook(handler: Handler, hooks: FakeSnapStartRuntime) -> None:
    assert len(hooks.after_restore) == 1
    assert hooks.after_restore == list(snapstart.after_restore_callbacks())


def test_restore_rebuilds_settings_and_clients_and_the_api_still_answers(
    handler: Handler, hooks: FakeSnapStartRuntime
) -> None:
    submit(handler)  # warm: settings and clients cached
    region = get_settings().aws_region
    settings, sqs, dynamodb = (
        get_settings(),
        create_sqs_client(region),
        create_dynamodb_client(region),
    )
    session = boto3.DEFAULT_SESSION
    random.seed(1234)
    snapshot = random.getstate()

    hooks.restore()

    assert create_sqs_client.cache_info().currsize == 0
    assert create_dynamodb_client.cache_info().currsize == 0
    # The API keys' re-reads and the tenant limiter hold clients too
    assert create_secrets_client.cache_info().currsize == 0
    assert keyring.keyring_for.cache_info().currsize == 0
    assert tenant_rate._limiter.cache_info().currsize == 0
    assert random.getstate() != snapshot
    job = submit(handler)
    assert get_settings() is not settings
    assert create_sqs_client(region) is not sqs
    assert create_dynamodb_client(region) is not dynamodb
    assert boto3.DEFAULT_SESSION is not None
    assert boto3.DEFAULT_SESSION is not session  # credentials resolved again
    polled = handler(event("GET", f"/jobs/{job['job_id']}"), LambdaContext())
    assert polled["statusCode"] == 200
    assert json.loads(polled["body"])["status"] == "queued"
