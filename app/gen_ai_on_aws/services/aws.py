"""boto3 clients with explicit timeouts and bounded retries, created once per process."""

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient as DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient as SecretsManagerClient
    from mypy_boto3_sqs import SQSClient as SQSClient
else:  # the stubs are a dev dependency; the Lambda package does not ship them
    DynamoDBClient = SecretsManagerClient = SQSClient = Any

# An API request must answer well inside API Gateway's 29 s: fail fast and let the client retry.
AWS_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},  # 1 call + 2 retries
)

AwsCallError = (BotoCoreError, ClientError)


@lru_cache(maxsize=4)
def create_sqs_client(region_name: str | None) -> SQSClient:
    """One SQS client per region; AWS_ENDPOINT_URL (moto, devstack) is honoured by botocore."""
    return boto3.client("sqs", region_name=region_name, config=AWS_CLIENT_CONFIG)


@lru_cache(maxsize=4)
def create_dynamodb_client(region_name: str | None) -> DynamoDBClient:
    """One DynamoDB client per region, configured like the SQS one."""
    return boto3.client("dynamodb", region_name=region_name, config=AWS_CLIENT_CONFIG)


@lru_cache(maxsize=4)
def create_secrets_client(region_name: str | None) -> SecretsManagerClient:
    """One Secrets Manager client per region (the API keys' re-reads, `api.keyring`)."""
    return boto3.client("secretsmanager", region_name=region_name, config=AWS_CLIENT_CONFIG)


# Error codes that say the service failed while handling the call: it may have been applied.
_TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "InternalError", "InternalFailure", "ServiceUnavailable", "Throttling"}
)


def may_have_been_applied(exc: Exception) -> bool:
    """False only when AWS answered that it refused the call (a 4xx, not a transient code).
    A timeout, a dropped connection or a 5xx may hide a call that was applied, and so may any
    error after botocore's retries (an earlier attempt may have timed out after applying)."""
    if not isinstance(exc, ClientError):
        return True
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400
    return status >= 500 or describe_aws_error(exc) in _TRANSIENT_CODES


def describe_aws_error(exc: Exception) -> str:
    """The AWS error code (or exception name) only: enough to act on, never request data."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
