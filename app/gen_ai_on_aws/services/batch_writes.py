"""BatchWriteItem on one table, with its unprocessed requests retried (bounded, jittered)."""

from collections.abc import Sequence
from typing import Any, cast

from gen_ai_on_aws.services.aws import AwsCallError, DynamoDBClient, describe_aws_error
from gen_ai_on_aws.services.errors import StoreUnavailableError
from gen_ai_on_aws.services.retries import retry_unfinished

# DynamoDB's limit for one BatchWriteItem call.
MAX_WRITES_PER_CALL = 25

WriteRequest = dict[str, Any]


def batch_write(
    client: DynamoDBClient, *, table_name: str, requests: Sequence[WriteRequest]
) -> list[WriteRequest]:
    """Apply up to 25 put/delete requests; return those still unprocessed after the retries.

    Raises StoreUnavailableError when a call fails outright (then none may be assumed done)."""
    if len(requests) > MAX_WRITES_PER_CALL:
        raise ValueError(f"at most {MAX_WRITES_PER_CALL} requests per BatchWriteItem")

    def write(pending: Sequence[WriteRequest]) -> list[WriteRequest]:
        response = client.batch_write_item(RequestItems={table_name: cast(Any, list(pending))})
        return [
            dict(request) for request in response.get("UnprocessedItems", {}).get(table_name, [])
        ]

    try:
        return retry_unfinished(write, requests)
    except AwsCallError as exc:
        raise StoreUnavailableError(f"BatchWriteItem failed: {describe_aws_error(exc)}") from exc


def job_id_of(request: WriteRequest) -> str:
    """The job a put or delete request is about."""
    if "PutRequest" in request:
        return str(request["PutRequest"]["Item"]["job_id"]["S"])
    return str(request["DeleteRequest"]["Key"]["job_id"]["S"])
