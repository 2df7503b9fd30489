"""A circuit breaker and a provider pause per model, shared by the whole fleet in DynamoDB.

One item per model (`circuit#<model>` in the LLM state table) holds:
- `failures` and `window_start`: consecutive retryable provider failures, counted within
  `window_seconds` of the first;
- `open_until` and `cooldown`: the circuit is open (no calls) until `open_until`; then half-open,
  when one caller at a time wins `probe_until` (a lease as long as one call) and probes; a
  failed probe re-opens it for twice the cooldown (capped), a success closes it;
- `paused_until`: a provider's 429 Retry-After, honoured by every process, not only the one that
  got it.

Every change is one conditional `UpdateItem`; reads are cached per process for `cache_seconds`
(a second by default), so a healthy model costs no more than one read a second per process.
Times are epoch seconds from the wall clock, the only clock processes share.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_ITEM_TTL_SECONDS = 86_400


class Verdict(StrEnum):
    """What a caller may do with a model now."""

    CALL = "call"  # closed: call it
    PROBE = "probe"  # half-open and this caller won the probe: call it, report the outcome
    PAUSED = "paused"  # the provider asked everyone to wait (429 Retry-After)
    OPEN = "open"  # failing: wait for the cooldown (or another caller's probe)


@dataclass(frozen=True)
class Permit:
    verdict: Verdict
    wait_seconds: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.verdict in (Verdict.CALL, Verdict.PROBE)


@dataclass(frozen=True)
class ModelState:
    """The model's item as last read (numbers in epoch seconds; 0 = not set)."""

    failures: int = 0
    window_start: float = 0.0
    open_until: float = 0.0
    cooldown: float = 0.0
    probe_until: float = 0.0
    paused_until: float = 0.0

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ModelState:
        def number(name: str) -> float:
            value = item.get(name, {}).get("N")
            return float(value) if value is not None else 0.0

        return cls(
            failures=int(number("failures")),
            window_start=number("window_start"),
            open_until=number("open_until"),
            cooldown=number("cooldown"),
            probe_until=number("probe_until"),
            paused_until=number("paused_until"),
        )

    @property
    def is_open(self) -> bool:
        """Open or half-open: ``open_until`` is removed only when the circuit closes."""
        return self.open_until > 0


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5  # LLM_CIRCUIT_FAILURES
    window_seconds: float = 60.0
    cooldown_seconds: float = 30.0  # LLM_CIRCUIT_COOLDOWN_SECONDS, doubled per failed probe
    max_cooldown_seconds: float = 300.0  # LLM_CIRCUIT_MAX_COOLDOWN_SECONDS
    probe_seconds: float = 30.0  # how long a probe may take before another caller may probe


