"""Send JSON messages to an SQS queue: one at a time, or in batches of job envelopes."""

from collections.abc import Sequence

from pydantic import BaseModel

from gen_ai_contracts.queue import QueueMessage
from gen_ai_on_aws.services.aws import AwsCallError, SQSClient, describe_aws_error
from gen_ai_on_aws.services.errors import QueueUnavailableError
from gen_ai_on_aws.services.retries import retry_unfinished

# SendMessageBatch's limits: 10 entries, and 256 KiB for the bodies of one call together.
MAX_MESSAGES_PER_BATCH = 10
MAX_BATCH_BYTES = 262_144


class QueueService:
    """A queue as the API sees it: the jobs queue (`QueueMessage`s) or the callbacks queue
    (`CallbackEvent`s)."""

    def __init__(self, *, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send_message(self, *, message: BaseModel) -> str:
        """Send one message as UTF-8 JSON; return SQS's message id."""
        try:
            response = self._client.send_message(
                QueueUrl=self._queue_url, MessageBody=message.model_dump_json()
            )
        except AwsCallError as exc:
            raise QueueUnavailableError(f"SendMessage failed: {describe_aws_error(exc)}") from exc
        return response["MessageId"]

    def send_message_batch(self, *, messages: Sequence[QueueMessage]) -> set[str]:
        """Send one group of `message_groups` in one SendMessageBatch call (entries failed on
        SQS's side are retried); return the job ids SQS did not accept.

        Raises QueueUnavailableError when the call fails outright: then SQS may or may not
        have accepted them."""
        bodies = {message.job_id: message.model_dump_json() for message in messages}

        def send(pending: Sequence[str]) -> list[str]:
            entries = [{"Id": job_id, "MessageBody": bodies[job_id]} for job_id in pending]
            response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)  # type: ignore[arg-type]
            failed = response.get("Failed", [])
            refused.update(entry["Id"] for entry in failed if entry["SenderFault"])
            return [entry["Id"] for entry in failed if not entry["SenderFault"]]

        refused: set[str] = set()
        try:
            return refused | set(retry_unfinished(send, list(bodies)))
        except AwsCallError as exc:
            raise QueueUnavailableError(
                f"SendMessageBatch failed: {describe_aws_error(exc)}"
            ) from exc


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
