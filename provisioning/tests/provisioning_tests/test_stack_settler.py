"""The DLQ settler in the stack: its function, schedule, invoke permission, role and alarm."""

from __future__ import annotations

import importlib

import pytest

from provisioning.stack import iam
from provisioning.stack.settler import HANDLER

from .harness import StackRunner, policy_statements

FUNCTION = "aws:lambda/function:Function"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SQS_PREFIX = "arn:aws:sqs:us-east-1:123456789012:"
DLQ_ARN = f"{SQS_PREFIX}jobs-dlq"
CALLBACKS_QUEUE_ARN = f"{SQS_PREFIX}callbacks-queue"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs"
SETTLER_ARN = "arn:aws:lambda:us-east-1:123456789012:function/settler"
RULE_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:eventrule/settler-schedule"
STACKS = ["dev", "prod"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_settler_runs_the_worker_zip_with_its_own_handler_and_role(
    stack_runner: StackRunner, stack: str
) -> None:
    run = stack_runner(stack)
    settler, worker = run.one(FUNCTION, "settler"), run.one(FUNCTION, "worker")
    assert settler["handler"] == HANDLER == "worker.settler.handler"
    assert settler["sourceCodeHash"] == worker["sourceCodeHash"]
    assert (settler["runtime"], settler["architectures"]) == (
        worker["runtime"],
        worker["architectures"],
    )
    assert (settler["memorySize"], settler["timeout"]) == (256, 60)
    # no reservation: a new account (limit 10) must keep 10 unreserved
    others = [f for f in run.of_type(FUNCTION) if f.name != "settler"]
    assert others
    assert all("reservedConcurrentExecutions" not in f.inputs for f in run.of_type(FUNCTION))
    assert settler["role"] not in {f.inputs["role"] for f in others}
    log_group = run.one("aws:cloudwatch/logGroup:LogGroup", "settler")
    assert settler["loggingConfig"]["logGroup"] == log_group["name"]
    assert log_group["name"] == f"/aws/lambda/gen-ai-on-aws-{stack}-settler"
    assert run.outputs["settler_function_name"] == "settler"


def test_the_handler_the_stack_names_is_importable_and_callable() -> None:
    module_name, _, attribute = HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module_name), attribute))


@pytest.mark.parametrize("stack", STACKS)
def test_the_settler_reads_the_dlq_table_and_callbacks_queue_of_the_stack_and_no_secret(
    stack_runner: StackRunner, stack: str
) -> None:
    run = stack_runner(stack)
    env = run.function_env("settler")
    assert env == {
        "QUEUE_URL": run.outputs["queue_url"],  # required by the shared settings only
        "JOBS_TABLE_NAME": run.outputs["jobs_table_name"],
        "DLQ_URL": run.outputs["dlq_url"],
        "CALLBACKS_QUEUE_URL": run.outputs["callbacks_queue_url"],
        "SETTLER_VISIBILITY_SECONDS": "60",
        "LOG_LEVEL": run.function_env("worker")["LOG_LEVEL"],
        "POWERTOOLS_SERVICE_NAME": "settler",
        "POWERTOOLS_METRICS_NAMESPACE": "GenAiOnAws",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_a_schedule_invokes_the_settler_every_minute_by_default(
    stack_runner: StackRunner, stack: str
) -> None:
    run = stack_runner(stack)
    assert run.one(RULE, "settler-schedule")["scheduleExpression"] == "rate(1 minute)"
    target = run.one(TARGET, "settler-schedule-target")
    assert (target["rule"], target["arn"]) == ("settler-schedule", SETTLER_ARN)
    permission = run.one(PERMISSION, "settler-invoke-permission")
    assert permission == {
        "action": "lambda:InvokeFunction",
        "function": "settler",
        "principal": "events.amazonaws.com",
        "sourceArn": RULE_ARN,  # this rule only
    }
    # a tick throttled behind a running run is dropped, and a failed run is not re-run
    invoke_config = run.one(INVOKE_CONFIG, "settler-invoke-config")
    assert invoke_config == {
        "functionName": "settler",
        "maximumEventAgeInSeconds": 60,
        "maximumRetryAttempts": 0,
    }


@pytest.mark.parametrize(
    "schedule", ["rate(5 minutes)", "rate(1 hour)", "cron(0/2 * * * ? *)", " rate(2 days) "]
)
def test_the_schedule_comes_from_the_stack_config(stack_runner: StackRunner, schedule: str) -> None:
    run = stack_runner(settlerSchedule=schedule)
    assert run.one(RULE, "settler-schedule")["scheduleExpression"] == schedule.strip()


@pytest.mark.parametrize(
    "schedule", ["every minute", "rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(*)"]
)
def test_an_unusable_schedule_is_rejected(stack_runner: StackRunner, schedule: str) -> None:
    with pytest.raises(ValueError, match="settlerSchedule must be an EventBridge schedule"):
        stack_runner(settlerSchedule=schedule)


@pytest.mark.parametrize("stack", STACKS)
def test_the_settler_may_only_peek_at_the_dlq_fail_jobs_queue_callbacks_and_log(
    stack_runner: StackRunner, stack: str
) -> None:
    statements = policy_statements(stack_runner(stack), "settler-policy")
    log_streams = (
        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/gen-ai-on-aws-{stack}-settler"
        ":log-stream:*"
    )
    # THEN the whole document, in order: no DeleteMessage (messages stay for redrive), no lane,
    # no secret, no model, no PutItem (a job the API never created is not created here)
    assert [(s["Sid"], s["Effect"], s["Action"], s["Resource"]) for s in statements] == [
        ("WriteOwnLogs", "Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], log_streams),
        (
            "PeekDeadLetters",
            "Allow",
            ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"],
            DLQ_ARN,
        ),
        ("QueueCallbacks", "Allow", ["sqs:SendMessage"], CALLBACKS_QUEUE_ARN),
        ("FailDeadLetteredJobs", "Allow", ["dynamodb:GetItem", "dynamodb:UpdateItem"], TABLE_ARN),
    ]


def test_without_a_callbacks_queue_the_settler_gets_no_send_grant() -> None:
    statements = iam.settler_statements(
        log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:settler",
        dlq_arn=DLQ_ARN,
        table_arn=TABLE_ARN,
        callbacks_queue_arn=None,
    )
    assert [s["Sid"] for s in statements] == [
        "WriteOwnLogs",
        "PeekDeadLetters",
        "FailDeadLetteredJobs",
    ]
    assert not [s for s in statements if "sqs:SendMessage" in s["Action"]]


@pytest.mark.parametrize("stack", STACKS)
def test_failed_settler_runs_raise_an_alarm_like_the_other_functions(
    stack_runner: StackRunner, stack: str
) -> None:
    run = stack_runner(stack)
    alarm, callbacks = run.one(ALARM, "settler-errors"), run.one(ALARM, "callbacks-errors")
    assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (
        "AWS/Lambda",
        "Errors",
        {"FunctionName": "settler"},
    )
    same = ("statistic", "period", "evaluationPeriods", "threshold", "comparisonOperator")
    assert {key: alarm[key] for key in same} == {key: callbacks[key] for key in same}
    assert alarm["alarmActions"] == alarm["okActions"] == callbacks["alarmActions"]
