"""The DLQ settler: a scheduled function that fails every job whose message was dead-lettered.

SQS dead-letters a message when its receives run out, whatever the worker managed to record
(a claim failing on the last receive, a crash, OOM or hard timeout): nothing else would ever
finish such a job. The settler runs the worker's zip with its own handler on an EventBridge
schedule (`settlerSchedule`) and only peeks at the DLQ: every message stays
there for inspection and redrive (worker/src/worker/services/dead_letters.py).
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
    lambda_function,
)
from provisioning.stack.tags import tags_for

COMPONENT = "settler"
HANDLER = "worker.settler.handler"
# A run reads at most SETTLER_MAX_MESSAGES (1000) dead letters, a read and a write each, and
# stops receiving 5 s before its deadline; no LLM stack is imported, so a small function fits.
MEMORY_MB = 256
TIMEOUT_SECONDS = 60
# One run at a time: a second one would only find the first one's peeked messages hidden.
# A tick throttled behind a running run waits at most this long, then is dropped (the next
# tick comes anyway); 60 s is the least Lambda accepts.
MAX_EVENT_AGE_SECONDS = 60


@dataclass(frozen=True)
class DeadLetterSettlerArgs:
    config: StackConfig
    code: FunctionCode
    dlq_url: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]
    # QUEUE_URL is required by the shared settings; the settler never sends to it (no grant).
    jobs_queue_url: pulumi.Input[str]
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    # Where a settled job's webhook event goes; None = no callbacks queue, no send grant.
    callbacks_queue_url: pulumi.Input[str] | None = None
    callbacks_queue_arn: pulumi.Input[str] | None = None


class DeadLetterSettler(pulumi.ComponentResource):
    """The settler Lambda, its schedule (rule, target, invoke permission) and its own role."""

    def __init__(
        self, name: str, args: DeadLetterSettlerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gen-ai-on-aws:components:DeadLetterSettler", name, None, opts)
        config, tags = args.config, tags_for(COMPONENT)
        child = pulumi.ResourceOptions(parent=self)
        identity = function_identity(
            name,
            "settler",
            config=config,
            tags=tags,
            parent=self,
            statements=lambda logs: iam.settler_statements(
                log_group_arn=logs,
                dlq_arn=args.dlq_arn,
                table_arn=args.table_arn,
                callbacks_queue_arn=args.callbacks_queue_arn,
            ),
        )
        self.log_group, role, policy = identity.log_group, identity.role, identity.policy
        self.function = lambda_function(
            FunctionSpec(
                name="settler",
                handler=HANDLER,
                memory_mb=MEMORY_MB,
                timeout_seconds=TIMEOUT_SECONDS,
                environment=_environment(args),
                code=args.code,
            ),
            config=config,
            role=role,
            logs=self.log_group,
            tags=tags,
            parent=self,
            depends_on=[policy],
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-invoke-config",
            function_name=self.function.name,
            maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
            # A failed run is not re-run twice on top of the next ticks (its alarm fires).
            maximum_retry_attempts=0,
            opts=child,
        )
        self.schedule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            description="Fail jobs whose message reached the jobs DLQ (worker.settler)",
            schedule_expression=config.settler_schedule,
            tags=tags,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke-permission",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="events.amazonaws.com",
            # This rule only, not any rule in the account.
            source_arn=self.schedule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-schedule-target",
            rule=self.schedule.name,
            arn=self.function.arn,
            # The first tick must not be refused for want of the permission.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        self.register_outputs({"function_name": self.function.name})


def _environment(args: DeadLetterSettlerArgs) -> dict[str, pulumi.Input[str]]:
    """The worker's settings the settler reads; no APP_SECRET_ID (it needs no secret, and
    loading one would need a grant it does not have)."""
    environment: dict[str, pulumi.Input[str]] = {
        "QUEUE_URL": args.jobs_queue_url,
        "JOBS_TABLE_NAME": args.table_name,
        "DLQ_URL": args.dlq_url,
        # A peeked message stays hidden at most as long as the run that peeked it.
        "SETTLER_VISIBILITY_SECONDS": str(TIMEOUT_SECONDS),
        "LOG_LEVEL": args.config.log_level,
        "POWERTOOLS_SERVICE_NAME": "settler",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
    if args.callbacks_queue_url is not None:
        environment["CALLBACKS_QUEUE_URL"] = args.callbacks_queue_url
    return environment
