"""Langfuse (SDK v5, OpenTelemetry) traces: one trace per job, the LLM call as a generation.

Off when no Langfuse keys are configured. Spans carry ids, model, usage and timing, never the
text or the extracted data (PII). Observations are ended explicitly rather than used as
``with`` blocks so that no exception text (which can quote the model's output) is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from langfuse import Langfuse, LangfuseGeneration, LangfuseSpan, propagate_attributes
from opentelemetry.sdk.trace import TracerProvider

from gen_ai_contracts.jobs import TokenUsage
from worker.config import Settings

_MAX_ATTRIBUTE_CHARS = 200

Level = Literal["DEFAULT", "ERROR"]


def _level(error_code: str | None) -> Level:
    return "ERROR" if error_code else "DEFAULT"


class Generation:
    """One LLM call; a no-op when tracing is off."""

    def __init__(self, observation: LangfuseGeneration | None) -> None:
        self._observation = observation

    def end(self, *, usage: TokenUsage, cost_usd: float | None, error_code: str | None) -> None:
        """Usage and cost (litellm's bundled prices) as Langfuse's usage and cost details."""
        if self._observation is None:
            return
        prompt, completion = usage.prompt_tokens, usage.completion_tokens
        details = {"input": prompt, "output": completion, "total": prompt + completion}
        cost = {"total": cost_usd} if cost_usd is not None else None
        level = _level(error_code)
        self._observation.update(
            usage_details=details, cost_details=cost, level=level, status_message=error_code
        )
        self._observation.end()


class JobTrace:
    """The root observation of one job attempt."""

    def __init__(self, root: LangfuseSpan | None) -> None:
        self._root = root

    def start_generation(self, *, model: str) -> Generation:
        if self._root is None:
            return Generation(None)
        return Generation(
            self._root.start_observation(name="llm", as_type="generation", model=model)
        )

    def outcome(self, *, status: str, error_code: str | None = None) -> None:
        if self._root is not None:
            level = _level(error_code)
            self._root.update(output={"status": status}, level=level, status_message=error_code)


class Tracing:
    """Creates job traces and flushes them before the handler returns."""

    def __init__(self, client: Langfuse | None) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> Tracing:
        if settings.langfuse_public_key is None or settings.langfuse_secret_key is None:
            return cls(None)
        client = Langfuse(
            public_key=settings.langfuse_public_key.get_secret_value(),
            secret_key=settings.langfuse_secret_key.get_secret_value(),
            base_url=settings.langfuse_host,
            # Our own provider: flushing it flushes only Langfuse's spans, and the process's
            # global OpenTelemetry provider stays whatever its owner set.
            tracer_provider=TracerProvider(),
        )
        return cls(client)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    @contextmanager
    def job(self, *, job_id: str, request_id: str | None, task: str) -> Iterator[JobTrace]:
        """The trace id is derived from the job id, so every attempt of a job shares one trace."""
        if self._client is None:
            yield JobTrace(None)
            return
        metadata = {"job_id": job_id, "request_id": (request_id or "")[:_MAX_ATTRIBUTE_CHARS]}
        with propagate_attributes(trace_name=task, metadata=metadata):
            root = self._client.start_observation(
                trace_context={"trace_id": Langfuse.create_trace_id(seed=job_id)},
                name=f"job {task}",
                metadata=metadata,
            )
            try:
                yield JobTrace(root)
            finally:
                root.end()

    def flush(self) -> None:
        """Export buffered spans now: a frozen Lambda sandbox would never send them."""
        if self._client is not None:
            self._client.flush()
