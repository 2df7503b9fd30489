"""Every job reaches a final state and is charged once: the adversarial paths of issue 17.

Each test starts from a reproduction (a lost response, a failed write on the last receive, a
dead-lettered message) and asserts where the job ends, how many LLM calls it cost, and where
its message is.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from moto.core.models import botocore_stubber

from devstack.lambda_runtime import LambdaContext
from gen_ai_on_aws.services.errors import EnqueueUncertainError, QueueUnavailableError
from gen_ai_on_aws.services.job_submission import NewJob, submit_job
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import JobQueues
from worker.runtime import get_worker
from worker.services.jobs import JobStore
from worker.settler import handler as settle

JASON = "Jason is 25 years old"
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2027-01-15T08:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/gen-ai-on-aws-dev-settler"],
    "detail": {},
}


class SendsThenTimesOut:
    """SQS took the message, but the API's client never saw the answer (read timeout)."""

    def __init__(self, real: Any, before_raising: Any = None) -> None:
        self.real = real
        self.before_raising = before_raising

    def send_message(self, **kwargs: Any) -> Any:
        self.real.send_message(**kwargs)
        if self.before_raising is not None:
            self.before_raising(json.loads(kwargs["MessageBody"])["job_id"])
        raise ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com/")


def _submit(harness: Any, client: Any, jobs: JobsRepository | None = None) -> str:
    resources = harness.resources
    return submit_job(
        jobs=jobs or _repository(harness),
        queues=JobQueues.single(client=client, queue_url=resources.queue_url),
        job=NewJob(task="extract_user", payload={"text": JASON}),
        tenant="default",
        request_id="r1",
        now=datetime.now(UTC),
    )


def _repository(harness: Any) -> JobsRepository:
    return JobsRepository(
        client=harness.dynamodb, table_name=harness.resources.table_name, ttl_seconds=3600
    )


def _settle() -> dict[str, int]:
    return settle(SCHEDULED_EVENT, LambdaContext(timeout_seconds=30))  # type: ignore[arg-type]


def _lose_update_response(client: Any, which: int = 1) -> dict[str, int]:
    """DynamoDB applies UpdateItem number ``which`` but its response is lost; botocore re-sends
    it."""
    seen = {"calls": 0}

    def lose(request: Any, **kwargs: Any) -> Any:
        seen["calls"] += 1
        if seen["calls"] == which:
            botocore_stubber(request=request, event_name=kwargs.get("event_name", ""))
            raise ReadTimeoutError(endpoint_url=request.url)
        return None

    client.meta.events.register_first("before-send.dynamodb.UpdateItem", lose)
    return seen


def _unavailable(*_: Any, **__: Any) -> Any:
    error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
    raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]


# --- A: an enqueue the API could not confirm --------------------------------------------------


def test_a_send_sqs_took_but_never_confirmed_is_503_and_its_message_never_runs(
    harness: Any,
) -> None:
    # GIVEN SQS takes the message but the API's client times out reading the answer
    with pytest.raises(QueueUnavailableError):  # -> 503 "no job was created"
        _submit(harness, SendsThenTimesOut(harness.sqs))
    message = harness.receive_one()
    job_id = json.loads(message["Body"])["job_id"]

    # WHEN the worker receives that message
    response = harness.invoke(harness.record(message))

    # THEN it is acknowledged without an LLM call: the job stays ended as `not_queued`
    assert response == {"batchItemFailures": []}
    assert harness.calls() == 0
    stored = harness.job(job_id)
    assert (stored["status"], stored["error"]["code"]) == ("failed", "not_queued")
    # AND the client's retry is the one job that runs and is charged
    retry_id = _submit(harness, harness.sqs)
    harness.invoke(harness.record(harness.receive_one()))
    assert harness.job(retry_id)["status"] == "succeeded"
    assert harness.calls() == 1


def test_an_unconfirmed_send_a_worker_already_claimed_is_accepted(harness: Any) -> None:
    # GIVEN a worker claims the job before the API's send times out
    def claimed(job_id: str) -> None:
        harness.dynamodb.update_item(
            TableName=harness.resources.table_name,
            Key={"job_id": {"S": job_id}},
            UpdateExpression="SET #s = :running",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":running": {"S": "running"}},
        )

    # THEN the API answers with the job (202): it exists and runs
    job_id = _submit(harness, SendsThenTimesOut(harness.sqs, before_raising=claimed))
    assert harness.job(job_id)["status"] == "running"


