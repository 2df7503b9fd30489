"""Each function's environment in the stack is one its settings class accepts (dev and prod).

A renamed or mistyped variable in the Pulumi program would otherwise only show as a failed cold
start after `pulumi up`. The secret named by APP_SECRET_ID is empty at deploy time (its values
are put later), so it is left out here; the settings must load without it.
"""

from __future__ import annotations

from typing import Any

import pytest

from gen_ai_contracts.settings import SharedSettings, load_settings
from gen_ai_on_aws.config import Settings as ApiSettings
from worker.config import Settings as WorkerSettings

from .harness import StackRunner

# The webhook delivery runs the worker's package, so it reads the worker's settings.
SETTINGS_OF = {"api": ApiSettings, "worker": WorkerSettings, "callbacks": WorkerSettings}
LLM_FUNCTIONS = ("api", "worker")


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
        llmModel="openai/gpt-4o-mini",
        llmFallbackModels="anthropic/claude-3-5-haiku-latest",
        llmAllowedModels="openai/gpt-4o-mini,anthropic/claude-3-5-haiku-latest",
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
    assert env["APP_SECRET_ID"]
    assert settings.callbacks_queue_url
    assert settings.webhook_allow_private_targets is False
    if function in LLM_FUNCTIONS:
        assert settings.llm_fallback_models == ("anthropic/claude-3-5-haiku-latest",)
        assert "anthropic/claude-3-5-haiku-latest" in settings.allowed_models
