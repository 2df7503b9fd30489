"""Each function's environment in the stack is one its settings class accepts (dev and prod).

A renamed or mistyped variable in the Pulumi program would otherwise only show as a failed cold
start after `pulumi up`. The secret named by APP_SECRET_ID is empty at deploy time (its values
are put later), so it is left out here; the settings must load without it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import SecretStr

from gen_ai_contracts.settings import SharedSettings, load_settings
from gen_ai_on_aws.config import Settings as ApiSettings
from provisioning.stack.data import SECRET_KEYS
from worker.config import ModelRate
from worker.config import Settings as WorkerSettings

from .harness import StackRunner

# The webhook delivery and the DLQ settler run the worker's package: the worker's settings.
SETTINGS_OF: dict[str, type[SharedSettings]] = {
    "api": ApiSettings,
    "worker": WorkerSettings,
    "callbacks": WorkerSettings,
    "settler": WorkerSettings,
}
LLM_FUNCTIONS = ("api", "worker")
# The settler needs no secret (and has no grant to read one).
SECRET_READERS = ("api", "worker", "callbacks")
MODEL, FALLBACK = "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"
# Every limit, breaker and budget key set, in the shapes an operator writes them.
LIMITS = {
    "llmRpmLimit": "200",
    "llmTpmLimit": "150000",
    "llmRateLimits": json.dumps({FALLBACK: {"rpm": 50, "tpm": 40000}}),
    "llmLimitMaxWaitSeconds": "1.5",
    "llmCircuitFailures": "4",
    "llmCircuitCooldownSeconds": "20",
    "llmCircuitMaxCooldownSeconds": "240",
    "jobMaxAttempts": "4",
    "jobMaxAgeSeconds": "43200",
}


def _load_with_environment(
    monkeypatch: pytest.MonkeyPatch, settings_class: type[SharedSettings], env: dict[str, str]
) -> Any:
    for name in settings_class.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in env.items():
        if name != "APP_SECRET_ID":  # the deployed secret: read at cold start, not here
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # set by the Lambda runtime itself
    return load_settings(settings_class)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("function", sorted(SETTINGS_OF))
def test_the_stack_environment_satisfies_the_functions_settings(
    stack_runner: StackRunner, monkeypatch: pytest.MonkeyPatch, stack: str, function: str
) -> None:
    run = stack_runner(
        stack=stack,
        llmModel=MODEL,
        llmFallbackModels=FALLBACK,
        llmAllowedModels=f"{MODEL},{FALLBACK}",
    )
    env = run.function_env(function)
    settings = _load_with_environment(monkeypatch, SETTINGS_OF[function], env)
    # Every variable the stack sets for the function is one its settings read (or the runtime's)
    known = {name.upper() for name in SETTINGS_OF[function].model_fields}
    # ... or a library's: litellm's price map switch and Powertools' service/namespace names.
    library_names = {
        "LITELLM_LOCAL_MODEL_COST_MAP",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
    }
    assert set(env) - known - library_names == set()
    assert ("APP_SECRET_ID" in env) == (function in SECRET_READERS)
    if function in SECRET_READERS:
        assert env["APP_SECRET_ID"]
    assert settings.callbacks_queue_url
    assert settings.webhook_allow_private_targets is False
    if function in LLM_FUNCTIONS:
        assert settings.llm_fallback_models == (FALLBACK,)
        assert FALLBACK in settings.allowed_models
    if function in ("api", "worker"):
        # Each priority reaches its own lane's queue (none falls back to the normal queue)
        lanes = {
            priority: settings.queue_url_for(priority) for priority in ("high", "normal", "low")
        }
        assert lanes == {
            "high": run.outputs["queue_url_high"],
            "normal": run.outputs["queue_url"],
            "low": run.outputs["queue_url_low"],
        }
        assert len(set(lanes.values())) == 3
    if function == "settler":
        assert (settings.dlq_url, settings.jobs_table_name) == (
            run.outputs["dlq_url"],
            run.outputs["jobs_table_name"],
        )
        assert settings.settler_visibility_seconds == 60  # the function's timeout


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_workers_limits_breaker_and_budget_reach_its_settings(
    stack_runner: StackRunner, monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    # GIVEN every limit, breaker and budget key set in the stack's config
    run = stack_runner(
        stack=stack, llmModel=MODEL, llmFallbackModels=FALLBACK, queueMaxReceiveCount="9", **LIMITS
    )

    # WHEN the worker loads its settings from the environment the stack gives it
    settings = _load_with_environment(monkeypatch, WorkerSettings, run.function_env("worker"))

    # THEN each value arrives as the worker reads it
    assert settings.llm_state_table_name == run.outputs["llm_state_table_name"]
    assert settings.dlq_url == run.outputs["dlq_url"]
    assert settings.rate_for(MODEL) == ModelRate(rpm=200, tpm=150_000)
    assert settings.rate_for(FALLBACK) == ModelRate(rpm=50, tpm=40_000)
    assert (
        settings.llm_limit_max_wait_seconds,
        settings.llm_circuit_failures,
        settings.llm_circuit_cooldown_seconds,
        settings.llm_circuit_max_cooldown_seconds,
    ) == (1.5, 4, 20.0, 240.0)
    assert (settings.job_max_attempts, settings.job_max_age_seconds) == (4, 43_200)
    assert settings.queue_max_receive_count == 9


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_limit_keys_the_worker_keeps_its_own_defaults_and_no_limit(
    stack_runner: StackRunner, monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    run = stack_runner(stack=stack)
    env = run.function_env("worker")
    defaults = WorkerSettings.model_fields
    settings = _load_with_environment(monkeypatch, WorkerSettings, env)
    assert settings.rate_for(MODEL) == ModelRate()
    for name in (
        "llm_limit_max_wait_seconds",
        "llm_circuit_failures",
        "llm_circuit_cooldown_seconds",
        "llm_circuit_max_cooldown_seconds",
        "job_max_age_seconds",
    ):
        assert name.upper() not in env
        assert getattr(settings, name) == defaults[name].default, name
    # The budget is always the stack's: five real attempts, twice that as SQS's backstop
    assert (settings.job_max_attempts, settings.queue_max_receive_count) == (5, 10)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_apis_access_settings_arrive_only_when_configured(
    stack_runner: StackRunner, monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    # GIVEN the stack as committed: the API requires keys and limits no tenant
    settings = _load_with_environment(
        monkeypatch, ApiSettings, stack_runner(stack=stack).function_env("api")
    )
    assert (settings.allow_anonymous, settings.tenant_rpm_limit) == (False, None)

    # WHEN the stack opens it and limits each tenant
    run = stack_runner(stack=stack, allowAnonymous="true", tenantRpmLimit="90")
    settings = _load_with_environment(monkeypatch, ApiSettings, run.function_env("api"))

    # THEN the API reads both, and counts requests in the stack's LLM state table
    assert (settings.allow_anonymous, settings.tenant_rpm_limit) == (True, 90)
    assert settings.llm_state_table_name == run.outputs["llm_state_table_name"]


# A value for every key of the deployed secret, in the shapes the README's "Secrets" step puts.
SECRET_VALUE = {
    "LLM_API_KEY": "sk-test-not-a-real-key",
    "LANGFUSE_PUBLIC_KEY": "pk-lf-test",
    "LANGFUSE_SECRET_KEY": "sk-lf-test",
    "API_KEYS": '{"acme": ["sha256:' + "ab" * 32 + '"]}',
    "WEBHOOK_SIGNING_SECRET": "whsec_" + base64.b64encode(b"k" * 32).decode(),
}


def test_the_secret_keys_are_the_ones_the_readme_step_puts() -> None:
    assert set(SECRET_VALUE) == set(SECRET_KEYS)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("function", SECRET_READERS)
def test_the_stack_environment_plus_the_secret_loads_through_secrets_manager(
    stack_runner: StackRunner, monkeypatch: pytest.MonkeyPatch, stack: str, function: str
) -> None:
    # GIVEN the function's environment from the stack, and its secret holding every key, read
    # the way a cold start reads it (APP_SECRET_ID -> Secrets Manager, here moto)
    settings_class = SETTINGS_OF[function]
    env = stack_runner(stack=stack).function_env(function)
    for name in [*settings_class.model_fields, *SECRET_KEYS]:
        monkeypatch.delenv(name.upper(), raising=False)
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secret = secrets.create_secret(Name="app-secret", SecretString=json.dumps(SECRET_VALUE))
        for name, value in {**env, "APP_SECRET_ID": secret["ARN"]}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        settings = load_settings(settings_class)

    # THEN every key of the secret this function reads arrived, as a secret value
    read = [key for key in SECRET_KEYS if key.lower() in settings_class.model_fields]
    assert read
    for key in read:
        value = getattr(settings, key.lower())
        assert isinstance(value, SecretStr) or key == "API_KEYS", key
        shown = value.get_secret_value() if isinstance(value, SecretStr) else value
        assert shown, key


def test_every_key_of_the_secret_is_read_by_some_function() -> None:
    read = {
        key
        for key in SECRET_KEYS
        for cls in SETTINGS_OF.values()
        if key.lower() in cls.model_fields
    }
    assert read == set(SECRET_KEYS)
