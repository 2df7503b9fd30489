"""The IAM proof's parts (provisioning.iam_proof): recorded calls are judged against the Pulumi
program's own policies, a statement removed from the program shows up as a denied call, grants
nothing uses fail a whole-suite run, and parliament finds nothing unjustified."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from devstack.config import DevstackConfig
from devstack.resources import StackResources
from devstack.stack import Devstack
from provisioning.iam_proof.actions import UnknownActionError, actions_for_call, iam_action
from provisioning.iam_proof.allowances import LINT_ALLOWANCES, UNEXERCISED_GRANTS
from provisioning.iam_proof.evaluate import decide, statements
from provisioning.iam_proof.lint import lint_document, lint_stack
from provisioning.iam_proof.proof import PULUMI_TYPE_OF_KIND, RecordedCall, prove
from provisioning.iam_proof.resources import DEVSTACK_RESOURCES, TEST_STAND_INS, resolve
from provisioning.iam_proof.session import SessionOutcome
from provisioning.iam_proof.stack import StackModel, export_stack
from provisioning.stack import iam

from .harness import StackRunner, policy_statements

URL = "http://127.0.0.1:4566/123456789012/gen-ai-on-aws-dev"
TABLE, STATE = "gen-ai-on-aws-dev-jobs", "gen-ai-on-aws-dev-llm-state"
MOTO_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gen-ai-on-aws-dev-app-secrets"


def call(function: str, service: str, operation: str, parameter: str, value: str) -> RecordedCall:
    """One record as devstack.call_recorder writes it."""
    record = {
        "function": function,
        "service": service,
        "signing_name": service,
        "operation": operation,
        "resources": [[parameter, value]],
    }
    return RecordedCall.from_record(json.loads(json.dumps(record)))


# What the recorder saw the functions do in the devstack and the in-process suites.
API_CALLS = [
    call("api", "sqs", "SendMessage", "QueueUrl", f"{URL}-jobs"),
    call("api", "sqs", "SendMessageBatch", "QueueUrl", f"{URL}-jobs-high"),
    call("api", "sqs", "SendMessage", "QueueUrl", f"{URL}-callbacks"),
    call("api", "dynamodb", "PutItem", "TableName", TABLE),
    call("api", "dynamodb", "BatchWriteItem", "TableName", TABLE),
    call("api", "dynamodb", "GetItem", "TableName", TABLE),
    call("api", "secretsmanager", "GetSecretValue", "SecretId", "gen-ai-on-aws-dev-app-secrets"),
    # The per-tenant limiter (TENANT_RPM_LIMIT): one conditional update per request
    call("api", "dynamodb", "UpdateItem", "TableName", STATE),
]
WORKER_CALLS = [
    call("worker", "sqs", "ChangeMessageVisibility", "QueueUrl", f"{URL}-jobs-high"),
    call("worker", "sqs", "SendMessage", "QueueUrl", f"{URL}-jobs"),
    call("worker", "sqs", "SendMessage", "QueueUrl", f"{URL}-jobs-dlq"),
    call("worker", "sqs", "SendMessage", "QueueUrl", f"{URL}-callbacks"),
    call("worker", "dynamodb", "UpdateItem", "TableName", TABLE),
    call("worker", "dynamodb", "UpdateItem", "TableName", STATE),
    call("worker", "secretsmanager", "GetSecretValue", "SecretId", f"{MOTO_SECRET}-AbC123"),
    call("worker", "dynamodb", "GetItem", "TableName", "no-such-table"),
]
CALLBACKS_CALLS = [
    call("callbacks", "dynamodb", "GetItem", "TableName", TABLE),
    call("callbacks", "sqs", "ChangeMessageVisibility", "QueueUrl", f"{URL}-callbacks"),
]
SETTLER_CALLS = [
    call("settler", "sqs", "ReceiveMessage", "QueueUrl", f"{URL}-jobs-dlq"),
    call("settler", "sqs", "ChangeMessageVisibilityBatch", "QueueUrl", f"{URL}-jobs-dlq"),
    call("settler", "dynamodb", "UpdateItem", "TableName", TABLE),
    call("settler", "sqs", "SendMessage", "QueueUrl", f"{URL}-callbacks"),
]
SAMPLE = API_CALLS + WORKER_CALLS + CALLBACKS_CALLS + SETTLER_CALLS


@pytest.fixture(scope="module")
def dev_stack() -> StackModel:
    return export_stack("dev")


def test_the_recorded_calls_are_allowed_by_the_programs_policies(dev_stack: StackModel) -> None:
    proof = prove(SAMPLE, dev_stack)

    assert proof.problems == []
    assert proof.denied == []
    # Each sampled call on a real resource used a grant of its own function
    used = {(grant.function, grant.sid, grant.action) for grant in proof.exercised}
    assert ("api", "EnqueueJobsHigh", "sqs:SendMessage") in used  # SendMessageBatch
    assert ("settler", "PeekDeadLetters", "sqs:ChangeMessageVisibility") in used
    assert ("worker", "ReadAppSecret", "secretsmanager:GetSecretValue") in used
    assert ("api", "LimitTenantRequests", "dynamodb:UpdateItem") in used


def _without(
    monkeypatch: pytest.MonkeyPatch, builder: str, sid: str
) -> Callable[..., list[dict[str, Any]]]:
    """iam.<builder> as the program calls it, minus the statement ``sid``."""
    original = getattr(iam, builder)

    def trimmed(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        built: list[dict[str, Any]] = original(*args, **kwargs)
        assert sid in {statement["Sid"] for statement in built}
        return [statement for statement in built if statement["Sid"] != sid]

    monkeypatch.setattr(iam, builder, trimmed)
    return trimmed


@pytest.mark.parametrize(
    ("builder", "sid", "allowed"),
    [
        ("worker_statements", "ResendJobsNormal", WORKER_CALLS[1:2]),
        ("api_statements", "RecordJobs", API_CALLS[3:6]),
        ("api_statements", "LimitTenantRequests", API_CALLS[7:8]),
        ("settler_statements", "PeekDeadLetters", SETTLER_CALLS[0:2]),
        ("callbacks_statements", "RecordDeliveries", CALLBACKS_CALLS[0:1]),
    ],
)
def test_a_statement_removed_from_the_program_denies_the_calls_it_allowed(
    monkeypatch: pytest.MonkeyPatch, builder: str, sid: str, allowed: list[RecordedCall]
) -> None:
    # GIVEN the program without one statement of one function's policy
    _without(monkeypatch, builder, sid)

    # WHEN the recorded calls are judged against what it now exports
    proof = prove(SAMPLE, export_stack("dev"))

    # THEN exactly the calls that statement allowed are denied, and the run fails
    assert sorted(r.origin for r in proof.denied) == sorted(c.describe() for c in allowed)
    outcome = SessionOutcome(proof=proof, findings=[], complete=False)
    assert any(failure.startswith("DENIED") for failure in outcome.failures())


def test_an_event_source_mapping_needs_its_actions_though_no_code_calls_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN consumer statements without sqs:GetQueueAttributes (only Lambda's poller needs it)
    actions = [a for a in iam.CONSUMER_QUEUE_ACTIONS if a != "sqs:GetQueueAttributes"]
    monkeypatch.setattr(iam, "CONSUMER_QUEUE_ACTIONS", actions)

    proof = prove([], export_stack("dev"))

    # THEN the callbacks function's event source mapping is denied it on its queue
    assert [(r.function, r.action, r.resources) for r in proof.denied] == [
        (
            "callbacks",
            "sqs:GetQueueAttributes",
            ("arn:aws:sqs:us-east-1:123456789012:callbacks-queue",),
        )
    ]


def test_a_call_on_a_resource_the_function_is_not_granted_is_denied(
    dev_stack: StackModel,
) -> None:
    # The API never sends to the DLQ and only updates the llm-state table (its limiter); the
    # settler never reads that table
    strays = [
        call("api", "sqs", "SendMessage", "QueueUrl", f"{URL}-jobs-dlq"),
        call("api", "dynamodb", "GetItem", "TableName", STATE),
        call("settler", "dynamodb", "GetItem", "TableName", STATE),
        call("worker", "dynamodb", "Scan", "TableName", STATE),
    ]
    proof = prove(strays, dev_stack)
    assert [(r.function, r.action) for r in proof.denied] == [
        ("api", "dynamodb:GetItem"),
        ("api", "sqs:SendMessage"),
        ("settler", "dynamodb:GetItem"),
        ("worker", "dynamodb:Scan"),
    ]


def test_a_grant_nothing_exercises_fails_only_a_whole_suite_run(dev_stack: StackModel) -> None:
    # GIVEN every sampled call but the API's BatchWriteItem
    proof = prove([c for c in SAMPLE if c != API_CALLS[4]], dev_stack, UNEXERCISED_GRANTS)
    unexercised = {(g.function, g.sid, g.action) for g in proof.unexercised}

    assert ("api", "RecordJobs", "dynamodb:BatchWriteItem") in unexercised
    whole = SessionOutcome(proof=proof, findings=[], complete=True)
    partial = SessionOutcome(proof=proof, findings=[], complete=False)
    expected = "UNEXERCISED api api-policy RecordJobs dynamodb:BatchWriteItem"
    assert expected in whole.failures()
    assert partial.failures() == []
    # A call on a resource the test never created proves nothing is needed
    assert ("worker", "ShareLlmState", "dynamodb:GetItem") in unexercised


def test_the_allowances_name_grants_of_the_stack(dev_stack: StackModel) -> None:
    proof = prove([], dev_stack, UNEXERCISED_GRANTS)
    assert proof.stale_allowances == []
    assert all(reason for reason in proof.justified.values())


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("SendMessageBatch", "sqs:SendMessage"),
        ("DeleteMessageBatch", "sqs:DeleteMessage"),
        ("ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility"),
        ("ReceiveMessage", "sqs:ReceiveMessage"),
    ],
)
def test_sqs_batch_calls_are_authorized_as_their_single_action(operation: str, action: str) -> None:
    (found,) = actions_for_call("sqs", operation)
    assert found.action == action
    assert [kind.name for kind in found.resource_types] == ["queue"]


def test_dynamodb_batch_writes_are_their_own_action_from_the_iam_database() -> None:
    (found,) = actions_for_call("dynamodb", "BatchWriteItem")
    assert found.action == "dynamodb:BatchWriteItem"
    assert [kind.name for kind in found.resource_types] == ["table"]
    with pytest.raises(UnknownActionError):
        actions_for_call("sqs", "NoSuchOperation")


def test_what_the_proof_cannot_judge_is_a_failure(dev_stack: StackModel) -> None:
    unjudged = [
        call("worker", "sqs", "NoSuchOperation", "QueueUrl", f"{URL}-jobs"),
        call("worker", "dynamodb", "GetItem", "TableName", "someone-elses-table"),
        call("billing", "sqs", "SendMessage", "QueueUrl", f"{URL}-jobs"),
    ]
    proof = prove(unjudged, dev_stack)
    assert len(proof.problems) == 3
    assert SessionOutcome(proof=proof, findings=[], complete=False).failures()


def test_iam_evaluation_denies_explicitly_and_matches_wildcards() -> None:
    found = statements(
        "f",
        {
            "p": {
                "Statement": [
                    {"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:*:1:jobs-*"},
                    {"Effect": "Deny", "Action": ["SQS:SendMessage"], "Resource": "*dlq"},
                    {"Effect": "Allow", "NotAction": "sqs:*", "Resource": "*"},
                ]
            }
        },
    )
    assert decide(found, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:jobs-high").allowed
    assert not decide(found, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:jobs-dlq").allowed
    assert not decide(found, "sqs:ReceiveMessage", "arn:aws:sqs:eu-west-1:1:other").allowed
    assert decide(found, "dynamodb:GetItem", "arn:aws:dynamodb:x:1:table/t").allowed


def test_every_devstack_name_maps_to_a_resource_of_the_stack(dev_stack: StackModel) -> None:
    logical_ids = set(DEVSTACK_RESOURCES.values()) | {t[0] for t in TEST_STAND_INS.values()}
    assert logical_ids <= set(dev_stack.resources)


def test_each_environment_variable_names_the_same_resource_in_the_stack_and_the_devstack(
    dev_stack: StackModel, aws: StackResources
) -> None:
    # GIVEN the environment the devstack gives its Lambdas (with an API key: the secret too)
    devstack = Devstack(DevstackConfig(api_keys="key-0123456789abcdef"), progress=lambda _: None)
    devstack.resources = aws
    with mock.patch.dict(os.environ):
        devstack._configure_environment()
        environment = dict(os.environ)
    by_value = {
        value: resource.logical_id
        for resource in dev_stack.resources.values()
        if resource.typ in PULUMI_TYPE_OF_KIND.values()
        for value in (resource.arn, resource.name)
    }
    parameters = {"_URL": "QueueUrl", "_TABLE_NAME": "TableName", "_SECRET_ID": "SecretId"}
    checked = 0
    for function in dev_stack.functions:
        variables = dev_stack.resources[f"lambda/function:{function}"].inputs["environment"]
        for name, value in variables["variables"].items():
            parameter = next((p for part, p in parameters.items() if part in name), None)
            if parameter is None:
                continue
            stack_value = value.rsplit("/", 1)[-1] if parameter == "QueueUrl" else value
            # THEN the devstack's value maps (resources.py) to what the stack's names
            assert resolve(parameter, environment[name]).logical_id == by_value[stack_value], name
            checked += 1
    assert checked == 23


def test_the_proof_evaluates_the_policies_the_stack_tests_check(
    dev_stack: StackModel, stack_runner: StackRunner
) -> None:
    run = stack_runner()
    for grants in dev_stack.functions.values():
        for name, document in grants.policies.items():
            checked = policy_statements(run, name)
            assert [(s["Sid"], s["Action"]) for s in document["Statement"]] == [
                (s["Sid"], s["Action"]) for s in checked
            ]


BEDROCK_MODELS = {
    "default": {},
    "bedrock-profile": {"llmModel": "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0"},
    "bedrock-model": {"llmModel": "bedrock/converse/anthropic.claude-3-haiku-20240307-v1:0"},
}


@pytest.mark.parametrize("model", BEDROCK_MODELS)
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_parliament_finds_nothing_unjustified_in_any_policy(stack: str, model: str) -> None:
    findings = lint_stack(export_stack(stack, **BEDROCK_MODELS[model]))
    assert [f for f in findings if f.justification(LINT_ALLOWANCES) is None] == []
    # Its one justified finding: Bedrock ARNs, checked here against the IAM database instead
    assert {action for f in findings for action in f.actions} <= {"bedrock:InvokeModel"}


@pytest.mark.parametrize("model", ["bedrock-profile", "bedrock-model"])
def test_the_bedrock_arns_parliament_rejects_are_bedrock_model_arns(model: str) -> None:
    invoke = iam_action("bedrock", "InvokeModel")
    exported = export_stack("dev", **BEDROCK_MODELS[model])
    resources = [
        s["Resource"]
        for grants in exported.functions.values()
        for document in grants.policies.values()
        for s in document["Statement"]
        if s["Action"] == ["bedrock:InvokeModel"]
    ]
    assert resources
    for resource in resources:
        assert any(kind.matches(resource) for kind in invoke.resource_types), resource


def test_parliament_reports_a_real_mismatch() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/jobs",
            }
        ],
    }
    findings = lint_document("api", "api-policy", document)
    assert [(f.issue, f.actions) for f in findings] == [("RESOURCE_MISMATCH", ("sqs:SendMessage",))]
    assert findings[0].justification(LINT_ALLOWANCES) is None


def test_the_report_counts_each_functions_calls_and_grants(dev_stack: StackModel) -> None:
    outcome = SessionOutcome(
        proof=prove(SAMPLE, dev_stack, UNEXERCISED_GRANTS), findings=[], complete=False
    )
    report = outcome.report()
    assert report[-1] == "IAM proof: passed"
    assert any(line.split()[:2] == ["settler", "4"] for line in report)
    # logs for each of the four functions, three actions per SQS event source mapping (4)
    assert sum(1 for request in outcome.proof.requests if request.by_aws) == 4 * 2 + 4 * 3
