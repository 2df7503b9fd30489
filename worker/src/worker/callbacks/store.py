"""The job record as the delivery function reads it, and its `callback` state transitions.

Each write is conditioned on the state that was read, so two copies of one event (a duplicate
enqueue) never overwrite each other's counts and nothing moves a settled delivery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from gen_ai_contracts.jobs import CallbackState, item_from_dynamodb

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

JobRecord = dict[str, Any]


def callback_state(record: JobRecord) -> CallbackState | None:
    """The record's delivery state; None when the API stored none (treated as pending)."""
    state = record.get("callback")
    return CallbackState.model_validate(state) if state else None


def _state_value(state: CallbackState) -> dict[str, Any]:
    code = state.last_status_code
    return {
        "M": {
            "status": {"S": state.status},
            "attempts": {"N": str(state.attempts)},
            "last_status_code": {"NULL": True} if code is None else {"N": str(code)},
        }
    }


class CallbackStore:
    """Consistent reads of a job and conditional writes of its `callback` map."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def read(self, job_id: str) -> JobRecord | None:
        """The job as it is now (consistent read), or None when it is gone (TTL)."""
        response = self._client.get_item(
            TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return item_from_dynamodb(item) if item else None

    def settle(self, job_id: str, *, seen: CallbackState | None, new: CallbackState) -> bool:
        """Write `new` if the state is still `seen`; False when something changed it first."""
        values: dict[str, Any] = {":new": _state_value(new)}
        if seen is None:
            condition = "attribute_exists(job_id) AND attribute_not_exists(#callback)"
        else:
            values.update({":pending": {"S": "pending"}, ":attempts": {"N": str(seen.attempts)}})
            attempts_match = "#callback.attempts = :attempts"
            if seen.attempts == 0:
                attempts_match = f"(attribute_not_exists(#callback.attempts) OR {attempts_match})"
            condition = (
                f"attribute_exists(job_id) AND #callback.#status = :pending AND {attempts_match}"
            )
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET #callback = :new",
                ConditionExpression=condition,
                ExpressionAttributeNames=_names(seen),
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _names(seen: CallbackState | None) -> dict[str, str]:
    names = {"#callback": "callback"}
    if seen is not None:
        names["#status"] = "status"
    return names
