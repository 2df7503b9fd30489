"""`gen-ai-jobs admin`: dlq list / redrive and stats against the devstack's resources in moto
(in-process `mock_aws`): nothing consumed or printed that should not be, no message lost."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from typer.testing import CliRunner, Result

from devstack.resources import StackResources, create_stack_resources
from gen_ai_contracts.queue import Priority, QueueMessage
from gen_ai_jobs.cli import app
from gen_ai_jobs.cli.admin import _aws
from gen_ai_jobs.cli.admin._envelope import Envelope, Unreadable, read_envelope
from gen_ai_jobs.cli.admin._move import (
    MoveTaskUnsupportedError,
    follow_move_task,
    start_move_task,
)
from gen_ai_jobs.cli.admin._stats import Circuit

REGION = "us-east-1"
SECRET = "SSN 078-05-1120 and password hunter2"  # must never reach the output
PREFIX = "gen-ai-on-aws-dev"


@dataclass
class Stack:
    sqs: Any
    dynamodb: Any
    resources: StackResources

    @property
    def lanes(self) -> dict[str, str]:
        return {
            "high": self.resources.queue_url_high,
            "normal": self.resources.queue_url,
            "low": self.resources.queue_url_low,
        }

    def depth(self, url: str) -> tuple[int, int, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
            int(attributes["ApproximateNumberOfMessagesDelayed"]),
        )

    def drain(self, url: str) -> list[dict[str, Any]]:
        """Every visible message (hidden afterwards), with its MessageGroupId."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=600,
                MessageSystemAttributeNames=["MessageGroupId"],
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)

    def dead_letter(self, priority: Priority = "normal", tenant: str | None = "default") -> str:
        """A real envelope (user text in its payload) put on the DLQ; its job id."""
        job_id = str(uuid.uuid4())
        body = QueueMessage(
            job_id=job_id,
            task="extract_user",
            payload={"text": SECRET},
            submitted_at=datetime.now(UTC),
            priority=priority,
            tenant=tenant,
            dispatch=2,
        ).model_dump_json()
        group = {"MessageGroupId": tenant} if tenant else {}
        self.sqs.send_message(QueueUrl=self.resources.dlq_url, MessageBody=body, **group)
        return job_id

    def job(self, job_id: str, status: str, **codes: str) -> None:
        item: dict[str, Any] = {"job_id": {"S": job_id}, "status": {"S": status}}
        for name, code in codes.items():  # error=..., last_error=...: messages quote user text
            item[name] = {"M": {"code": {"S": code}, "message": {"S": SECRET}}}
        self.dynamodb.put_item(TableName=self.resources.table_name, Item=item)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for name in ("AWS_ENDPOINT_URL", "GEN_AI_STACK_PREFIX", "GEN_AI_STACK_OUTPUTS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        yield Stack(sqs, dynamodb, create_stack_resources(sqs=sqs, dynamodb=dynamodb))


def admin(*args: str) -> Result:
    return CliRunner().invoke(app, ["admin", *args])


def shown(result: Result) -> str:
    return result.stdout + result.stderr


def job_ids(messages: list[dict[str, Any]]) -> list[str]:
    """The job ids of ``messages``, sorted."""
    return sorted(str(job_id_of(message["Body"])) for message in messages)


def job_id_of(body: str) -> str | None:
    try:
        value = json.loads(body).get("job_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


@dataclass
class RecordingSqs:
    """The real (moto) SQS client, recording what was sent and deleted, in order; a send can
    be made to fail for some jobs (one entry) or for a whole call."""

    real: Any
    fail_jobs: set[str] = field(default_factory=set)
    fail_whole_send: bool = False
    events: list[tuple[str, str]] = field(default_factory=list)  # ("sent"|"deleted", job id)
    job_by_handle: dict[str, str | None] = field(default_factory=dict)
    receives: int = 0
    move_task_starts: int = 0
    move_task: dict[str, Any] | None = None  # set: answer StartMessageMoveTask with this

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def receive_message(self, **request: Any) -> Any:
        self.receives += 1
        response = self.real.receive_message(**request)
        for message in response.get("Messages", []):
            self.job_by_handle[message["ReceiptHandle"]] = job_id_of(message["Body"])
        return response

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:  # noqa: N803
        if self.fail_whole_send:
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "injected"}}, "SendMessageBatch"
            )
        failing = [e for e in Entries if job_id_of(e["MessageBody"]) in self.fail_jobs]
        passing = [e for e in Entries if e not in failing]
        response = (
            self.real.send_message_batch(QueueUrl=QueueUrl, Entries=passing) if passing else {}
        )
        by_id = {entry["Id"]: entry for entry in Entries}
        for ok in response.get("Successful", []):
            self.events.append(("sent", str(job_id_of(by_id[ok["Id"]]["MessageBody"]))))
        refused = [
            {"Id": entry["Id"], "Code": "InternalError", "SenderFault": False} for entry in failing
        ]
        return {
            "Successful": response.get("Successful", []),
            "Failed": [*response.get("Failed", []), *refused],
        }

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:  # noqa: N803
        for entry in Entries:
            self.events.append(("deleted", str(self.job_by_handle.get(entry["ReceiptHandle"]))))
        return self.real.delete_message_batch(QueueUrl=QueueUrl, Entries=Entries)

    def start_message_move_task(self, **request: Any) -> Any:
        self.move_task_starts += 1
        if self.move_task is None:
            return self.real.start_message_move_task(**request)
        return {"TaskHandle": "task-1"}

    def list_message_move_tasks(self, **request: Any) -> Any:
        assert self.move_task is not None
        return {"Results": [self.move_task]}