class CircuitBreaker:
    """Fleet-wide per-model breaker and pause; every method is one DynamoDB call at most."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        policy: BreakerPolicy,
        *,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 1.0,
    ) -> None:
        self._client = client
        self._table = table_name
        self.policy = policy
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ModelState]] = {}

    def check(self, model: str) -> Permit:
        """May this caller call ``model`` now? In the half-open state this claims the probe."""
        state = self.state(model)
        now = self._clock()
        if state.paused_until > now:
            return Permit(Verdict.PAUSED, state.paused_until - now)
        if not state.is_open:
            return Permit(Verdict.CALL)
        if now < state.open_until:
            return Permit(Verdict.OPEN, state.open_until - now)
        if state.probe_until > now:
            return Permit(Verdict.OPEN, state.probe_until - now)
        return self._claim_probe(model, state, now)

    def succeeded(self, model: str, *, probe: bool) -> None:
        """The provider answered: close the circuit and forget the failures (written only
        when there is something to forget, so a healthy model costs no write)."""
        state = self.state(model)
        if not (probe or state.is_open or state.failures):
            return
        self._write(
            model,
            "SET failures = :zero, expires_at = :expires"
            " REMOVE window_start, open_until, cooldown, probe_until",
            values={":zero": 0},
        )

    def failed(self, model: str, *, probe: bool) -> bool:
        """A retryable provider failure (5xx, timeout, unreachable). True when this call opened
        (or, for a failed probe, re-opened) the circuit."""
        now = self._clock()
        if probe:
            return self._reopen(model, now)
        state = self._count_failure(model, now)
        if state.failures < self.policy.failures or state.is_open:
            return False
        return self._open(model, now)

    def pause(self, model: str, seconds: float) -> None:
        """The provider said 429 with Retry-After: nobody calls ``model`` for ``seconds``."""
        until = self._clock() + seconds
        self._write(
            model,
            "SET paused_until = :until, expires_at = :expires",
            condition="attribute_not_exists(paused_until) OR paused_until < :until",
            values={":until": until},
        )

    def state(self, model: str, *, fresh: bool = False) -> ModelState:
        """The model's state, from this process's cache unless older than ``cache_seconds``."""
        cached = self._cache.get(model)
        now = time.monotonic()
        if cached is not None and not fresh and now - cached[0] < self._cache_seconds:
            return cached[1]
        response = self._client.get_item(TableName=self._table, Key=self._key(model))
        return self._remember(model, response.get("Item") or {})

    def _claim_probe(self, model: str, state: ModelState, now: float) -> Permit:
        """Half-open: the first caller to move ``probe_until`` probes; the others wait for it."""
        probe_until = now + self.policy.probe_seconds
        won = self._write(
            model,
            "SET probe_until = :probe_until, expires_at = :expires",
            condition="open_until = :seen AND (attribute_not_exists(probe_until)"
            " OR probe_until < :now)",
            values={":probe_until": probe_until, ":seen": state.open_until, ":now": now},
        )
        if won:
            return Permit(Verdict.PROBE)
        current = self.state(model)  # refreshed by the failed write
        if not current.is_open:
            return Permit(Verdict.CALL)  # another caller's probe closed it meanwhile
        wait = max(current.open_until, current.probe_until) - now
        return Permit(Verdict.OPEN, max(wait, 1.0))

    def _count_failure(self, model: str, now: float) -> ModelState:
        """Add one failure to the current window, or start a new window with this one."""
        floor = now - self.policy.window_seconds
        for _ in range(3):  # a lost race to start the window means another caller started it
            if self._write(
                model,
                "ADD failures :one SET expires_at = :expires",
                condition="window_start >= :floor",
                values={":one": 1, ":floor": floor},
            ) or self._write(
                model,
                "SET failures = :one, window_start = :now, expires_at = :expires",
                condition="attribute_not_exists(window_start) OR window_start < :floor",
                values={":one": 1, ":now": now, ":floor": floor},
            ):
                break
        return self.state(model)

    def _open(self, model: str, now: float) -> bool:
        """Open for the base cooldown, unless another caller opened it first."""
        cooldown = self.policy.cooldown_seconds
        return self._write(
            model,
            "SET open_until = :until, cooldown = :cooldown, failures = :zero,"
            " expires_at = :expires REMOVE window_start, probe_until",
            condition="attribute_not_exists(open_until)",
            values={":until": now + cooldown, ":cooldown": cooldown, ":zero": 0},
        )

    def _reopen(self, model: str, now: float) -> bool:
        """The probe failed: open again for twice the last cooldown, up to the maximum."""
        state = self.state(model, fresh=True)
        if not state.is_open:
            return False  # another caller's probe succeeded meanwhile
        cooldown = min(
            max(state.cooldown, self.policy.cooldown_seconds) * 2, self.policy.max_cooldown_seconds
        )
        return self._write(
            model,
            "SET open_until = :until, cooldown = :cooldown, expires_at = :expires"
            " REMOVE probe_until",
            condition="open_until = :seen",
            values={":until": now + cooldown, ":cooldown": cooldown, ":seen": state.open_until},
        )

    def _write(
        self,
        model: str,
        update: str,
        *,
        values: dict[str, float],
        condition: str | None = None,
    ) -> bool:
        """One UpdateItem; the cache learns the result either way. False when the condition
        failed."""
        values = {**values, ":expires": int(self._clock()) + _ITEM_TTL_SECONDS}
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(model),
            "UpdateExpression": update,
            "ExpressionAttributeValues": {k: {"N": _number(v)} for k, v in values.items()},
            "ReturnValues": "ALL_NEW",
        }
        if condition is not None:
            request["ConditionExpression"] = condition
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            response = self._client.update_item(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            self._remember(model, exc.response.get("Item") or {})  # type: ignore[arg-type]
            return False
        self._remember(model, response.get("Attributes") or {})
        return True

    def _remember(self, model: str, item: dict[str, Any]) -> ModelState:
        state = ModelState.from_item(item)
        self._cache[model] = (time.monotonic(), state)
        return state

    @staticmethod
    def _key(model: str) -> dict[str, Any]:
        return {"pk": {"S": f"circuit#{model}"}}


def _number(value: float) -> str:
    """DynamoDB numbers in plain notation, to the millisecond."""
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
