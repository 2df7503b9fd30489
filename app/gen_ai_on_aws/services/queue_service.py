"""Send JSON messages to an SQS queue: one at a time, or in batches of job envelopes; and the
jobs queue of each priority lane.

Job messages carry the tenant as `MessageGroupId`. On a standard queue that turns on SQS fair
queues: when one tenant's backlog grows, SQS delivers the other tenants' messages first, so
their dwell time stays low. Order within a group is not guaranteed (it is not a FIFO queue).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from gen_ai_contracts.queue import PRIORITIES, Priority, QueueMessage
from gen_ai_on_aws.services.aws import (
    AwsCallError,
    SQSClient,
    describe_aws_error,
    may_have_been_applied,
)
from gen_ai_on_aws.services.errors import (
    MessageRejectedError,
    QueueUnavailableError,
    ServiceError,
)
from gen_ai_on_aws.services.retries import retry_unfinished

# SendMessageBatch's limits: 10 entries, and 256 KiB for the bodies of one call together.
MAX_MESSAGES_PER_BATCH = 10
MAX_BATCH_BYTES = 262_144
# SQS's answers that mean "this body can never be sent", not "try again".
_REJECTED_BODY = frozenset({"InvalidMessageContents", "InvalidParameterValue"})


class QueueService:
    """A queue as the API sees it: the jobs queue (`QueueMessage`s) or the callbacks queue
    (`CallbackEvent`s)."""

    def __init__(self, *, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send_message(self, *, message: BaseModel, group_id: str | None = None) -> str:
        """Send one message as UTF-8 JSON (with `group_id` as its MessageGroupId, if given);
        return SQS's message id."""
        group: dict[str, Any] = {} if group_id is None else {"MessageGroupId": group_id}
        try:
            response = self._client.send_message(
                QueueUrl=self._queue_url, MessageBody=message.model_dump_json(), **group
            )
        except AwsCallError as exc:
            reason = describe_aws_error(exc)
            if reason in _REJECTED_BODY:
                raise MessageRejectedError(f"SendMessage refused the body: {reason}") from exc
            raise QueueUnavailableError(
                f"SendMessage failed: {reason}", maybe_sent=may_have_been_applied(exc)
            ) from exc
        return response["MessageId"]

    def send_message_batch(self, *, messages: Sequence[QueueMessage]) -> dict[str, ServiceError]:
        """Send one group of `message_groups` in one SendMessageBatch call (entries failed on
        SQS's side are retried), each with its tenant as MessageGroupId; return the job ids SQS
        did not accept, each with why (refused as sent, or still failing after retries).

        Raises QueueUnavailableError when the call fails outright: then SQS may or may not
        have accepted them."""
        entries_by_id = {message.job_id: _batch_entry(message) for message in messages}

        def send(pending: Sequence[str]) -> list[str]:
            entries = [entries_by_id[job_id] for job_id in pending]
            response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)  # type: ignore[arg-type]
            failed = response.get("Failed", [])
            for entry in failed:
                if entry["SenderFault"]:
                    refused[entry["Id"]] = MessageRejectedError(f"refused: {entry['Code']}")
            return [entry["Id"] for entry in failed if not entry["SenderFault"]]

        refused: dict[str, ServiceError] = {}
        try:
            unsent = retry_unfinished(send, list(entries_by_id))
            return refused | dict.fromkeys(unsent, QueueUnavailableError("message not accepted"))
        except AwsCallError as exc:
            raise QueueUnavailableError(
                f"SendMessageBatch failed: {describe_aws_error(exc)}",
                maybe_sent=may_have_been_applied(exc),
            ) from exc


class JobQueues:
    """The jobs queue of each priority lane (`SharedSettings.queue_url_for`: a lane without
    its own URL shares the normal lane's queue)."""

    def __init__(self, *, client: SQSClient, lane_urls: Mapping[Priority, str]) -> None:
        missing = [priority for priority in PRIORITIES if not lane_urls.get(priority)]
        if missing:
            raise ValueError(f"no queue URL for the lanes {missing}")
        self._lanes = {
            priority: QueueService(client=client, queue_url=lane_urls[priority])
            for priority in PRIORITIES
        }

    @classmethod
    def single(cls, *, client: SQSClient, queue_url: str) -> "JobQueues":
        """Every lane on one queue (a stack without lanes)."""
        return cls(client=client, lane_urls=dict.fromkeys(PRIORITIES, queue_url))

    def lane(self, priority: Priority) -> QueueService:
        return self._lanes[priority]


def _batch_entry(message: QueueMessage) -> dict[str, str]:
    entry = {"Id": message.job_id, "MessageBody": message.model_dump_json()}
    if message.tenant is not None:
        entry["MessageGroupId"] = message.tenant
    return entry


def message_groups(messages: Sequence[QueueMessage]) -> list[list[QueueMessage]]:
    """`messages` in order, cut into groups SendMessageBatch takes: at most 10 messages and
    256 KiB of bodies each (one maximal `complete` input is about 150 KB as UTF-8 JSON)."""
    groups: list[list[QueueMessage]] = []
    size = 0
    for message in messages:
        body_bytes = len(message.model_dump_json().encode())
        if (
            not groups
            or len(groups[-1]) == MAX_MESSAGES_PER_BATCH
            or size + body_bytes > MAX_BATCH_BYTES
        ):
            groups.append([])
            size = 0
        groups[-1].append(message)
        size += body_bytes
    return groups
