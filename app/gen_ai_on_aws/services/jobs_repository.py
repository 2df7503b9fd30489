"""Read and write job records in the jobs table (schema: docs/contracts.md)."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from gen_ai_contracts.api_keys import DEFAULT_TENANT
from gen_ai_contracts.jobs import JobPublic, item_from_dynamodb, job_public, rfc3339
from gen_ai_on_aws.services.aws import AwsCallError, DynamoDBClient, describe_aws_error
from gen_ai_on_aws.services.batch_writes import batch_write, job_id_of
from gen_ai_on_aws.services.errors import (
    JobNotCancellableError,
    JobNotFoundError,
    StoreUnavailableError,
)
from gen_ai_on_aws.services.job_records import QueuedJob, queued_item

_T = TypeVar("_T")


@dataclass(frozen=True)
class CancelledJob:
    """A job the API just cancelled, and where its webhook goes (None: no callback)."""

    job: JobPublic
    callback_url: str | None


class JobsRepository:
    """The API's operations on job records; the worker owns every transition but `cancelled`."""

    def __init__(self, *, client: DynamoDBClient, table_name: str, ttl_seconds: int) -> None:
        self._client = client
        self._table_name = table_name
        self._ttl_seconds = ttl_seconds

    def put_queued_job(self, *, job: QueuedJob, request_id: str | None, now: datetime) -> None:
        """Create the record as `queued`, expiring `JOB_TTL_SECONDS` from now."""
        item = queued_item(job, request_id=request_id, now=now, ttl_seconds=self._ttl_seconds)
        # Conditional so a (practically impossible) id collision can never overwrite a job.
        self._call(
            "PutItem",
            lambda: self._client.put_item(
                TableName=self._table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(job_id)",
            ),
        )

    def put_queued_jobs(
        self, *, jobs: Sequence[QueuedJob], request_id: str | None, now: datetime
    ) -> set[str]:
        """Create up to 25 `queued` records in one BatchWriteItem; return the ids left unwritten.

        Unconditional (BatchWriteItem has no conditions): the ids are fresh UUID4s."""
        requests = [
            {
                "PutRequest": {
                    "Item": queued_item(
                        job, request_id=request_id, now=now, ttl_seconds=self._ttl_seconds
                    )
                }
            }
            for job in jobs
        ]
        unwritten = batch_write(self._client, table_name=self._table_name, requests=requests)
        return {job_id_of(request) for request in unwritten}

    def delete_unqueued_jobs(self, *, job_ids: Sequence[str]) -> set[str]:
        """Remove up to 25 records whose messages SQS refused (so no worker can hold them);
        return the ids still there."""
        requests = [{"DeleteRequest": {"Key": {"job_id": {"S": job_id}}}} for job_id in job_ids]
        left = batch_write(self._client, table_name=self._table_name, requests=requests)
        return {job_id_of(request) for request in left}

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

    def end_unqueued_job(self, *, job_id: str, now: datetime) -> bool:
        """End a job whose message SQS may or may not have taken: `failed` with `not_queued`,
        if it is still `queued`. A worker that receives the message after all finds the job
        finished and does not run it, so a client told "no job was created" that submits again
        is charged once. False when a worker already claimed it (the message was queued).

        Raises StoreUnavailableError when the write failed: then nobody knows."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key={"job_id": {"S": job_id}},
                # No webhook either: the client was told the job does not exist.
                UpdateExpression="SET #status = :failed, #error = :error, updated_at = :now"
                " REMOVE callback_url, callback",
                ConditionExpression="#status = :queued",
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues={
                    ":failed": {"S": "failed"},
                    ":queued": {"S": "queued"},
                    ":now": {"S": rfc3339(now)},
                    ":error": {"M": {"code": {"S": "not_queued"}, "message": {"S": _NOT_QUEUED}}},
                },
            )
        except ClientError as exc:
            if describe_aws_error(exc) == "ConditionalCheckFailedException":
                return False
            raise StoreUnavailableError(f"UpdateItem failed: {describe_aws_error(exc)}") from exc
        except AwsCallError as exc:
            raise StoreUnavailableError(f"UpdateItem failed: {describe_aws_error(exc)}") from exc
        return True

    def get_job(self, *, job_id: str, tenant: str, now: datetime) -> JobPublic | None:
        """The job, or None when unknown, another tenant's, or past its TTL (DynamoDB deletes
        up to 48 h late): the same None, so no caller learns that another tenant's job exists."""
        response = self._call(
            "GetItem",
            # Strongly consistent: a client polling right after its 202 must find the job.
            lambda: self._client.get_item(
                TableName=self._table_name, Key={"job_id": {"S": job_id}}, ConsistentRead=True
            ),
        )
        raw_item = response.get("Item")
        if raw_item is None or _hidden(item := item_from_dynamodb(raw_item), tenant, now):
            return None
        return job_public(item)

    def cancel_queued_job(self, *, job_id: str, tenant: str, now: datetime) -> CancelledJob:
        """Move ``tenant``'s `queued` job to `cancelled`. Conditional, like the worker's claim
        (which needs `queued` too), so exactly one of them wins; raise JobNotFoundError (also
        for another tenant's job) or JobNotCancellableError(status) when it is not queued."""
        try:
            response = self._client.update_item(
                TableName=self._table_name,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET #status = :cancelled, updated_at = :now",
                ConditionExpression="#status = :queued AND "
                "(attribute_not_exists(expires_at) OR expires_at > :epoch) AND "
                + _OWNED_BY[tenant == DEFAULT_TENANT],
                ExpressionAttributeNames={"#status": "status", "#tenant": "tenant"},
                ExpressionAttributeValues={
                    ":cancelled": {"S": "cancelled"},
                    ":queued": {"S": "queued"},
                    ":now": {"S": rfc3339(now)},
                    ":epoch": {"N": str(int(now.timestamp()))},
                    ":tenant": {"S": tenant},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if describe_aws_error(exc) != "ConditionalCheckFailedException":
                raise StoreUnavailableError(
                    f"UpdateItem failed: {describe_aws_error(exc)}"
                ) from exc
            item = exc.response.get("Item")
            raise _not_cancellable(item, tenant, now) from None  # type: ignore[arg-type]
        except AwsCallError as exc:
            raise StoreUnavailableError(f"UpdateItem failed: {describe_aws_error(exc)}") from exc
        item = item_from_dynamodb(response["Attributes"])
        return CancelledJob(job=job_public(item), callback_url=item.get("callback_url"))

    def _call(self, operation: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except AwsCallError as exc:
            raise StoreUnavailableError(f"{operation} failed: {describe_aws_error(exc)}") from exc


_NOT_QUEUED = (
    "the job queue did not confirm this job's message; the request was answered 503 and the"
    " job never runs"
)


# The record belongs to the caller's tenant; records written before tenants had names have
# none and belong to `default` (index: whether the caller is `default`).
_OWNED_BY = ("#tenant = :tenant", "(#tenant = :tenant OR attribute_not_exists(#tenant))")


def _hidden(item: Mapping[str, Any], tenant: str, now: datetime) -> bool:
    """Not the caller's to see: another tenant's job, or past its TTL."""
    expires_at = item.get("expires_at")
    expired = expires_at is not None and int(expires_at) <= now.timestamp()
    return expired or item.get("tenant", DEFAULT_TENANT) != tenant


def _not_cancellable(raw_item: Mapping[str, Any] | None, tenant: str, now: datetime) -> Exception:
    """Why the cancel's condition failed, from the record as it was (ALL_OLD)."""
    if raw_item is None or _hidden(item := item_from_dynamodb(raw_item), tenant, now):
        return JobNotFoundError()
    return JobNotCancellableError(str(item["status"]))
