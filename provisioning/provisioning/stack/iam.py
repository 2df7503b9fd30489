"""Least-privilege IAM: one role per function, each policy statement scoped to a single ARN.

No statement uses a `*` action. The only wildcards in resources are log-stream names (Lambda
generates them) and the region of a cross-region Bedrock inference profile (see bedrock.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from provisioning.stack.bedrock import BedrockModel
from provisioning.stack.limits import Lane

Statement = dict[str, Any]

LAMBDA_ASSUME_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

# The API enqueues and records jobs, deleting its own record if the enqueue fails; it cancels
# queued jobs (conditional update) and writes bulk submits and idempotency records in batches.
API_TABLE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:UpdateItem",
    "dynamodb:BatchWriteItem",
]
# The worker only moves existing jobs through their states with conditional updates (a refused
# one returns the old item: no read needed); the webhook delivery reads a job and updates its
# `callback` state. The IAM proof (provisioning/iam_proof) checks both against recorded calls.
WORKER_TABLE_ACTIONS = ["dynamodb:UpdateItem"]
CALLBACKS_TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
# What an SQS event source mapping needs from its function's role, plus the visibility
# changes both consumers make to schedule a retry.
CONSUMER_QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]
WORKER_QUEUE_ACTIONS = CONSUMER_QUEUE_ACTIONS
# The DLQ settler peeks at dead letters (a receive with a visibility timeout, then visible
# again at once) and never deletes one: they stay for inspection and redrive.
SETTLER_DLQ_ACTIONS = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"]
# It reads a dead-lettered job, then fails it with one conditional update.
SETTLER_TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
# The fleet-wide limiter and circuit breaker: reads and conditional updates of single items by
# key (an update creates a missing item). No Put, Query/Scan or DeleteItem (TTL expires them).
LLM_STATE_ACTIONS = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
# The API's per-tenant request limit (TENANT_RPM_LIMIT) shares that table: one conditional
# UpdateItem per request (a refused one returns the item), key `tenant-rpm#<tenant>`.
API_STATE_ACTIONS = ["dynamodb:UpdateItem"]


def statement(sid: str, actions: list[str], resource: pulumi.Input[str]) -> Statement:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def lane_statements(
    sid: str, actions: list[str], queue_arns: Mapping[Lane, pulumi.Input[str]]
) -> list[Statement]:
    """One statement per lane queue (`<sid>High`, `<sid>Normal`, `<sid>Low`): one ARN each."""
    return [statement(f"{sid}{lane.title()}", actions, arn) for lane, arn in queue_arns.items()]


def log_statement(log_group_arn: pulumi.Input[str]) -> Statement:
    """Write to the function's own log group (Pulumi creates it, so no CreateLogGroup)."""
    streams = pulumi.Output.concat(log_group_arn, ":log-stream:*")
    return statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], streams)


def secret_statement(secret_arn: pulumi.Input[str]) -> Statement:
    # The secret uses the AWS-managed key, so no kms:Decrypt grant is needed.
    return statement("ReadAppSecret", ["secretsmanager:GetSecretValue"], secret_arn)


def queue_callbacks_statement(callbacks_queue_arn: pulumi.Input[str]) -> Statement:
    """Send a final job's webhook event (the worker on finish, the API on cancel)."""
    return statement("QueueCallbacks", ["sqs:SendMessage"], callbacks_queue_arn)


def api_statements(
    *,
    log_group_arn: pulumi.Input[str],
    queue_arns: Mapping[Lane, pulumi.Input[str]],
    callbacks_queue_arn: pulumi.Input[str],
    table_arn: pulumi.Input[str],
    state_table_arn: pulumi.Input[str],
    secret_arn: pulumi.Input[str],
) -> list[Statement]:
    """Granted whether or not tenantRpmLimit is set: the limiter is a setting of the API, and
    the IAM proof judges the API's recorded limiter calls against the dev stack, which sets none."""
    return [
        log_statement(log_group_arn),
        *lane_statements("EnqueueJobs", ["sqs:SendMessage"], queue_arns),
        queue_callbacks_statement(callbacks_queue_arn),
        statement("RecordJobs", API_TABLE_ACTIONS, table_arn),
        statement("LimitTenantRequests", API_STATE_ACTIONS, state_table_arn),
        secret_statement(secret_arn),
    ]


