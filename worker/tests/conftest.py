"""Worker test fixtures: the worker's environment over the shared moto stack and fake LLM.

`aws`, `aws_env` and `fake_llm` come from `devstack.testing` (loaded by the root conftest);
`sqs_record` and `LambdaContext` from `devstack.lambda_runtime` build exactly what Lambda hands
the handler. The `harness` fixture wraps them: submit a job as the API would, receive it back
from moto (so receipt handles are real) and invoke `worker.main.handler`. A job that must run
again comes back as a new copy of its message (`dispatch` + 1); `Harness.follow` runs the copies.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from devstack.fake_llm import FakeLLMServer
from devstack.lambda_runtime import LambdaContext, sqs_record
from devstack.resources import StackResources
from worker.callbacks.log import logger as callbacks_logger
from worker.callbacks.main import handler as callbacks_handler
from worker.callbacks.runtime import get_callbacks
from worker.config import Settings, get_settings
from worker.log import logger
from worker.main import handler
from worker.runtime import get_worker
from worker.settler import get_settler

EVENTS = Path(__file__).parent / "events"
REGION = "us-east-1"
JASON = "Jason is 25 years old"
# A Standard Webhooks secret for tests: whsec_ + base64 of 32 bytes.
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"test-signing-key-32-bytes-long!!").decode()


def _clear_caches() -> None:
    get_settings.cache_clear()
    get_worker.cache_clear()
    get_callbacks.cache_clear()
    get_settler.cache_clear()


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts like a cold start: no cached settings or clients, no stray settings."""
    for name in [*Settings.model_fields.keys() - {"aws_region"}, "langfuse_base_url"]:
        monkeypatch.delenv(name.upper(), raising=False)
    _clear_caches()
    yield
    _clear_caches()


