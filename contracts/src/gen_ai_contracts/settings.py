"""Settings both Lambdas read, and how they are loaded (field names: docs/contracts.md).

Plain values come from environment variables. Sensitive ones (`SecretStr` fields) may also come
from one Secrets Manager secret, a JSON object named by `APP_SECRET_ID`; an environment variable
of the same name wins over the secret, so local runs and tests need no secret at all. Each
Lambda subclasses `SharedSettings` with the names only it reads.
"""

import json
import os
from typing import Annotated, Any, Literal, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    AWSSecretsManagerSettingsSource,
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gen_ai_contracts.queue import Priority

LlmMode = Literal["TOOLS", "TOOLS_STRICT", "JSON", "JSON_SCHEMA", "MD_JSON"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
ModelList = Annotated[tuple[str, ...], NoDecode]

SettingsT = TypeVar("SettingsT", bound="SharedSettings")


class ConfigurationError(RuntimeError):
    """The settings are missing or invalid; the message names each variable to fix."""


def split_list(value: Any) -> Any:
    """A JSON list or a comma-separated string as a tuple of stripped, non-blank strings."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split(",")
    if isinstance(value, list | tuple):
        return tuple(str(item).strip() for item in value if str(item).strip())
    return value


class SharedSettings(BaseSettings):
    """The names both functions read, with one type and default each."""

    # hide_input_in_errors: a rejected value (an API key, a provider key) never reaches an
    # error message or the traceback of a failed cold start.
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    # The normal lane's queue; the high and low lanes' queues (unset = that lane shares the
    # normal queue, so a stack without lanes still accepts every priority).
    queue_url: str
    queue_url_high: str | None = None
    queue_url_low: str | None = None
    jobs_table_name: str
    app_secret_id: str | None = None
    job_ttl_seconds: int = Field(default=604_800, gt=0)
    llm_model: str = "openai/gpt-4o-mini"
    # Tried in order when the chosen model fails with a retryable provider error.
    llm_fallback_models: ModelList = ()
    # What a request may name; empty = LLM_MODEL plus the fallbacks.
    llm_allowed_models: ModelList = ()
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_mode: LlmMode | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    langfuse_public_key: SecretStr | None = None
    langfuse_secret_key: SecretStr | None = None
    langfuse_host: str | None = None
    log_level: LogLevel = "INFO"
    # Webhooks: where final-job events are queued for delivery (unset = no callbacks accepted),
    # the Standard Webhooks signing secret (`whsec_<base64>`), and the SSRF guard's switch
    # (true only in the devstack, whose receivers live on 127.0.0.1).
    callbacks_queue_url: str | None = None
    webhook_signing_secret: SecretStr | None = None
    webhook_max_attempts: int = Field(default=6, ge=1, le=50)
    webhook_allow_private_targets: bool = False
    # botocore reads only AWS_DEFAULT_REGION; Lambda sets both, local tools often AWS_REGION.
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )

    @field_validator("llm_mode", "log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        """Values are case-insensitive like the names: `json_schema`, `debug` are accepted."""
        return (value.strip().upper() or None) if isinstance(value, str) else value

    @field_validator("llm_fallback_models", "llm_allowed_models", mode="before")
    @classmethod
    def _split_models(cls, value: Any) -> Any:
        return split_list(value)

    def queue_url_for(self, priority: Priority) -> str:
        """The queue of ``priority``'s lane."""
        lanes = {"high": self.queue_url_high, "low": self.queue_url_low}
        return lanes.get(priority) or self.queue_url

    @property
    def allowed_models(self) -> tuple[str, ...]:
        """LLM_ALLOWED_MODELS, or by default LLM_MODEL and LLM_FALLBACK_MODELS."""
        if self.llm_allowed_models:
            return self.llm_allowed_models
        return tuple(dict.fromkeys((self.llm_model, *self.llm_fallback_models)))

    def models_to_try(self, chosen: str | None) -> tuple[str, ...]:
        """The chosen model (default LLM_MODEL), then each fallback not already tried."""
        return tuple(dict.fromkeys((chosen or self.llm_model, *self.llm_fallback_models)))

    @property
    def instructor_mode_name(self) -> LlmMode:
        """LLM_MODE, else JSON_SCHEMA for self-hosted servers (grammar-constrained output works
        with small models) and TOOLS for hosted providers."""
        if self.llm_mode is not None:
            return self.llm_mode
        return "JSON_SCHEMA" if self.llm_api_base else "TOOLS"

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


def load_settings(settings_cls: type[SettingsT]) -> SettingsT:
    """Build the settings, turning any failure into a message that names what to fix."""
    try:
        return settings_cls()
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
