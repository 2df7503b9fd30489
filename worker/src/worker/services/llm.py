"""The LLM as one job sees it: each call bounded by the job's deadline, traced, metered, and
falling back to the next model on a retryable provider error.

Provider errors are not retried in-process (``num_retries=0``): when every model fails, the
error surfaces to SQS, which retries with backoff and a DLQ. instructor retries only invalid
output (``LLM_MAX_RETRIES``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from gen_ai_contracts.llm import LlmClient, UsageMeter, cost_usd
from gen_ai_contracts.tasks import TextAnswer
from gen_ai_contracts.tasks.base import Messages
from worker.errors import ErrorCode, JobError, RetryableJobError
from worker.log import logger
from worker.models.job import JobSpend
from worker.services.failures import classify
from worker.services.metrics import JobMetrics
from worker.services.tracing import JobTrace

OutputT = TypeVar("OutputT", bound=BaseModel)
AnswerT = TypeVar("AnswerT")

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

        return await self._with_fallbacks(call)

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

        return await self._with_fallbacks(call)

    async def _with_fallbacks(
        self, call: Callable[[str, float, UsageMeter], Awaitable[AnswerT]]
    ) -> AnswerT:
        """The first model's answer; the next model only after a retryable provider error."""
        error: JobError | None = None
        for model in self.models:
            if error is not None:
                keys = {**self.log_keys, "error_code": error.code, "fallback_model": model}
                logger.warning("model failed; falling back to the next one", extra=keys)
            try:
                answer = await self._call_one(model, call)
            except JobError as failed:
                if failed.code not in _FALLBACK_CODES:
                    raise
                error = failed
                continue
            self.spend.answered_by = model
            return answer
        assert error is not None  # models is never empty
        raise error

    async def _call_one(
        self, model: str, call: Callable[[str, float, UsageMeter], Awaitable[AnswerT]]
    ) -> AnswerT:
        meter = UsageMeter()
        generation = self.trace.start_generation(model=model)
        started = self.clock()
        timeout = self._timeout()
        error_code: str | None = None
        try:
            return await call(model, timeout, meter)
        except Exception as exc:
            error = self._classify(exc, deadline_bound=timeout < self.timeout_seconds)
            error_code = error.code
            raise error from exc
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

    @staticmethod
    def _classify(exc: Exception, *, deadline_bound: bool) -> JobError:
        """A timeout the deadline imposed is the invocation's limit, not the provider's fault."""
        error = classify(exc)
        if deadline_bound and error.code is ErrorCode.PROVIDER_TIMEOUT:
            message = "the LLM call was cut short by the invocation's deadline"
            return RetryableJobError(ErrorCode.DEADLINE_EXCEEDED, message)
        return error

    def _timeout(self) -> float:
        """LLM_TIMEOUT_SECONDS, shortened so the call ends before the invocation's deadline."""
        return max(min(self.timeout_seconds, self.deadline - self.clock()), 0.01)
