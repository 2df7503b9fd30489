"""Worker settings: the shared ones (gen_ai_contracts.settings) plus those only the worker reads.

Read once per cold start; names and defaults in docs/contracts.md and worker/README.md.
"""

from functools import cache

from pydantic import Field

from gen_ai_contracts.settings import ConfigurationError, SharedSettings, load_settings

__all__ = ["ConfigurationError", "Settings", "get_settings"]


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


@cache
def get_settings() -> Settings:
    """The settings of this process (cached: one load per cold start)."""
    return load_settings(Settings)
