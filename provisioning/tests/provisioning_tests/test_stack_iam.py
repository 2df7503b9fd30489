"""Least privilege: exact actions per role, one resource per statement, no `*` action anywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .harness import StackRun, StackRunner, policy_statements

API_POLICY, WORKER_POLICY, CALLBACKS_POLICY = "api-policy", "jobs-policy", "callbacks-policy"
SETTLER_POLICY = "settler-policy"
POLICIES = (API_POLICY, WORKER_POLICY, CALLBACKS_POLICY, SETTLER_POLICY)
SQS_PREFIX = "arn:aws:sqs:us-east-1:123456789012:"
LANE_ARNS = {
    "High": f"{SQS_PREFIX}jobs-high-queue",
    "Normal": f"{SQS_PREFIX}jobs-queue",
    "Low": f"{SQS_PREFIX}jobs-low-queue",
}
DLQ_ARN = f"{SQS_PREFIX}jobs-dlq"
STATE_TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/llm-state"
CONSUMER_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]
CALLBACKS_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:callbacks-queue"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs"
SECRET_PREFIX = "arn:aws:secretsmanager:us-east-1:123456789012:"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in statements}


def all_statements(run: StackRun) -> list[dict[str, Any]]:
    return [s for name in POLICIES for s in policy_statements(run, name)]


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", f"bedrock/{HAIKU}", f"bedrock/us.{HAIKU}"])
def test_no_statement_has_a_wildcard_action_and_each_names_one_resource(
    stack_runner: StackRunner, model: str
) -> None:
    for statement in all_statements(stack_runner(llmModel=model)):
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"]), statement
        assert isinstance(statement["Resource"], str), f"one ARN per statement: {statement}"
        assert statement["Resource"] != "*", statement


def test_the_only_wildcard_resources_are_the_functions_own_log_streams(
    stack_runner: StackRunner,
) -> None:
    wildcards = sorted(
        s["Resource"] for s in all_statements(stack_runner()) if "*" in s["Resource"]
    )
    assert wildcards == [
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/gen-ai-on-aws-dev-api:log-stream:*",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/gen-ai-on-aws-dev-callbacks:log-stream:*",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/gen-ai-on-aws-dev-settler:log-stream:*",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/gen-ai-on-aws-dev-worker:log-stream:*",
    ]


@pytest.mark.parametrize("overrides", [{}, {"tenantRpmLimit": "120"}], ids=["default", "limit"])
def test_api_may_only_enqueue_to_the_lanes_record_jobs_queue_callbacks_read_the_secret_and_log(
    stack_runner: StackRunner, overrides: dict[str, str]
) -> None:
    statements = by_sid(policy_statements(stack_runner(**overrides), API_POLICY))
    assert {sid: s["Action"] for sid, s in statements.items()} == {
        "WriteOwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
        # A job goes to the queue of its priority's lane, never to the DLQ
        "EnqueueJobsHigh": ["sqs:SendMessage"],
        "EnqueueJobsNormal": ["sqs:SendMessage"],
        "EnqueueJobsLow": ["sqs:SendMessage"],
        # A cancellation's webhook event is queued by the API
        "QueueCallbacks": ["sqs:SendMessage"],
        # Cancel (conditional update), bulk submit and idempotency records (batch writes)
        "RecordJobs": [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
        ],
        # The per-tenant request limit (TENANT_RPM_LIMIT): one conditional update per request,
        # whether or not the stack sets a limit; no read, put or delete on the state table
        "LimitTenantRequests": ["dynamodb:UpdateItem"],
        "ReadAppSecret": ["secretsmanager:GetSecretValue"],
    }
    for lane, arn in LANE_ARNS.items():
        assert statements[f"EnqueueJobs{lane}"]["Resource"] == arn
    assert statements["QueueCallbacks"]["Resource"] == CALLBACKS_QUEUE_ARN
    assert statements["RecordJobs"]["Resource"] == TABLE_ARN
    assert statements["LimitTenantRequests"]["Resource"] == STATE_TABLE_ARN
    assert statements["ReadAppSecret"]["Resource"].startswith(SECRET_PREFIX)


def test_worker_may_only_consume_and_resend_on_the_lanes_copy_to_the_dlq_and_share_llm_state(
    stack_runner: StackRunner,
) -> None:
    statements = policy_statements(stack_runner(), WORKER_POLICY)
    secret = by_sid(statements)["ReadAppSecret"]["Resource"]
    assert secret.startswith(SECRET_PREFIX)
    log_streams = (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/gen-ai-on-aws-dev-worker"
        ":log-stream:*"
    )
    # THEN the whole document, in order: nothing more (no Scan/Query/DeleteItem on the state,
    # no receive on the DLQ), nothing less (each lane's mapping needs all four consumer actions)
    assert [(s["Sid"], s["Action"], s["Resource"]) for s in statements] == [
        ("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], log_streams),
        *[(f"ConsumeJobs{lane}", CONSUMER_ACTIONS, arn) for lane, arn in LANE_ARNS.items()],
        # A retried or deferred job is re-sent to its lane as a new message
        *[(f"ResendJobs{lane}", ["sqs:SendMessage"], arn) for lane, arn in LANE_ARNS.items()],
        # A job that spent its budget is copied to the DLQ for inspection and redrive
        ("CopyExhaustedJobs", ["sqs:SendMessage"], DLQ_ARN),
        ("QueueCallbacks", ["sqs:SendMessage"], CALLBACKS_QUEUE_ARN),
        ("UpdateJobs", ["dynamodb:UpdateItem"], TABLE_ARN),
        ("ShareLlmState", ["dynamodb:GetItem", "dynamodb:UpdateItem"], STATE_TABLE_ARN),
        ("ReadAppSecret", ["secretsmanager:GetSecretValue"], secret),
    ]
    assert all(s["Effect"] == "Allow" for s in statements)


def test_only_the_worker_and_the_apis_limiter_touch_the_llm_state_table_and_the_dlq(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner()
    grants = {
        (name, statement["Sid"], tuple(statement["Action"]), statement["Resource"])
        for name in POLICIES
        for statement in policy_statements(run, name)
        if statement["Resource"] in (STATE_TABLE_ARN, DLQ_ARN)
    }
    # The settler only peeks at the DLQ (receive, visible again); test_stack_settler.py. The
    # API only updates the state table (its per-tenant limiter), never reads it.
    assert grants == {
        (
            WORKER_POLICY,
            "ShareLlmState",
            ("dynamodb:GetItem", "dynamodb:UpdateItem"),
            STATE_TABLE_ARN,
        ),
        (WORKER_POLICY, "CopyExhaustedJobs", ("sqs:SendMessage",), DLQ_ARN),
        (API_POLICY, "LimitTenantRequests", ("dynamodb:UpdateItem",), STATE_TABLE_ARN),
        (
            SETTLER_POLICY,
            "PeekDeadLetters",
            ("sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"),
            DLQ_ARN,
        ),
    }


def test_the_worker_policy_fits_the_inline_policy_size_limit_with_many_bedrock_models(
    stack_runner: StackRunner,
) -> None:
    # GIVEN a default, two fallbacks and an allow-list of Bedrock inference profiles (two
    # statements each): the lanes add seven statements to the worker's role
    models = [f"bedrock/us.anthropic.claude-{n}-v1:0" for n in range(6)]
    run = stack_runner(
        llmModel=models[0],
        llmFallbackModels=",".join(models[1:3]),
        llmAllowedModels=",".join(models),
    )
    document = run.one("aws:iam/rolePolicy:RolePolicy", WORKER_POLICY)["policy"]
    # THEN it stays below IAM's 10,240 characters for a role's inline policies (whitespace
    # does not count)
    assert len(json.loads(document)["Statement"]) == 12 + 2 * len(models)
    assert len("".join(document.split())) < 10_240


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", f"bedrock/us.{HAIKU}"])
def test_delivery_may_only_consume_callbacks_record_deliveries_read_the_secret_and_log(
    stack_runner: StackRunner, model: str
) -> None:
    # The delivery function never calls a model, whatever the stack's model is
    statements = by_sid(policy_statements(stack_runner(llmModel=model), CALLBACKS_POLICY))
    assert {sid: s["Action"] for sid, s in statements.items()} == {
        "WriteOwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "ConsumeCallbacks": [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ],
        "RecordDeliveries": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        "ReadAppSecret": ["secretsmanager:GetSecretValue"],
    }
    assert statements["ConsumeCallbacks"]["Resource"] == CALLBACKS_QUEUE_ARN
    assert statements["RecordDeliveries"]["Resource"] == TABLE_ARN
    assert statements["ReadAppSecret"]["Resource"].startswith(SECRET_PREFIX)


def test_bedrock_permission_is_absent_for_other_providers(stack_runner: StackRunner) -> None:
    run = stack_runner(llmModel="openai/gpt-4o-mini")
    assert not [
        s for s in all_statements(run) if any(a.startswith("bedrock:") for a in s["Action"])
    ]
    assert run.calls == []  # no account lookup either


@pytest.mark.parametrize("policy", [WORKER_POLICY, API_POLICY])
def test_bedrock_model_gets_invoke_on_exactly_that_foundation_model(
    stack_runner: StackRunner, policy: str
) -> None:
    # Both functions call the model: the worker for jobs, the API for POST /extract-user.
    run = stack_runner(llmModel=f"bedrock/converse/{HAIKU}")
    bedrock = [s for s in policy_statements(run, policy) if s["Sid"].startswith("InvokeBedrock")]
    assert [(s["Action"], s["Resource"]) for s in bedrock] == [
        (["bedrock:InvokeModel"], f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}")
    ]


def test_bedrock_inference_profile_gets_the_profile_and_its_model_in_any_region(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner(llmModel=f"bedrock/us.{HAIKU}")
    bedrock = [
        s["Resource"]
        for s in policy_statements(run, WORKER_POLICY)
        if s["Sid"].startswith("InvokeBedrock")
    ]
    assert bedrock == [
        f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU}",
        f"arn:aws:bedrock:*::foundation-model/{HAIKU}",
    ]


def test_roles_can_only_be_assumed_by_lambda(stack_runner: StackRunner) -> None:
    run = stack_runner()
    roles = run.of_type("aws:iam/role:Role")
    assert {role.name for role in roles} == {
        "api-role",
        "jobs-role",
        "callbacks-role",
        "settler-role",
    }
    for role in roles:
        trust = json.loads(role.inputs["assumeRolePolicy"])
        assert trust["Statement"] == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    functions = {f.name: f.inputs["role"] for f in run.of_type("aws:lambda/function:Function")}
    assert len(functions) == len(set(functions.values())) == 4, "one role per function"


def _policy_documents(value: Any) -> list[dict[str, Any]]:
    """Every IAM policy document found in a resource's inputs, however deeply nested."""
    if isinstance(value, str) and '"Statement"' in value:
        return _policy_documents(json.loads(value))
    if isinstance(value, dict):
        found = [value] if "Statement" in value else []
        return found + [doc for item in value.values() for doc in _policy_documents(item)]
    if isinstance(value, list):
        return [doc for item in value for doc in _policy_documents(item)]
    return []


@pytest.mark.parametrize(
    "overrides",
    [{}, {"llmModel": "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0"}],
    ids=["default", "bedrock"],
)
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_policy_anywhere_in_the_stack_has_a_wildcard_action(
    stack_runner: StackRunner, stack: str, overrides: dict[str, str]
) -> None:
    # GIVEN every resource of the stack, whatever its type (role, resource and queue policies)
    run = stack_runner(stack, **overrides)
    documents = [doc for r in run.resources for doc in _policy_documents(r.inputs)]

    # THEN no statement allows or denies "*" or "service:*", and Lambda permissions are exact
    assert len(documents) >= 8  # four role policies and four assume-role policies at least
    for document in documents:
        statements = document["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement.get("Action", statement.get("NotAction", []))
            for action in [actions] if isinstance(actions, str) else actions:
                assert "*" not in action, (document, action)
    for permission in run.of_type("aws:lambda/permission:Permission"):
        assert permission.inputs["action"] == "lambda:InvokeFunction"
