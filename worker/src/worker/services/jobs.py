"""Job record transitions in DynamoDB, each a conditional write (docs/contracts.md).

The conditions are the concurrency control: two deliveries of one job can never both hold the
claim, and nothing moves a finished job.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from gen_ai_contracts.jobs import FINAL_STATUSES, item_from_dynamodb
from gen_ai_contracts.jobs import rfc3339_from_epoch as rfc3339
from worker.models.job import Claim, ClaimOutcome, JobRecord, JobRef, JobSpend

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# New, queued, or held by an expired lease; and carried by the newest copy of the job's message
# (a re-send bumps `dispatch`, so a copy the worker has superseded can never run again).
_CLAIMABLE = (
    "(attribute_not_exists(job_id) OR #status = :queued"
    " OR (#status = :running AND #lease_expires_at < :now))"
    " AND (attribute_not_exists(#dispatch) OR #dispatch <= :dispatch)"
)
_HELD_BY_ME = "#status = :running AND #lease_owner = :owner"
_NAMES = {
    "#status": "status",
    "#lease_owner": "lease_owner",
    "#lease_expires_at": "lease_expires_at",
}


def _s(value: str) -> dict[str, Any]:
    return {"S": value}


def _n(value: float) -> dict[str, Any]:
    """A DynamoDB number; floats in plain notation (1.5e-05 -> 0.000015), to 12 places."""
    text = f"{value:.12f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return {"N": text or "0"}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"M": {"code": _s(code), "message": _s(message)}}


class JobStore:
    """Claim, finish and release jobs; ``clock`` is injectable so tests can expire leases."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl_seconds
        self._clock = clock

    def claim(self, job: JobRef, *, lease_expires_at: float) -> Claim:
        """Take the job if it is new, queued, or held by an expired lease, and ``job`` carries
        its newest message (``dispatch``); count the attempt (a crash spends it too)."""
        update, values = _claim_update(job, self._clock(), lease_expires_at, self._ttl)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"job_id": _s(job.job_id)},
                UpdateExpression=update,
                ConditionExpression=_CLAIMABLE,
                ExpressionAttributeNames={**_NAMES, "#task": "task", "#dispatch": "dispatch"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            return _claim_refused(exc, dispatch=job.dispatch)
        record = item_from_dynamodb(response["Attributes"])
        attempts = int(record["attempts"])
        return Claim(ClaimOutcome.CLAIMED, attempts=attempts, record=record, dispatch=job.dispatch)

    def succeed(
        self, job: JobRef, *, result_json: str, spend: JobSpend | None = None
    ) -> JobRecord | None:
        """Store the result and the model that produced it; the stored record, or None when
        this attempt no longer holds the job."""
        extra = {"model": _s(spend.answered_by)} if spend and spend.answered_by else {}
        return self._finish(job, "succeeded", {"result": _s(result_json), **extra}, spend)

    def fail(
        self, job: JobRef, *, code: str, message: str, spend: JobSpend | None = None
    ) -> JobRecord | None:
        """Mark the job failed for good with ``{code, message}``; the stored record or None."""
        return self._finish(job, "failed", {"error": _error(code, message)}, spend)

    def release(
        self,
        job: JobRef,
        *,
        code: str,
        message: str,
        spend: JobSpend | None = None,
        dispatch: int | None = None,
        refund: bool = False,
    ) -> bool:
        """Back to ``queued`` with ``last_error`` after a retryable error, so the next copy can
        start at once. ``dispatch``: the copy just re-sent (older ones become stale); ``refund``
        gives back the attempt the claim counted (a deferral is not an attempt). One write, so
        the job is never queued under an old dispatch or with an attempt it did not spend."""
        fields = {"last_error": _error(code, message)}
        if dispatch is not None:
            fields["dispatch"] = _n(dispatch)
        adds: dict[str, float] = {"attempts": -1} if refund else {}
        return self._finish(job, "queued", fields, spend, returns="NONE", adds=adds) is not None

    def _finish(
        self,
        job: JobRef,
        status: str,
        fields: dict[str, dict[str, Any]],
        spend: JobSpend | None,
        *,
        returns: Literal["ALL_NEW", "NONE"] = "ALL_NEW",
        adds: dict[str, float] | None = None,
    ) -> JobRecord | None:
        """Move a job we hold to ``status`` with ``fields`` set, dropping our lease and adding
        this attempt's tokens and cost, and ``adds``, to the job's totals (ADD: they sum over
        attempts).

        The record as written (``returns="ALL_NEW"``: the caller learns whether the job has a
        webhook to send without another read), ``{}`` with ``"NONE"``, or None when this
        attempt no longer holds the job."""
        names = {**_NAMES, **{f"#f{i}": name for i, name in enumerate(fields)}}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        sets = "".join(f" #f{i} = :f{i}," for i in range(len(fields)))
        update = f"SET{sets} #status = :new_status, updated_at = :stamp"
        update += " REMOVE #lease_owner, #lease_expires_at"
        counters = _counters(spend, adds or {})
        values.update({f":a{i}": _n(amount) for i, amount in enumerate(counters.values())})
        if counters:
            update += " ADD " + ", ".join(f"{name} :a{i}" for i, name in enumerate(counters))
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"job_id": _s(job.job_id)},
                UpdateExpression=update,
                ConditionExpression=_HELD_BY_ME,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **values,
                    ":new_status": _s(status),
                    ":stamp": _s(rfc3339(self._clock())),
                    ":running": _s("running"),
                    ":owner": _s(job.owner),
                },
                ReturnValues=returns,
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return item_from_dynamodb(response.get("Attributes", {}))


