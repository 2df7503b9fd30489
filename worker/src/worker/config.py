"""Worker settings: the shared ones (gen_ai_contracts.settings) plus those only the worker reads.

Read once per cold start; names and defaults in docs/contracts.md and worker/README.md.
"""

import json
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import NoDecode

from gen_ai_contracts.settings import ConfigurationError, SharedSettings, load_settings

__all__ = ["ConfigurationError", "Settings", "get_settings"]


class ModelRate(BaseModel):
    """A provider quota for one model: requests and tokens per minute, and calls in flight at
    once (a self-hosted server's parallel slots); None = no limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, gt=0, le=1000)


class Settings(SharedSettings):
    """Everything the worker reads from its environment; see worker/README.md for each name."""

    worker_max_concurrency: int = Field(default=10, ge=1, le=100)
    queue_max_receive_count: int = Field(default=5, ge=1)
    # Kept back from the Lambda deadline to release claims, report records and flush traces.
    worker_deadline_margin_seconds: float = Field(default=5.0, ge=0)
    # Redelivery back-off without a Retry-After: base, 2x base, 4x base ... capped.
    worker_retry_base_seconds: int = Field(default=10, ge=1, le=900)
    worker_retry_cap_seconds: int = Field(default=300, ge=1, le=900)
    powertools_metrics_namespace: str = "GenAiOnAws"
    # Webhook delivery (worker.callbacks): after a failed attempt n the event comes back in
    # about base x 2^(n-1) seconds (jittered), capped; WEBHOOK_MAX_ATTEMPTS bounds the attempts.
    webhook_retry_base_seconds: int = Field(default=5, ge=1, le=900)
    webhook_retry_cap_seconds: int = Field(default=900, ge=1, le=43_200)
    # A job's failure budget: attempts that reached the provider and failed retryably. Deferrals
    # (our limiter, an open circuit, a provider 429, a deadline too close) never count; SQS's
    # maxReceiveCount (QUEUE_MAX_RECEIVE_COUNT) stays the poison backstop per message.
    job_max_attempts: int = Field(default=5, ge=1, le=100)
    # A job older than this (from submitted_at) fails as max_age_exceeded instead of waiting more.
    job_max_age_seconds: int = Field(default=86_400, ge=60)
    # Where a job that spent its budget is copied for inspection and redrive (the lanes' DLQ).
    dlq_url: str | None = None
    # The DLQ settler (worker.settler): messages read per run, and how long each stays hidden
    # while a run looks at it (all are made visible again when the run ends).
    settler_max_messages: int = Field(default=1000, ge=1, le=100_000)
    settler_visibility_seconds: int = Field(default=60, ge=5, le=43_200)
    # Fleet-wide state (rate limits, provider pauses, circuit breakers): unset = none of them.
    llm_state_table_name: str | None = None
    llm_rpm_limit: int | None = Field(default=None, gt=0)
    llm_tpm_limit: int | None = Field(default=None, gt=0)
    # Calls in flight at once, fleet-wide, per model (self-hosted servers have N parallel slots).
    llm_concurrency_limit: int | None = Field(default=None, gt=0, le=1000)
    # Per-model overrides: {"<model>": {"rpm": n, "tpm": n}}; a model named here takes its
    # limits from here only (a missing key there = no limit of that kind).
    llm_rate_limits: Annotated[dict[str, ModelRate], NoDecode] = Field(default_factory=dict)
    # A record waits in-process at most this long (in total) for a limit, pause or probe; longer
    # waits defer the job (re-sent with DelaySeconds) instead of keeping Lambda busy sleeping.
    llm_limit_max_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    llm_circuit_failures: int = Field(default=5, ge=1, le=1000)
    llm_circuit_cooldown_seconds: float = Field(default=30.0, gt=0, le=300)
    llm_circuit_max_cooldown_seconds: float = Field(default=300.0, gt=0, le=900)

    @field_validator("llm_rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @model_validator(mode="after")
    def _limits_need_state(self) -> "Settings":
        limited = (
            self.llm_rpm_limit
            or self.llm_tpm_limit
            or self.llm_concurrency_limit
            or self.llm_rate_limits
        )
        if limited and not self.llm_state_table_name:
            raise ValueError(
                "LLM_RPM_LIMIT, LLM_TPM_LIMIT, LLM_CONCURRENCY_LIMIT and LLM_RATE_LIMITS are"
                " enforced fleet-wide through the table named by LLM_STATE_TABLE_NAME, which is"
                " not set"
            )
        return self

    def rate_for(self, model: str) -> ModelRate:
        """The quota for ``model``: its LLM_RATE_LIMITS entry, else LLM_RPM/TPM_LIMIT."""
        override = self.llm_rate_limits.get(model)
        if override is not None:
            return override
        return ModelRate(
            rpm=self.llm_rpm_limit, tpm=self.llm_tpm_limit, concurrency=self.llm_concurrency_limit
        )


@cache
def get_settings() -> Settings:
    """The settings of this process (cached: one load per cold start)."""
    return load_settings(Settings)
