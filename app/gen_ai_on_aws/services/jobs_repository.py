"""Read and write job records in the jobs table (schema: docs/contracts.md)."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from gen_ai_contracts.jobs import JobPublic, item_from_dynamodb, job_public, rfc3339
from gen_ai_on_aws.services.aws import AwsCallError, DynamoDBClient, describe_aws_error
from gen_ai_on_aws.services.errors import StoreUnavailableError

_T = TypeVar("_T")


class JobsRepository:
    """The API's three operations on job records; the worker owns every later transition."""

    def __init__(self, *, client: DynamoDBClient, table_name: str, ttl_seconds: int) -> None:
        self._client = client
        self._table_name = table_name
        self._ttl_seconds = ttl_seconds

    def put_queued_job(
        self, *, job_id: str, task: str, request_id: str | None, now: datetime
    ) -> None:
        """Create the record as `queued`, expiring `JOB_TTL_SECONDS` from now."""
        timestamp = rfc3339(now)
        item: dict[str, Any] = {
            "job_id": {"S": job_id},
            "status": {"S": "queued"},
            "task": {"S": task},
            "created_at": {"S": timestamp},
            "updated_at": {"S": timestamp},
            "attempts": {"N": "0"},
            "expires_at": {"N": str(int(now.timestamp()) + self._ttl_seconds)},
        }
        if request_id is not None:
            item["request_id"] = {"S": request_id}
        # Conditional so a (practically impossible) id collision can never overwrite a job.
        self._call(
            "PutItem",
            lambda: self._client.put_item(
                TableName=self._table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(job_id)",
            ),
        )

    def delete_queued_job(self, *, job_id: str) -> None:
        """Remove a job whose message never reached the queue; a claimed job is left alone."""
        try:
            self._client.delete_item(
                TableName=self._table_name,
                Key={"job_id": {"S": job_id}},
                ConditionExpression="#status = :queued",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":queued": {"S": "queued"}},
            )
        except ClientError as exc:
            if describe_aws_error(exc) != "ConditionalCheckFailedException":
                raise StoreUnavailableError(
                    f"DeleteItem failed: {describe_aws_error(exc)}"
                ) from exc
        except AwsCallError as exc:
            raise StoreUnavailableError(f"DeleteItem failed: {describe_aws_error(exc)}") from exc

    def get_job(self, *, job_id: str, now: datetime) -> JobPublic | None:
        """The job, or None when unknown or past its TTL (DynamoDB deletes up to 48 h late)."""
        response = self._call(
            "GetItem",
            # Strongly consistent: a client polling right after its 202 must find the job.
            lambda: self._client.get_item(
                TableName=self._table_name, Key={"job_id": {"S": job_id}}, ConsistentRead=True
            ),
        )
        raw_item = response.get("Item")
        if raw_item is None:
            return None
        item = item_from_dynamodb(raw_item)
        expires_at = item.get("expires_at")
        if expires_at is not None and int(expires_at) <= now.timestamp():
            return None
        return job_public(item)

    def _call(self, operation: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except AwsCallError as exc:
            raise StoreUnavailableError(f"{operation} failed: {describe_aws_error(exc)}") from exc