@pytest.fixture
def worker_env(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources, fake_llm: FakeLLMServer
) -> StackResources:
    """The worker configured like the deployed function, against moto and the fake LLM."""
    settings = {
        "QUEUE_URL": aws.queue_url,
        "QUEUE_URL_HIGH": aws.queue_url_high,
        "QUEUE_URL_LOW": aws.queue_url_low,
        "DLQ_URL": aws.dlq_url,
        "JOBS_TABLE_NAME": aws.table_name,
        "LLM_MODEL": "openai/fake-model",
        "LLM_API_BASE": fake_llm.base_url,
        "LLM_API_KEY": "sk-test-not-a-real-key",
        "LLM_TIMEOUT_SECONDS": "5",
        "WORKER_DEADLINE_MARGIN_SECONDS": "0.5",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return aws


@dataclass(frozen=True)
class Submitted:
    """A job the API accepted: its id, its body, and the Lambda record of its delivery."""

    job_id: str
    body: str
    record: dict[str, Any]


class Harness:
    """Drives the worker the way the API, SQS and Lambda would."""

    def __init__(self, resources: StackResources, fake_llm: FakeLLMServer) -> None:
        self.resources = resources
        self.llm = fake_llm.llm
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        # The DelaySeconds the worker asked for, when `skip_delays` is on (None: off).
        self.delays: list[int] | None = None

    def body(self, text: str = JASON, *, job_id: str | None = None, **fields: Any) -> str:
        """A queue message body as the API serialises it; ``fields`` override envelope keys."""
        message = {
            "version": 1,
            "job_id": job_id or str(uuid.uuid4()),
            "task": "extract_user",
            "payload": {"text": text},
            "submitted_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "request_id": "req-test-1",
            **fields,
        }
        return json.dumps(message)

    def submit(self, text: str = JASON, *, receives: int = 1, **fields: Any) -> Submitted:
        """Store the queued job and send its message to its lane, as POST
        /extract-user-async does."""
        body = self.body(text, **fields)
        message = json.loads(body)
        job_id = message["job_id"]
        self.put_job(job_id, status="queued", task=str(message["task"]))
        lane = self.lane_url(message.get("priority", "normal"))
        return Submitted(job_id, body, self.deliver(body, receives=receives, queue_url=lane))

    def lane_url(self, priority: str) -> str:
        lanes = {"high": self.resources.queue_url_high, "low": self.resources.queue_url_low}
        return lanes.get(priority, self.resources.queue_url)

    def put_job(
        self, job_id: str, *, status: str, task: str = "extract_user", **attributes: Any
    ) -> None:
        now = time.time()
        item: dict[str, Any] = {
            "job_id": {"S": job_id},
            "status": {"S": status},
            "task": {"S": task},
            "request_id": {"S": "req-test-1"},
            "created_at": {"S": "2026-01-02T03:04:05.678Z"},
            "updated_at": {"S": "2026-01-02T03:04:05.678Z"},
            "attempts": {"N": "0"},
            "expires_at": {"N": str(int(now) + 3600)},
        }
        item.update(attributes)
        self.dynamodb.put_item(TableName=self.resources.table_name, Item=item)

    def deliver(
        self, body: str, *, receives: int = 1, queue_url: str | None = None
    ) -> dict[str, Any]:
        """Send ``body`` and receive it ``receives`` times; the Lambda record of the last."""
        queue_url = queue_url or self.resources.queue_url
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        for attempt in range(receives):
            message = self.receive_one(queue_url)
            if attempt < receives - 1:
                self.make_visible(message["ReceiptHandle"], queue_url)
        return self.record(message, queue_url)

    def record(self, message: dict[str, Any], queue_url: str | None = None) -> dict[str, Any]:
        """The Lambda record of a message received from ``queue_url`` (default: normal lane)."""
        arns = {
            self.resources.queue_url_high: self.resources.queue_arn_high,
            self.resources.queue_url_low: self.resources.queue_arn_low,
        }
        queue_arn = arns.get(queue_url or "", self.resources.queue_arn)
        return sqs_record(message, queue_arn=queue_arn, region=REGION)

    def skip_delays(self) -> list[int]:
        """From now on, record the DelaySeconds of the worker's sends and send with 0 instead,
        so a test can follow a job's copies without waiting out their real delays (the queue
        itself stays real; test_resend.py checks a real delay). The list fills as it sends."""
        self.delays = []
        return self.delays

    def follow(self, record: dict[str, Any], *, limit: int = 20) -> int:
        """Invoke ``record``, then each copy of the job re-sent to the normal lane, until no
        copy is left (delays skipped); how many deliveries ran."""
        if self.delays is None:
            self.skip_delays()
        for runs in range(1, limit + 1):
            assert self.invoke(record) == {"batchItemFailures": []}
            copies = self.receive()
            if not copies:
                return runs
            [copy] = copies
            record = self.record(copy)
        raise AssertionError(f"the job was still re-sent after {limit} deliveries")

    def receive_one(self, queue_url: str | None = None) -> dict[str, Any]:
        messages = self.receive(queue_url)
        assert len(messages) == 1, messages
        return messages[0]

    def receive(self, queue_url: str | None = None) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=queue_url or self.resources.queue_url,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            MaxNumberOfMessages=10,
        )
        return [dict(message) for message in response.get("Messages", [])]

    def receive_within(self, seconds: float) -> list[dict[str, Any]]:
        """Poll until a message is visible again or ``seconds`` pass."""
        give_up = time.monotonic() + seconds
        while not (messages := self.receive()) and time.monotonic() < give_up:
            time.sleep(0.1)
        return messages

    def make_visible(self, receipt_handle: str, queue_url: str | None = None) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=queue_url or self.resources.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=0,
        )

    @staticmethod
    def cold_start() -> None:
        """Forget cached settings and clients, as a new Lambda sandbox would."""
        _clear_caches()

    def invoke(self, *records: dict[str, Any], timeout_seconds: float = 30.0) -> dict[str, Any]:
        """Call the handler as Lambda does, with a context whose deadline really moves."""
        if self.delays is not None:
            # The worker of this "sandbox" (after a cold start, a new one): hook its client.
            events = get_worker().sqs.meta.events
            events.register(_SEND, self._no_delay, unique_id="harness-skip-delays")
        event = {"Records": list(records)}
        context: Any = LambdaContext(timeout_seconds=timeout_seconds)  # duck-typed like Lambda's
        return dict(handler(event, context))

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.dynamodb.get_item(
            TableName=self.resources.table_name, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        deserializer = TypeDeserializer()
        return {key: deserializer.deserialize(value) for key, value in response["Item"].items()}

    def result(self, job_id: str) -> dict[str, Any]:
        """The stored result of a succeeded job, parsed."""
        return dict(json.loads(self.job(job_id)["result"]))

    def calls(self, text: str = JASON) -> int:
        """How many times the fake LLM was asked about ``text``."""
        return self.llm.stats.calls[text]

    @staticmethod
    def failed_ids(response: dict[str, Any]) -> set[str]:
        return {item["itemIdentifier"] for item in response["batchItemFailures"]}

    def _no_delay(self, params: dict[str, Any], **_: Any) -> None:
        if self.delays is not None and "DelaySeconds" in params:
            self.delays.append(params["DelaySeconds"])
            params["DelaySeconds"] = 0


# botocore's hook before a SendMessage call's parameters are serialised (mutable `params`).
_SEND = "before-parameter-build.sqs.SendMessage"


@pytest.fixture
def harness(worker_env: StackResources, fake_llm: FakeLLMServer) -> Harness:
    return Harness(worker_env, fake_llm)


class CallbackHarness(Harness):
    """Also drives the callbacks queue and the delivery function (`worker.callbacks`)."""

    def submit_with_callback(self, url: str, text: str = JASON, **fields: Any) -> Submitted:
        """A job submitted with a `callback_url`, stored as the API stores it."""
        body = self.body(text, **fields)
        job_id = json.loads(body)["job_id"]
        self.put_job(job_id, status="queued", **callback_attributes(url))
        return Submitted(job_id, body, self.deliver(body))

    def events(self) -> list[dict[str, Any]]:
        """The callback events now visible on the callbacks queue (received, then made visible
        again so a test can still deliver them)."""
        messages = self.receive(self.resources.callbacks_queue_url)
        for message in messages:
            self.make_visible(message["ReceiptHandle"], self.resources.callbacks_queue_url)
        return [json.loads(message["Body"]) for message in messages]

    def event_record(self) -> dict[str, Any]:
        """The Lambda record of a receive of the only event visible on the callbacks queue."""
        message = self.receive_one(self.resources.callbacks_queue_url)
        return sqs_record(message, queue_arn=self.resources.callbacks_queue_arn, region=REGION)

    def again(self, record: dict[str, Any]) -> dict[str, Any]:
        """The next receive of ``record``'s message, without waiting out its visibility."""
        self.make_visible(record["receiptHandle"], self.resources.callbacks_queue_url)
        return self.event_record()

    def send_event(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.resources.callbacks_queue_url, MessageBody=body)

    @staticmethod
    def deliver_events(*records: dict[str, Any], timeout_seconds: float = 30.0) -> dict[str, Any]:
        """Call the delivery function's handler as Lambda does."""
        context: Any = LambdaContext(timeout_seconds=timeout_seconds, function_name="callbacks")
        return dict(callbacks_handler({"Records": list(records)}, context))


def callback_attributes(url: str) -> dict[str, Any]:
    """What the API stores beside a job submitted with a `callback_url`."""
    return {
        "callback_url": {"S": url},
        "callback": {"M": {"status": {"S": "pending"}, "attempts": {"N": "0"}}},
    }


@pytest.fixture
def callbacks_env(worker_env: StackResources, monkeypatch: pytest.MonkeyPatch) -> StackResources:
    """Webhooks on, as the devstack configures them (receivers live on 127.0.0.1)."""
    monkeypatch.setenv("CALLBACKS_QUEUE_URL", worker_env.callbacks_queue_url)
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    return worker_env


@pytest.fixture
def callbacks(callbacks_env: StackResources, fake_llm: FakeLLMServer) -> CallbackHarness:
    return CallbackHarness(callbacks_env, fake_llm)


@pytest.fixture
def aws_sample_event() -> dict[str, Any]:
    """AWS's documented SQS event for Lambda, verbatim (tests/events/sqs_event.json)."""
    return dict(json.loads((EVENTS / "sqs_event.json").read_text()))


class CapturedLogs:
    """Everything the worker's logger wrote during a test, as parsed JSON lines."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line]

    def with_message(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["message"] == message]


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """Our Powertools loggers' JSON lines (worker and delivery), captured with their own
    formatters."""
    captured = CapturedLogs()
    handlers = []
    for each in (logger, callbacks_logger):
        log_handler = logging.StreamHandler(captured.stream)
        log_handler.setFormatter(each.registered_formatter)
        each.addHandler(log_handler)
        handlers.append((each, log_handler))
    yield captured
    for each, log_handler in handlers:
        logging.getLogger(each.name).removeHandler(log_handler)
