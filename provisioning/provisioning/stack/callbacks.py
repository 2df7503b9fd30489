"""Webhook delivery: the callbacks queue (with its own DLQ) and the function draining it.

Two components because the queue must exist before the worker and the API (both send to it),
while the delivery function reads the jobs queue's URL (its settings require QUEUE_URL). The
function runs the worker's zip with its own handler, role, memory and timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from provisioning.stack import iam
from provisioning.stack.artifacts import FunctionCode
from provisioning.stack.config import StackConfig
from provisioning.stack.functions import (
    METRICS_NAMESPACE,
    FunctionSpec,
    function_identity,
    invoke_target,
    lambda_function,
)
from provisioning.stack.queues import QueueSpec, queue_with_dlq
from provisioning.stack.tags import tags_for

COMPONENT = "callbacks"
HANDLER = "worker.callbacks.main.handler"
# Events are independent and each attempt is bounded (5 s), so a full batch fits the timeout.
BATCH_SIZE = 10
RETENTION_SECONDS = 4 * 24 * 3600  # far beyond the longest retry schedule


class CallbackQueue(pulumi.ComponentResource):
    """Final-job events waiting for delivery; the DLQ catches events whose delivery kept
    crashing (an attempt that gets an answer is settled by the function itself)."""

    def __init__(
        self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gen-ai-on-aws:components:CallbackQueue", name, None, opts)
        self.queue, self.dlq = queue_with_dlq(
            QueueSpec(
                name=name,
                visibility_timeout_seconds=config.callbacks_visibility_timeout_seconds,
                retention_seconds=RETENTION_SECONDS,
                max_receive_count=config.callbacks_max_receive_count,
            ),
            tags=tags_for(COMPONENT),
            parent=self,
        )
        self.register_outputs({"queue_url": self.queue.url, "dlq_url": self.dlq.url})


@dataclass(frozen=True)
class CallbackDeliveryArgs:
    config: StackConfig
    code: FunctionCode
    queue: CallbackQueue
    jobs_queue_url: pulumi.Input[str]
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    secret_arn: pulumi.Input[str]


class CallbackDelivery(pulumi.ComponentResource):
    """The delivery Lambda and its event source mapping on the callbacks queue."""

    def __init__(
        self, name: str, args: CallbackDeliveryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gen-ai-on-aws:components:CallbackDelivery", name, None, opts)
        config, tags, queue = args.config, tags_for(COMPONENT), args.queue.queue
        identity = function_identity(
            name,
            "callbacks",
            config=config,
            tags=tags,
            parent=self,
            statements=lambda logs: iam.callbacks_statements(
                log_group_arn=logs,
                callbacks_queue_arn=queue.arn,
                table_arn=args.table_arn,
                secret_arn=args.secret_arn,
            ),
        )
        self.log_group, role, policy = identity.log_group, identity.role, identity.policy
        environment = pulumi.Output.from_input(
            {
                "QUEUE_URL": args.jobs_queue_url,
                "JOBS_TABLE_NAME": args.table_name,
                # WEBHOOK_SIGNING_SECRET is a key of this secret (see provisioning/README.md).
                "APP_SECRET_ID": args.secret_arn,
                "CALLBACKS_QUEUE_URL": queue.url,
                "WEBHOOK_MAX_ATTEMPTS": str(config.webhook_max_attempts),
                "LOG_LEVEL": config.log_level,
                "POWERTOOLS_SERVICE_NAME": "callbacks",
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            }
        )
        spec = FunctionSpec(
            name="callbacks",
            handler=HANDLER,
            memory_mb=config.callbacks_memory_mb,
            timeout_seconds=config.callbacks_timeout_seconds,
            environment=environment,
            code=args.code,
            snap_start=config.snap_start_for("callbacks"),
        )
        self.function = lambda_function(
            spec,
            config=config,
            role=role,
            logs=self.log_group,
            tags=tags,
            parent=self,
            depends_on=[policy],
        )
        target = invoke_target(
            f"{name}-live",
            self.function,
            snap_start=spec.snap_start,
            config=config,
            parent=self,
        )
        self.event_source = aws.lambda_.EventSourceMapping(
            f"{name}-event-source",
            event_source_arn=queue.arn,
            function_name=target.arn,
            batch_size=BATCH_SIZE,
            # The handler returns batchItemFailures: only events still to retry come back.
            function_response_types=["ReportBatchItemFailures"],
            # A flood of events (a bulk submit finishing) must not flood the receivers.
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=config.callbacks_max_concurrency
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"function_name": self.function.name})
