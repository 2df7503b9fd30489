"""Security across both Lambdas: API keys guard every route, secrets never leak, PII is never
logged at INFO or above.

Secrets: known values live in a moto Secrets Manager secret named by APP_SECRET_ID (none in the
environment), a full job runs through the API, SQS, the worker and back, plus the error paths,
and every channel we can observe is searched for them: every log record (our Powertools loggers
at DEBUG, every other logger at INFO, which is what the deployed functions emit), everything
written to stdout and stderr, every HTTP response (status, headers, body), the worker's
responses, every job record, every queue message, every OTLP export Langfuse receives (decoded),
and every request body the LLM receives.

Channels excluded on purpose, because a secret belongs there:
- the `X-API-Key` header of the requests the test itself sends (the client's own key);
- the `Authorization` header of LLM calls (the provider's key goes to the provider): the test
  asserts it is there, which also proves the secret was really loaded and used;
- the `Authorization` header of Langfuse exports (Basic public:secret key): asserted likewise,
  and the public key the Langfuse SDK tags each export's instrumentation scope with (it goes
  to Langfuse only, which issued it);
- the Secrets Manager response itself (moto, in-process).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from google.protobuf.json_format import MessageToJson  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from devstack.fake_llm import FakeLLMServer
from devstack.lambda_runtime import LambdaContext, sqs_record
from devstack.resources import StackResources
from gen_ai_contracts.api_keys import hashed_entry
from gen_ai_contracts.jobs import item_from_dynamodb
from gen_ai_contracts.settings import ConfigurationError, load_settings
from gen_ai_contracts.webhooks import callback_event
from gen_ai_on_aws.api.app import create_app
from gen_ai_on_aws.config import Settings as ApiSettings
from gen_ai_on_aws.config import get_settings as get_api_settings
from gen_ai_on_aws.logs import logger as api_logger
from gen_ai_on_aws.services.aws import create_dynamodb_client, create_sqs_client
from worker.callbacks.sender import event_payload
from worker.config import Settings as WorkerSettings
from worker.config import get_settings as get_worker_settings
from worker.log import logger as worker_logger
from worker.main import handler as worker_handler
from worker.runtime import get_worker

REGION = "us-east-1"
SECRET_NAME = "gen-ai-on-aws/security-test"
OTLP_PATH = "/api/public/otel/v1/traces"
OPEN_PATHS = {"/health", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"}
LAMBDA_CONTEXT: Callable[[], Any] = lambda: LambdaContext(timeout_seconds=30)  # noqa: E731

# The personal data being extracted: distinctive, so any occurrence is a leak.
PII_TERMS = ("zephyrine", "quillfeather")
PII_TEXT = "Zephyrine Quillfeather is 47 years old, zephyrine.quillfeather@example.org"


# --- secrets and where they may go ---------------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    """Known secret values; each holds a random token that appears nowhere else."""

    llm_api_key: str = field(default_factory=lambda: f"sk-llm-{uuid.uuid4().hex}")
    langfuse_public_key: str = field(default_factory=lambda: f"pk-lf-{uuid.uuid4().hex}")
    langfuse_secret_key: str = field(default_factory=lambda: f"sk-lf-{uuid.uuid4().hex}")
    api_key: str = field(default_factory=lambda: f"api-key-{uuid.uuid4().hex}")
    spare_api_key: str = field(default_factory=lambda: f"api-key-{uuid.uuid4().hex}")

    def secret_json(self) -> dict[str, str]:
        return {
            "LLM_API_KEY": self.llm_api_key,
            "LANGFUSE_PUBLIC_KEY": self.langfuse_public_key,
            "LANGFUSE_SECRET_KEY": self.langfuse_secret_key,
            # Tenant acme's key in plaintext; tenant beta's only as its SHA-256
            "API_KEYS": json.dumps(
                {"acme": [self.api_key], "beta": [hashed_entry(self.spare_api_key)]}
            ),
        }

    @property
    def langfuse_basic_auth(self) -> str:
        pair = f"{self.langfuse_public_key}:{self.langfuse_secret_key}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def needles(self) -> dict[str, str]:
        """What to search for: each random token (catches a value with its prefix cut off),
        and the encodings a value travels in (base64, the Basic auth pair)."""
        values = {
            "LLM_API_KEY": self.llm_api_key,
            "LANGFUSE_PUBLIC_KEY": self.langfuse_public_key,
            "LANGFUSE_SECRET_KEY": self.langfuse_secret_key,
            "API_KEYS[0]": self.api_key,
            "API_KEYS[1]": self.spare_api_key,
        }
        needles = {name: value.rsplit("-", 1)[1] for name, value in values.items()}
        needles |= {f"base64({name})": _b64(value) for name, value in values.items()}
        # The secret's digests too (fingerprints, their first 12 hex digits, may be logged)
        for name, key in (("API_KEYS[0]", self.api_key), ("API_KEYS[1]", self.spare_api_key)):
            needles[f"sha256({name})"] = hashed_entry(key).removeprefix("sha256:")[12:]
        needles["langfuse basic auth"] = self.langfuse_basic_auth.removeprefix("Basic ")
        return needles


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def find_leaks(channels: dict[str, str], needles: dict[str, str]) -> list[tuple[str, str]]:
    """(channel, secret) for every secret found in a channel."""
    return [
        (channel, name)
        for channel, text in channels.items()
        for name, needle in needles.items()
        if needle in text
    ]


# --- local stand-ins for Langfuse and a provider that quotes keys --------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class RecordingServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that keeps every request it receives."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.received: list[Received] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(BaseHTTPRequestHandler):
    server: RecordingServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what was received."""

    def _record(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append(Received(self.path, headers, body))
        return body

    def _answer(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _LangfuseHandler(_RecordingHandler):
    def do_POST(self) -> None:
        self._record()
        self._answer(200, {})

    def do_GET(self) -> None:
        self._record()
        self._answer(200, {})


class _KeyQuotingProviderHandler(_RecordingHandler):
    """Refuses every call the way OpenAI refuses a bad key: quoting the key it was sent."""

    def do_POST(self) -> None:
        self._record()
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        message = f"Incorrect API key provided: {key}. You can find your API key at ..."
        self._answer(401, {"error": {"message": message, "type": "invalid_request_error"}})


def exported_traces(collector: RecordingServer) -> str:
    """Every request Langfuse received, OTLP exports decoded to JSON, without the headers and
    without the scope attribute `public_key` (see `langfuse_scope_public_keys`)."""
    parts = []
    for request in collector.received:
        parts.append(request.path)
        if request.path == OTLP_PATH:
            export = ExportTraceServiceRequest.FromString(request.body)
            for scope_spans in _all_scope_spans(export):
                attributes = scope_spans.scope.attributes
                kept = [attribute for attribute in attributes if attribute.key != "public_key"]
                del attributes[:]
                attributes.extend(kept)
            parts.append(MessageToJson(export))
        else:
            parts.append(request.body.decode("utf-8", "replace"))
    return "\n".join(parts)


def langfuse_scope_public_keys(collector: RecordingServer) -> set[str]:
    """The Langfuse SDK tags its tracer with the project's public key, so exports carry it as an
    instrumentation-scope attribute: sent to Langfuse only, which issued it, like the
    Authorization header. The one place a secret may appear in an export body."""
    return {
        attribute.value.string_value
        for request in collector.received
        if request.path == OTLP_PATH
        for scope_spans in _all_scope_spans(ExportTraceServiceRequest.FromString(request.body))
        for attribute in scope_spans.scope.attributes
        if attribute.key == "public_key"
    }


def _all_scope_spans(export: ExportTraceServiceRequest) -> list[Any]:
    return [scope for resource in export.resource_spans for scope in resource.scope_spans]


@pytest.fixture
def collector() -> Iterator[RecordingServer]:
    with _serving(RecordingServer(_LangfuseHandler)) as server:
        yield server


@pytest.fixture
def key_quoting_provider() -> Iterator[RecordingServer]:
    with _serving(RecordingServer(_KeyQuotingProviderHandler)) as server:
        yield server


class _serving:  # noqa: N801  (used as a context manager, like contextlib's)
    def __init__(self, server: RecordingServer) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingServer:
        self.thread.start()
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the stack: both Lambdas configured from the secret -----------------------------------


def _clear_process_caches() -> None:
    get_api_settings.cache_clear()
    create_sqs_client.cache_clear()
    create_dynamodb_client.cache_clear()
    get_worker_settings.cache_clear()
    get_worker.cache_clear()


@pytest.fixture(autouse=True)
def cold_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No cached settings or clients, and no setting in the environment but what a test sets."""
    names = {*ApiSettings.model_fields, *WorkerSettings.model_fields, "langfuse_base_url"}
    for name in names - {"aws_region"}:
        monkeypatch.delenv(name.upper(), raising=False)
    _clear_process_caches()
    yield
    _clear_process_caches()


class LogCapture:
    """Every record our two Powertools loggers emit, formatted as they would be in CloudWatch."""

    def __init__(self, level: int) -> None:
        self.stream = io.StringIO()
        self.handlers: list[tuple[Any, logging.Handler]] = []
        for logger in (api_logger, worker_logger):
            handler = logging.StreamHandler(self.stream)
            handler.setLevel(level)
            handler.setFormatter(logger.registered_formatter)
            logger.addHandler(handler)
            self.handlers.append((logger, handler))

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def close(self) -> None:
        for logger, handler in self.handlers:
            logging.getLogger(logger.name).removeHandler(handler)


@dataclass
class Observed:
    """What left the code under test, by channel."""

    responses: list[str] = field(default_factory=list)
    worker_responses: list[str] = field(default_factory=list)
    queue_messages: list[str] = field(default_factory=list)

    def record_response(self, response: httpx.Response) -> None:
        response.read()
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        self.responses.append(f"{response.status_code}\n{headers}\n{response.text}")


class SecuredStack:
    """Both Lambdas against moto, the fake LLM and a local Langfuse, configured from the secret."""

    def __init__(
        self,
        resources: StackResources,
        secrets: Secrets,
        fake_llm: FakeLLMServer,
        collector: RecordingServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.resources = resources
        self.secrets = secrets
        self.fake_llm = fake_llm
        self.collector = collector
        self.monkeypatch = monkeypatch
        self.observed = Observed()
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)

    def reconfigure(self, **environment: str) -> None:
        """New settings, as the next cold start of both Lambdas would see them."""
        for name, value in environment.items():
            self.monkeypatch.setenv(name, value)
        _clear_process_caches()

    def api(self) -> TestClient:
        """A client of a freshly built API app; every response it gets is recorded."""
        client = TestClient(create_app(), raise_server_exceptions=False)
        client.event_hooks = {"response": [self.observed.record_response]}
        return client

    def run_worker(self) -> dict[str, Any]:
        """Deliver every visible message to the worker in one batch, as Lambda would."""
        messages = self.sqs.receive_message(
            QueueUrl=self.resources.queue_url,
            AttributeNames=["All"],
            MaxNumberOfMessages=10,
        ).get("Messages", [])
        records = [
            sqs_record(dict(m), queue_arn=self.resources.queue_arn, region=REGION) for m in messages
        ]
        self.observed.queue_messages.extend(record["body"] for record in records)
        response = dict(worker_handler({"Records": records}, LAMBDA_CONTEXT()))
        self.observed.worker_responses.append(json.dumps(response))
        return response

    def send_raw_message(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.resources.queue_url, MessageBody=body)

    def job_records(self) -> str:
        return json.dumps(self.dynamodb.scan(TableName=self.resources.table_name)["Items"])

    def channels(
        self, logs: LogCapture, caplog: pytest.LogCaptureFixture, out: str
    ) -> dict[str, str]:
        library_records = "\n".join(
            f"{record.name} {record.levelname} {record.getMessage()} {record.exc_text or ''} "
            f"{ {k: v for k, v in record.__dict__.items() if k not in _STANDARD_RECORD_KEYS} }"
            for record in caplog.records
        )
        return {
            "our log lines": logs.text,
            "other loggers' records": library_records,
            "stdout and stderr": out,
            "HTTP responses": "\n".join(self.observed.responses),
            "worker responses": "\n".join(self.observed.worker_responses),
            "job records": self.job_records(),
            "queue messages": "\n".join(self.observed.queue_messages),
            "exported traces": exported_traces(self.collector),
            "LLM request bodies": json.dumps(self.fake_llm.llm.stats.requests),
        }


_STANDARD_RECORD_KEYS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@pytest.fixture
def secrets() -> Secrets:
    return Secrets()


@pytest.fixture
def secured(
    monkeypatch: pytest.MonkeyPatch,
    aws: StackResources,
    fake_llm: FakeLLMServer,
    collector: RecordingServer,
    secrets: Secrets,
) -> SecuredStack:
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=SECRET_NAME, SecretString=json.dumps(secrets.secret_json())
    )
    stack = SecuredStack(aws, secrets, fake_llm, collector, monkeypatch)
    stack.reconfigure(
        APP_SECRET_ID=SECRET_NAME,
        QUEUE_URL=aws.queue_url,
        JOBS_TABLE_NAME=aws.table_name,
        LLM_MODEL="openai/fake-model",
        LLM_API_BASE=fake_llm.base_url,
        LLM_TIMEOUT_SECONDS="2",
        LLM_MAX_RETRIES="1",
        LANGFUSE_HOST=collector.url,
        LOG_LEVEL="DEBUG",
        WORKER_DEADLINE_MARGIN_SECONDS="0.5",
    )
    return stack


@pytest.fixture
def debug_logs() -> Iterator[LogCapture]:
    capture = LogCapture(logging.DEBUG)
    yield capture
    capture.close()


@pytest.fixture
def info_logs() -> Iterator[LogCapture]:
    capture = LogCapture(logging.INFO)
    yield capture
    capture.close()


# --- 1. every route but /health and the docs needs a valid key -----------------------------


def protected_requests(app: FastAPI) -> list[tuple[str, str]]:
    """(method, concrete path) for every route of the app outside OPEN_PATHS: enumerated from
    the app itself, so a new route is covered (or must be declared open) without editing this."""
    found: list[tuple[str, str]] = []
    for route in iter_route_contexts(app.routes):
        path = str(route.path)
        if path in OPEN_PATHS:
            continue
        concrete = path.replace("{job_id}", str(uuid.uuid4()))
        assert "{" not in concrete, f"new path parameter in {path}: give it a sample value"
        found.extend((method, concrete) for method in sorted(route.methods or ()))
    return found


def wrong_credentials(secrets: Secrets) -> dict[str, dict[str, str]]:
    key = secrets.api_key
    return {
        "missing": {},
        "empty": {"X-API-Key": ""},
        "wrong": {"X-API-Key": "not-a-key"},
        "prefix of a key": {"X-API-Key": key[:-1]},
        "key plus a character": {"X-API-Key": key + "x"},
        "upper-cased key": {"X-API-Key": key.upper()},
        "both keys joined": {"X-API-Key": f"{key},{secrets.spare_api_key}"},
        "key as a bearer token": {"Authorization": f"Bearer {key}"},
        "key in another header": {"X-Api-Token": key},
        "Langfuse secret key": {"X-API-Key": secrets.langfuse_secret_key},
    }


def test_every_route_but_health_and_docs_refuses_missing_or_wrong_keys(
    secured: SecuredStack,
) -> None:
    # GIVEN the API with keys from the secret, and every route it has
    with secured.api() as client:
        app = client.app
        assert isinstance(app, FastAPI)
        requests = protected_requests(app)
        documented = {
            (method.upper(), path)
            for path, operations in app.openapi()["paths"].items()
            for method in operations
            if path not in OPEN_PATHS
        }
        assert {(m, p.split("/")[1]) for m, p in requests} == {
            (m, p.split("/")[1]) for m, p in documented
        }

        for name, headers in wrong_credentials(secured.secrets).items():
            for method, path in requests:
                # WHEN a request comes without a valid key (also in the query string)
                response = client.request(
                    method,
                    path,
                    json={"text": "Jason is 25 years old"},
                    headers=headers,
                    params={"X-API-Key": secured.secrets.api_key},
                )

                # THEN it is refused with the 401 error body
                assert response.status_code == 401, (name, method, path, response.text)
                body = response.json()
                assert set(body) == {"error", "code", "request_id", "details"}
                assert body["code"] == "unauthorized"
                assert response.headers["content-type"] == "application/json"

        # AND the real keys open every one of them, and the open routes need none
        for key in (secured.secrets.api_key, secured.secrets.spare_api_key):
            for method, path in requests:
                response = client.request(
                    method, path, json={"text": "Jason is 25 years old"}, headers={"X-API-Key": key}
                )
                assert response.status_code != 401, (method, path)
        for path in OPEN_PATHS:
            assert client.get(path).status_code == 200, path
    assert secured.fake_llm.llm.stats.calls["Jason is 25 years old"] == 2  # only the keyed calls


def test_open_routes_are_exactly_health_and_the_docs(secured: SecuredStack) -> None:
    # GIVEN every route of the app, each called with its own methods and no key
    with secured.api() as client:
        app = client.app
        assert isinstance(app, FastAPI)
        answered = {
            str(route.path)
            for route in iter_route_contexts(app.routes)
            for method in route.methods or ()
            if client.request(
                method,
                str(route.path).replace("{job_id}", str(uuid.uuid4())),
                json={"text": "Jason is 25 years old"},
            ).status_code
            != 401
        }

    # THEN only health and the docs answered
    assert answered == OPEN_PATHS


# --- 2. secrets never leak -----------------------------------------------------------------


def assert_secrets_were_in_use(stack: SecuredStack) -> None:
    """Without this the search below could pass because no secret was ever loaded."""
    api_settings, worker_settings = get_api_settings(), get_worker_settings()
    for settings in (api_settings, worker_settings):
        assert settings.llm_api_key is not None
        assert settings.llm_api_key.get_secret_value() == stack.secrets.llm_api_key
    keys = api_settings.api_keys
    assert (keys.tenant_of(stack.secrets.api_key), keys.tenant_of(stack.secrets.spare_api_key)) == (
        "acme",
        "beta",
    )
    exports = [r for r in stack.collector.received if r.path == OTLP_PATH]
    assert exports, "the worker exported no trace"
    assert {r.headers["authorization"] for r in exports} == {stack.secrets.langfuse_basic_auth}
    assert langfuse_scope_public_keys(stack.collector) == {stack.secrets.langfuse_public_key}


def observed_channels(
    secured: SecuredStack,
    debug_logs: LogCapture,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> dict[str, str]:
    """Every channel of the test so far, stdout and stderr included."""
    captured = capfd.readouterr()
    return secured.channels(debug_logs, caplog, captured.out + captured.err)


def test_secrets_never_leak_through_a_full_job_and_its_error_paths(
    secured: SecuredStack,
    debug_logs: LogCapture,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    key = {"X-API-Key": secured.secrets.api_key}
    with secured.api() as client:
        # GIVEN a full job: submitted, run by the worker, read back
        submitted = client.post(
            "/extract-user-async", json={"text": "Jason is 25 years old"}, headers=key
        )
        assert submitted.status_code == 202
        assert client.get(submitted.headers["Location"], headers=key).json()["status"] == "queued"
        assert secured.run_worker() == {"batchItemFailures": []}
        finished = client.get(f"/jobs/{submitted.json()['job_id']}", headers=key).json()
        assert (finished["status"], finished["result"]["name"]) == ("succeeded", "Jason")

        # AND the error paths: provider 400 and 500, synchronously and in the worker
        assert (
            client.post(
                "/extract-user", json={"text": "Ann is 30 years old"}, headers=key
            ).status_code
            == 200
        )
        assert (
            client.post(
                "/extract-user", json={"text": "Bo is 31 years old !400"}, headers=key
            ).status_code
            == 502
        )
        assert (
            client.post(
                "/extract-user", json={"text": "Cy is 32 years old !500"}, headers=key
            ).status_code
            == 503
        )
        assert (
            client.post("/extract-user", json={"text": "no person here"}, headers=key).status_code
            == 422
        )
        for text in ("Di is 33 years old !400", "Ed is 34 years old !500"):
            assert (
                client.post("/extract-user-async", json={"text": text}, headers=key).status_code
                == 202
            )
        worker_response = secured.run_worker()
        # the 500 is re-sent as a new message (the job stays queued), so nothing is reported
        assert worker_response["batchItemFailures"] == []
        # AND refusals, validation errors, unknown jobs and routes, and the docs
        assert (
            client.post(
                "/extract-user",
                json={"text": "x"},
                headers={"X-API-Key": secured.secrets.api_key + "x"},
            ).status_code
            == 401
        )
        assert (
            client.post(
                "/extract-user", json={"text": "x", "api_key": secured.secrets.api_key}, headers=key
            ).status_code
            == 422
        )
        assert client.get(f"/jobs/{uuid.uuid4()}", headers=key).status_code == 404
        assert client.get("/nowhere", headers=key).status_code == 404
        for path in ("/health", "/openapi.json", "/docs", "/redoc"):
            assert client.get(path).status_code == 200

    assert_secrets_were_in_use(secured)
    # THEN no secret appears in any channel
    channels = observed_channels(secured, debug_logs, caplog, capfd)
    assert "job succeeded" in channels["our log lines"]
    assert find_leaks(channels, secured.secrets.needles()) == []


def test_another_tenant_learns_nothing_of_a_job_and_no_tenant_or_key_is_shown(
    secured: SecuredStack,
    debug_logs: LogCapture,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    acme = {"X-API-Key": secured.secrets.api_key}
    beta = {"X-API-Key": secured.secrets.spare_api_key}  # configured only as its SHA-256
    with secured.api() as client:
        # GIVEN a job of tenant acme holding personal data, run to the end
        job_id = client.post("/extract-user-async", json={"text": PII_TEXT}, headers=acme).json()[
            "job_id"
        ]
        assert secured.run_worker() == {"batchItemFailures": []}
        own = client.get(f"/jobs/{job_id}", headers=acme)
        # WHEN tenant beta reads and cancels it, and reads an id nobody has
        theirs = [
            client.get(f"/jobs/{job_id}", headers=beta),
            client.post(f"/jobs/{job_id}/cancel", headers=beta),
        ]
        nobodys = client.get(f"/jobs/{uuid.uuid4()}", headers=beta)

    # THEN acme sees its result, without its tenant; beta gets exactly the unknown-id answer
    assert own.json()["status"] == "succeeded"
    assert "tenant" not in own.json()
    assert "acme" not in own.text
    for response in theirs:
        assert response.status_code == nobodys.status_code == 404
        body = {name: value for name, value in response.json().items() if name != "request_id"}
        assert body == {k: v for k, v in nobodys.json().items() if k != "request_id"}
        assert not any(term in response.text.lower() for term in (*PII_TERMS, "acme"))
    # AND the job's webhook event (built from the stored record) does not carry the tenant
    record = item_from_dynamodb(
        boto3.client("dynamodb", region_name=REGION).get_item(
            TableName=secured.resources.table_name, Key={"job_id": {"S": job_id}}
        )["Item"]
    )
    assert record["tenant"] == "acme"
    payload = event_payload(callback_event(job_id, "succeeded", datetime.now(UTC)), record)
    assert "acme" not in payload
    assert "tenant" not in payload
    # AND no key nor its digest appears in any channel
    channels = observed_channels(secured, debug_logs, caplog, capfd)
    assert find_leaks(channels, secured.secrets.needles()) == []


def test_a_provider_quoting_the_key_in_its_error_leaks_it_nowhere(
    secured: SecuredStack,
    key_quoting_provider: RecordingServer,
    debug_logs: LogCapture,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a provider that answers 401 with the key it was sent in its error message
    caplog.set_level(logging.INFO)
    secured.reconfigure(LLM_API_BASE=f"{key_quoting_provider.url}/v1")
    key = {"X-API-Key": secured.secrets.api_key}

    # WHEN both Lambdas call it
    with secured.api() as client:
        sync = client.post("/extract-user", json={"text": "Jason is 25 years old"}, headers=key)
        submitted = client.post(
            "/extract-user-async", json={"text": "Jason is 25 years old"}, headers=key
        )
        assert secured.run_worker() == {"batchItemFailures": []}
        job = client.get(f"/jobs/{submitted.json()['job_id']}", headers=key).json()

    # THEN the client sees the fixed codes, and the provider did receive (and quote) the key
    assert (sync.status_code, sync.json()["code"]) == (502, "llm_rejected")
    assert (job["status"], job["error"]["code"]) == ("failed", "provider_rejected")
    assert {r.headers["authorization"] for r in key_quoting_provider.received} == {
        f"Bearer {secured.secrets.llm_api_key}"
    }
    assert_secrets_were_in_use(secured)
    # AND the quoted key went no further than the exception
    captured = capfd.readouterr()
    channels = secured.channels(debug_logs, caplog, captured.out + captured.err)
    assert find_leaks(channels, secured.secrets.needles()) == []


@pytest.mark.parametrize("settings_class", [ApiSettings, WorkerSettings], ids=["api", "worker"])
def test_configuration_errors_name_the_variable_but_never_a_secret_value(
    secured: SecuredStack, settings_class: type[Any]
) -> None:
    # GIVEN a secret whose values are fine except one
    client = boto3.client("secretsmanager", region_name=REGION)
    broken = {**secured.secrets.secret_json(), "JOB_TTL_SECONDS": secured.secrets.llm_api_key}
    client.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps(broken))

    # WHEN a cold start reads it
    with pytest.raises(ConfigurationError) as raised:
        load_settings(settings_class)

    # THEN the message names the variable, and no value of the secret
    message = str(raised.value)
    assert "JOB_TTL_SECONDS" in message
    assert find_leaks({"message": message}, secured.secrets.needles()) == []


# --- 3. the personal data being extracted is never logged at INFO or above -----------------


def test_the_text_is_never_logged_at_info_by_the_api_or_the_worker(
    secured: SecuredStack,
    info_logs: LogCapture,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # GIVEN both Lambdas at LOG_LEVEL=INFO, and every other logger at INFO too
    secured.reconfigure(LOG_LEVEL="INFO")
    caplog.set_level(logging.INFO)
    key = {"X-API-Key": secured.secrets.api_key}
    outcomes = {"": 200, " !400": 502, " !500": 503, " !invalid": 422, " !badjson": 422}

    with secured.api() as client:
        # WHEN the text is extracted synchronously, succeeding and failing every way
        for directive, status in outcomes.items():
            response = client.post(
                "/extract-user", json={"text": PII_TEXT + directive}, headers=key
            )
            assert response.status_code == status, directive
        # AND refused by validation (the refusal must not echo it either)
        for body in (
            {"text": PII_TEXT + "\u0000"},
            {"text": PII_TEXT, "note": PII_TEXT},
            {"text": [PII_TEXT]},
        ):
            response = client.post("/extract-user", json=body, headers=key)
            assert response.status_code == 422
            assert "Zephyrine" not in response.text
        # AND queued, then run by the worker, succeeding and failing every way
        job_ids = [
            client.post("/extract-user-async", json={"text": PII_TEXT + d}, headers=key).json()[
                "job_id"
            ]
            for d in outcomes
        ]
        secured.send_raw_message(
            json.dumps({"version": 1, "job_id": str(uuid.uuid4()), "text": PII_TEXT})
        )
        secured.send_raw_message(PII_TEXT)
        worker_response = secured.run_worker()
        assert worker_response["batchItemFailures"] == []  # the 500 is re-sent, retried later
        jobs = [client.get(f"/jobs/{job_id}", headers=key).json() for job_id in job_ids]

    assert [job["status"] for job in jobs] == ["succeeded", "failed", "queued", "failed", "failed"]
    assert jobs[0]["result"]["name"] == "Zephyrine"  # the text really was processed
    # THEN no log line at INFO or above, and nothing on stdout or stderr, holds any of it
    captured = capfd.readouterr()
    channels = secured.channels(info_logs, caplog, captured.out + captured.err)
    assert "job succeeded" in channels["our log lines"]
    assert "request handled" in channels["our log lines"]
    logged = {
        name: channels[name].lower()
        for name in (
            "our log lines",
            "other loggers' records",
            "stdout and stderr",
            "exported traces",
        )
    }
    assert [
        (name, term) for name, text in logged.items() for term in PII_TERMS if term in text
    ] == []
