"""App test fixtures: the API's environment over the shared moto stack and fake LLM.

`aws`, `aws_env` and `fake_llm` come from `devstack.testing` (loaded by the root conftest).
"""

from __future__ import annotations

import functools
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from devstack.fake_llm import FakeLLMServer
from devstack.resources import StackResources
from gen_ai_contracts.jobs import item_from_dynamodb
from gen_ai_on_aws.api import keyring, tenant_rate
from gen_ai_on_aws.api.app import create_app
from gen_ai_on_aws.api.deps import get_dynamodb_client, get_sqs_client
from gen_ai_on_aws.config import Settings, get_settings
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.aws import (
    create_dynamodb_client,
    create_secrets_client,
    create_sqs_client,
)

TEST_LLM_API_KEY = "sk-test-not-a-real-key"


def _clear_caches() -> None:
    get_settings.cache_clear()
    tenant_rate.reset()
    keyring.keyring_for.cache_clear()
    create_secrets_client.cache_clear()
    create_sqs_client.cache_clear()
    create_dynamodb_client.cache_clear()


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts like a cold start: no cached settings or clients, no stray settings."""
    for name in Settings.model_fields.keys() - {"aws_region"}:  # region: see `aws_env`
        monkeypatch.delenv(name.upper(), raising=False)
    _clear_caches()
    yield
    _clear_caches()


@pytest.fixture
def api_env(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources, fake_llm: FakeLLMServer
) -> StackResources:
    """The API configured like the deployed stack, against moto and the fake LLM."""
    settings = {
        # Open, as the devstack runs it; the auth tests configure keys or fail closed.
        "ALLOW_ANONYMOUS": "true",
        "QUEUE_URL": aws.queue_url,
        "JOBS_TABLE_NAME": aws.table_name,
        "LLM_MODEL": "openai/fake-model",
        "LLM_API_BASE": fake_llm.base_url,
        "LLM_API_KEY": TEST_LLM_API_KEY,
        "LLM_TIMEOUT_SECONDS": "0.5",
        "LLM_MAX_RETRIES": "1",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return aws


@pytest.fixture
def app(api_env: StackResources) -> FastAPI:
    return create_app()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# A closed local port: any AWS or LLM call an offline test did not expect fails at once.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def offline_app(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> FastAPI:
    """The app for tests of the HTTP layer alone (routing, errors, ids, docs): no moto stack,
    which keeps them fast."""
    monkeypatch.setenv("ALLOW_ANONYMOUS", "true")
    monkeypatch.setenv("QUEUE_URL", f"{UNREACHABLE}/123456789012/jobs")
    monkeypatch.setenv("JOBS_TABLE_NAME", "jobs")
    monkeypatch.setenv("AWS_ENDPOINT_URL", UNREACHABLE)
    monkeypatch.setenv("LLM_API_BASE", f"{UNREACHABLE}/v1")
    return create_app()


@pytest.fixture
def offline_client(offline_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(offline_app, raise_server_exceptions=False) as test_client:
        yield test_client


class CapturedLogs:
    """Everything our logger wrote during a test, as parsed JSON lines."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def with_message(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["message"] == message]


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """Our Powertools logger's JSON lines, captured with its own formatter."""
    captured = CapturedLogs()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield captured
    logging.getLogger(logger.name).removeHandler(handler)


class _RejectingHandler(BaseHTTPRequestHandler):
    """Answers every call like a provider refusing a bad key, quoting the key it was sent."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        body = json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided: {key}",
                    "type": "invalid_request_error",
                }
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on responses, not on stderr."""


@pytest.fixture(scope="session")
def rejecting_llm_url() -> Iterator[str]:
    """Base URL of an OpenAI-compatible server that answers 401 to everything (the shared fake
    LLM has no 4xx-other-than-429 fault)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RejectingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def reconfigure(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Change settings mid-test, as a new cold start would see them."""

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    return apply


IDEMPOTENCY_PREFIX = "idempotency#"


class Stored:
    """What the API left in moto: job records, idempotency records, queued messages."""

    def __init__(self, resources: StackResources) -> None:
        self.resources = resources
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")

    def items(self) -> list[dict[str, Any]]:
        raw = self.dynamodb.scan(TableName=self.resources.table_name)["Items"]
        return [item_from_dynamodb(item) for item in raw]

    def jobs(self) -> list[dict[str, Any]]:
        return [item for item in self.items() if not item["job_id"].startswith(IDEMPOTENCY_PREFIX)]

    def job(self, job_id: str) -> dict[str, Any] | None:
        raw = self.dynamodb.get_item(
            TableName=self.resources.table_name, Key={"job_id": {"S": job_id}}
        ).get("Item")
        return None if raw is None else item_from_dynamodb(raw)

    def idempotency_records(self) -> list[dict[str, Any]]:
        return [item for item in self.items() if item["job_id"].startswith(IDEMPOTENCY_PREFIX)]

    def messages(self, queue_url: str | None = None) -> list[dict[str, Any]]:
        """Every visible message body (received once: they stay invisible afterwards)."""
        bodies: list[dict[str, Any]] = []
        while True:
            received = self.sqs.receive_message(
                QueueUrl=queue_url or self.resources.queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not received:
                return bodies
            bodies += [json.loads(message["Body"]) for message in received]

    def message_count(self, queue_url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(count) for count in attributes.values())


@pytest.fixture
def stored(api_env: StackResources) -> Stored:
    return Stored(api_env)


@pytest.fixture
def callbacks_queue_url(api_env: StackResources, reconfigure: Callable[..., None]) -> str:
    """A callbacks queue in moto, configured as CALLBACKS_QUEUE_URL (webhooks on)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = str(sqs.create_queue(QueueName="gen-ai-on-aws-dev-callbacks")["QueueUrl"])
    reconfigure(CALLBACKS_QUEUE_URL=url)
    return url


class PatchedClient:
    """A real (moto-backed) boto3 client with some operations replaced by
    `replacement(real_operation, **kwargs)`, to inject partial failures."""

    def __init__(self, client: Any, **replacements: Callable[..., Any]) -> None:
        self._client = client
        self._replacements = replacements

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        replacement = self._replacements.get(name)
        return real if replacement is None else functools.partial(replacement, real)


@pytest.fixture
def patch_aws(app: FastAPI) -> Callable[..., None]:
    """Replace operations of the API's SQS or DynamoDB client for this test."""

    def install(
        *,
        sqs: dict[str, Callable[..., Any]] | None = None,
        dynamodb: dict[str, Callable[..., Any]] | None = None,
    ) -> None:
        overrides = app.dependency_overrides
        if sqs is not None:
            sqs_client = PatchedClient(create_sqs_client("us-east-1"), **sqs)
            overrides[get_sqs_client] = lambda: sqs_client
        if dynamodb is not None:
            dynamodb_client = PatchedClient(create_dynamodb_client("us-east-1"), **dynamodb)
            overrides[get_dynamodb_client] = lambda: dynamodb_client

    return install
