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
from worker.models.job import (
    Claim,
    ClaimOutcome,
    JobRecord,
    JobRef,
    JobSpend,
    Settled,
    SettleOutcome,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# A record the API created (the worker never creates one: a message for an absent record is a
# job nobody was told about), that is queued, held by an expired lease, or held by an attempt
# that already re-sent the job (its copy is older than ours); and carried by the newest copy of
# the job's message (a re-send bumps `dispatch`, so a superseded copy can never run again).
_NEWEST_COPY = "(attribute_not_exists(#dispatch) OR #dispatch <= :dispatch)"
_CLAIMABLE = (
    "attribute_exists(job_id)"
    " AND (#status = :queued"
    " OR (#status = :running AND (#lease_expires_at < :now OR #dispatch < :dispatch)))"
    f" AND {_NEWEST_COPY}"
)
# A job failed because its message was dead-lettered, claimed by that message redriven: a
# redrive is a deliberate retry (separate write: its webhook state starts over too).
_REDRIVABLE = f"#status = :failed AND dead_lettered = :true AND {_NEWEST_COPY}"
_CLAIMABLE_ONLY = frozenset({":queued", ":now"})  # values _REDRIVABLE does not use
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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def claim(self, job: JobRef, *, lease_expires_at: float) -> Claim:
        """Take the job if it is queued, held by an expired lease or an attempt that re-sent it,
        or dead-lettered, and ``job`` carries its newest message (``dispatch``); count the
        attempt (a crash spends it too). A claim whose response was lost and that botocore
        re-sent finds our own lease: that is our claim, not another holder's."""
        update, values = _claim_update(job, self._clock(), lease_expires_at)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"job_id": _s(job.job_id)},
                UpdateExpression=update,
                ConditionExpression=_CLAIMABLE,
                ExpressionAttributeNames={**_NAMES, "#dispatch": "dispatch"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            refused = _claim_refused(exc, job)
            if refused.outcome is ClaimOutcome.FINISHED and _redriven(refused, job):
                return self._claim_redriven(job, update, values, refused.record or {})
            return refused
        return _claimed(response["Attributes"], job.dispatch)

    def _claim_redriven(
        self, job: JobRef, update: str, values: dict[str, Any], record: JobRecord
    ) -> Claim:
        """Run a dead-lettered job again from its redriven message: its error goes, a fresh
        budget starts (``attempts_base``), and a webhook it has will announce the new end."""
        update += " REMOVE dead_lettered, #error"
        if record.get("callback_url"):
            update = update.replace("SET ", "SET callback = :pending_callback, ", 1)
            values = {**values, ":pending_callback": _PENDING_CALLBACK}
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"job_id": _s(job.job_id)},
                UpdateExpression=update,
                ConditionExpression=_REDRIVABLE,
                ExpressionAttributeNames={**_NAMES, "#dispatch": "dispatch", "#error": "error"},
                ExpressionAttributeValues={
                    **{k: v for k, v in values.items() if k not in _CLAIMABLE_ONLY},
                    ":failed": _s("failed"),
                    ":true": {"BOOL": True},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            return _claim_refused(exc, job)  # another copy won the race: finished or busy now
        return _claimed(response["Attributes"], job.dispatch)

    def succeed(
        self, job: JobRef, *, result_json: str, spend: JobSpend | None = None
    ) -> JobRecord | None:
        """Store the result and the model that produced it; the stored record, or None when
        this attempt no longer holds the job."""
        extra = {"model": _s(spend.answered_by)} if spend and spend.answered_by else {}
        return self._finish(job, "succeeded", {"result": _s(result_json), **extra}, spend)

    def fail(
        self,
        job: JobRef,
        *,
        code: str,
        message: str,
        spend: JobSpend | None = None,
        dead_lettered: bool = False,
    ) -> JobRecord | None:
        """Mark the job failed with ``{code, message}``; the stored record or None.
        ``dead_lettered``: its message is (or is about to be) in the DLQ, so a redrive of that
        message may run it again with a fresh budget (``attempts_base``)."""
        fields = {"error": _error(code, message)}
        if not dead_lettered:
            return self._finish(job, "failed", fields, spend)
        fields["dead_lettered"] = {"BOOL": True}
        return self._finish(job, "failed", fields, spend, budget_restarts=True)

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

    def settle_dead_letter(self, job_id: str, *, dispatch: int) -> Settled:
        """Fail a job whose message (copy ``dispatch``) reached the DLQ, unless the job is
        final, a newer copy carries it, or a live attempt holds it. Read, then one write
        conditioned on what was read, so a job that moved meanwhile is left for the next run."""
        response = self._client.get_item(
            TableName=self._table, Key={"job_id": _s(job_id)}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return Settled(SettleOutcome.ABSENT)
        record = item_from_dynamodb(item)
        status = str(record["status"])
        if status in FINAL_STATUSES:
            return Settled(SettleOutcome.FINAL, record)
        if int(record.get("dispatch") or 0) > dispatch:
            return Settled(SettleOutcome.SUPERSEDED, record)
        now = self._clock()
        if status == "running" and float(record.get("lease_expires_at") or 0) >= now:
            return Settled(SettleOutcome.LIVE, record)
        try:
            response_new = self._client.update_item(
                TableName=self._table,
                Key={"job_id": _s(job_id)},
                UpdateExpression=(
                    "SET #status = :failed, #error = :error, dead_lettered = :true,"
                    " attempts_base = attempts, updated_at = :stamp"
                    " REMOVE #lease_owner, #lease_expires_at"
                ),
                ConditionExpression="#status = :seen AND updated_at = :seen_at",
                ExpressionAttributeNames={**_NAMES, "#error": "error"},
                ExpressionAttributeValues={
                    ":failed": _s("failed"),
                    ":error": _error("retries_exhausted", _dead_letter_reason(record)),
                    ":true": {"BOOL": True},
                    ":stamp": _s(rfc3339(now)),
                    ":seen": _s(status),
                    ":seen_at": _s(str(record["updated_at"])),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return Settled(SettleOutcome.MOVED)
            raise
        return Settled(SettleOutcome.SETTLED, item_from_dynamodb(response_new["Attributes"]))

    def _finish(
        self,
        job: JobRef,
        status: str,
        fields: dict[str, dict[str, Any]],
        spend: JobSpend | None,
        *,
        returns: Literal["ALL_NEW", "NONE"] = "ALL_NEW",
        adds: dict[str, float] | None = None,
        budget_restarts: bool = False,
    ) -> JobRecord | None:
        """Move a job we hold to ``status`` with ``fields`` set, dropping our lease and adding
        this attempt's tokens and cost, and ``adds``, to the job's totals (ADD: they sum over
        attempts). ``budget_restarts``: the attempts so far become ``attempts_base``, so a
        redrive starts a fresh budget.

        The record as written (``returns="ALL_NEW"``: the caller learns whether the job has a
        webhook to send without another read), ``{}`` with ``"NONE"``, or None when this
        attempt no longer holds the job."""
        names = {**_NAMES, **{f"#f{i}": name for i, name in enumerate(fields)}}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        sets = "".join(f" #f{i} = :f{i}," for i in range(len(fields)))
        update = f"SET{sets} #status = :new_status, updated_at = :stamp"
        if budget_restarts:
            update += ", attempts_base = attempts"
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
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return _applied_before(exc, status, returns)
            raise
        return item_from_dynamodb(response.get("Attributes", {}))


def _applied_before(
    exc: ClientError, status: str, returns: Literal["ALL_NEW", "NONE"]
) -> JobRecord | None:
    """A finishing write refused because it was already applied: botocore re-sent it after
    the first answer was lost, and the job shows the status we wrote, with no lease. (A twin
    that took the job over and ended it the same way is indistinguishable, and harmless: its
    webhook event has the same id.) The record, or None when the job moved elsewhere."""
    item: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
    if item.get("status", {}).get("S") != status or "lease_owner" in item:
        return None
    return item_from_dynamodb(item) if returns == "ALL_NEW" else {}


def _dead_letter_reason(record: JobRecord) -> str:
    """The settled job's error message: that SQS gave up on it, and its last error if any."""
    text = "its message reached the dead-letter queue (every receive of it was spent)"
    last = record.get("last_error")
    if isinstance(last, dict) and "code" in last:
        return f"{text}; last error {last['code']}: {last.get('message')}"
    return f"{text}; no attempt recorded an outcome (crashed or timed out)"


def _counters(spend: JobSpend | None, adds: dict[str, float]) -> dict[str, float]:
    """What a finishing write ADDs: ``adds`` plus the attempt's tokens and cost, if it called."""
    counters = dict(adds)
    if spend is not None and spend.calls:
        counters["prompt_tokens"] = spend.usage.prompt_tokens
        counters["completion_tokens"] = spend.usage.completion_tokens
        if spend.cost_usd is not None:
            counters["cost_usd"] = spend.cost_usd
    return counters


def _claim_update(job: JobRef, now: float, lease_expires_at: float) -> tuple[str, dict[str, Any]]:
    """The claim's UpdateExpression: our lease, our copy, one more attempt."""
    values = {
        ":queued": _s("queued"),
        ":running": _s("running"),
        ":now": _n(math.floor(now)),
        ":owner": _s(job.owner),
        ":lease": _n(math.ceil(lease_expires_at)),
        ":stamp": _s(rfc3339(now)),
        ":zero": _n(0),
        ":one": _n(1),
        ":dispatch": _n(job.dispatch),
    }
    update = (
        "SET #status = :running, #lease_owner = :owner, #lease_expires_at = :lease,"
        " #dispatch = :dispatch,"
        " updated_at = :stamp, attempts = if_not_exists(attempts, :zero) + :one"
    )
    return update, values


def _redriven(refused: Claim, job: JobRef) -> bool:
    """A dead-lettered job, and ``job`` carries its newest copy (the one that was dead-lettered)."""
    record = refused.record or {}
    return (
        record.get("status") == "failed"
        and bool(record.get("dead_lettered"))
        and (int(record.get("dispatch") or 0) <= job.dispatch)
    )


def _claimed(attributes: dict[str, Any], dispatch: int) -> Claim:
    """The claim as granted: ``attempts`` counts this job's budget since its last redrive."""
    record = item_from_dynamodb(attributes)
    attempts = int(record["attempts"]) - int(record.get("attempts_base") or 0)
    return Claim(ClaimOutcome.CLAIMED, attempts=attempts, record=record, dispatch=dispatch)


# The webhook state of a job whose final event is still to be delivered (as the API writes it).
_PENDING_CALLBACK = {"M": {"status": _s("pending"), "attempts": _n(0)}}


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _claim_refused(exc: ClientError, job: JobRef) -> Claim:
    """Why the claim failed: no record (the API never created the job, or it expired), our own
    claim applied by an earlier send whose response was lost, the job finished (ack the
    duplicate), a newer copy of its message exists (ack the stale one), or another attempt
    holds it (come back later)."""
    if not _is_condition_failure(exc):
        raise exc
    item: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
    if not item:
        return Claim(ClaimOutcome.ABSENT, dispatch=job.dispatch)
    status = item.get("status", {}).get("S")
    newest = int(item.get("dispatch", {}).get("N", 0))
    if status == "running" and item.get("lease_owner", {}).get("S") == job.owner:
        return _claimed(item, newest)
    if status in FINAL_STATUSES:
        # The finished record (ALL_OLD): a duplicate may still owe the job's webhook event.
        record = item_from_dynamodb(item)
        return Claim(ClaimOutcome.FINISHED, status=status, record=record, dispatch=newest)
    if newest > job.dispatch:
        return Claim(ClaimOutcome.STALE, status=status, dispatch=newest)
    lease = item.get("lease_expires_at", {}).get("N")
    return Claim(
        ClaimOutcome.BUSY, status=status, lease_expires_at=float(lease or 0), dispatch=newest
    )
