"""boto3 clients for both handlers of this package, each call bounded."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

# Every AWS call is bounded: short timeouts and a few standard-mode retries (with jitter and
# throttling back-off); what still fails is retried by SQS.
AWS_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},  # 1 call + 2 retries
    max_pool_connections=50,
)


def dynamodb_client(region: str | None) -> DynamoDBClient:
    return boto3.client("dynamodb", region_name=region, config=AWS_CLIENT_CONFIG)


def sqs_client(region: str | None) -> SQSClient:
    return boto3.client("sqs", region_name=region, config=AWS_CLIENT_CONFIG)
