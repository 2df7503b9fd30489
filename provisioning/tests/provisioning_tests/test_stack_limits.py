"""Limits, breaker and budget keys: what reaches the worker, and what is refused before any
resource exists."""

from __future__ import annotations

import json

import pytest
from pulumi.config import ConfigTypeError

from .harness import StackRunner

FUNCTION = "aws:lambda/function:Function"
HAIKU = "anthropic/claude-3-5-haiku-latest"
LIMIT_VARIABLES = {
    "LLM_RPM_LIMIT",
    "LLM_TPM_LIMIT",
    "LLM_RATE_LIMITS",
    "LLM_LIMIT_MAX_WAIT_SECONDS",
    "LLM_CIRCUIT_FAILURES",
    "LLM_CIRCUIT_COOLDOWN_SECONDS",
    "LLM_CIRCUIT_MAX_COOLDOWN_SECONDS",
    "JOB_MAX_AGE_SECONDS",
}


def test_unset_limit_keys_leave_the_workers_defaults(stack_runner: StackRunner) -> None:
    env = stack_runner().function_env("worker")
    assert LIMIT_VARIABLES & set(env) == set()
    # The budget is always set: five real attempts; SQS's backstop is twice that
    assert (env["JOB_MAX_ATTEMPTS"], env["QUEUE_MAX_RECEIVE_COUNT"]) == ("5", "10")


def test_limits_go_to_the_worker_only_with_the_rate_limits_as_compact_json(
    stack_runner: StackRunner,
) -> None:
    # GIVEN per-model limits as Pulumi hands an object over (a JSON string), keys unsorted
    run = stack_runner(
        llmFallbackModels=HAIKU,
        llmRpmLimit="200",
        llmTpmLimit="150000",
        llmRateLimits=json.dumps({HAIKU: {"tpm": 40000, "rpm": 50}, "openai/gpt-4o-mini": {}}),
        llmLimitMaxWaitSeconds="1.5",
        llmCircuitFailures="3",
        llmCircuitCooldownSeconds="15",
        llmCircuitMaxCooldownSeconds="120",
        jobMaxAgeSeconds="3600",
    )
    env = run.function_env("worker")
    assert {name: env[name] for name in LIMIT_VARIABLES} == {
        "LLM_RPM_LIMIT": "200",
        "LLM_TPM_LIMIT": "150000",
        # an empty object exempts a model from the global limits
        "LLM_RATE_LIMITS": (
            '{"anthropic/claude-3-5-haiku-latest":{"rpm":50,"tpm":40000},"openai/gpt-4o-mini":{}}'
        ),
        "LLM_LIMIT_MAX_WAIT_SECONDS": "1.5",
        "LLM_CIRCUIT_FAILURES": "3",
        "LLM_CIRCUIT_COOLDOWN_SECONDS": "15.0",
        "LLM_CIRCUIT_MAX_COOLDOWN_SECONDS": "120.0",
        "JOB_MAX_AGE_SECONDS": "3600",
    }
    # The API does not run jobs: it gets no limit, breaker or budget
    assert LIMIT_VARIABLES & set(run.function_env("api")) == set()
    assert LIMIT_VARIABLES & set(run.function_env("callbacks")) == set()


