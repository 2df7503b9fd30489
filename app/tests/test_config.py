"""Settings: environment, the Secrets Manager secret, and failures that name the variable."""

from __future__ import annotations

import json
import logging

import boto3
import pytest

from devstack.resources import StackResources
from gen_ai_contracts.api_keys import hashed_entry
from gen_ai_contracts.settings import ConfigurationError, load_settings
from gen_ai_on_aws.config import Settings, get_settings

SECRET_NAME = "gen-ai-on-aws/test/app"


def set_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/jobs")
    monkeypatch.setenv("JOBS_TABLE_NAME", "jobs")


def create_secret(values: dict[str, object]) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=SECRET_NAME, SecretString=json.dumps(values))


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    set_required(monkeypatch)

    settings = load_settings(Settings)

    assert settings.job_ttl_seconds == 604_800
    assert settings.llm_model == "openai/gpt-4o-mini"
    assert settings.llm_timeout_seconds == 30
    assert settings.llm_max_retries == 2
    assert settings.llm_mode is None
    assert settings.log_level == "INFO"
    assert not settings.api_keys
    assert settings.allow_anonymous is False
    assert settings.tenant_rpm_limit is None
    assert settings.llm_api_key is None
    assert settings.extract_deadline_seconds == 25
    assert settings.llm_fallback_models == ()
    assert settings.allowed_models == ("openai/gpt-4o-mini",)


def test_plain_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    set_required(monkeypatch)
    monkeypatch.setenv("JOB_TTL_SECONDS", "60")
    monkeypatch.setenv("LLM_API_BASE", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("llm_mode", "json_schema")  # names and enum values are case-insensitive
    monkeypatch.setenv("LOG_LEVEL", "debug")

    settings = load_settings(Settings)

    assert settings.queue_url.endswith("/jobs")
    assert settings.jobs_table_name == "jobs"
    assert settings.job_ttl_seconds == 60
    assert settings.llm_api_base == "http://127.0.0.1:8080/v1"
    assert settings.llm_mode == "JSON_SCHEMA"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize("missing", ["QUEUE_URL", "JOBS_TABLE_NAME"])
def test_missing_required_setting_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    set_required(monkeypatch)
    monkeypatch.delenv(missing)

    with pytest.raises(ConfigurationError, match=f"{missing}: Field required"):
        load_settings(Settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOB_TTL_SECONDS", "0"),
        ("LLM_MODE", "SMOKE_SIGNALS"),
        ("LLM_TIMEOUT_SECONDS", "soon"),
        ("LOG_LEVEL", "chatty"),
        ("API_KEYS", "[not json"),
    ],
)
def test_invalid_setting_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    set_required(monkeypatch)
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigurationError, match=name):
        load_settings(Settings)


