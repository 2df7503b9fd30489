"""Send job envelopes to the jobs queue."""

from gen_ai_contracts.queue import QueueMessage
from gen_ai_on_aws.services.aws import AwsCallError, SQSClient, describe_aws_error
from gen_ai_on_aws.services.errors import QueueUnavailableError


class QueueService:
    """The jobs queue, as the API sees it: a place to send `QueueMessage`s."""

    def __init__(self, *, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send_message(self, *, message: QueueMessage) -> str:
        """Send one envelope as UTF-8 JSON; return SQS's message id."""
        try:
            response = self._client.send_message(
                QueueUrl=self._queue_url, MessageBody=message.model_dump_json()
            )
        except AwsCallError as exc:
            raise QueueUnavailableError(f"SendMessage failed: {describe_aws_error(exc)}") from exc
        return response["MessageId"]