@pytest.mark.parametrize(
    ("overrides", "attempts", "backstop"),
    [
        # A stack that bounded attempts through the receive count keeps that budget
        ({"queueMaxReceiveCount": "7"}, "7", "7"),
        ({"jobMaxAttempts": "8"}, "8", "16"),
        ({"jobMaxAttempts": "3", "queueMaxReceiveCount": "20"}, "3", "20"),
    ],
)
def test_the_job_budget_and_the_sqs_backstop(
    stack_runner: StackRunner, overrides: dict[str, str], attempts: str, backstop: str
) -> None:
    run = stack_runner(**overrides)
    env = run.function_env("worker")
    assert (env["JOB_MAX_ATTEMPTS"], env["QUEUE_MAX_RECEIVE_COUNT"]) == (attempts, backstop)
    redrive = json.loads(run.one("aws:sqs/queue:Queue", "jobs-high-queue")["redrivePolicy"])
    assert redrive["maxReceiveCount"] == int(backstop)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"llmRpmLimit": "0"}, "llmRpmLimit must be a positive integer"),
        ({"llmTpmLimit": "-5"}, "llmTpmLimit must be a positive integer"),
        ({"llmRateLimits": "[1, 2]"}, "llmRateLimits must be an object"),
        ({"llmRateLimits": json.dumps({"openai/gpt-4o-mini": {"rps": 3}})}, "not 'openai"),
        ({"llmRateLimits": json.dumps({"openai/gpt-4o-mini": {"rpm": 0}})}, "positive integers"),
        ({"llmRateLimits": json.dumps({"openai/gpt-4o-mini": {"rpm": True}})}, "positive"),
        (
            {"llmRateLimits": json.dumps({"openai/gpt4o-mini": {"rpm": 5}})},
            r"llmRateLimits names models the stack never calls: \['openai/gpt4o-mini'\]",
        ),
        ({"llmLimitMaxWaitSeconds": "31"}, "llmLimitMaxWaitSeconds must be 0..30"),
        ({"llmCircuitFailures": "0"}, "llmCircuitFailures must be 1..1000"),
        ({"llmCircuitCooldownSeconds": "0"}, "llmCircuitCooldownSeconds must be >0..300"),
        ({"llmCircuitMaxCooldownSeconds": "901"}, "llmCircuitMaxCooldownSeconds must be >0..900"),
        (
            {"llmCircuitCooldownSeconds": "60", "llmCircuitMaxCooldownSeconds": "30"},
            "llmCircuitMaxCooldownSeconds must be >= llmCircuitCooldownSeconds",
        ),
        ({"jobMaxAttempts": "0"}, "jobMaxAttempts must be 1..100"),
        ({"jobMaxAttempts": "101", "queueMaxReceiveCount": "200"}, "jobMaxAttempts must be 1..100"),
        ({"queueMaxReceiveCount": "1001"}, "queueMaxReceiveCount must be 1..1000"),
        (
            {"jobMaxAttempts": "6", "queueMaxReceiveCount": "5"},
            "queueMaxReceiveCount must be >= jobMaxAttempts",
        ),
        ({"jobMaxAgeSeconds": "59"}, "jobMaxAgeSeconds must be 60..jobTtlSeconds"),
        (
            {"jobMaxAgeSeconds": "7200", "jobTtlSeconds": "3600"},
            "jobMaxAgeSeconds must be 60..jobTtlSeconds",
        ),
        ({"laneConcurrency": json.dumps({"high": 1})}, r"laneConcurrency\.high must be 2\.\.1000"),
        ({"laneConcurrency": json.dumps({"low": 1001, "high": 1001})}, r"laneConcurrency\.low"),
        (
            {"eventSourceMaxConcurrency": "1"},
            r"eventSourceMaxConcurrency \(laneConcurrency\.normal\) must be 2\.\.1000",
        ),
        (
            {"laneConcurrency": json.dumps({"high": 2, "low": 3})},
            "laneConcurrency.low must be <= laneConcurrency.high",
        ),
        ({"laneConcurrency": json.dumps({"urgent": 4})}, "keys among"),
        ({"laneConcurrency": json.dumps({"high": "4"})}, "laneConcurrency values must be integers"),
        (
            {"laneConcurrency": json.dumps({"normal": 6}), "eventSourceMaxConcurrency": "4"},
            "disagree; set only one",
        ),
    ],
)
def test_invalid_limit_lane_and_budget_config_is_refused_before_any_resource(
    stack_runner: StackRunner, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        stack_runner(**overrides)


@pytest.mark.parametrize(
    ("key", "value"),
    [("llmRpmLimit", "many"), ("llmCircuitCooldownSeconds", "soon"), ("llmRateLimits", "{no")],
)
def test_values_of_the_wrong_type_are_refused_naming_the_key(
    stack_runner: StackRunner, key: str, value: str
) -> None:
    with pytest.raises(ConfigTypeError, match=f"gen-ai-on-aws:{key}"):
        stack_runner(**{key: value})


def test_every_problem_is_reported_at_once(stack_runner: StackRunner) -> None:
    with pytest.raises(ValueError, match="invalid stack configuration") as raised:
        stack_runner(llmRpmLimit="0", jobMaxAttempts="0", laneConcurrency='{"high": 1}')
    for key in ("llmRpmLimit", "jobMaxAttempts", "laneConcurrency.high"):
        assert key in str(raised.value)
