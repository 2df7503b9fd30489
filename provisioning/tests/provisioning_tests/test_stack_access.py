"""Secure by default (issue 16): no stack opens the API to callers without a key unless its
config says so, and then `pulumi up` warns; the per-tenant request limit reaches the API only."""

from __future__ import annotations

import logging

import pytest
from pulumi.config import ConfigTypeError

from provisioning.stack.http_api import ANONYMOUS_WARNING

from .harness import StackRun, StackRunner

FUNCTIONS = ("api", "worker", "callbacks", "settler")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the program sent to Pulumi's warning channel (under mocks: the root logger)."""
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def _with_variable(run: StackRun, name: str) -> list[str]:
    return [function for function in FUNCTIONS if name in run.function_env(function)]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_stack_lets_anonymous_callers_in_or_limits_tenants_unless_configured(
    stack_runner: StackRunner, caplog: pytest.LogCaptureFixture, stack: str
) -> None:
    caplog.set_level(logging.WARNING)

    run = stack_runner(stack)

    # THEN the API requires a key (its default) and no function was told otherwise
    assert _with_variable(run, "ALLOW_ANONYMOUS") == []
    assert _with_variable(run, "TENANT_RPM_LIMIT") == []
    assert not [w for w in _warnings(caplog) if "allowAnonymous" in w]


def test_allow_anonymous_false_is_the_default(
    stack_runner: StackRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    run = stack_runner(allowAnonymous="false")
    assert _with_variable(run, "ALLOW_ANONYMOUS") == []
    assert ANONYMOUS_WARNING not in _warnings(caplog)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_allow_anonymous_opens_only_the_api_and_warns(
    stack_runner: StackRunner, caplog: pytest.LogCaptureFixture, stack: str
) -> None:
    caplog.set_level(logging.WARNING)

    # GIVEN a stack that asks for an API without keys
    run = stack_runner(stack, allowAnonymous="true")

    # THEN the API is told so, nothing else is, and the deploy said what that costs
    assert run.function_env("api")["ALLOW_ANONYMOUS"] == "true"
    assert _with_variable(run, "ALLOW_ANONYMOUS") == ["api"]
    assert _warnings(caplog).count(ANONYMOUS_WARNING) == 1
    assert "LLM budget" in ANONYMOUS_WARNING
    assert "job results" in ANONYMOUS_WARNING


def test_tenant_rpm_limit_reaches_the_api_only(stack_runner: StackRunner) -> None:
    run = stack_runner(tenantRpmLimit="120")
    api = run.function_env("api")
    assert api["TENANT_RPM_LIMIT"] == "120"
    assert _with_variable(run, "TENANT_RPM_LIMIT") == ["api"]
    # The limiter counts in the LLM state table, named the same way as for the worker
    assert api["LLM_STATE_TABLE_NAME"] == run.function_env("worker")["LLM_STATE_TABLE_NAME"]
    assert "ALLOW_ANONYMOUS" not in api


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_tenant_rpm_limit_below_one_is_refused_before_any_resource(
    stack_runner: StackRunner, value: str
) -> None:
    with pytest.raises(ValueError, match="tenantRpmLimit must be a positive integer"):
        stack_runner(tenantRpmLimit=value)


@pytest.mark.parametrize(
    ("key", "value"),
    [("tenantRpmLimit", "many"), ("tenantRpmLimit", "1.5"), ("allowAnonymous", "yes")],
)
def test_access_values_of_the_wrong_type_are_refused_naming_the_key(
    stack_runner: StackRunner, key: str, value: str
) -> None:
    with pytest.raises(ConfigTypeError, match=f"gen-ai-on-aws:{key}"):
        stack_runner(**{key: value})