@pytest.fixture
def recorded(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> RecordingSqs:
    """Every SQS client the CLI makes is this one recorder."""
    recorder = RecordingSqs(stack.sqs)
    original: Callable[..., Any] = _aws.new_boto3_client

    def new_client(service: str, **options: Any) -> Any:
        return recorder if service == "sqs" else original(service, **options)

    monkeypatch.setattr(_aws, "new_boto3_client", new_client)
    return recorder


def assert_deleted_only_after_sent(recorder: RecordingSqs) -> None:
    sent_so_far: set[str] = set()
    for event, job_id in recorder.events:
        if event == "sent":
            sent_so_far.add(job_id)
        else:
            assert job_id in sent_so_far, f"{job_id} deleted from the DLQ before its send"


# --- dlq list -----------------------------------------------------------------------------


def test_list_counts_and_samples_without_consuming_or_printing_text(stack: Stack) -> None:
    failed = stack.dead_letter("high")
    queued = stack.dead_letter("low", tenant=None)
    expired = stack.dead_letter("normal")
    stack.job(failed, "failed", error="provider_unavailable")
    stack.job(queued, "queued", last_error="provider_rate_limited")
    stack.sqs.send_message(QueueUrl=stack.resources.dlq_url, MessageBody=f"raw {SECRET}")

    text = admin("dlq", "list")
    as_json = admin("dlq", "list", "--json")

    for result in (text, as_json):
        assert result.exit_code == 0, shown(result)
        assert SECRET not in shown(result)
        assert "hunter2" not in shown(result)
    assert "4 messages (4 visible, 0 in flight, 0 delayed)" in text.stdout
    for job_id in (failed, queued, expired):
        assert job_id in text.stdout
    assert "provider_unavailable" in text.stdout
    assert "provider_rate_limited (last)" in text.stdout
    assert "body is not JSON" in text.stdout
    report = json.loads(as_json.stdout)
    assert (report["count"], report["sampled"], report["not_released"]) == (4, 4, 0)
    rows = {row["job_id"]: row for row in report["sample"]}
    assert rows[failed] | {"age_seconds": 0, "sent_at": "", "message_id": ""} == {
        "message_id": "",
        "job_id": failed,
        "task": "extract_user",
        "priority": "high",
        "tenant": "default",
        "dispatch": 2,
        "receive_count": 2,  # the text run received it once before
        "sent_at": "",
        "age_seconds": 0,
        "job_status": "failed",
        "error_code": "provider_unavailable",
        "last_error_code": None,
        "unreadable": None,
    }
    assert rows[queued]["job_status"] == "queued"
    assert rows[expired]["job_status"] == "missing"
    assert rows[None]["unreadable"] == "body is not JSON"
    assert report["oldest_sampled_age_seconds"] >= 0
    # Peeking consumed nothing and left nothing hidden.
    assert stack.depth(stack.resources.dlq_url) == (4, 0, 0)


def test_list_sample_is_bounded_and_an_empty_dlq_is_just_a_count(stack: Stack) -> None:
    empty = admin("dlq", "list")
    for _ in range(12):
        stack.dead_letter()

    sampled = admin("dlq", "list", "--json", "--sample", "3")

    assert empty.exit_code == 0, shown(empty)
    assert empty.stdout.strip() == (
        f"DLQ {PREFIX}-jobs-dlq: 0 messages (0 visible, 0 in flight, 0 delayed)"
    )
    report = json.loads(sampled.stdout)
    assert (report["count"], report["sampled"]) == (12, 3)
    assert stack.depth(stack.resources.dlq_url) == (12, 0, 0)


def test_list_names_a_missing_jobs_table(stack: Stack) -> None:
    stack.dead_letter()
    stack.dynamodb.delete_table(TableName=stack.resources.table_name)

    result = admin("dlq", "list")

    assert result.exit_code == 2
    assert f"the jobs table '{PREFIX}-jobs' does not exist" in result.stderr
    assert stack.depth(stack.resources.dlq_url) == (1, 0, 0)


# --- dlq redrive --------------------------------------------------------------------------


def test_redrive_moves_every_message_to_its_lane_with_its_tenant(
    stack: Stack, recorded: RecordingSqs
) -> None:
    jobs = {
        "high": [stack.dead_letter("high", tenant="key-aaaa")],
        "normal": [stack.dead_letter("normal", tenant="default") for _ in range(12)],
        "low": [stack.dead_letter("low", tenant=None)],
    }
    bodies_before = {job_id_of(m["Body"]): m["Body"] for m in stack.drain(stack.resources.dlq_url)}
    stack.sqs.purge_queue(QueueUrl=stack.resources.dlq_url)
    for body in bodies_before.values():
        tenant = json.loads(body)["tenant"]
        group = {"MessageGroupId": tenant} if tenant else {}
        stack.sqs.send_message(QueueUrl=stack.resources.dlq_url, MessageBody=body, **group)

    result = admin("dlq", "redrive")

    assert result.exit_code == 0, shown(result)
    assert "no StartMessageMoveTask" in result.stdout  # moto: moved by hand
    assert "moved: 14  failed: 0  unreadable: 0  not deleted: 0" in result.stdout
    for lane, url in stack.lanes.items():
        messages = stack.drain(url)
        assert job_ids(messages) == sorted(jobs[lane])
        for message in messages:
            assert message["Body"] == bodies_before[job_id_of(message["Body"])]  # verbatim
            tenant = json.loads(message["Body"])["tenant"]
            assert message.get("Attributes", {}).get("MessageGroupId") == tenant
    assert stack.depth(stack.resources.dlq_url) == (0, 0, 0)
    assert_deleted_only_after_sent(recorded)


def test_redrive_max_moves_only_that_many(stack: Stack, recorded: RecordingSqs) -> None:
    for _ in range(5):
        stack.dead_letter("high")

    result = admin("dlq", "redrive", "--max", "2", "--json")

    assert result.exit_code == 0, shown(result)
    report = json.loads(result.stdout)
    assert (report["method"], report["moved"], report["complete"]) == (
        "receive-send-delete",
        2,
        True,
    )
    assert stack.depth(stack.resources.queue_url_high) == (2, 0, 0)
    assert stack.depth(stack.resources.dlq_url) == (3, 0, 0)  # the rest visible again
    assert recorded.move_task_starts == 0  # --max always moves by hand
    assert_deleted_only_after_sent(recorded)


def test_a_failed_send_leaves_that_message_in_the_dlq(stack: Stack, recorded: RecordingSqs) -> None:
    kept = stack.dead_letter("normal")
    moved = [stack.dead_letter("normal") for _ in range(3)]
    recorded.fail_jobs = {kept}

    result = admin("dlq", "redrive", "--json")

    assert result.exit_code == 1, shown(result)
    report = json.loads(result.stdout)
    assert (report["moved"], report["failed"], report["complete"]) == (3, 1, False)
    assert report["left"][0]["job_id"] == kept
    assert report["left"][0]["reason"] == "send failed (InternalError)"
    assert ("deleted", kept) not in recorded.events
    assert_deleted_only_after_sent(recorded)
    assert job_ids(stack.drain(stack.resources.queue_url)) == sorted(moved)
    assert [job_id_of(m["Body"]) for m in stack.drain(stack.resources.dlq_url)] == [kept]


def test_a_send_call_that_fails_deletes_nothing(stack: Stack, recorded: RecordingSqs) -> None:
    jobs = [stack.dead_letter("low") for _ in range(3)]
    recorded.fail_whole_send = True

    result = admin("dlq", "redrive")

    assert result.exit_code == 1
    assert "moved: 0  failed: 3" in result.stdout
    assert not [event for event in recorded.events if event[0] == "deleted"]
    assert stack.depth(stack.resources.dlq_url) == (3, 0, 0)
    assert job_ids(stack.drain(stack.resources.dlq_url)) == sorted(jobs)


def test_unreadable_bodies_stay_in_the_dlq_and_are_reported(
    stack: Stack, recorded: RecordingSqs
) -> None:
    good = stack.dead_letter("high")
    stack.sqs.send_message(QueueUrl=stack.resources.dlq_url, MessageBody=SECRET)
    wrong_lane = json.dumps({"job_id": str(uuid.uuid4()), "payload": {"text": SECRET}})
    stack.sqs.send_message(QueueUrl=stack.resources.dlq_url, MessageBody=wrong_lane)

    result = admin("dlq", "redrive")

    assert result.exit_code == 1
    assert SECRET not in shown(result)
    assert "moved: 1  failed: 0  unreadable: 2" in result.stdout
    assert "body is not JSON" in result.stdout
    assert "not a valid envelope (task: missing, submitted_at: missing)" in result.stdout
    assert [job_id_of(m["Body"]) for m in stack.drain(stack.resources.queue_url_high)] == [good]
    assert stack.depth(stack.resources.dlq_url) == (2, 0, 0)


def test_redrive_uses_sqs_move_task_where_the_endpoint_has_it(
    stack: Stack, recorded: RecordingSqs
) -> None:
    stack.dead_letter()
    recorded.move_task = {
        "Status": "COMPLETED",
        "ApproximateNumberOfMessagesMoved": 1,
        "ApproximateNumberOfMessagesToMove": 1,
        "SourceArn": stack.resources.dlq_arn,
    }

    result = admin("dlq", "redrive", "--json")

    assert result.exit_code == 0, shown(result)
    report = json.loads(result.stdout)
    assert (report["method"], report["moved"], report["task"]["Status"]) == (
        "message-move-task",
        1,
        "COMPLETED",
    )
    assert "move task COMPLETED: 1/1 moved" in result.stderr
    assert recorded.receives == 0  # SQS moved it, not the CLI


def test_a_failed_move_task_is_finished_by_hand(stack: Stack, recorded: RecordingSqs) -> None:
    jobs = [stack.dead_letter("low") for _ in range(2)]
    recorded.move_task = {
        "Status": "FAILED",
        "FailureReason": "CouldNotDetermineMessageSource",
        "ApproximateNumberOfMessagesMoved": 0,
    }

    result = admin("dlq", "redrive")

    assert result.exit_code == 0, shown(result)
    assert "the move task failed (CouldNotDetermineMessageSource)" in result.stdout
    assert "moved: 2" in result.stdout
    assert job_ids(stack.drain(stack.resources.queue_url_low)) == (sorted(jobs))


def test_rate_is_refused_with_max() -> None:
    result = admin("dlq", "redrive", "--max", "1", "--rate", "5")

    assert result.exit_code == 2
    assert "--rate is for SQS's move task" in result.stderr


def test_follow_move_task_polls_until_done_or_the_wait_ends() -> None:
    answers = iter(["RUNNING", "RUNNING", "COMPLETED"])
    now = [0.0]

    class Sqs:
        def list_message_move_tasks(self, **_: Any) -> Any:
            return {"Results": [{"Status": next(answers)}]}

    def sleep(seconds: float) -> None:
        now[0] += seconds

    seen: list[str] = []
    done = follow_move_task(
        Sqs(),
        "arn",
        wait_seconds=60,
        on_status=lambda t: seen.append(t["Status"]),
        sleep=sleep,
        clock=lambda: now[0],
    )
    assert (done["Status"], seen, now[0]) == ("COMPLETED", ["RUNNING", "RUNNING", "COMPLETED"], 4.0)

    answers = iter(["RUNNING"] * 10)
    now[0] = 0.0
    gave_up = follow_move_task(
        Sqs(), "arn", wait_seconds=3, on_status=lambda _: None, sleep=sleep, clock=lambda: now[0]
    )
    assert (gave_up["Status"], now[0]) == ("RUNNING", 3.0)


@pytest.mark.parametrize(
    "error",
    [
        NotImplementedError("The start_message_move_task action has not been implemented"),
        ClientError({"Error": {"Code": "500", "Message": "<html>"}}, "StartMessageMoveTask"),
        ClientError({"Error": {"Code": "UnsupportedOperation"}}, "StartMessageMoveTask"),
    ],
)
def test_endpoints_without_move_tasks_are_recognised(error: Exception) -> None:
    class Sqs:
        def start_message_move_task(self, **_: Any) -> Any:
            raise error

    with pytest.raises(MoveTaskUnsupportedError):
        start_move_task(Sqs(), "arn", None)


def test_other_move_task_errors_are_not_taken_for_unsupported() -> None:
    class Sqs:
        def start_message_move_task(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied"}}, "StartMessageMoveTask")

    with pytest.raises(ClientError):
        start_move_task(Sqs(), "arn", None)


# --- stats --------------------------------------------------------------------------------


def test_stats_counts_match_the_queues(stack: Stack) -> None:
    for _ in range(2):
        stack.sqs.send_message(QueueUrl=stack.resources.queue_url_high, MessageBody="{}")
    for _ in range(3):
        stack.sqs.send_message(QueueUrl=stack.resources.queue_url, MessageBody="{}")
    stack.sqs.receive_message(
        QueueUrl=stack.resources.queue_url, MaxNumberOfMessages=1, VisibilityTimeout=600
    )
    stack.sqs.send_message(QueueUrl=stack.resources.queue_url_low, MessageBody="{}")
    stack.sqs.send_message(
        QueueUrl=stack.resources.queue_url_low, MessageBody="{}", DelaySeconds=900
    )
    stack.dead_letter()

    as_json = admin("stats", "--json")
    text = admin("stats")

    assert as_json.exit_code == 0, shown(as_json)
    report = json.loads(as_json.stdout)
    counts = {
        row["lane"]: (row["visible"], row["in_flight"], row["delayed"]) for row in report["queues"]
    }
    assert counts == {"high": (2, 0, 0), "normal": (2, 1, 0), "low": (1, 0, 1)}
    assert (report["dlq"]["queue"], report["dlq"]["visible"]) == (f"{PREFIX}-jobs-dlq", 1)
    assert all(row["oldest_age_seconds"] is None for row in report["queues"])  # moto: no data
    assert report["circuits"] == []
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["QUEUE", "LANE", "VISIBLE", "IN", "FLIGHT", "DELAYED", "OLDEST"]
    assert lines[2].split() == [f"{PREFIX}-jobs", "normal", "2", "1", "0", "-"]
    assert lines[4].split() == [f"{PREFIX}-jobs-dlq", "dlq", "1", "0", "0", "-"]
    assert "circuits: none recorded (every model closed)" in text.stdout


def test_stats_shows_each_models_circuit(stack: Stack) -> None:
    far = datetime.now(UTC).timestamp() + 3600
    items = {
        "openai/gpt-4o-mini": {"open_until": far, "cooldown": 60},
        "anthropic/claude-3-haiku": {"paused_until": far, "failures": 2},
        "bedrock/llama": {"open_until": 1.0, "cooldown": 30, "probe_until": far},
        "openai/gpt-4o": {"failures": 3, "window_start": far - 3600},
    }
    for model, numbers in items.items():
        item = {"pk": {"S": f"circuit#{model}"}} | {k: {"N": str(v)} for k, v in numbers.items()}
        stack.dynamodb.put_item(TableName=stack.resources.state_table_name, Item=item)
    stack.dynamodb.put_item(
        TableName=stack.resources.state_table_name, Item={"pk": {"S": "rate#openai/gpt-4o#rpm"}}
    )

    result = admin("stats", "--json")
    text = admin("stats")

    assert result.exit_code == 0, shown(result)
    circuits = {c["model"]: c for c in json.loads(result.stdout)["circuits"]}
    assert {model: c["state"] for model, c in circuits.items()} == {
        "openai/gpt-4o-mini": "open",
        "anthropic/claude-3-haiku": "paused",
        "bedrock/llama": "half-open",
        "openai/gpt-4o": "closed",
    }
    for model in ("openai/gpt-4o-mini", "anthropic/claude-3-haiku", "bedrock/llama"):
        assert 0 < circuits[model]["seconds_left"] <= 3600
    assert circuits["openai/gpt-4o"]["seconds_left"] is None
    assert circuits["openai/gpt-4o"]["failures"] == 3
    rows = {line.split()[0]: line.split() for line in text.stdout.splitlines() if "/" in line}
    assert rows["openai/gpt-4o-mini"][1:2] == ["open"]
    assert rows["openai/gpt-4o"][1:] == ["closed", "-", "3", "-"]


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ({}, ("closed", None)),
        ({"failures": 4, "window_start": 990}, ("closed", None)),
        ({"open_until": 1030, "cooldown": 30}, ("open", 30.0)),
        ({"open_until": 990, "cooldown": 30}, ("half-open", None)),
        ({"open_until": 990, "probe_until": 1012}, ("half-open", 12.0)),
        ({"paused_until": 1045}, ("paused", 45.0)),
        ({"paused_until": 1005, "open_until": 1100}, ("paused", 5.0)),  # as the worker checks
        ({"paused_until": 999}, ("closed", None)),
    ],
)
def test_circuit_state_from_the_breaker_item(
    numbers: dict[str, float], expected: tuple[str, float | None]
) -> None:
    item = {"pk": {"S": "circuit#m"}} | {k: {"N": str(v)} for k, v in numbers.items()}

    circuit = Circuit.from_item(item, now=1000.0)

    assert (circuit.model, circuit.state, circuit.seconds_left) == ("m", *expected)


