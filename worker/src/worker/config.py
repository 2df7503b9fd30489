"""Worker settings, read once per cold start (field names: docs/contracts.md).

Copied from the API's config.py and trimmed to what the worker uses. Plain values come from
environment variables; any field may also come from the Secrets Manager secret (a JSON object)
named by `APP_SECRET_ID`, which is where the `SecretStr` ones live in a deployment. An
environment variable of the same name wins over the secret.
"""

import json
import os
from functools import cache
from typing import Any, Literal

import instructor
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    AWSSecretsManagerSettingsSource,
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

LlmMode = Literal["TOOLS", "TOOLS_STRICT", "JSON", "JSON_SCHEMA", "MD_JSON"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ConfigurationError(RuntimeError):
    """The settings are missing or invalid; the message names each variable to fix."""


class Settings(BaseSettings):
    """Everything the worker reads from its environment; see worker/README.md for each name."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    queue_url: str
    jobs_table_name: str
    app_secret_id: str | None = None
    job_ttl_seconds: int = Field(default=604_800, gt=0)
    llm_model: str = "openai/gpt-4o-mini"
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_mode: LlmMode | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    langfuse_public_key: SecretStr | None = None
    langfuse_secret_key: SecretStr | None = None
    langfuse_host: str | None = None
    log_level: LogLevel = "INFO"
    worker_max_concurrency: int = Field(default=10, ge=1, le=100)
    queue_max_receive_count: int = Field(default=5, ge=1)
    # Kept back from the Lambda deadline to release claims, report records and flush traces.
    worker_deadline_margin_seconds: float = Field(default=5.0, ge=0)
    # Redelivery back-off without a Retry-After: base, 2x base, 4x base ... capped.
    worker_retry_base_seconds: int = Field(default=10, ge=1, le=900)
    worker_retry_cap_seconds: int = Field(default=300, ge=1, le=900)
    powertools_metrics_namespace: str = "GenAiOnAws"
    # botocore reads only AWS_DEFAULT_REGION; Lambda sets both, local tools often AWS_REGION.
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )

    @field_validator("llm_mode", "log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        return (value.strip().upper() or None) if isinstance(value, str) else value

    @property
    def instructor_mode(self) -> instructor.Mode:
        """LLM_MODE, else TOOLS for hosted providers and JSON_SCHEMA for local servers."""
        if self.llm_mode:
            return instructor.Mode[self.llm_mode]
        return instructor.Mode.JSON_SCHEMA if self.llm_api_base else instructor.Mode.TOOLS

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the secret named by APP_SECRET_ID (if set)."""
        secret_id = os.environ.get("APP_SECRET_ID", "").strip()
        if not secret_id:
            return init_settings, env_settings
        secret = AWSSecretsManagerSettingsSource(
            settings_cls,
            secret_id=secret_id,
            region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
            case_sensitive=False,
        )
        return init_settings, env_settings, secret


def load_settings() -> Settings:
    """Build `Settings`, turning any failure into a message that names what to fix."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigurationError(f"Invalid configuration: {problems}") from exc
    except (BotoCoreError, ClientError, json.JSONDecodeError) as exc:
        raise ConfigurationError(
            f"Could not read the secret named by APP_SECRET_ID: {exc}. Check the name, the "
            "region, that it holds a JSON object, and the role's secretsmanager:GetSecretValue."
        ) from exc


def _describe(error: Any) -> str:
    name = str(error["loc"][0]).upper() if error["loc"] else "settings"
    return f"{name}: {error['msg']}"


@cache
def get_settings() -> Settings:
    """The settings of this process (cached: one load per cold start)."""
    return load_settings()
