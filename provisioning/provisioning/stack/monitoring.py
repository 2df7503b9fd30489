"""Alarms for failures that need a human: dead letters, backlog, errors, throttles, an open
LLM circuit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from provisioning.stack.config import StackConfig
from provisioning.stack.functions import METRICS_NAMESPACE
from provisioning.stack.limits import LANES, Lane
from provisioning.stack.tags import tags_for

COMPONENT = "monitoring"
# The worker's EMF metrics carry one dimension, `service`, set from worker.log.SERVICE_NAME
# (not from POWERTOOLS_SERVICE_NAME); a test pins the two together.
WORKER_METRICS_DIMENSIONS: dict[str, pulumi.Input[str]] = {"service": "gen-ai-on-aws-worker"}
CIRCUIT_ALARM = "llm-circuit-open"


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    description: str
    namespace: str
    metric: str
    dimensions: dict[str, pulumi.Input[str]]
    statistic: str
    threshold: float
    period_seconds: int = 60
    evaluation_periods: int = 1
    comparison: str = "GreaterThanThreshold"


def alarm_topic(config: StackConfig) -> aws.sns.Topic:
    """Where alarms go; subscribe more endpoints to it as needed.

    Not KMS-encrypted on purpose: CloudWatch cannot publish to a topic under the AWS-managed
    SNS key, and alarm notifications carry metric names, never job data or secrets.
    """
    topic = aws.sns.Topic("alarms", tags=tags_for(COMPONENT))
    if config.alarm_email:
        aws.sns.TopicSubscription(
            "alarms-email",
            topic=topic.arn,
            protocol="email",  # AWS emails a confirmation link first
            endpoint=config.alarm_email,
            opts=pulumi.ResourceOptions(parent=topic),
        )
    return topic


def alarm_specs(
    config: StackConfig,
    *,
    queue_names: Mapping[Lane, pulumi.Input[str]],
    dlq_name: pulumi.Input[str],
    worker_name: pulumi.Input[str],
    api_name: pulumi.Input[str],
    callbacks_dlq_name: pulumi.Input[str],
    callbacks_name: pulumi.Input[str],
    settler_name: pulumi.Input[str],
) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            "dlq-not-empty",
            "Jobs exhausted their retries; inspect the DLQ, fix, then redrive.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": dlq_name},
            "Maximum",
            0,
        ),
        *[backlog_alarm(config, lane, queue_names[lane]) for lane in LANES],
        AlarmSpec(
            CIRCUIT_ALARM,
            "A model's circuit opened: its provider failed LLM_CIRCUIT_FAILURES calls in a row. "
            "Jobs wait (queued, last_error provider_unavailable) instead of failing; check the "
            "provider's status and the worker's logs (provisioning/README.md: 'When the circuit "
            "alarm fires').",
            METRICS_NAMESPACE,
            "CircuitOpened",
            WORKER_METRICS_DIMENSIONS,
            "Sum",
            1,
            comparison="GreaterThanOrEqualToThreshold",
        ),
        AlarmSpec(
            "worker-errors",
            "Worker invocations failed as a whole.",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": worker_name},
            "Sum",
            0,
            period_seconds=300,
        ),
        AlarmSpec(
            "worker-throttles",
            "Worker invocations were throttled (account concurrency?).",
            "AWS/Lambda",
            "Throttles",
            {"FunctionName": worker_name},
            "Sum",
            0,
            period_seconds=300,
        ),
        AlarmSpec(
            "api-errors",
            "API invocations failed (unhandled errors, timeouts).",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": api_name},
            "Sum",
            0,
            period_seconds=300,
        ),
        AlarmSpec(
            "callbacks-dlq-not-empty",
            "Webhook events whose delivery kept crashing (e.g. no WEBHOOK_SIGNING_SECRET); "
            "fix, then redrive the callbacks DLQ.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": callbacks_dlq_name},
            "Maximum",
            0,
        ),
        AlarmSpec(
            "callbacks-errors",
            "Webhook delivery invocations failed as a whole (configuration? see its logs).",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": callbacks_name},
            "Sum",
            0,
            period_seconds=300,
        ),
        AlarmSpec(
            "settler-errors",
            "DLQ settler runs failed as a whole: dead-lettered jobs stay open for their clients "
            "until a run succeeds (see its logs).",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": settler_name},
            "Sum",
            0,
            period_seconds=300,
        ),
    ]


def backlog_alarm(config: StackConfig, lane: Lane, queue_name: pulumi.Input[str]) -> AlarmSpec:
    """The oldest message's age per lane (the normal lane keeps the original alarm's name).

    A retried or deferred job is re-sent as a new message, so its age restarts with each
    re-send: this catches a lane that is not drained; an outage shows as an open circuit.
    """
    return AlarmSpec(
        "queue-oldest-message-age" if lane == "normal" else f"queue-{lane}-oldest-message-age",
        f"The worker is not keeping up with the {lane}-priority lane (or not running); "
        "jobs wait longer than expected.",
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        {"QueueName": queue_name},
        "Maximum",
        config.oldest_message_alarm_seconds,
        evaluation_periods=5,
    )


def create_alarms(
    specs: list[AlarmSpec], topic: aws.sns.Topic
) -> dict[str, aws.cloudwatch.MetricAlarm]:
    return {
        spec.name: aws.cloudwatch.MetricAlarm(
            spec.name,
            alarm_description=spec.description,
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=spec.dimensions,
            statistic=spec.statistic,
            period=spec.period_seconds,
            evaluation_periods=spec.evaluation_periods,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            # No data means an idle queue or function, which is healthy.
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags=tags_for(COMPONENT),
        )
        for spec in specs
    }