def test_stats_without_a_state_table_still_shows_the_queues(stack: Stack) -> None:
    stack.dynamodb.delete_table(TableName=stack.resources.state_table_name)

    result = admin("stats")

    assert result.exit_code == 0, shown(result)
    assert f"circuits: no LLM state table '{PREFIX}-llm-state'" in result.stdout


# --- targets and failures -----------------------------------------------------------------


def test_stack_outputs_and_overrides_name_the_resources(stack: Stack, tmp_path: Path) -> None:
    """A deployed stack's names are auto-generated; `pulumi stack output --json` finds them."""
    sqs, dynamodb = stack.sqs, stack.dynamodb
    other = create_stack_resources(sqs=sqs, dynamodb=dynamodb, prefix="jobs-queue-1a2b3c4")
    sqs.send_message(QueueUrl=other.queue_url_low, MessageBody="{}")
    outputs = {
        "api_url": "https://example.invalid",
        "queue_url": other.queue_url,
        "queue_url_high": other.queue_url_high,
        "queue_url_low": other.queue_url_low,
        "dlq_url": other.dlq_url,
        "jobs_table_name": other.table_name,
        "llm_state_table_name": other.state_table_name,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))

    from_outputs = admin("--stack-outputs", str(path), "stats", "--json")
    overridden = admin(
        "--stack-outputs",
        str(path),
        "--queue-url",
        f"low={stack.resources.queue_url_low}",
        "stats",
        "--json",
    )

    assert from_outputs.exit_code == 0, shown(from_outputs)
    queues = {row["lane"]: row for row in json.loads(from_outputs.stdout)["queues"]}
    assert (queues["low"]["queue"], queues["low"]["visible"]) == ("jobs-queue-1a2b3c4-jobs-low", 1)
    low = next(row for row in json.loads(overridden.stdout)["queues"] if row["lane"] == "low")
    assert (low["queue"], low["visible"]) == (f"{PREFIX}-jobs-low", 0)


