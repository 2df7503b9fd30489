"""A Lambda function with its own log group, shared by the worker and the API components."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from provisioning.stack import iam
from provisioning.stack.artifacts import FunctionCode
from provisioning.stack.config import StackConfig

# The alias callers invoke when SnapStart is on (it points at the latest published version).
LIVE_ALIAS = "live"

# Where every function's EMF metrics go (POWERTOOLS_METRICS_NAMESPACE); alarms read them there.
METRICS_NAMESPACE = "GenAiOnAws"


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between the two functions."""

    name: str
    handler: str
    memory_mb: int
    timeout_seconds: int
    environment: pulumi.Input[dict[str, pulumi.Input[str]]]
    code: FunctionCode
    snap_start: bool = False


@dataclass(frozen=True)
class InvokeTarget:
    """What event sources, schedules and integrations invoke: the function, or with SnapStart
    its `live` alias (only published versions have a snapshot; $LATEST would cold-start)."""

    arn: pulumi.Output[str]
    # API Gateway's integration URI for `arn`.
    invoke_arn: pulumi.Output[str]
    # For lambda.Permission: the alias a permission must name (None: the unqualified function).
    qualifier: str | None


def invoke_target(
    resource_name: str,
    function: aws.lambda_.Function,
    *,
    snap_start: bool,
    config: StackConfig,
    parent: pulumi.Resource,
) -> InvokeTarget:
    """The function itself, or a `live` alias of the version this deploy published."""
    if not snap_start:
        return InvokeTarget(function.arn, function.invoke_arn, None)
    alias = aws.lambda_.Alias(
        resource_name,
        name=LIVE_ALIAS,
        function_name=function.name,
        function_version=function.version,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    # The format of Function.invoke_arn, for the alias's qualified ARN.
    invoke_arn = pulumi.Output.concat(
        "arn:aws:apigateway:",
        config.region,
        ":lambda:path/2015-03-31/functions/",
        alias.arn,
        "/invocations",
    )
    return InvokeTarget(alias.arn, invoke_arn, LIVE_ALIAS)


def log_group(
    name: str, *, config: StackConfig, tags: dict[str, str], parent: pulumi.Resource
) -> aws.cloudwatch.LogGroup:
    """Created by Pulumi, not by Lambda on first write, so it has a retention and tags."""
    return aws.cloudwatch.LogGroup(
        name,
        name=f"/aws/lambda/{pulumi.get_project()}-{pulumi.get_stack()}-{name}",
        retention_in_days=config.log_retention_days,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass(frozen=True)
class FunctionIdentity:
    """What every function of the stack has of its own: a log group, a role, its policy."""

    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    policy: aws.iam.RolePolicy


def function_identity(
    name: str,
    label: str,
    *,
    config: StackConfig,
    tags: dict[str, str],
    parent: pulumi.Resource,
    statements: Callable[[pulumi.Output[str]], list[iam.Statement]],
    extra: pulumi.Output[list[iam.Statement]] | None = None,
) -> FunctionIdentity:
    """The log group `/aws/lambda/<project>-<stack>-<label>`, the role `<name>-role` and its
    inline policy `<name>-policy`: `statements` receives the log group's ARN (a function may
    write only its own logs), `extra` adds statements known later (Bedrock)."""
    group = log_group(label, config=config, tags=tags, parent=parent)
    role = iam.lambda_role(f"{name}-role", tags=tags, parent=parent)
    policy = iam.role_policy(
        f"{name}-policy",
        role=role,
        statements=statements(group.arn),
        extra=extra,
        parent=parent,
    )
    return FunctionIdentity(group, role, policy)


def lambda_function(
    spec: FunctionSpec,
    *,
    config: StackConfig,
    role: aws.iam.Role,
    logs: aws.cloudwatch.LogGroup,
    tags: dict[str, str],
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
) -> aws.lambda_.Function:
    code = spec.code
    return aws.lambda_.Function(
        spec.name,
        role=role.arn,
        runtime=config.runtime,
        architectures=[config.architecture],
        handler=spec.handler,
        memory_size=spec.memory_mb,
        timeout=spec.timeout_seconds,
        code=code.archive,
        s3_bucket=code.s3_bucket,
        s3_key=code.s3_key,
        source_code_hash=code.source_code_hash,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=spec.environment),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="Text", log_group=logs.name
        ),
        # SnapStart snapshots only published versions; callers must target the version, not $LATEST.
        publish=spec.snap_start,
        snap_start=aws.lambda_.FunctionSnapStartArgs(apply_on="PublishedVersions")
        if spec.snap_start
        else None,
        tags=tags,
        # The role's policy must exist before the function first runs, or its first logs are lost.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )


def shared_environment(config: StackConfig, *, service: str) -> dict[str, str]:
    """Environment both functions read (names from DESIGN.md); secrets come from APP_SECRET_ID."""
    environment = {
        "JOB_TTL_SECONDS": str(config.job_ttl_seconds),
        "LLM_MODEL": config.llm_model,
        "LLM_TIMEOUT_SECONDS": str(config.llm_timeout_seconds),
        "LOG_LEVEL": config.log_level,
        # Both functions import litellm; without this it downloads the cost map on every cold start.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
    optional = {
        # Comma-separated, as the settings read them; unset means the code's defaults.
        "LLM_FALLBACK_MODELS": ",".join(config.llm_fallback_models),
        "LLM_ALLOWED_MODELS": ",".join(config.llm_allowed_models),
        "LLM_API_BASE": config.llm_api_base,
        "LLM_MODE": config.llm_mode,
        "LANGFUSE_HOST": config.langfuse_host,
    }
    environment.update({name: value for name, value in optional.items() if value})
    return environment
