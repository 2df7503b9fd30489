"""Settings for the API Lambda: the shared ones (`gen_ai_contracts.settings`) and the API's own.

Read once per cold start (names: docs/contracts.md and app/README.md); a missing or invalid
value raises `gen_ai_contracts.settings.ConfigurationError` naming the variable.
"""

from functools import lru_cache
from typing import Annotated

from pydantic import Field, PlainSerializer, PlainValidator, model_validator
from pydantic_settings import NoDecode

from gen_ai_contracts.api_keys import ApiKeyring, parse_api_keys
from gen_ai_contracts.settings import SharedSettings, load_settings

# `API_KEYS`: a list (tenant `default`) or `{"<tenant>": ["<key>" | "sha256:<hex>", ...]}`.
# Dumped as each tenant's key fingerprints: never a key.
ApiKeysSetting = Annotated[
    ApiKeyring,
    NoDecode,
    PlainValidator(parse_api_keys),
    PlainSerializer(ApiKeyring.fingerprints, return_type=dict[str, list[str]]),
]


class Settings(SharedSettings):
    """The shared settings plus what only the API reads."""

    # Bound on one synchronous extraction, every attempt included, inside API Gateway's 29 s.
    extract_deadline_seconds: float = Field(default=25.0, gt=0)
    # How long a submission's Idempotency-Key is remembered (Stripe keeps keys at least 24 h).
    idempotency_ttl_seconds: int = Field(default=86_400, gt=0)
    api_keys: ApiKeysSetting = ApiKeyring()
    # How often warm instances re-read API_KEYS from the secret (`api.keyring`); 0 = never.
    api_keys_refresh_seconds: float = Field(default=300.0, ge=0)
    # With no API_KEYS the API fails closed (503 `auth_not_configured`) unless this is true:
    # then every caller is tenant `default`. The devstack sets it; a stack only on request.
    allow_anonymous: bool = False
    # Requests per minute per tenant, fleet-wide (counted in LLM_STATE_TABLE_NAME); unset: none.
    tenant_rpm_limit: int | None = Field(default=None, gt=0)
    llm_state_table_name: str | None = None
    # litellm and instructor load on the first POST /extract-user (seconds of CPU no other
    # route needs); true loads them at init instead, so that request does not wait for them.
    llm_prewarm: bool = False

    @model_validator(mode="after")
    def _limit_needs_the_state_table(self) -> "Settings":
        if self.tenant_rpm_limit is not None and not self.llm_state_table_name:
            raise ValueError(
                "TENANT_RPM_LIMIT is counted fleet-wide in the table named by"
                " LLM_STATE_TABLE_NAME, which is not set"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached: one load per cold start)."""
    return load_settings(Settings)