def test_a_missing_queue_is_exit_2_naming_it(stack: Stack) -> None:
    result = admin("--prefix", "nope", "stats")

    assert result.exit_code == 2
    assert "error: the high lane queue 'nope-jobs-high' does not exist" in result.stderr


def test_bad_target_options_are_usage_errors(stack: Stack, tmp_path: Path) -> None:
    lane = admin("--queue-url", "urgent=https://x", "stats")
    outputs = admin("--stack-outputs", str(tmp_path / "missing.json"), "stats")

    assert (lane.exit_code, outputs.exit_code) == (2, 2)
    assert "--queue-url 'urgent=https://x': expected LANE=URL" in lane.stderr
    assert "--stack-outputs: cannot read" in outputs.stderr


def test_missing_credentials_are_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)

    # An unreachable local endpoint: signing fails first, so nothing is sent anywhere.
    result = admin("--endpoint-url", "http://127.0.0.1:9", "--region", REGION, "stats")

    assert result.exit_code == 2
    assert "error: no AWS credentials found" in result.stderr


def test_without_boto3_the_error_says_what_to_install(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)

    result = admin("stats")

    assert result.exit_code == 2
    assert "pip install 'gen-ai-jobs[admin]'" in result.stderr


def test_the_cli_imports_no_boto3_until_an_admin_command_runs() -> None:
    probe = "import sys, gen_ai_jobs.cli; print(sorted(m for m in sys.modules if 'boto' in m))"
    # A fixed command: this interpreter and a literal script.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


# --- the envelope -------------------------------------------------------------------------


def test_the_envelope_is_read_with_the_queue_contract() -> None:
    message = QueueMessage(
        job_id=str(uuid.uuid4()),
        task="complete",
        payload={"prompt": SECRET},
        submitted_at=datetime.now(UTC),
        priority="low",
        tenant="key-0123456789abcdef",
        dispatch=3,
    )
    read = read_envelope(message.model_dump_json())
    assert read == Envelope(message.job_id, "complete", "low", "key-0123456789abcdef", 3)
    assert SECRET not in repr(read)


def test_invalid_envelopes_are_described_without_their_content() -> None:
    body = json.dumps(
        {"job_id": SECRET, "task": "t", "payload": SECRET, "submitted_at": "x", "extra": 1}
    )

    read = read_envelope(body)

    assert isinstance(read, Unreadable)
    assert read.job_id is None
    assert SECRET not in read.reason
    assert read.reason.startswith("not a valid envelope (job_id: string_pattern_mismatch")