def worker_statements(
    *,
    log_group_arn: pulumi.Input[str],
    queue_arns: Mapping[Lane, pulumi.Input[str]],
    dlq_arn: pulumi.Input[str],
    callbacks_queue_arn: pulumi.Input[str],
    table_arn: pulumi.Input[str],
    state_table_arn: pulumi.Input[str],
    secret_arn: pulumi.Input[str],
) -> list[Statement]:
    """Each lane's mapping needs the consumer actions; a retried or deferred job is re-sent as
    a new message to its lane, and a job that spent its budget is copied to the DLQ."""
    return [
        log_statement(log_group_arn),
        *lane_statements("ConsumeJobs", WORKER_QUEUE_ACTIONS, queue_arns),
        *lane_statements("ResendJobs", ["sqs:SendMessage"], queue_arns),
        statement("CopyExhaustedJobs", ["sqs:SendMessage"], dlq_arn),
        queue_callbacks_statement(callbacks_queue_arn),
        statement("UpdateJobs", WORKER_TABLE_ACTIONS, table_arn),
        statement("ShareLlmState", LLM_STATE_ACTIONS, state_table_arn),
        secret_statement(secret_arn),
    ]


def callbacks_statements(
    *,
    log_group_arn: pulumi.Input[str],
    callbacks_queue_arn: pulumi.Input[str],
    table_arn: pulumi.Input[str],
    secret_arn: pulumi.Input[str],
) -> list[Statement]:
    """The delivery function: its queue, the job and its `callback` state, the signing secret
    (in the app secret). No model, no jobs queue."""
    return [
        log_statement(log_group_arn),
        statement("ConsumeCallbacks", CONSUMER_QUEUE_ACTIONS, callbacks_queue_arn),
        statement("RecordDeliveries", CALLBACKS_TABLE_ACTIONS, table_arn),
        secret_statement(secret_arn),
    ]


def settler_statements(
    *,
    log_group_arn: pulumi.Input[str],
    dlq_arn: pulumi.Input[str],
    table_arn: pulumi.Input[str],
    callbacks_queue_arn: pulumi.Input[str] | None,
) -> list[Statement]:
    """The DLQ settler: peek at the jobs DLQ (ChangeMessageVisibilityBatch needs the single
    action), fail the job, queue its webhook event when a callbacks queue exists. No lane,
    no delete, no secret, no model."""
    callbacks = (
        [] if callbacks_queue_arn is None else [queue_callbacks_statement(callbacks_queue_arn)]
    )
    return [
        log_statement(log_group_arn),
        statement("PeekDeadLetters", SETTLER_DLQ_ACTIONS, dlq_arn),
        *callbacks,
        statement("FailDeadLetteredJobs", SETTLER_TABLE_ACTIONS, table_arn),
    ]


def bedrock_statements(
    models: Sequence[BedrockModel], region: str
) -> pulumi.Output[list[Statement]]:
    """InvokeModel on exactly the configured models; the account id is looked up only if needed."""
    if not models:
        return pulumi.Output.from_input([])
    account = (
        aws.get_caller_identity_output().account_id
        if any(model.needs_account for model in models)
        else pulumi.Output.from_input("")
    )
    return account.apply(
        lambda account_id: [
            statement(f"InvokeBedrockModel{index}", ["bedrock:InvokeModel"], arn)
            for index, arn in enumerate(
                # Two profiles of one geography route to the same model: grant it once.
                dict.fromkeys(arn for model in models for arn in model.arns(region, account_id))
            )
        ]
    )


def lambda_role(name: str, *, tags: dict[str, str], parent: pulumi.Resource) -> aws.iam.Role:
    return aws.iam.Role(
        name,
        assume_role_policy=LAMBDA_ASSUME_ROLE_POLICY,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def role_policy(
    name: str,
    *,
    role: aws.iam.Role,
    statements: list[Statement],
    parent: pulumi.Resource,
    extra: pulumi.Output[list[Statement]] | None = None,
) -> aws.iam.RolePolicy:
    """Inline policy: its lifetime is the role's, and it cannot be attached anywhere else."""
    combined = pulumi.Output.all(
        pulumi.Output.from_input(statements), extra if extra is not None else []
    ).apply(lambda parts: [*parts[0], *parts[1]])
    document = pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": combined})
    return aws.iam.RolePolicy(
        name, role=role.id, policy=document, opts=pulumi.ResourceOptions(parent=parent)
    )