@pytest.mark.parametrize(
    "raw",
    [
        "key-one-0123456789,key-two-0123456789",
        " key-one-0123456789 , key-two-0123456789 ,",
        '["key-one-0123456789", "key-two-0123456789"]',
    ],
)
def test_api_keys_accept_a_comma_separated_string_or_a_json_list(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    set_required(monkeypatch)
    monkeypatch.setenv("API_KEYS", raw)

    keys = load_settings(Settings).api_keys

    assert keys.tenant_of("key-one-0123456789") == keys.tenant_of("key-two-0123456789") == "default"
    assert keys.key_count == 2


def test_model_lists_accept_a_comma_separated_string_or_a_json_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_required(monkeypatch)
    monkeypatch.setenv("LLM_MODEL", "openai/primary")
    monkeypatch.setenv("LLM_FALLBACK_MODELS", " openai/second, openai/third ,")
    monkeypatch.setenv("LLM_ALLOWED_MODELS", '["openai/primary", "openai/other"]')

    settings = load_settings(Settings)

    assert settings.llm_fallback_models == ("openai/second", "openai/third")
    assert settings.allowed_models == ("openai/primary", "openai/other")


def test_allowed_models_default_to_the_model_and_its_fallbacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_required(monkeypatch)
    monkeypatch.setenv("LLM_MODEL", "openai/primary")
    monkeypatch.setenv("LLM_FALLBACK_MODELS", "openai/second,openai/primary")

    assert load_settings(Settings).allowed_models == ("openai/primary", "openai/second")


def test_aws_region_falls_back_to_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    set_required(monkeypatch)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")

    assert load_settings(Settings).aws_region == "eu-west-3"


def test_get_settings_loads_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    set_required(monkeypatch)
    first = get_settings()
    monkeypatch.setenv("JOBS_TABLE_NAME", "changed")

    assert get_settings() is first


def test_sensitive_values_come_from_the_secret(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources
) -> None:
    # GIVEN a secret holding the sensitive values, named by APP_SECRET_ID
    set_required(monkeypatch)
    create_secret(
        {
            "LLM_API_KEY": "sk-from-secret",
            "API_KEYS": ["client-a-0123456789", "client-b-0123456789"],
            "LANGFUSE_SECRET_KEY": "lf-secret",
        }
    )
    monkeypatch.setenv("APP_SECRET_ID", SECRET_NAME)

    # WHEN the settings load
    settings = load_settings(Settings)

    # THEN the values are the secret's, as SecretStr
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == "sk-from-secret"
    tenants = {settings.api_keys.tenant_of(f"client-{n}-0123456789") for n in "ab"}
    assert tenants == {"default"}
    assert settings.api_keys.key_count == 2
    assert settings.langfuse_secret_key is not None
    assert settings.langfuse_secret_key.get_secret_value() == "lf-secret"


def test_environment_wins_over_the_secret(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources
) -> None:
    set_required(monkeypatch)
    create_secret(
        {"LLM_API_KEY": "sk-from-secret", "API_KEYS": "key-a-0123456789ab,key-b-0123456789ab"}
    )
    monkeypatch.setenv("APP_SECRET_ID", SECRET_NAME)
    monkeypatch.setenv("LLM_API_KEY", "sk-from-env")

    settings = load_settings(Settings)

    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == "sk-from-env"
    assert settings.api_keys.key_count == 2


@pytest.mark.parametrize("stored_as", ["object", "string"])
def test_the_secret_may_hold_api_keys_by_tenant_as_an_object_or_a_json_string(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources, stored_as: str
) -> None:
    by_tenant = {"acme": ["acme-key-0123456789"], "beta": [hashed_entry("beta-key-0123456789")]}
    set_required(monkeypatch)
    create_secret({"API_KEYS": by_tenant if stored_as == "object" else json.dumps(by_tenant)})
    monkeypatch.setenv("APP_SECRET_ID", SECRET_NAME)

    keys = load_settings(Settings).api_keys

    assert keys.tenant_of("acme-key-0123456789") == "acme"
    assert keys.tenant_of("beta-key-0123456789") == "beta"


def test_wrongly_typed_secret_value_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources
) -> None:
    set_required(monkeypatch)
    create_secret({"API_KEYS": 42})
    monkeypatch.setenv("APP_SECRET_ID", SECRET_NAME)

    with pytest.raises(ConfigurationError, match="API_KEYS"):
        load_settings(Settings)


def test_unreadable_secret_fails_naming_app_secret_id(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources
) -> None:
    set_required(monkeypatch)
    monkeypatch.setenv("APP_SECRET_ID", "no-such-secret")

    with pytest.raises(ConfigurationError, match=r"APP_SECRET_ID.*ResourceNotFoundException"):
        load_settings(Settings)


def test_secret_that_is_not_json_fails_naming_app_secret_id(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources
) -> None:
    set_required(monkeypatch)
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=SECRET_NAME, SecretString="not json"
    )
    monkeypatch.setenv("APP_SECRET_ID", SECRET_NAME)

    with pytest.raises(ConfigurationError, match="APP_SECRET_ID"):
        load_settings(Settings)


def test_secret_values_never_appear_in_repr_or_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    set_required(monkeypatch)
    monkeypatch.setenv("LLM_API_KEY", "sk-very-secret")
    monkeypatch.setenv("API_KEYS", "client-very-secret")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "lf-very-secret")
    settings = load_settings(Settings)

    logging.getLogger("test").warning("settings: %s / %r", settings, settings)

    for rendering in (repr(settings), str(settings), caplog.text, settings.model_dump_json()):
        assert "very-secret" not in rendering


def test_settings_are_immutable(monkeypatch: pytest.MonkeyPatch) -> None:
    set_required(monkeypatch)
    settings = Settings()

    with pytest.raises(ValueError, match="frozen"):
        settings.queue_url = "elsewhere"  # type: ignore[misc]
