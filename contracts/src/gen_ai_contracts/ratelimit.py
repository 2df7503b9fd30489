"""A fleet-wide rate limiter: GCRA over one DynamoDB item per limited key, no server.

GCRA (the generic cell rate algorithm, a token bucket kept as one number) stores a key's
"theoretical arrival time" `tat` (epoch milliseconds): each admitted unit pushes it one
emission interval (`period / limit`) further; a request is admitted while the pushed `tat` stays
within the burst tolerance of now. Every process of the fleet shares the item, and each step is
one conditional `UpdateItem`, so concurrent Lambdas can never admit more than the rate between
them (a lost race re-reads the item from the failed condition and tries again).

- Busy key (`tat >= now`): `ADD tat :cost` if the result stays within the tolerance.
- Idle key (`tat < now` or no item): `SET tat = now + cost`, if it is still idle.

A request that must wait learns for how long (`retry_after`); nothing is consumed for it. The
actual cost of a request can be corrected afterwards (`adjust`): tokens are estimated before an
LLM call and known after it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Attempts at one decision when other processes keep changing the item between our reads.
_MAX_ROUNDS = 6
# How long an idle key's item outlives its last use (the table's TTL attribute `expires_at`).
_IDLE_TTL_SECONDS = 3600


@dataclass(frozen=True)
class Rate:
    """``limit`` units per ``period_seconds``, of which up to ``burst_seconds`` worth may be
    taken at once (a full bucket). In any window of W seconds at most
    ``limit * (W + burst_seconds) / period_seconds`` units are admitted."""

    limit: float
    period_seconds: float = 60.0
    burst_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.period_seconds <= 0 or self.burst_seconds < 0:
            raise ValueError("a rate needs a positive limit and period and a non-negative burst")

    @property
    def interval_ms(self) -> float:
        """Milliseconds one unit occupies."""
        return self.period_seconds * 1000 / self.limit


@dataclass(frozen=True)
class Decision:
    """Admitted, or how many seconds until the same request could be."""

    allowed: bool
    retry_after: float = 0.0


class RateLimiter:
    """GCRA decisions for keys in one DynamoDB table (hash key ``pk``, TTL ``expires_at``)."""

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
        # The last tat this process saw per key: picks the write likely to succeed first.
        self._known_tat: dict[str, int] = {}

    def acquire(self, key: str, rate: Rate, cost: float = 1.0, *, share: float = 1.0) -> Decision:
        """Admit ``cost`` units of ``key`` now, or say how long to wait.

        ``share`` (0..1] is the fraction of the burst tolerance this request may use: a lower
        priority leaves headroom that only higher ones can take. A request bigger than the
        tolerance is admitted once the bucket is full again, so it is never refused forever."""
        increment = max(math.ceil(cost * rate.interval_ms), 1)
        tolerance = max(rate.burst_seconds * 1000 * min(max(share, 0.0), 1.0), increment)
        for _ in range(_MAX_ROUNDS):
            now = math.floor(self._clock() * 1000)
            if self._known_tat.get(key, -1) < now:
                admitted, tat = self._start(key, now, increment)
            else:
                admitted, tat = self._push(key, now, increment, tolerance)
            self._known_tat[key] = tat
            if admitted:
                return Decision(allowed=True)
            # Refused: the tat found is busy beyond the tolerance (wait), or another process
            # moved it between our read and write (try again with what it found).
            if tat >= now and tat + increment - now > tolerance:
                return Decision(
                    allowed=False, retry_after=(tat + increment - now - tolerance) / 1000
                )
        # The item kept changing under us: other processes are admitting; come back shortly.
        return Decision(allowed=False, retry_after=rate.interval_ms / 1000)

    def adjust(self, key: str, rate: Rate, delta: float) -> None:
        """Correct a request's cost by ``delta`` units (negative to give some back)."""
        change = (
            math.ceil(delta * rate.interval_ms)
            if delta > 0
            else -math.floor(-delta * rate.interval_ms)
        )
        if change == 0:
            return
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression="ADD tat :change",
                ConditionExpression="attribute_exists(tat)",
                ExpressionAttributeValues={":change": {"N": str(change)}},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise

    def _start(self, key: str, now: int, increment: int) -> tuple[bool, int]:
        """Idle key: restart its schedule at now. (admitted, the tat now or as found)."""
        return self._update(
            key,
            update="SET tat = :tat, expires_at = :expires",
            condition="attribute_not_exists(tat) OR tat < :now",
            values={":tat": now + increment, ":now": now, ":expires": self._expires(now)},
        )

    def _push(self, key: str, now: int, increment: int, tolerance: float) -> tuple[bool, int]:
        """Busy key: take ``increment`` if the schedule stays within the tolerance."""
        return self._update(
            key,
            update="ADD tat :increment SET expires_at = :expires",
            condition="tat >= :now AND tat <= :latest",
            values={
                ":increment": increment,
                ":now": now,
                ":latest": math.floor(now + tolerance - increment),
                ":expires": self._expires(now),
            },
        )

    def _update(
        self,
        key: str,
        *,
        update: str,
        condition: str,
        values: dict[str, int],
    ) -> tuple[bool, int]:
        """(True, the new tat) when the write applied, else (False, the tat it found; -1 when
        the key has no item)."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues={name: {"N": str(v)} for name, v in values.items()},
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            item: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
            found = item.get("tat", {}).get("N")
            return False, int(found) if found is not None else -1
        return True, int(response["Attributes"]["tat"]["N"])

    def _expires(self, now_ms: int) -> int:
        return now_ms // 1000 + _IDLE_TTL_SECONDS


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
