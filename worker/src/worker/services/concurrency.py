"""A fleet-wide cap on concurrent calls to one model: N leased slots in the LLM state table.

Self-hosted models (a llama.cpp server, a vLLM endpoint) are limited by how many requests they
serve at once, not per minute: past their parallel slots every request queues, slows and times
out. Each slot is one item, `conc#<model>#<n>`, held by at most one call: taking it is one
conditional UpdateItem (free, or its lease ran out), giving it back another. A caller that
crashes or is cancelled holds its slot only until the lease (the call's timeout plus a margin)
ends, so a lost release costs time, never a slot.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Items outlive their lease by this much (DynamoDB's TTL deletes them up to days later anyway).
_ITEM_TTL_SECONDS = 3600


@dataclass(frozen=True)
class Slot:
    """A held slot: its key and the token that proves we hold it."""

    key: str
    owner: str


class ConcurrencySlots:
    """Take and give back slots of a model; ``clock`` is injectable so tests can expire leases."""

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

    def take(self, model: str, limit: int, *, lease_seconds: float) -> Slot | None:
        """One of the model's ``limit`` slots, or None when every one is held by a live lease.
        Slots are tried in random order, so concurrent callers rarely race for the same one."""
        owner = uuid.uuid4().hex
        now = self._clock()
        for index in random.sample(range(limit), limit):
            key = f"conc#{model}#{index}"
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": key}},
                    UpdateExpression=(
                        "SET #owner = :owner, lease_until = :until, expires_at = :expires"
                    ),
                    ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={
                        ":owner": {"S": owner},
                        ":until": {"N": f"{now + lease_seconds:.3f}"},
                        ":now": {"N": f"{now:.3f}"},
                        ":expires": {"N": str(int(now) + _ITEM_TTL_SECONDS)},
                    },
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                continue
            return Slot(key, owner)
        return None

    def give_back(self, slot: Slot) -> None:
        """Free the slot if we still hold it (a lease that ran out may belong to another)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": slot.key}},
                UpdateExpression="REMOVE #owner, lease_until",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": slot.owner}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