def _counters(spend: JobSpend | None, adds: dict[str, float]) -> dict[str, float]:
    """What a finishing write ADDs: ``adds`` plus the attempt's tokens and cost, if it called."""
    counters = dict(adds)
    if spend is not None and spend.calls:
        counters["prompt_tokens"] = spend.usage.prompt_tokens
        counters["completion_tokens"] = spend.usage.completion_tokens
        if spend.cost_usd is not None:
            counters["cost_usd"] = spend.cost_usd
    return counters


def _claim_update(
    job: JobRef, now: float, lease_expires_at: float, ttl_seconds: int
) -> tuple[str, dict[str, Any]]:
    """The claim's UpdateExpression; creation fields only apply when the API's record is gone."""
    values = {
        ":queued": _s("queued"),
        ":running": _s("running"),
        ":now": _n(math.floor(now)),
        ":owner": _s(job.owner),
        ":lease": _n(math.ceil(lease_expires_at)),
        ":stamp": _s(rfc3339(now)),
        ":task": _s(job.task),
        ":expires": _n(math.floor(now) + ttl_seconds),
        ":zero": _n(0),
        ":one": _n(1),
        ":dispatch": _n(job.dispatch),
    }
    update = (
        "SET #status = :running, #lease_owner = :owner, #lease_expires_at = :lease,"
        " #dispatch = :dispatch,"
        " updated_at = :stamp, attempts = if_not_exists(attempts, :zero) + :one,"
        " #task = if_not_exists(#task, :task), created_at = if_not_exists(created_at, :stamp),"
        " expires_at = if_not_exists(expires_at, :expires)"
    )
    if job.request_id is not None:
        values[":request_id"] = _s(job.request_id)
        update += ", request_id = if_not_exists(request_id, :request_id)"
    return update, values


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _claim_refused(exc: ClientError, *, dispatch: int) -> Claim:
    """Why the claim failed: the job finished (ack the duplicate), a newer copy of its message
    exists (ack the stale one), or another attempt holds it (come back later)."""
    if not _is_condition_failure(exc):
        raise exc
    item: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
    status = item.get("status", {}).get("S")
    newest = int(item.get("dispatch", {}).get("N", 0))
    if status in FINAL_STATUSES:
        # The finished record (ALL_OLD): a duplicate may still owe the job's webhook event.
        record = item_from_dynamodb(item)
        return Claim(ClaimOutcome.FINISHED, status=status, record=record, dispatch=newest)
    if newest > dispatch:
        return Claim(ClaimOutcome.STALE, status=status, dispatch=newest)
    lease = item.get("lease_expires_at", {}).get("N")
    return Claim(
        ClaimOutcome.BUSY, status=status, lease_expires_at=float(lease or 0), dispatch=newest
    )
