"""`snapStart`: the chosen functions publish a version with SnapStart and everything that
invokes them (event source mappings, the HTTP API integration and its permission) targets a
`live` alias of it; off, nothing is published and callers invoke the function itself."""

from __future__ import annotations

import pytest

from .harness import StackRun, StackRunner

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
PERMISSION = "aws:lambda/permission:Permission"
WORKER_MAPPINGS = ("jobs-high-event-source", "jobs-event-source", "jobs-low-event-source")
ALIASES = {"worker": "jobs-live", "api": "api-live", "callbacks": "callbacks-live"}


def assert_snap_start(run: StackRun, function: str) -> None:
    """Published with SnapStart; every caller of it goes through its `live` alias."""
    inputs = run.one(FUNCTION, function)
    assert inputs["publish"] is True, function
    assert inputs["snapStart"] == {"applyOn": "PublishedVersions"}, function
    alias = run.one(ALIAS, ALIASES[function])
    assert alias["name"] == "live"
    assert alias["functionVersion"] == "1"  # the version this deploy published
    if function == "worker":
        for mapping in WORKER_MAPPINGS:
            assert run.one(ESM, mapping)["functionName"].endswith("alias/live"), mapping
    elif function == "callbacks":
        assert run.one(ESM, "callbacks-event-source")["functionName"].endswith("alias/live")
    else:
        uri = run.one(INTEGRATION, "api-lambda-integration")["integrationUri"]
        assert uri.startswith("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/")
        assert uri.endswith("alias/live/invocations")
        assert run.one(PERMISSION, "api-invoke-permission")["qualifier"] == "live"


def assert_plain(run: StackRun, function: str) -> None:
    """No version, no snapshot: callers invoke the unqualified function."""
    inputs = run.one(FUNCTION, function)
    assert not inputs.get("publish"), function
    assert "snapStart" not in inputs, function
    assert not [alias for alias in run.of_type(ALIAS) if alias.name == ALIASES.get(function)]
    if function == "api":
        uri = run.one(INTEGRATION, "api-lambda-integration")["integrationUri"]
        assert "alias" not in uri
        assert "qualifier" not in run.one(PERMISSION, "api-invoke-permission")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_off_by_default_nothing_is_published(stack_runner: StackRunner, stack: str) -> None:
    run = stack_runner(stack)

    assert run.of_type(ALIAS) == []
    for function in ("worker", "api", "callbacks", "settler"):
        assert_plain(run, function)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_true_turns_it_on_for_api_worker_and_callbacks(
    stack_runner: StackRunner, stack: str
) -> None:
    run = stack_runner(stack, snapStart="true")

    for function in ("worker", "api", "callbacks"):
        assert_snap_start(run, function)
    # The settler stays warm on its schedule: no snapshot to pay for.
    assert_plain(run, "settler")
    assert len(run.of_type(ALIAS)) == 3


@pytest.mark.parametrize(
    ("value", "chosen"),
    [
        ('["api"]', {"api"}),
        ("worker,callbacks", {"worker", "callbacks"}),
        ("false", set()),
    ],
)
def test_a_list_chooses_the_functions(
    stack_runner: StackRunner, value: str, chosen: set[str]
) -> None:
    run = stack_runner(snapStart=value)

    for function in ("worker", "api", "callbacks"):
        (assert_snap_start if function in chosen else assert_plain)(run, function)


def test_worker_snap_start_still_turns_it_on_for_the_worker(stack_runner: StackRunner) -> None:
    run = stack_runner("prod", workerSnapStart="true", snapStart='["api"]')

    assert_snap_start(run, "worker")
    assert_snap_start(run, "api")
    assert_plain(run, "callbacks")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["settler"]', r"snapStart: \['settler'\] cannot use SnapStart"),
        ('["worker", "nope"]', r"snapStart: \['nope'\]"),
        ('{"worker": true}', "snapStart must be true, false or a list"),
    ],
)
def test_unusable_choices_are_rejected(stack_runner: StackRunner, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stack_runner(snapStart=value)
