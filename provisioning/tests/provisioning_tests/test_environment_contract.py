"""Each function's environment in the stack is one its settings class accepts (dev and prod).

A renamed or mistyped variable in the Pulumi program would otherwise only show as a failed cold
start after `pulumi up`. The secret named by APP_SECRET_ID is empty at deploy time (its values
are put later), so it is left out here; the settings must load without it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gen_ai_contracts.settings import SharedSettings, load_settings
from gen_ai_on_aws.config import Settings as ApiSettings
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
