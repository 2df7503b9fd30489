"""Settings for the API Lambda: the shared ones (`gen_ai_contracts.settings`) and the API's own.

Read once per cold start (names: docs/contracts.md and app/README.md); a missing or invalid
value raises `gen_ai_contracts.settings.ConfigurationError` naming the variable.
"""

from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from gen_ai_contracts.settings import SharedSettings, load_settings, split_list


class Settings(SharedSettings):
    """The shared settings plus what only the API reads."""

    # Bound on one synchronous extraction, every attempt included, inside API Gateway's 29 s.
    extract_deadline_seconds: float = Field(default=25.0, gt=0)
    # How long a submission's Idempotency-Key is remembered (Stripe keeps keys at least 24 h).
    idempotency_ttl_seconds: int = Field(default=86_400, gt=0)
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    # litellm and instructor load on the first POST /extract-user (seconds of CPU no other
    # route needs); true loads them at init instead, so that request does not wait for them.
    llm_prewarm: bool = False

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_api_keys(cls, value: Any) -> Any:
        """Accept a JSON list or a comma-separated string; blanks are dropped."""
        return split_list(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached: one load per cold start)."""
    return load_settings(Settings)
