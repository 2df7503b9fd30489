"""Alarms for failures that need a human: dead letters, backlog, errors, throttles."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from provisioning.stack.config import StackConfig
from provisioning.stack.tags import tags_for

COMPONENT = "monitoring"


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
    queue_name: pulumi.Input[str],
    dlq_name: pulumi.Input[str],
    worker_name: pulumi.Input[str],
    api_name: pulumi.Input[str],
    callbacks_dlq_name: pulumi.Input[str],
    callbacks_name: pulumi.Input[str],
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
        AlarmSpec(
            "queue-oldest-message-age",
            "The worker is not keeping up (or not running); jobs wait longer than expected.",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            {"QueueName": queue_name},
            "Maximum",
            config.oldest_message_alarm_seconds,
            evaluation_periods=5,
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
    ]


def create_alarms(specs: list[AlarmSpec], topic: aws.sns.Topic) -> list[aws.cloudwatch.MetricAlarm]:
    return [
        aws.cloudwatch.MetricAlarm(
            spec.name,
            alarm_description=spec.description,
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=spec.dimensions,
            statistic=spec.statistic,
            period=spec.period_seconds,
            evaluation_periods=spec.evaluation_periods,
            threshold=spec.threshold,
            comparison_operator="GreaterThanThreshold",
            # No data means an idle queue or function, which is healthy.
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags=tags_for(COMPONENT),
        )
        for spec in specs
    ]
