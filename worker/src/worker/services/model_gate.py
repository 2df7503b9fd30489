"""May this job call this model now? The fleet-wide rules in front of every provider call:
the model's circuit and pause (breaker.py), a slot among its calls in flight (concurrency.py),
then its requests- and tokens-per-minute quota (gen_ai_contracts.ratelimit). After the call
the gate learns how it went and gives the slot back.

Priority decides how much of a quota's burst a call may use: a low-priority backlog leaves
headroom that high-priority work takes at once. When the state table cannot be reached the gate
lets calls through (logged): the provider's own 429s still protect the quota, and an outage of
the gate must not stop every job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from gen_ai_contracts.queue import Priority
from gen_ai_contracts.ratelimit import Rate, RateLimiter
from worker.errors import ErrorCode, JobError
from worker.log import logger
from worker.services.breaker import BreakerPolicy, CircuitBreaker, Verdict
from worker.services.concurrency import ConcurrencySlots, Slot

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from worker.config import Settings

_AWS_ERRORS = (ClientError, BotoCoreError)
# The fraction of a quota's burst each priority may use.
PRIORITY_SHARE: dict[str, float] = {"high": 1.0, "normal": 0.8, "low": 0.5}
# A provider 429 without Retry-After pauses the model this long.
DEFAULT_PAUSE_SECONDS = 1.0
# When every concurrency slot is held, look again after this long (a slot frees when a call
# ends, which no one can predict; calls to a self-hosted model take seconds).
SLOT_RETRY_SECONDS = 1.0
# Errors that mean the provider, not the request, is failing: they count towards the circuit.
_OUTAGE_CODES = frozenset({ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.PROVIDER_TIMEOUT})


@dataclass(frozen=True)
class Admission:
    """The gate's answer for one call: ``wait_seconds`` and ``reason`` when refused."""

    allowed: bool
    wait_seconds: float = 0.0
    reason: ErrorCode | None = None
    probe: bool = False
    tokens: int = 0  # what the TPM quota was charged before the call
    slot: Slot | None = None  # the concurrency slot held for the call, given back after it


