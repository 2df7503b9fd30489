"""What Lambda hands a handler: the SQS event shape and a context with a real deadline."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LambdaContext:
    """The subset of ``awslambdaric``'s context the handlers use; the deadline really moves."""

    function_name: str = "gen-ai-on-aws-worker"
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/gen-ai-on-aws-worker"
    log_stream_name: str = "devstack"
    invoked_function_arn: str = ""
    client_context: Any = None
    identity: Any = None
    _deadline: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        if not self.invoked_function_arn:
            arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
            self.invoked_function_arn = arn

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record as Lambda's SQS event source mapping builds it from a ReceiveMessage result."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute -> Lambda event attribute (camelCase keys, list fields present)."""
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": value.get("BinaryValue"),
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value["DataType"],
    }
