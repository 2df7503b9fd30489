"""The producer API: a Lambda behind an API Gateway HTTP API with throttling and access logs."""

from __future__ import annotations

import json
from collections.abc import Mapping
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
from provisioning.stack.limits import Lane
from provisioning.stack.tags import tags_for

COMPONENT = "http-api"
# One JSON line per request, with what latency and error triage need.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
    }
)
# What `pulumi up` (and preview) prints when the stack opens the API to anyone.
ANONYMOUS_WARNING = (
    "allowAnonymous is true: the API serves every route without an API key; anyone who finds "
    "the URL can spend your LLM budget and read job results"
)


@dataclass(frozen=True)
class HttpApiArgs:
    config: StackConfig
    code: FunctionCode
    handler: str
    # Each priority lane's queue: the API sends a job to the queue of its lane.
    queue_urls: Mapping[Lane, pulumi.Input[str]]
    queue_arns: Mapping[Lane, pulumi.Input[str]]
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    # The per-tenant request limiter's items live in the worker's LLM state table.
    state_table_name: pulumi.Input[str]
    state_table_arn: pulumi.Input[str]
    secret_arn: pulumi.Input[str]
    # A cancelled job's webhook event is queued by the API itself.
    callbacks_queue_url: pulumi.Input[str]
    callbacks_queue_arn: pulumi.Input[str]


class HttpApi(pulumi.ComponentResource):
    """FastAPI (Mangum) Lambda, payload format 2.0, `$default` route and stage."""

    def __init__(
        self, name: str, args: HttpApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gen-ai-on-aws:components:HttpApi", name, None, opts)
        config, tags = args.config, tags_for(COMPONENT)
        child = pulumi.ResourceOptions(parent=self)
        identity = function_identity(
            name,
            "api",
            config=config,
            tags=tags,
            parent=self,
            statements=lambda logs: iam.api_statements(
                log_group_arn=logs,
                queue_arns=args.queue_arns,
                callbacks_queue_arn=args.callbacks_queue_arn,
                table_arn=args.table_arn,
                state_table_arn=args.state_table_arn,
                secret_arn=args.secret_arn,
            ),
            # POST /extract-user calls the model synchronously, from this function.
            extra=iam.bedrock_statements(
                parse_bedrock_models(config.configured_models), config.region
            ),
        )
        self.log_group, role, policy = identity.log_group, identity.role, identity.policy
        environment = pulumi.Output.from_input(
            {
                **shared_environment(config, service="api"),
                **access_environment(config),
                "QUEUE_URL": args.queue_urls["normal"],
                "QUEUE_URL_HIGH": args.queue_urls["high"],
                "QUEUE_URL_LOW": args.queue_urls["low"],
                "JOBS_TABLE_NAME": args.table_name,
                "LLM_STATE_TABLE_NAME": args.state_table_name,
                "APP_SECRET_ID": args.secret_arn,
                "CALLBACKS_QUEUE_URL": args.callbacks_queue_url,
            }
        )
        spec = FunctionSpec(
            "api",
            args.handler,
            config.api_memory_mb,
            config.api_timeout_seconds,
            environment,
            args.code,
            snap_start=config.snap_start_for("api"),
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
        )
        self.api = aws.apigatewayv2.Api(f"{name}-http", protocol_type="HTTP", tags=tags, opts=child)
        integration = aws.apigatewayv2.Integration(
            f"{name}-lambda-integration",
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_uri=target.invoke_arn,
            payload_format_version="2.0",
            opts=child,
        )
        route = aws.apigatewayv2.Route(
            f"{name}-default-route",
            api_id=self.api.id,
            route_key="$default",  # FastAPI does the routing, including its own 404s
            target=pulumi.Output.concat("integrations/", integration.id),
            opts=child,
        )
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{pulumi.get_project()}-{pulumi.get_stack()}-access",
            retention_in_days=config.log_retention_days,
            tags=tags,
            opts=child,
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-default-stage",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=config.api_throttling_rate_limit,
                throttling_burst_limit=config.api_throttling_burst_limit,
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[route]),
        )
        aws.lambda_.Permission(
            f"{name}-invoke-permission",
            action="lambda:InvokeFunction",
            function=self.function.name,
            qualifier=target.qualifier,  # with SnapStart, the alias API Gateway invokes
            principal="apigateway.amazonaws.com",
            # Any route and stage of this API only, not any API in the account.
            source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/*"),
            opts=child,
        )
        self.url = self.stage.invoke_url
        self.register_outputs({"url": self.url, "function_name": self.function.name})


def access_environment(config: StackConfig) -> dict[str, str]:
    """Who may call the API. Unset, the API keeps its secure defaults: an API key on every route
    but /health (503 until the secret holds one) and no per-tenant limit. ALLOW_ANONYMOUS is set
    only when the stack asks for it, and then every `pulumi up` and preview warns."""
    environment: dict[str, str] = {}
    if config.allow_anonymous:
        pulumi.log.warn(ANONYMOUS_WARNING)
        environment["ALLOW_ANONYMOUS"] = "true"
    if config.tenant_rpm_limit is not None:
        environment["TENANT_RPM_LIMIT"] = str(config.tenant_rpm_limit)
    return environment
