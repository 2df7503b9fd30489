"""Model choice: the default, fallback and allowed models reach both functions and IAM."""

from __future__ import annotations

import json

import pytest

from .harness import StackRunner, policy_statements

API_POLICY, WORKER_POLICY = "api-policy", "jobs-policy"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"
NOVA = "amazon.nova-micro-v1:0"


def bedrock_resources(run_policy: list[dict[str, object]]) -> list[object]:
    return [s["Resource"] for s in run_policy if str(s["Sid"]).startswith("InvokeBedrock")]


@pytest.mark.parametrize(
    "fallbacks",
    [
        "openai/gpt-4o, anthropic/claude-3-5-haiku",
        '["openai/gpt-4o", "anthropic/claude-3-5-haiku"]',
    ],
    ids=["comma-string", "yaml-list"],
)
def test_fallback_and_allowed_models_reach_both_functions_comma_separated(
    stack_runner: StackRunner, fallbacks: str
) -> None:
    # GIVEN fallbacks as a comma string or a YAML list (Pulumi passes lists as JSON)
    run = stack_runner(llmFallbackModels=fallbacks, llmAllowedModels="openai/gpt-4o-mini,gpt-4o")

    # THEN both functions read the same comma-separated lists
    for function in ("api", "worker"):
        env = run.function_env(function)
        assert env["LLM_FALLBACK_MODELS"] == "openai/gpt-4o,anthropic/claude-3-5-haiku"
        assert env["LLM_ALLOWED_MODELS"] == "openai/gpt-4o-mini,gpt-4o"


def test_unset_model_lists_are_left_to_the_code_defaults(stack_runner: StackRunner) -> None:
    run = stack_runner()
    for function in ("api", "worker"):
        env = run.function_env(function)
        assert "LLM_FALLBACK_MODELS" not in env
        assert "LLM_ALLOWED_MODELS" not in env


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["openai/gpt-4o", {"model": "x"}]', "must be a list of model names"),
        ('["openai/gpt-4o",', "must be a list of model names"),
        ("[1, 2]", "must be a list of model names"),
        ('["openai/gpt 4o"]', "cannot hold spaces or commas"),
    ],
)
def test_unusable_model_lists_are_rejected_naming_the_key(
    stack_runner: StackRunner, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=f"llmFallbackModels.*{message}"):
        stack_runner(llmFallbackModels=value)


@pytest.mark.parametrize("policy", [WORKER_POLICY, API_POLICY])
def test_every_configured_bedrock_model_is_granted_and_only_those(
    stack_runner: StackRunner, policy: str
) -> None:
    # GIVEN a non-Bedrock default, a Bedrock fallback and a Bedrock model allowed on request
    run = stack_runner(
        llmModel="openai/gpt-4o-mini",
        llmFallbackModels=f"bedrock/converse/{HAIKU},anthropic/claude-3-5-haiku",
        llmAllowedModels=json.dumps(["openai/gpt-4o-mini", f"bedrock/{NOVA}"]),
    )

    # THEN InvokeModel names exactly those two foundation models, one ARN per statement
    assert bedrock_resources(policy_statements(run, policy)) == [
        f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
        f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA}",
    ]
    assert run.calls == []  # foundation models need no account lookup


def test_inference_profiles_of_one_model_grant_its_foundation_model_once(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner(
        llmModel=f"bedrock/us.{SONNET}",
        llmFallbackModels=f"bedrock/eu.{SONNET},bedrock/us.{SONNET}",
    )
    resources = bedrock_resources(policy_statements(run, WORKER_POLICY))
    assert resources == [
        f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{SONNET}",
        f"arn:aws:bedrock:*::foundation-model/{SONNET}",
        f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.{SONNET}",
    ]
    sids = [s["Sid"] for s in policy_statements(run, WORKER_POLICY)]
    assert len(sids) == len(set(sids))