class ModelGate:
    """Admission per model; with no state table it admits everything (and remembers nothing)."""

    def __init__(
        self,
        settings: Settings,
        *,
        limiter: RateLimiter | None,
        breaker: CircuitBreaker | None,
        slots: ConcurrencySlots | None = None,
    ) -> None:
        self._settings = settings
        self._limiter = limiter
        self._breaker = breaker
        self._slots = slots

    @classmethod
    def from_settings(cls, settings: Settings, dynamodb: DynamoDBClient) -> ModelGate:
        table = settings.llm_state_table_name
        if table is None:
            return cls(settings, limiter=None, breaker=None)
        policy = BreakerPolicy(
            failures=settings.llm_circuit_failures,
            cooldown_seconds=settings.llm_circuit_cooldown_seconds,
            max_cooldown_seconds=settings.llm_circuit_max_cooldown_seconds,
            probe_seconds=settings.llm_timeout_seconds + 5,
        )
        return cls(
            settings,
            limiter=RateLimiter(dynamodb, table),
            breaker=CircuitBreaker(dynamodb, table, policy),
            slots=ConcurrencySlots(dynamodb, table),
        )

    def admit(
        self, model: str, *, estimated_tokens: int, priority: Priority, keys: dict[str, Any]
    ) -> Admission:
        """Circuit and pause first (they cost no quota), then requests, then tokens."""
        try:
            return self._admit(model, estimated_tokens, priority)
        except _AWS_ERRORS as exc:
            logger.warning(
                "LLM state table unreachable; calling without limits or breaker",
                extra={**keys, "model": model, "error": type(exc).__name__},
            )
            return Admission(allowed=True)

    def succeeded(
        self, model: str, admission: Admission, *, used_tokens: int, keys: dict[str, Any]
    ) -> None:
        """Charge the tokens the call really used, close the circuit if it was failing, and
        give the call's slot back."""
        self.release(admission, keys=keys)
        try:
            rate = self._settings.rate_for(model)
            if self._limiter is not None and rate.tpm and admission.tokens:
                tpm = Rate(limit=rate.tpm)
                self._limiter.adjust(f"rate#{model}#tpm", tpm, used_tokens - admission.tokens)
            if self._breaker is not None:
                self._breaker.succeeded(model, probe=admission.probe)
        except _AWS_ERRORS as exc:
            logger.warning(
                "LLM state not updated after a call",
                extra={**keys, "model": model, "error": type(exc).__name__},
            )

    def failed(
        self, model: str, admission: Admission, error: JobError, *, keys: dict[str, Any]
    ) -> bool:
        """Learn from a failed call: a 429 pauses the model for everyone, an outage counts
        towards its circuit. True when this call opened the circuit."""
        self.release(admission, keys=keys)
        if self._breaker is None:
            return False
        try:
            if error.code is ErrorCode.PROVIDER_RATE_LIMITED:
                self._breaker.pause(model, error.retry_after or DEFAULT_PAUSE_SECONDS)
                return False
            if error.code in _OUTAGE_CODES:
                return self._breaker.failed(model, probe=admission.probe)
            if admission.probe:
                # The provider answered (a 4xx or invalid output): it is up again.
                self._breaker.succeeded(model, probe=True)
        except _AWS_ERRORS as exc:
            logger.warning(
                "LLM state not updated after a failed call",
                extra={**keys, "model": model, "error": type(exc).__name__},
            )
        return False

    def release(self, admission: Admission, *, keys: dict[str, Any]) -> None:
        """Give back the call's concurrency slot, if it took one (a lost release is bounded by
        the slot's lease)."""
        if self._slots is None or admission.slot is None:
            return
        try:
            self._slots.give_back(admission.slot)
        except _AWS_ERRORS as exc:
            logger.warning(
                "concurrency slot not given back; it frees when its lease ends",
                extra={**keys, "error": type(exc).__name__},
            )

    def _admit(self, model: str, estimated_tokens: int, priority: Priority) -> Admission:
        admission = self._admit_by_circuit_and_quota(model, estimated_tokens, priority)
        if not admission.allowed or self._slots is None:
            return admission
        limit = self._settings.rate_for(model).concurrency
        if not limit:
            return admission
        lease = self._settings.llm_timeout_seconds + 5
        slot = self._slots.take(model, limit, lease_seconds=lease)
        if slot is None:
            self._unspend(model, admission)
            return Admission(
                allowed=False,
                wait_seconds=SLOT_RETRY_SECONDS,
                reason=ErrorCode.PROVIDER_RATE_LIMITED,
            )
        return Admission(allowed=True, probe=admission.probe, tokens=admission.tokens, slot=slot)

    def _unspend(self, model: str, admission: Admission) -> None:
        """Give back the quota an admission charged when its call will not happen after all."""
        rate = self._settings.rate_for(model)
        if self._limiter is None:
            return
        if rate.rpm:
            self._limiter.adjust(f"rate#{model}#rpm", Rate(limit=rate.rpm), -1)
        if rate.tpm and admission.tokens:
            self._limiter.adjust(f"rate#{model}#tpm", Rate(limit=rate.tpm), -admission.tokens)

    def _admit_by_circuit_and_quota(
        self, model: str, estimated_tokens: int, priority: Priority
    ) -> Admission:
        probe = False
        if self._breaker is not None:
            permit = self._breaker.check(model)
            if not permit.allowed:
                reason = (
                    ErrorCode.PROVIDER_RATE_LIMITED
                    if permit.verdict is Verdict.PAUSED
                    else ErrorCode.PROVIDER_UNAVAILABLE
                )
                return Admission(allowed=False, wait_seconds=permit.wait_seconds, reason=reason)
            probe = permit.verdict is Verdict.PROBE
        rate = self._settings.rate_for(model)
        if self._limiter is None or not (rate.rpm or rate.tpm):
            return Admission(allowed=True, probe=probe)
        share = PRIORITY_SHARE[priority]
        rpm_key, tpm_key = f"rate#{model}#rpm", f"rate#{model}#tpm"
        if rate.rpm:
            decision = self._limiter.acquire(rpm_key, Rate(limit=rate.rpm), share=share)
            if not decision.allowed:
                return self._refused(decision.retry_after)
        if rate.tpm:
            tpm = Rate(limit=rate.tpm)
            decision = self._limiter.acquire(tpm_key, tpm, cost=estimated_tokens, share=share)
            if not decision.allowed:
                if rate.rpm:
                    self._limiter.adjust(rpm_key, Rate(limit=rate.rpm), -1)  # not used after all
                return self._refused(decision.retry_after)
            return Admission(allowed=True, probe=probe, tokens=estimated_tokens)
        return Admission(allowed=True, probe=probe)

    @staticmethod
    def _refused(wait: float) -> Admission:
        return Admission(allowed=False, wait_seconds=wait, reason=ErrorCode.PROVIDER_RATE_LIMITED)
