"""The LLM as one job sees it: each call admitted by the fleet-wide gate (circuit, pause,
quota), bounded by the job's deadline, traced, metered, and falling back to the next model when
one is failing or must wait.

Provider errors are not retried in-process (``num_retries=0``): when every model fails, the
error surfaces to the worker, which re-sends the job with backoff (a real attempt) or defers it
(throttled or gated: no attempt spent). Waits shorter than LLM_LIMIT_MAX_WAIT_SECONDS (in total)
are slept in-process instead. instructor retries only invalid output (``LLM_MAX_RETRIES``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from gen_ai_contracts.llm import LlmClient, UsageMeter, cost_usd
from gen_ai_contracts.queue import Priority
from gen_ai_contracts.tasks import TextAnswer
from gen_ai_contracts.tasks.base import Messages
from worker.errors import DeferJobError, ErrorCode, JobError
from worker.log import logger
from worker.models.job import JobSpend
from worker.services.failures import classify
from worker.services.metrics import JobMetrics
from worker.services.model_gate import Admission, ModelGate
from worker.services.tracing import JobTrace

OutputT = TypeVar("OutputT", bound=BaseModel)
AnswerT = TypeVar("AnswerT")

_OUTAGE_CODES = frozenset({ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.PROVIDER_TIMEOUT})
# A model that fails with one of these may be replaced by the next fallback: the provider (not
# the request, nor our deadline) is at fault.
_FALLBACK_CODES = frozenset(
    {ErrorCode.PROVIDER_RATE_LIMITED, ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.PROVIDER_TIMEOUT}
)


@dataclass
class JobLlm:
    """Implements the tasks' ``TaskLlm`` for one job attempt."""

    client: LlmClient
    models: tuple[str, ...]  # the chosen model first, then the fallbacks
    deadline: float  # time.monotonic() value
    timeout_seconds: float
    trace: JobTrace
    metrics: JobMetrics
    spend: JobSpend = field(default_factory=JobSpend)
    log_keys: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.monotonic)
    gate: ModelGate | None = None
    priority: Priority = "normal"
    max_wait_seconds: float = 0.0  # LLM_LIMIT_MAX_WAIT_SECONDS, over all waits of this attempt

    async def structured(
        self,
        *,
        messages: Messages,
        response_model: type[OutputT],
        max_tokens: int,
        context: dict[str, Any] | None = None,
    ) -> OutputT:
        async def call(model: str, seconds: float, meter: UsageMeter) -> OutputT:
            return await self.client.structured(
                model=model,
                messages=messages,
                response_model=response_model,
                timeout_seconds=seconds,
                max_tokens=max_tokens,
                meter=meter,
                context=context,
            )

        return await self._with_fallbacks(call, _estimate(messages, max_tokens))

    async def text(
        self, *, messages: Messages, max_tokens: int, temperature: float | None
    ) -> TextAnswer:
        async def call(model: str, seconds: float, meter: UsageMeter) -> TextAnswer:
            return await self.client.text(
                model=model,
                messages=messages,
                timeout_seconds=seconds,
                max_tokens=max_tokens,
                temperature=temperature,
                meter=meter,
            )

        return await self._with_fallbacks(call, _estimate(messages, max_tokens))

    async def _with_fallbacks(
        self, call: Callable[[str, float, UsageMeter], Awaitable[AnswerT]], tokens: int
    ) -> AnswerT:
        """The first model that is admitted and answers. A model that must wait or is
        throttled hands over to the next; when none answered and none really failed, the
        attempt waits in-process (bounded) or is deferred."""
        waited = 0.0
        while True:
            failure: JobError | None = None  # a real provider failure: spends the attempt
            wait: DeferJobError | None = None  # the shortest wait among the others
            for model in self.models:
                admission = await self._admit(model, tokens)
                if not admission.allowed:
                    wait = _sooner(wait, self._gated(model, admission))
                    continue
                try:
                    answer = await self._call_one(model, admission, call)
                except DeferJobError as throttled:  # 429, failed probe, or our deadline
                    if throttled.code is ErrorCode.DEADLINE_EXCEEDED:
                        raise
                    wait = _sooner(wait, throttled)
                    continue
                except JobError as failed:
                    if failed.code not in _FALLBACK_CODES:
                        raise
                    failure = failed
                    keys = {**self.log_keys, "model": model, "error_code": failed.code}
                    logger.warning("model failed; trying the next one if any", extra=keys)
                    continue
                self.spend.answered_by = model
                return answer
            if failure is not None:
                raise failure
            assert wait is not None  # models is never empty
            pause = max(wait.retry_after or 0.0, 0.05)
            if waited + pause > self.max_wait_seconds or self.clock() + pause >= self.deadline:
                raise wait
            await asyncio.sleep(pause)
            waited += pause

    async def _admit(self, model: str, tokens: int) -> Admission:
        if self.gate is None:
            return Admission(allowed=True)
        keys = {**self.log_keys, "model": model}
        return await asyncio.to_thread(
            self.gate.admit, model, estimated_tokens=tokens, priority=self.priority, keys=keys
        )

    def _gated(self, model: str, admission: Admission) -> DeferJobError:
        code = admission.reason or ErrorCode.PROVIDER_RATE_LIMITED
        what = "rate limit" if code is ErrorCode.PROVIDER_RATE_LIMITED else "open circuit"
        message = f"waiting for {model}'s {what}"
        return DeferJobError(code, message, retry_after=admission.wait_seconds)

    async def _call_one(
        self,
        model: str,
        admission: Admission,
        call: Callable[[str, float, UsageMeter], Awaitable[AnswerT]],
    ) -> AnswerT:
        meter = UsageMeter()
        generation = self.trace.start_generation(model=model)
        started = self.clock()
        timeout = self._timeout()
        error_code: str | None = None
        try:
            answer = await call(model, timeout, meter)
        except asyncio.CancelledError:
            # The invocation's deadline: free the model's concurrency slot now, not at its lease.
            if self.gate is not None:
                self.gate.release(admission, keys=self.log_keys)
            raise
        except Exception as exc:
            error = self._classify(exc, deadline_bound=timeout < self.timeout_seconds)
            error_code = error.code
            await self._learn_failure(model, admission, error)
            if admission.probe and error.code in _OUTAGE_CODES:
                # The fleet's probe of an open circuit failed: the outage's fault, not the
                # job's, so it waits for the next probe without spending an attempt.
                message = f"{model} is still failing (circuit probe: {error.code})"
                raise DeferJobError(ErrorCode.PROVIDER_UNAVAILABLE, message) from exc
            raise error from exc
        else:
            await self._learn_success(model, admission, meter)
            return answer
        finally:
            usage = meter.usage
            cost = cost_usd(model, usage) if meter.responses else None
            self.spend.add(usage=usage, cost=cost)
            generation.end(usage=usage, cost_usd=cost, error_code=error_code)
            self.metrics.llm_call(
                latency_seconds=self.clock() - started,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
            )

    async def _learn_success(self, model: str, admission: Admission, meter: UsageMeter) -> None:
        if self.gate is None:
            return
        used = meter.prompt_tokens + meter.completion_tokens
        keys = {**self.log_keys, "model": model}
        await asyncio.to_thread(self.gate.succeeded, model, admission, used_tokens=used, keys=keys)

    async def _learn_failure(self, model: str, admission: Admission, error: JobError) -> None:
        if error.code is ErrorCode.PROVIDER_RATE_LIMITED:
            self.metrics.provider_throttled()
        if self.gate is None:
            return
        if error.code is ErrorCode.DEADLINE_EXCEEDED:  # our deadline, not the provider's fault
            await asyncio.to_thread(self.gate.release, admission, keys=self.log_keys)
            return
        keys = {**self.log_keys, "model": model, "error_code": error.code}
        opened = await asyncio.to_thread(self.gate.failed, model, admission, error, keys=keys)
        if opened:
            self.metrics.circuit_opened()
            logger.error("circuit opened: calls to this model are paused fleet-wide", extra=keys)

    @staticmethod
    def _classify(exc: Exception, *, deadline_bound: bool) -> JobError:
        """A timeout the deadline imposed is the invocation's limit, not the provider's fault:
        the job is deferred without spending an attempt."""
        error = classify(exc)
        if deadline_bound and error.code is ErrorCode.PROVIDER_TIMEOUT:
            message = "the LLM call was cut short by the invocation's deadline"
            return DeferJobError(ErrorCode.DEADLINE_EXCEEDED, message)
        return error

    def _timeout(self) -> float:
        """LLM_TIMEOUT_SECONDS, shortened so the call ends before the invocation's deadline."""
        return max(min(self.timeout_seconds, self.deadline - self.clock()), 0.01)


def _estimate(messages: Messages, max_tokens: int) -> int:
    """Tokens a call may use, for the TPM quota before the call (corrected after it): about
    four characters a token for the prompt, plus the whole output cap."""
    return sum(len(str(m.get("content", ""))) for m in messages) // 4 + max_tokens


def _sooner(current: DeferJobError | None, candidate: DeferJobError) -> DeferJobError:
    if current is None or (candidate.retry_after or 0.0) < (current.retry_after or 0.0):
        return candidate
    return current
