"""The job queue, its dead-letter queue and the worker Lambda that drains it, as one component."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from provisioning.stack import iam
from provisioning.stack.artifacts import FunctionCode
from provisioning.stack.bedrock import parse_bedrock_models
from provisioning.stack.config import StackConfig
from provisioning.stack.functions import (
    FunctionSpec,
    lambda_function,
    log_group,
    shared_environment,
)
from provisioning.stack.queues import QueueSpec, queue_with_dlq
from provisioning.stack.tags import tags_for

COMPONENT = "queue-worker"


@dataclass(frozen=True)
class QueueWorkerArgs:
    config: StackConfig
    code: FunctionCode
    handler: str
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    secret_arn: pulumi.Input[str]
    # Where the worker queues a finished job's webhook event (worker.callbacks delivers it).
    callbacks_queue_url: pulumi.Input[str]
    callbacks_queue_arn: pulumi.Input[str]


class QueueWorker(pulumi.ComponentResource):
    """SQS queue (SSE, redrive to a DLQ) feeding the worker through an event source mapping."""

    def __init__(
        self, name: str, args: QueueWorkerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gen-ai-on-aws:components:QueueWorker", name, None, opts)
        config, tags = args.config, tags_for(COMPONENT)
        self.queue, self.dlq = queue_with_dlq(
            QueueSpec(
                name=name,
                visibility_timeout_seconds=config.queue_visibility_timeout_seconds,
                retention_seconds=config.queue_retention_seconds,
                max_receive_count=config.queue_max_receive_count,
            ),
            tags=tags,
            parent=self,
        )
        self.log_group = log_group("worker", config=config, tags=tags, parent=self)
        role = iam.lambda_role(f"{name}-role", tags=tags, parent=self)
        policy = iam.role_policy(
            f"{name}-policy",
            role=role,
            statements=iam.worker_statements(
                log_group_arn=self.log_group.arn,
                queue_arn=self.queue.arn,
                callbacks_queue_arn=args.callbacks_queue_arn,
                table_arn=args.table_arn,
                secret_arn=args.secret_arn,
            ),
            extra=iam.bedrock_statements(
                parse_bedrock_models(config.configured_models), config.region
            ),
            parent=self,
        )
        environment = pulumi.Output.from_input(
            {
                **shared_environment(config, service="worker"),
                "QUEUE_URL": self.queue.url,
                "JOBS_TABLE_NAME": args.table_name,
                "APP_SECRET_ID": args.secret_arn,
                "WORKER_MAX_CONCURRENCY": str(config.worker_max_concurrency),
                # The worker fails a job on its last delivery; that must be the redrive's last one.
                "QUEUE_MAX_RECEIVE_COUNT": str(config.queue_max_receive_count),
                "CALLBACKS_QUEUE_URL": args.callbacks_queue_url,
            }
        )
        spec = FunctionSpec(
            name="worker",
            handler=args.handler,
            memory_mb=config.worker_memory_mb,
            timeout_seconds=config.worker_timeout_seconds,
            environment=environment,
            code=args.code,
            snap_start=config.worker_snap_start,
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
        self.event_source = aws.lambda_.EventSourceMapping(
            f"{name}-event-source",
            event_source_arn=self.queue.arn,
            function_name=self._invoke_target(name, config),
            batch_size=config.batch_size,
            maximum_batching_window_in_seconds=config.batching_window_seconds,
            # The handler returns batchItemFailures: only failed records are retried.
            function_response_types=["ReportBatchItemFailures"],
            # Caps concurrent workers, which is what protects the LLM provider's rate limit.
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=config.event_source_max_concurrency
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs(
            {
                "queue_url": self.queue.url,
                "dlq_url": self.dlq.url,
                "function_name": self.function.name,
            }
        )

    def _invoke_target(self, name: str, config: StackConfig) -> pulumi.Output[str]:
        """With SnapStart, invoke an alias of the published version ($LATEST has no snapshot)."""
        if not config.worker_snap_start:
            return self.function.arn
        alias = aws.lambda_.Alias(
            f"{name}-live",
            name="live",
            function_name=self.function.name,
            function_version=self.function.version,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return alias.arn
