"""Settings: environment variables, the Secrets Manager JSON named by APP_SECRET_ID, defaults."""

from __future__ import annotations

import json
from typing import Any

import boto3
import instructor
import pytest

from devstack.resources import StackResources
from worker.config import ConfigurationError, Settings, get_settings

REQUIRED = {"queue_url": "https://queue", "jobs_table_name": "jobs"}


@pytest.fixture
def secret(aws: StackResources, monkeypatch: pytest.MonkeyPatch) -> str:
    """A moto secret shaped like the deployed one, named by APP_SECRET_ID."""
    client = boto3.client("secretsmanager", region_name="us-east-1")
    values = {
        "LLM_API_KEY": "sk-from-secret",
        "LANGFUSE_PUBLIC_KEY": "pk-lf-from-secret",
        "langfuse_secret_key": "sk-lf-from-secret",
        "LLM_TIMEOUT_SECONDS": "7",
    }
    arn = client.create_secret(Name="gen-ai-on-aws/app", SecretString=json.dumps(values))["ARN"]
    monkeypatch.setenv("APP_SECRET_ID", arn)
    return str(arn)


def test_secrets_come_from_the_secret_named_by_app_secret_id(
    worker_env: StackResources, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLM_API_KEY")
    settings = get_settings()
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == "sk-from-secret"
    assert settings.langfuse_public_key is not None
    assert settings.langfuse_secret_key is not None
    assert settings.langfuse_secret_key.get_secret_value() == "sk-lf-from-secret"
    # An environment variable wins over the secret (local overrides)
    assert settings.llm_timeout_seconds == 5
    assert "sk-from-secret" not in repr(settings)


def test_settings_are_read_once_per_process(worker_env: StackResources) -> None:
    assert get_settings() is get_settings()


def test_worker_runs_with_settings_from_the_secret(
    harness: Any, secret: str, monkeypatch: pytest.MonkeyPatch, fake_llm: Any
) -> None:
    # GIVEN the LLM endpoint is known only to the secret
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.put_secret_value(
        SecretId=secret, SecretString=json.dumps({"LLM_API_BASE": fake_llm.base_url})
    )
    monkeypatch.delenv("LLM_API_BASE")
    job = harness.submit()
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    assert harness.job(job.job_id)["status"] == "succeeded"


def test_missing_secret_is_a_configuration_error_saying_what_to_fix(
    worker_env: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_SECRET_ID", "no-such-secret")
    with pytest.raises(ConfigurationError, match="APP_SECRET_ID"):
        get_settings()


def test_missing_required_setting_names_the_variable(aws_env: None) -> None:
    with pytest.raises(ConfigurationError, match="QUEUE_URL"):
        get_settings()


@pytest.mark.parametrize(
    ("overrides", "mode"),
    [
        ({}, "TOOLS"),
        ({"llm_api_base": "http://127.0.0.1:8080/v1"}, "JSON_SCHEMA"),
        ({"llm_mode": "md_json"}, "MD_JSON"),
        ({"llm_mode": "TOOLS", "llm_api_base": "http://x/v1"}, "TOOLS"),
    ],
)
def test_instructor_mode_defaults_per_provider(overrides: dict[str, str], mode: str) -> None:
    name = Settings(**REQUIRED, **overrides).instructor_mode_name  # type: ignore[arg-type]
    assert name == mode
    assert instructor.Mode[name].name == mode


def test_unknown_llm_mode_is_refused(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_URL", "q")
    monkeypatch.setenv("JOBS_TABLE_NAME", "t")
    monkeypatch.setenv("LLM_MODE", "telepathy")
    with pytest.raises(ConfigurationError, match="LLM_MODE"):
        get_settings()
