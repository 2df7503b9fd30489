"""The job lanes, their shared dead-letter queue and the worker Lambda that drains them."""

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
    function_identity,
    invoke_target,
    lambda_function,
    shared_environment,
)
from provisioning.stack.lanes import job_lanes, lane_queue_name
from provisioning.stack.limits import LANES
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
    # Fleet-wide LLM rate limits, provider pauses and circuit breakers (data.llm_state_table).
    state_table_name: pulumi.Input[str]
    state_table_arn: pulumi.Input[str]
    # Where the worker queues a finished job's webhook event (worker.callbacks delivers it).
    callbacks_queue_url: pulumi.Input[str]
    callbacks_queue_arn: pulumi.Input[str]


class QueueWorker(pulumi.ComponentResource):
    """Three lane queues (SSE, redrive to one DLQ), each feeding the worker through its own
    event source mapping with its own MaximumConcurrency."""

    def __init__(
        self, name: str, args: QueueWorkerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gen-ai-on-aws:components:QueueWorker", name, None, opts)
        config, tags = args.config, tags_for(COMPONENT)
        self.lanes = job_lanes(name, config, tags=tags, parent=self)
        self.queue, self.dlq = self.lanes.queues["normal"], self.lanes.dlq
        identity = function_identity(
            name,
            "worker",
            config=config,
            tags=tags,
            parent=self,
            statements=lambda logs: iam.worker_statements(
                log_group_arn=logs,
                queue_arns=self.lanes.arns(),
                dlq_arn=self.dlq.arn,
                callbacks_queue_arn=args.callbacks_queue_arn,
                table_arn=args.table_arn,
                state_table_arn=args.state_table_arn,
                secret_arn=args.secret_arn,
            ),
            extra=iam.bedrock_statements(
                parse_bedrock_models(config.configured_models), config.region
            ),
        )
        self.log_group, role, policy = identity.log_group, identity.role, identity.policy
        environment = pulumi.Output.from_input(
            {
                **shared_environment(config, service="worker"),
                **config.llm_limits.environment(),
                "QUEUE_URL": self.queue.url,
                "QUEUE_URL_HIGH": self.lanes.queues["high"].url,
                "QUEUE_URL_LOW": self.lanes.queues["low"].url,
                "DLQ_URL": self.dlq.url,
                "JOBS_TABLE_NAME": args.table_name,
                "LLM_STATE_TABLE_NAME": args.state_table_name,
                "APP_SECRET_ID": args.secret_arn,
                "WORKER_MAX_CONCURRENCY": str(config.worker_max_concurrency),
                # The worker fails a job on its last delivery; that must be the redrive's last one.
                "QUEUE_MAX_RECEIVE_COUNT": str(config.queue_max_receive_count),
                "JOB_MAX_ATTEMPTS": str(config.job_max_attempts),
                **_optional("JOB_MAX_AGE_SECONDS", config.job_max_age_seconds),
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
            snap_start=config.snap_start_for("worker"),
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
            f"{name}-live", self.function, snap_start=spec.snap_start, config=config, parent=self
        ).arn
        self.event_sources = {
            lane: aws.lambda_.EventSourceMapping(
                f"{lane_queue_name(name, lane)}-event-source",
                event_source_arn=self.lanes.queues[lane].arn,
                function_name=target,
                batch_size=config.batch_size,
                maximum_batching_window_in_seconds=config.batching_window_seconds,
                # The handler returns batchItemFailures: only failed records are retried.
                function_response_types=["ReportBatchItemFailures"],
                # Each lane's own cap: a low backlog cannot take the fleet, high keeps its share.
                scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                    maximum_concurrency=config.lanes.of(lane)
                ),
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
            for lane in LANES
        }
        self.register_outputs(
            {
                "queue_urls": self.lanes.urls(),
                "dlq_url": self.dlq.url,
                "function_name": self.function.name,
            }
        )


def _optional(name: str, value: int | None) -> dict[str, str]:
    """Unset stack values leave the worker's own default in force."""
    return {} if value is None else {name: str(value)}