def test_an_unconfirmed_send_whose_record_cannot_be_ended_names_the_job(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN SQS times out and then DynamoDB fails the write that would end the job
    def store_down(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")

    repository = _repository(harness)
    monkeypatch.setattr(repository._client, "update_item", store_down)  # type: ignore[attr-defined]

    # THEN the client is told the job may run, with its id to look it up before retrying
    with pytest.raises(EnqueueUncertainError) as raised:
        _submit(harness, SendsThenTimesOut(harness.sqs), jobs=repository)
    assert harness.job(raised.value.job_id)["status"] == "queued"


# --- C: a claim whose response was lost -------------------------------------------------------


@pytest.mark.parametrize("receives", [1, 5])
def test_a_claim_re_sent_after_a_lost_response_is_ours(harness: Any, receives: int) -> None:
    # GIVEN the claim's UpdateItem is applied but its response lost, so botocore re-sends it
    job = harness.submit(receives=receives)
    seen = _lose_update_response(get_worker().jobs._client)  # type: ignore[attr-defined]

    response = harness.invoke(job.record)

    # THEN the re-sent claim finds our own lease and the job runs once, on any receive
    assert seen["calls"] >= 2
    assert response == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["attempts"]) == ("succeeded", 1)
    assert harness.calls() == 1


def test_a_finishing_write_re_sent_after_a_lost_response_still_finishes_the_job(
    callbacks: Any,
) -> None:
    # GIVEN the write storing the result is applied but its answer lost (the claim is call 1)
    job = callbacks.submit_with_callback("https://hooks.example.com/jobs")
    _lose_update_response(get_worker().jobs._client, which=2)  # type: ignore[attr-defined]

    response = callbacks.invoke(job.record)
    job_id = job.job_id

    # THEN the refused re-send is recognised as our own write: acked, and the webhook is queued
    assert response == {"batchItemFailures": []}
    assert callbacks.job(job_id)["status"] == "succeeded"
    assert [event["type"] for event in callbacks.events()] == ["job.succeeded"]
    assert callbacks.calls() == 1


# --- D: a message that dead-letters with its job open -----------------------------------------


def test_a_claim_failing_on_the_last_receive_is_settled_from_the_dlq(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the claim fails on the message's last receive, so SQS dead-letters it
    with monkeypatch.context() as patched:
        patched.setattr(JobStore, "claim", _unavailable)
        job = harness.submit(receives=5)
        response = harness.invoke(job.record)
    assert harness.failed_ids(response) == {job.record["messageId"]}
    harness.make_visible(job.record["receiptHandle"])
    assert harness.receive() == []  # moved to the DLQ by its redrive policy
    assert harness.job(job.job_id)["status"] == "queued"

    # WHEN the settler runs
    report = _settle()

    # THEN the job is failed with the reason, and its message stays in the DLQ, visible
    assert report["settled"] == 1
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["error"]["code"]) == ("failed", "retries_exhausted")
    assert "dead-letter queue" in stored["error"]["message"]
    [dead] = harness.receive(harness.resources.dlq_url)
    assert json.loads(dead["Body"])["job_id"] == job.job_id
    # AND a second run changes nothing
    harness.make_visible(dead["ReceiptHandle"], harness.resources.dlq_url)
    assert _settle() == {"received": 1, "final": 1}


def test_a_redriven_dead_letter_runs_its_settled_job_again_with_a_fresh_budget(
    harness: Any,
) -> None:
    # GIVEN a job settled from the DLQ after an attempt that crashed (the lease ran out)
    job = harness.submit(receives=5)
    harness.put_job(job.job_id, status="running", attempts={"N": "5"}, dispatch={"N": "0"})
    harness.make_visible(job.record["receiptHandle"])
    assert harness.receive() == []
    assert _settle()["settled"] == 1

    # WHEN an operator redrives the message to the queue
    [dead] = harness.receive(harness.resources.dlq_url)
    harness.sqs.send_message(QueueUrl=harness.resources.queue_url, MessageBody=dead["Body"])
    harness.sqs.delete_message(
        QueueUrl=harness.resources.dlq_url, ReceiptHandle=dead["ReceiptHandle"]
    )
    response = harness.invoke(harness.record(harness.receive_one()))

    # THEN the job runs again (redrive is a deliberate retry) and succeeds
    assert response == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert stored["status"] == "succeeded"
    assert "error" not in stored
    assert "dead_lettered" not in stored
    assert (stored["attempts"], stored["attempts_base"]) == (6, 5)
    assert harness.calls() == 1


def test_a_live_lease_is_left_to_its_holder_and_a_newer_copy_to_its_run(harness: Any) -> None:
    # GIVEN dead letters of a job a live attempt holds, and of a job re-sent since
    held = harness.submit()
    lease = {"N": str(int(datetime.now(UTC).timestamp()) + 300)}
    harness.put_job(held.job_id, status="running", lease_expires_at=lease, lease_owner={"S": "x"})
    moved = harness.submit()
    harness.put_job(moved.job_id, status="queued", dispatch={"N": "2"})
    for body in (held.body, moved.body, "{not json"):
        harness.sqs.send_message(QueueUrl=harness.resources.dlq_url, MessageBody=body)

    # THEN the settler leaves both jobs as they are
    assert _settle() == {"received": 3, "live": 1, "superseded": 1, "unreadable": 1}
    assert harness.job(held.job_id)["status"] == "running"
    assert harness.job(moved.job_id)["status"] == "queued"
    assert len(harness.receive(harness.resources.dlq_url)) == 3  # all still there, visible


# --- E: a release that failed ----------------------------------------------------------------


def test_after_a_failed_release_the_redelivery_waits_for_the_lease_not_the_backoff(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a provider 500 whose re-send SQS refuses and whose release DynamoDB refuses
    visibility: list[int] = []
    real_change = get_worker().sqs.change_message_visibility

    def record_visibility(**kwargs: Any) -> Any:
        visibility.append(kwargs["VisibilityTimeout"])
        return real_change(**kwargs)

    def refuse_send(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")

    monkeypatch.setattr(get_worker().sqs, "change_message_visibility", record_visibility)
    monkeypatch.setattr(get_worker().sqs, "send_message", refuse_send)
    monkeypatch.setattr(JobStore, "release", _unavailable)
    monkeypatch.setenv("WORKER_RETRY_BASE_SECONDS", "1")
    job = harness.submit(f"{JASON} !500x1")

    response = harness.invoke(job.record, timeout_seconds=120)

    # THEN the message comes back when our lease has ended (about the invocation's 120 s),
    # not after the 1 s back-off, so it cannot find the job BUSY with a dead attempt's lease
    assert harness.failed_ids(response) == {job.record["messageId"]}
    assert visibility
    assert visibility[-1] >= 100


def test_a_settled_job_announces_its_failure_and_its_redrive_announces_the_new_end(
    callbacks: Any,
) -> None:
    # GIVEN a job with a webhook whose message dead-lettered while it was queued
    job = callbacks.submit_with_callback("https://hooks.example.com/jobs")
    callbacks.sqs.send_message(QueueUrl=callbacks.resources.dlq_url, MessageBody=job.body)
    callbacks.sqs.delete_message(
        QueueUrl=callbacks.resources.queue_url, ReceiptHandle=job.record["receiptHandle"]
    )

    # WHEN the settler runs, THEN the client hears that the job failed
    assert _settle()["settled"] == 1
    assert [event["type"] for event in callbacks.events()] == ["job.failed"]
    callbacks.deliver_events(callbacks.event_record())  # delivered (or given up): not pending

    # WHEN the message is redriven, THEN the job runs again and its new end is announced too
    [dead] = callbacks.receive(callbacks.resources.dlq_url)
    callbacks.sqs.send_message(QueueUrl=callbacks.resources.queue_url, MessageBody=dead["Body"])
    assert callbacks.invoke(callbacks.record(callbacks.receive_one())) == {"batchItemFailures": []}
    assert callbacks.job(job.job_id)["status"] == "succeeded"
    assert "job.succeeded" in [event["type"] for event in callbacks.events()]
